"""Where do the two models differ? Every query's AP, baseline (x) against STRF (y), coloured by
hard case, with the diagonal; clicking a point opens that query in the page."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from app import resources as R

SEVERAL = "several hard cases"
NONE = "no hard case"
KIND_COLORS = {  # colour-blind-safe (Okabe-Ito)
    "occluded": "#D55E00",
    "look-alike": "#0072B2",
    "misaligned": "#009E73",
    SEVERAL: "#CC79A7",
    NONE: "#999999",
}


def kind_of(info: R.QueryInfo) -> str:
    """The colour group of a query: its one hard case, several, or none."""
    if len(info.subsets) > 1:
        return SEVERAL
    return R.SUBSET_WORDS[info.subsets[0]] if info.subsets else NONE


def differ_figure(
    paired: R.PairedAP, infos: Sequence[R.QueryInfo], names: tuple[str, str], chosen: int | None
) -> go.Figure:
    """The scatter: one point per query with a true match (``customdata``: its index), a trace
    per colour group, the diagonal, the chosen query ringed.

    Args:
        paired: both models' per-query AP (:func:`app.resources.query_comparison`).
        infos: every query (:func:`app.resources.queries`), in the same order.
        names: what the x and y axes call the two models.
        chosen: the query shown in the page, ringed (``None``: none).
    """
    fig = go.Figure()
    fig.add_trace(
        go.Scatter(
            x=[0, 1],
            y=[0, 1],
            mode="lines",
            line={"color": "#555555", "dash": "dot", "width": 1},
            hoverinfo="skip",
            showlegend=False,
        )
    )
    kinds = [kind_of(info) for info in infos]
    for kind, color in KIND_COLORS.items():
        members = [i for i in np.flatnonzero(paired.valid) if kinds[i] == kind]
        if not members:
            continue
        fig.add_trace(
            go.Scatter(
                x=paired.ap_a[members],
                y=paired.ap_b[members],
                mode="markers",
                name=f"{kind} ({len(members)})",
                marker={"color": color, "size": 8, "opacity": 0.75, "line": {"width": 0}},
                customdata=[[int(i), infos[i].kinds] for i in members],
                hovertemplate=(
                    "query #%{customdata[0]} (%{customdata[1]})<br>"
                    f"{names[0]} AP %{{x:.3f}}<br>{names[1]} AP %{{y:.3f}}<extra></extra>"
                ),
            )
        )
    if chosen is not None and paired.valid[chosen]:
        fig.add_trace(
            go.Scatter(
                x=[paired.ap_a[chosen]],
                y=[paired.ap_b[chosen]],
                mode="markers",
                name=f"shown: #{chosen}",
                marker={"size": 16, "symbol": "circle-open", "color": "black"},
                hoverinfo="skip",
            )
        )
    fig.update_layout(
        height=440,
        margin={"l": 10, "r": 10, "t": 10, "b": 10},
        xaxis={"title": f"{names[0]}: AP of the query", "range": [-0.03, 1.03]},
        yaxis={"title": f"{names[1]}: AP of the query", "range": [-0.03, 1.03]},
        legend={"title": "hard case (queries)", "orientation": "v"},
        clickmode="event+select",
    )
    fig.update_yaxes(scaleanchor="x", scaleratio=1)
    return fig


def differ_counts(
    paired: R.PairedAP, subsets: dict[str, np.ndarray], names: tuple[str, str]
) -> list[dict]:
    """Queries above, below and on the diagonal: all, then each hard case (a query in two hard
    cases counts in both)."""
    groups = {"all queries": None} | {
        R.SUBSET_WORDS.get(s, "no hard case" if s == "clean" else s): m for s, m in subsets.items()
    }
    rows = []
    for name, mask in groups.items():
        above, below, equal = paired.counts(mask)
        rows.append(
            {
                "queries": name,
                f"{names[1]} higher": above,
                f"{names[0]} higher": below,
                "equal": equal,
            }
        )
    return rows


def differ_section(ws: R.Workspace, key: str, chosen: int | None) -> None:
    """The section: the counts, the scatter; a click opens the query (sample queries, any
    hard case) and the page reruns on it."""
    paired = R.query_comparison(ws)
    labels = R.compared_labels(ws)
    if paired is None or labels is None:
        return
    infos = R.queries(ws)
    above, below, equal = paired.counts()
    st.subheader("Where do they differ?")
    st.markdown(
        f"Every query's AP, **{labels[0]}** (x) against **{labels[1]}** (y, every branch on): "
        f"**{above}** queries above the diagonal ({labels[1]} better), **{below}** below "
        f"({labels[0]} better), **{equal}** on it, of {int(paired.valid.sum())} queries with a "
        "true match. Click a point to open that query."
    )
    left, right = st.columns([3, 2])
    with left:
        st.plotly_chart(
            differ_figure(paired, infos, labels, chosen),
            key=f"{key}:differ",
            on_select=lambda: _open_clicked(ws, key),
            selection_mode="points",
            config={"displayModeBar": False},
            width="stretch",
        )
    with right:
        st.dataframe(differ_counts(paired, ws.subsets, labels), hide_index=True)
        st.caption(
            "AP under the evaluation protocol over the whole gallery (same-id same-camera "
            "tracklets removed), from the shipped embeddings; points on the diagonal at (1, 1) "
            "are queries both models rank perfectly."
        )


def _open_clicked(ws: R.Workspace, key: str) -> None:
    """Select the clicked query in the sidebar's picker (runs before the page reruns)."""
    event = st.session_state.get(f"{key}:differ")
    points = event["selection"]["points"] if event else []
    indices = [p["customdata"][0] for p in points if p.get("customdata")]
    if not indices:
        return
    st.session_state[f"{key}:source"] = "Sample query"
    st.session_state[f"{key}:subset"] = "any"
    st.session_state[f"{key}:query"] = R.queries(ws)[int(indices[0])]
