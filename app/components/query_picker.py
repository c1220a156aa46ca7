"""Choose a query: a sample query by hard case, a shipped example, or an upload."""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st
import torch

from app import resources as R
from strf_core.data.user import TrackletInputError

SOURCES = ("Sample query", "Example tracklet", "Upload")
SUBSET_FILTER = {
    "any": None,
    "occluded": "occluded",
    "look-alike": "lookalike",
    "misaligned": "misaligned",
    "no hard case": "",
}
PROMPT = "Choose a query in the sidebar: a sample query, an example or an upload."


@dataclass(frozen=True)
class Query:
    """The chosen query: frames at display size, labels when known, what it is."""

    key: str
    clip: torch.Tensor
    pid: int | None
    camid: int | None
    title: str
    notes: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    num_frames: int | None = None  # the tracklet's own length, when the clip is thinned from it


@dataclass(frozen=True)
class _Unusable:
    """An example or upload that cannot be used, and why (shown in the page)."""

    message: str


def pick_query(ws: R.Workspace, key: str, *, default: int | None = None) -> Query | None:
    """The query widgets (in the sidebar); ``None`` until a usable query is chosen.

    ``default``: the sample query to open on (by index; with its hard case, or "no hard case",
    selected), else the first.

    Until then the page says why, in the main area where the reader looks: an example or an
    upload that cannot be used gets its error (and nothing else), no choice yet a prompt. The
    app keeps working either way.
    """
    messages = st.container()  # in the main area, before what the page shows of the query
    with st.sidebar:
        st.subheader("Query")
        source = st.radio("Source", SOURCES, key=f"{key}:source")  # one option a line: fits
        if source == "Sample query":
            choice = _sample_query(ws, key, default)
        elif source == "Example tracklet":
            choice = _example(ws, key)
        else:
            choice = _upload(ws, key)
    if isinstance(choice, _Unusable):
        messages.error(choice.message)
        return None
    if choice is None:
        messages.info(PROMPT)
        return None
    for warning in choice.warnings:  # labels refused, a self-match: said where the reader looks
        messages.warning(warning)
    return choice


def _sample_query(ws: R.Workspace, key: str, default: int | None = None) -> Query | None:
    infos = R.queries(ws)
    if ws.subsets:
        start = 0
        if default is not None:
            kinds = infos[default].subsets
            start = list(SUBSET_FILTER.values()).index(kinds[0] if kinds else "")
        wanted = SUBSET_FILTER[
            st.selectbox("Hard case", tuple(SUBSET_FILTER), index=start, key=f"{key}:subset")
        ]
        if wanted == "":
            infos = [q for q in infos if not q.subsets]
        elif wanted is not None:
            infos = [q for q in infos if wanted in q.subsets]
    if not infos:
        st.info("No query of this kind in the dataset.")
        return None
    position = next((i for i, q in enumerate(infos) if q.index == default), 0)
    info = st.selectbox(
        "Tracklet", infos, index=position, format_func=lambda q: q.short_label, key=f"{key}:query"
    )
    st.caption(info.details)
    return Query(
        key=f"{ws.key}:query:{info.index}",
        clip=R.query_clip(ws, info.index),
        pid=info.pid,
        camid=info.camid,
        title=info.label,
        num_frames=info.num_frames,
    )


def _example(ws: R.Workspace, key: str) -> Query | _Unusable:
    name = st.selectbox("Example", tuple(R.examples()), key=f"{key}:example")
    return _read(lambda: R.read_example(name, ws), f"example {name}")


def uploader_key(key: str) -> str:
    """The file uploader's widget key: a new one after each clear, which empties it (a file
    uploader's value cannot be set)."""
    return f"{key}:upload:{st.session_state.get(f'{key}:upload_generation', 0)}"


def _clear(key: str) -> None:
    generation = f"{key}:upload_generation"
    st.session_state[generation] = st.session_state.get(generation, 0) + 1


def _upload(ws: R.Workspace, key: str) -> Query | _Unusable | None:
    files = st.file_uploader(
        "A tracklet: a zip of frames, several images, an mp4 or a gif",
        accept_multiple_files=True,
        key=uploader_key(key),
        help="Frames in name order. MARS-style names (0474C3T0001F001.jpg, or a video named "
        "0474C3T0001.mp4) also give the identity and camera, so true matches can be marked.",
    )
    if not files:
        st.caption("Nothing uploaded yet.")
        return None
    st.button("Clear the upload", key=f"{key}:clear", on_click=_clear, args=(key,))
    files = [(f.name, f.getvalue()) for f in files]
    return _read(lambda: R.read_upload(files, ws), "upload")


def _read(read, what: str) -> Query | _Unusable:
    try:
        upload = read()
    except TrackletInputError as err:
        return _Unusable(f"This {what} cannot be used as a tracklet: {err}")
    except Exception as err:  # never a traceback in the page; the message names the problem
        return _Unusable(f"Could not read the {what}: {type(err).__name__}: {err}")
    labels = "unlabelled"
    if upload.pid is not None:
        labels = f"id {upload.pid}, camera {upload.camid + 1}"
    return Query(
        key=upload.key,
        clip=upload.clip,
        pid=upload.pid,
        camid=upload.camid,
        title=f"{upload.source} ({upload.clip.shape[1]} frames, {labels})",
        notes=upload.notes,
        warnings=upload.warnings,
    )
