"""Rows of frames (a tracklet, its attention overlays), rows of retrieved tracklets, and the
numbers that sum up one ranking."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import streamlit as st

from app import resources as R

if TYPE_CHECKING:
    from strf_core.retrieval import Hit

KIND_MARKS = {  # what a hit is for the query (plain symbols: no emoji font needed)
    "match": ":green[**✓ match**]",
    "wrong": ":red[✗ wrong]",
    "lookalike": ":orange[≈ look-alike]",
    "junk": ":gray[junk]",
    "distractor": ":gray[distractor]",
    "unknown": "?",
}
KIND_WORDS = {  # the same in plain words, for tables
    "match": "true match",
    "wrong": "wrong identity",
    "lookalike": "look-alike (another identity of the query's group)",
    "junk": "junk",
    "distractor": "distractor",
    "unknown": "unknown",
}
STRIP_SLOTS = 16  # frames in a full-width strip
COLUMN_SLOTS = 8  # frames in a strip inside one of two side-by-side columns
THUMBNAIL_WIDTH = 70  # pixels a top-k thumbnail is shown at (two caption lines fit under it)
HITS_PER_ROW = 5  # at most; fewer where the column is narrower
HIT_GAP = 8  # pixels between thumbnails ("xsmall")


def shown_frames(num_frames: int, slots: int) -> list[int]:
    """The frame indices a strip of ``slots`` cells shows: all, or ``slots`` evenly spaced."""
    if num_frames <= slots:
        return list(range(num_frames))
    return np.linspace(0, num_frames - 1, slots).round().astype(int).tolist()


def frame_strip(
    images: Sequence[np.ndarray],
    *,
    slots: int = STRIP_SLOTS,
    frames: Sequence[int] | None = None,
) -> list[int]:
    """Frames in one row of ``slots`` equal cells, each labelled ``t=`` its index in the clip.

    Longer clips are evenly thinned to ``slots`` frames (or show ``frames``, e.g. those with
    evidence); shorter ones leave cells empty, so frames keep their size from clip to clip.
    Returns the indices shown.
    """
    shown = list(frames) if frames is not None else shown_frames(len(images), slots)
    for cell, t in zip(st.columns(slots, gap="xxsmall"), shown, strict=False):
        cell.image(images[t], caption=f"t={t}", width="stretch")
    return shown


def frames_in_words(frames: Sequence[int], num_frames: int) -> str:
    """``"frames t=3, 7 of 16"`` or ``"frame t=3 of 16"``."""
    noun = "frame" if len(frames) == 1 else "frames"
    return f"{noun} t={', '.join(str(t) for t in frames)} of {num_frames}"


def evidence_note(empty_frames: Sequence[int], num_frames: int) -> str:
    """The frames where Grad-CAM finds nothing, in words (``""`` when it finds something in
    every frame); when most frames are empty, the few with evidence are named instead."""
    if not empty_frames:
        return ""
    if len(empty_frames) == num_frames:
        return f"Grad-CAM finds no evidence in any of the {num_frames} frames."
    if 2 * len(empty_frames) <= num_frames:
        return f"Grad-CAM finds no evidence in {frames_in_words(empty_frames, num_frames)}."
    some = [t for t in range(num_frames) if t not in set(empty_frames)]
    return (
        f"Grad-CAM finds no evidence in {len(empty_frames)} of {num_frames} frames, "
        f"only in t={', '.join(str(t) for t in some)}."
    )


def hit_mark(hit: Hit, lookalikes: R.Lookalikes | None, query_pid: int | None) -> str:
    """What a hit is for the query: its kind, or ``"lookalike"`` for a wrong identity of the
    query's look-alike group (the world's metadata)."""
    wrong = hit.kind == "wrong" and lookalikes is not None
    return "lookalike" if wrong and lookalikes.is_lookalike(hit.pid, query_pid) else hit.kind


def hit_caption(hit: Hit, mark: str | None = None) -> str:
    """Two short lines under a thumbnail: rank and distance, then what the hit is."""
    return f"**{hit.rank}** d={hit.distance:.3f}  \n{KIND_MARKS[mark or hit.kind]}"


def ranking_strip(
    ws: R.Workspace, analysis: R.Analysis, lookalikes: R.Lookalikes | None = None
) -> None:
    """The top-k retrievals as rows of fixed-size thumbnails (``HITS_PER_ROW``, or as many as a
    narrower column holds): rank, distance and what each hit is (look-alikes marked); then,
    when it ranks below them, the nearest true match; ids and cameras in a table."""
    hits = analysis.ranking.hits
    pid = analysis.ranking.query_pid
    marks = [hit_mark(h, lookalikes, pid) for h in hits]
    widest = HITS_PER_ROW * THUMBNAIL_WIDTH + (HITS_PER_ROW - 1) * HIT_GAP
    with st.container(horizontal=True, gap="xsmall", width=widest):
        for hit, mark in zip(hits, marks, strict=True):
            thumbnail = R.gallery_thumbnail(ws, hit.index)
            st.image(thumbnail, caption=hit_caption(hit, mark), width=THUMBNAIL_WIDTH)
    score = analysis.score
    if score is not None and score.first_match is not None and score.first_match > len(hits):
        st.markdown(f"**Nearest true match**, below the top {len(hits)}:")
        distance = 1.0 - score.best_match_similarity
        st.image(
            R.gallery_thumbnail(ws, score.best_match),
            caption=f"**{score.first_match}** d={distance:.3f}  \n{KIND_MARKS['match']}",
            width=THUMBNAIL_WIDTH,
        )
    with st.expander("Identities and cameras of these hits"):
        st.dataframe(
            [
                {
                    "rank": h.rank,
                    "hit": KIND_WORDS[mark],
                    "distance": round(h.distance, 3),
                    "id": h.pid,
                    "camera": h.camid + 1,
                    "gallery #": h.index,
                }
                for h, mark in zip(hits, marks, strict=True)
            ],
            hide_index=True,
        )


def match_summary(analysis: R.Analysis) -> str:
    """One compact line: where the first true match ranks in the whole gallery, the query's AP
    and how many true matches there are (each group unbroken, so narrow columns wrap between
    them)."""
    score = analysis.score
    if score is None:
        return "Query identity unknown: hits cannot be marked true or wrong."
    if score.first_match is None:
        return "The gallery holds no true match for this query (other cameras)."
    groups = (
        f"**rank {score.first_match}**",
        f"AP **{score.average_precision:.3f}**",
        f"{score.num_matches} true matches",
    )
    return "First true match: " + " · ".join(g.replace(" ", "\u00a0") for g in groups)
