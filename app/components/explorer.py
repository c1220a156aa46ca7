"""The Explore view of a workspace: a query, then each model's attention and retrievals side by
side, with the STRF branch toggles recomputing the STRF columns live."""

from __future__ import annotations

import streamlit as st

from app import resources as R
from app.components.branches import branch_toggles, describe
from app.components.frames import (
    COLUMN_SLOTS,
    evidence_note,
    frame_strip,
    match_summary,
    ranking_strip,
)
from app.components.query_picker import pick_query

EXPLAIN = {"the top hit": "top", "the nearest true match": "match"}


def explorer(ws: R.Workspace, key: str) -> None:
    """Render the whole view for ``ws``; widget keys start with ``key``."""
    query = pick_query(ws, key)
    with st.sidebar:
        st.subheader("Retrieval")
        k = st.slider("Hits shown", 5, 20, 10, key=f"{key}:k")
        explain = EXPLAIN[
            st.radio("Attention explains the similarity to", tuple(EXPLAIN), key=f"{key}:explain")
        ]
    if query is None:  # the picker has said why in the page
        return

    st.subheader("Query")
    st.caption(query.title)
    for note in query.notes:
        st.caption(f"Note: {note}")
    frame_strip(R.as_images(query.clip))

    has_strf = any(m.has_strf for m in ws.models.values())
    st.markdown("**STRF branches** (switch them off to see what each one does)")
    branches = branch_toggles(key, disabled=not has_strf)

    columns = st.columns(len(ws.models))
    for column, (label, model) in zip(columns, ws.models.items(), strict=True):
        with column:
            _model_column(ws, label, model, query, branches if model.has_strf else None, k, explain)


def _model_column(ws, label, model, query, branches, k, explain) -> None:
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
    st.markdown(match_summary(analysis))
    hit = ws.dataset.gallery[analysis.explained]
    note = evidence_note(analysis.empty_frames, len(analysis.overlays))
    st.caption(
        f"Grad-CAM (layer4) of the cosine similarity {analysis.similarity:.3f} to gallery "
        f"tracklet #{analysis.explained} (id {hit.pid}, camera {hit.camid + 1}). {note}".strip()
    )
    frame_strip(analysis.overlays, slots=COLUMN_SLOTS)
    st.markdown(f"**Top {k}** (junk removed, as in evaluation; d: cosine distance)")
    ranking_strip(ws, analysis)
