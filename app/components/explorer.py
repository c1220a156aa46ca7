"""The Explore view of a workspace: a query, then each model's attention and retrievals side by
side, with the STRF branch toggles recomputing the STRF columns live.

Each model column shows what is compared: the query and the gallery tracklet whose similarity
Grad-CAM explains, each with its own map, on the frames that carry the evidence."""

from __future__ import annotations

import streamlit as st

from app import resources as R
from app.components.branches import branch_toggles, describe
from app.components.differ import differ_section
from app.components.frames import (
    COLUMN_SLOTS,
    THUMBNAIL_WIDTH,
    evidence_note,
    frame_strip,
    match_summary,
    ranking_strip,
)
from app.components.query_picker import Query, pick_query

EXPLAIN = {"the top hit": "top", "the nearest true match": "match"}


def explorer(ws: R.Workspace, key: str, *, overview: bool = False) -> None:
    """Render the whole view for ``ws``; widget keys start with ``key``.

    Args:
        overview: open on the query chosen by :func:`app.resources.opening_query` and show
            where the models differ, query by query (the demo: its query embeddings are
            shipped; another workspace would embed every query first).
    """
    opening = R.opening_query(ws) if overview else None
    query = pick_query(ws, key, default=opening)
    with st.sidebar:
        st.subheader("Retrieval")
        k = st.slider("Hits shown", 5, 20, 10, key=f"{key}:k")
        explain = EXPLAIN[
            st.radio("Attention explains the similarity to", tuple(EXPLAIN), key=f"{key}:explain")
        ]
    shown = _sample_index(ws, query)
    if overview:
        differ_section(ws, key, shown)
    if query is None:  # the picker has said why in the page
        return

    st.subheader("Query")
    st.caption(query.title)
    if opening is not None and shown == opening:
        st.caption(_opening_rule(ws, opening))
    for note in query.notes:
        st.caption(f"Note: {note}")
    frame_strip(R.as_images(query.clip))
    lookalikes = R.lookalikes(ws)
    _lookalike_group(ws, lookalikes, query.pid)

    has_strf = any(m.has_strf for m in ws.models.values())
    st.markdown("**STRF branches** (switch them off to see what each one does)")
    branches = branch_toggles(key, disabled=not has_strf)

    columns = st.columns(len(ws.models))
    for column, (label, model) in zip(columns, ws.models.items(), strict=True):
        with column:
            strf_branches = branches if model.has_strf else None
            _model_column(ws, label, model, query, strf_branches, k, explain, lookalikes)


def _sample_index(ws: R.Workspace, query: Query | None) -> int | None:
    """The query's index among the workspace's queries (``None``: an example or upload)."""
    prefix = f"{ws.key}:query:"
    if query is None or not query.key.startswith(prefix):
        return None
    return int(query.key.removeprefix(prefix))


def _opening_rule(ws: R.Workspace, index: int) -> str:
    paired = R.query_comparison(ws)
    labels = R.compared_labels(ws)
    mask = ws.subsets[R.OPENING_SUBSET]
    better_b, better_a, _ = paired.counts(mask)
    difference = paired.ap_b[index] - paired.ap_a[index]
    return (
        f"The page opens on this query by a fixed rule: of the {better_b + better_a} "
        f"{R.SUBSET_WORDS[R.OPENING_SUBSET]} queries where the two models' AP differ "
        f"({better_b} in favour of {labels[1]}, {better_a} of {labels[0]}), the one at the "
        f"median of the difference {labels[1]} − {labels[0]} ({difference:+.3f} here): a "
        "typical disagreement, not the most telling one. Click the plot above for others."
    )


def _lookalike_group(ws: R.Workspace, lookalikes: R.Lookalikes | None, pid: int | None) -> None:
    """The query's look-alike group (the world's metadata), one gallery tracklet each."""
    group = lookalikes.group(pid) if lookalikes is not None else None
    if group is None:
        return
    members = lookalikes.members(group)
    others = ", ".join(str(p) for p in members if p != pid)
    st.markdown(
        f"**Look-alike group {group}** (the generator drew these identities alike: the same "
        f"clothes and build, told apart by gait and small details): the query's id {pid}, "
        f"and {others}. Hits of these identities are marked :orange[≈ look-alike]."
    )
    with st.container(horizontal=True, gap="small"):
        for member, index in members.items():
            entry = ws.dataset.gallery[index]
            caption = f"id {member}" + (" (query)" if member == pid else "")
            caption += f"  \ncamera {entry.camid + 1}"
            st.image(R.gallery_thumbnail(ws, index), caption=caption, width=THUMBNAIL_WIDTH)


def _model_column(ws, label, model, query, branches, k, explain, lookalikes) -> None:
    st.subheader(label)
    unit = f"STRF with {describe(branches)}" if model.has_strf else "no STRF"
    st.caption(f"{model.config.model.name}, {unit}")
    with st.spinner(
        "Ranking... (a branch set seen for the first time embeds the gallery once: a few seconds)"
    ):
        analysis = R.analyse(
            ws,
            label,
            query.key,
            query.clip,
            branches,
            k=k,
            pid=query.pid,
            camid=query.camid,
            explain=explain,
        )
        side = R.explain_gallery_side(
            ws, label, query.key, analysis.ranking.query_feature, branches, analysis.explained
        )
    st.markdown(match_summary(analysis))
    hit = ws.dataset.gallery[analysis.explained]
    st.caption(
        f"Grad-CAM (layer4) of the cosine similarity {analysis.similarity:.3f} between the query "
        f"and {_explained_words(analysis)}: gallery tracklet #{analysis.explained} (id "
        f"{hit.pid}, camera {hit.camid + 1}), each side with its own map."
    )
    _evidence_strip("Query", analysis.overlays, analysis.evidence, analysis.empty_frames)
    _evidence_strip(f"Gallery #{side.index}", side.overlays, side.evidence, side.empty_frames)
    st.markdown(f"**Top {k}** (junk removed, as in evaluation; d: cosine distance)")
    ranking_strip(ws, analysis, lookalikes)


def _explained_words(analysis: R.Analysis) -> str:
    """Which gallery tracklet the maps explain, and where it ranks."""
    score = analysis.score
    if score is not None and analysis.explained == score.best_match:
        return f"its nearest true match (rank {score.first_match})"
    rank = next((h.rank for h in analysis.ranking.hits if h.index == analysis.explained), None)
    return "its top hit" if rank == 1 else f"the hit at rank {rank}"


def _evidence_strip(title, overlays, evidence, empty_frames) -> None:
    """One clip's maps on the frames with the most evidence, said in words."""
    frames = R.evidence_frames(evidence, COLUMN_SLOTS) if evidence else None
    total = len(overlays)
    shown = (
        f"all {total} frames"
        if total <= COLUMN_SLOTS
        else f"{COLUMN_SLOTS} of {total} frames, those with the most evidence"
    )
    note = evidence_note(empty_frames, total)
    st.caption(f"**{title}**: {shown}. {note}".strip())
    frame_strip(overlays, slots=COLUMN_SLOTS, frames=frames)
