"""Occlusion lab: draw an occluder into a tracklet; baseline and STRF before and after; and
sweeps of its size or position over a set of clean queries."""

import plotly.graph_objects as go
import streamlit as st

from app import resources as R
from app.components.branches import branch_toggles, describe
from app.components.frame_rows import COLUMN_SLOTS, all_frames
from app.components.frames import evidence_note
from app.components.query_picker import pick_query
from app.components.sweep_charts import sweep_figure, sweep_rows
from app.components.workspace import demo_workspace

KEY = "occlusion"
SWEEP_VALUES = {  # the swept values of each axis
    "size": (0.4, 0.7, 1.0, 1.3, 1.6, 2.0, 2.5),
    "position": (-0.5, -0.35, -0.2, -0.1, 0.0, 0.1, 0.2, 0.35, 0.5),
}
# Measured by bench/sweep_cost.py on this 2-core machine (bench/results/sweep_cost.json): one
# clip (17 frames on average, 128x64) through a demo model, forward and Grad-CAM backward, with
# the machine's load average at 11.6 (two trainings and tests running).
SECONDS_PER_CLIP = 2.6
MEASURED_LOAD = 11.6
CLEAN = "no occluder drawn by the world, not misaligned, no look-alike"
ELIGIBLE = "of at most 32 frames with a true match in the gallery"
RULE = f"the first clean query ({CLEAN}; by index) {ELIGIBLE}"

st.title("Occlusion lab")
st.caption(
    "Draw one of the synthetic world's occluders (a pole, a bicycle, a car or a passer-by) into a "
    "tracklet and compare what the baseline and STRF make of it: where they look, where the true "
    "match ranks, and how similar the query stays to it. The sweep tab does this over a set of "
    "clean queries, at a range of sizes or positions."
)
ws = demo_workspace()
default_query = next(iter(R.clean_queries(ws, 1)), None)
one, sweeps = st.tabs(["One query", "Sweep over clean queries"])


# --------------------------------------------------------------------------- one query


def _one_query() -> None:
    query = pick_query(ws, KEY, default=default_query)
    with st.sidebar:
        st.subheader("Occluder")
        kind = st.selectbox("Kind", R.OCCLUDER_KINDS, key=f"{KEY}:kind")
        start_x, end_x = st.slider(
            "Position across the frames (frame widths from the centre: from, to)",
            -1.0,
            1.0,
            (-0.15, 0.15),
            step=0.05,
            key=f"{KEY}:position",
        )
        size = st.slider("Size (x the person's height)", 0.4, 2.5, 1.2, step=0.1, key=f"{KEY}:size")
        seed = st.number_input("Colours (seed)", 0, 999, 0, key=f"{KEY}:seed")
    if default_query is not None:
        st.caption(f"The page opens on query #{default_query}: {RULE}.")
    if query is None:  # the picker has said why in the page
        return
    num_frames = query.clip.shape[1]
    first, last = st.sidebar.slider(
        "Frames it is in", 0, num_frames - 1, (0, num_frames - 1), key=f"{KEY}:frames"
    )
    occluded_key, occluded_clip, fraction = R.occluded(
        query.key, query.clip, kind, (start_x, end_x), size, (first, last), int(seed)
    )
    st.markdown("**STRF branches**")
    branches = branch_toggles(KEY)

    st.subheader("Before")
    thinned = query.num_frames is not None and query.num_frames > num_frames
    st.caption(
        query.title
        + (
            f" · shown and analysed: {num_frames} of its {query.num_frames} frames, evenly "
            "spaced (t= counts the frames shown)"
            if thinned
            else f" · all {num_frames} frames"
        )
    )
    all_frames(R.as_images(query.clip))
    st.subheader("After")
    st.caption(f"{kind} over {fraction:.0%} of the pixels on average, frames t={first}-{last}")
    all_frames(R.as_images(occluded_clip))

    rows = []
    columns = st.columns(len(ws.models))
    for column, (label, model) in zip(columns, ws.models.items(), strict=True):
        switch = branches if model.has_strf else None
        with column, st.spinner(f"{label}: ranking and explaining both clips..."):
            before = R.analyse(
                ws,
                label,
                query.key,
                query.clip,
                switch,
                pid=query.pid,
                camid=query.camid,
                explain="match",
            )
            after = R.analyse(
                ws,
                label,
                occluded_key,
                occluded_clip,
                switch,
                pid=query.pid,
                camid=query.camid,
                target=before.explained,  # the same gallery entry, so the similarities compare
            )
            unit = f"STRF with {describe(switch)}" if model.has_strf else "no STRF"
            st.subheader(label)
            st.caption(unit)
            explained = ws.dataset.gallery[before.explained]
            matched = before.score is not None and before.score.best_match == before.explained
            st.caption(
                f"Grad-CAM of the similarity to gallery tracklet #{before.explained} "
                f"(id {explained.pid}, camera {explained.camid + 1}: "
                f"{'the nearest true match' if matched else 'the top hit'})"
            )
            for name, analysis in (("before", before), ("after", after)):
                note = evidence_note(analysis.empty_frames, len(analysis.overlays))
                st.markdown(f"{name} · :gray[{note}]" if note else name)
                all_frames(analysis.overlays, per_row=COLUMN_SLOTS)
            rows.append((label, before, after))
    _one_query_charts(query, rows)


def _one_query_charts(query, rows) -> None:
    names = [label for label, _, _ in rows]
    similarity = go.Figure(
        [
            go.Bar(name="before", x=names, y=[b.similarity for _, b, _ in rows]),
            go.Bar(name="after", x=names, y=[a.similarity for _, _, a in rows]),
        ]
    )
    similarity.update_layout(
        barmode="group",
        title="Similarity to the explained tracklet",
        yaxis_title="cosine similarity",
        height=320,
        margin={"t": 40, "b": 20},
    )
    charts = st.columns(2)
    charts[0].plotly_chart(similarity, width="stretch", key=f"{KEY}:similarity")
    if query.pid is None:
        charts[1].info("The query's identity is unknown, so the true match cannot be ranked.")
        return
    ranks = go.Figure(
        [
            go.Bar(name="before", x=names, y=[b.score.first_match for _, b, _ in rows]),
            go.Bar(name="after", x=names, y=[a.score.first_match for _, _, a in rows]),
        ]
    )
    ranks.update_layout(
        barmode="group",
        title="Rank of the first true match (1 = top; lower is better)",
        yaxis={"title": "rank", "rangemode": "tozero"},  # linear: rank 40 is twice rank 20
        height=320,
        margin={"t": 40, "b": 20},
    )
    charts[1].plotly_chart(ranks, width="stretch", key=f"{KEY}:ranks")
    st.dataframe(
        [
            {
                "model": label,
                "rank before": b.score.first_match,
                "rank after": a.score.first_match,
                "AP before": round(b.score.average_precision or 0.0, 3),
                "AP after": round(a.score.average_precision or 0.0, 3),
                "similarity before": round(b.similarity, 3),
                "similarity after": round(a.similarity, 3),
            }
            for label, b, a in rows
        ],
        hide_index=True,
        key=f"{KEY}:table",
    )


# --------------------------------------------------------------------------- sweeps


def _sweep_settings() -> tuple[R.SweepSettings, int, list[str], bool]:
    """The sweep form: occluder settings, query count, models; and whether it was submitted."""
    variants = R.sweep_variants(ws)
    with st.form(f"{KEY}:sweep"):
        left, middle, right = st.columns(3)
        kind = left.selectbox("Occluder", R.OCCLUDER_KINDS, index=2, key=f"{KEY}:sweep_kind")
        axis = left.radio(
            "Sweep its", ("size", "position"), horizontal=True, key=f"{KEY}:sweep_axis"
        )
        count = middle.slider("Clean queries", 2, 16, 4, key=f"{KEY}:sweep_count")
        held_size = middle.slider(
            "Size while the position is swept", 0.4, 2.5, 1.0, step=0.1, key=f"{KEY}:sweep_size"
        )
        held_position = middle.slider(
            "Position while the size is swept",
            -0.5,
            0.5,
            0.0,
            step=0.05,
            key=f"{KEY}:sweep_position",
        )
        seed = right.number_input("Colours (seed)", 0, 999, 0, key=f"{KEY}:sweep_seed")
        names = st.multiselect(
            "Models",
            tuple(variants),
            default=list(variants)[:3],
            key=f"{KEY}:sweep_models",
        )
        submitted = st.form_submit_button("Run the sweep", type="primary")
    settings = R.SweepSettings(
        kind, axis, SWEEP_VALUES[axis], float(held_size), float(held_position), int(seed)
    )
    return settings, count, names, submitted


def _sweep() -> None:
    if "clean" not in ws.subsets:
        st.info("Sweeps need a synthetic world's clean queries; this dataset records none.")
        return
    settings, count, names, submitted = _sweep_settings()
    indices = R.clean_queries(ws, count)
    variants = R.sweep_variants(ws)
    clips = len(indices) * (len(settings.values) + 1) * len(names)
    st.caption(
        f"Queries: {len(indices)} clean queries (#{', #'.join(map(str, indices))}), chosen by a "
        f"rule that consults no model: evenly spaced by index over the clean queries ({CLEAN}) "
        f"{ELIGIBLE}. Each is run without the occluder and with it in every frame at each of "
        f"{len(settings.values)} values: {clips} clips through the models, one forward and "
        f"one Grad-CAM backward pass each. Measured on 2 CPU cores under a load average of "
        f"{MEASURED_LOAD:g} (bench/sweep_cost.py): {SECONDS_PER_CLIP:g} s a clip, so about "
        f"{clips * SECONDS_PER_CLIP / 60:.0f} min for this sweep (less on idle cores); then "
        "cached for this server's life."
    )
    if not names:
        st.info("Choose at least one model.")
        return
    _sweep_preview(indices[0], settings)
    found = {name: R.cached_sweep(ws, variants[name], indices, settings) for name in names}
    if any(v is None for v in found.values()):
        if not submitted:
            st.info("Press **Run the sweep** to compute it (progress is shown).")
            return
        bar = st.progress(0.0, text="Sweeping...")
        for n, name in enumerate(names):
            if found[name] is not None:
                continue

            def report(done: int, total: int, n: int = n, name: str = name) -> None:
                share = (n + done / total) / len(names)
                bar.progress(share, text=f"{name}: query {done} of {total}")

            found[name] = R.sweep(ws, variants[name], indices, settings, report)
        bar.empty()
    results = {name: result for name, (result, _) in found.items()}
    took = sum(seconds for _, seconds in found.values())
    st.plotly_chart(sweep_figure(results), width="stretch", key=f"{KEY}:sweep_chart")
    st.caption(
        "Lines: the mean over the queries; bands: ± the sample standard deviation over the "
        "queries; dotted: each model's value without the occluder. Rank: of the first true "
        "match in the whole gallery, junk removed (as evaluated). Similarity and Grad-CAM "
        "(layer4): to the nearest true match of the query without the occluder, the same "
        "gallery tracklet at every value. Mass on the occluder: over the frames it is drawn "
        "in; the grey dashed line is its share of the pixels, what a uniform map would score. "
        f"Computed in {took:.0f} s."
    )
    rows = sweep_rows(results)
    st.dataframe(
        rows,
        hide_index=True,
        key=f"{KEY}:sweep_table",
        height=35 * (len(rows) + 1) + 3,
        column_config={"model": st.column_config.TextColumn("model", width="medium")},
    )


def _sweep_preview(index: int, settings: R.SweepSettings) -> None:
    """The first query's middle frame with the occluder at each value."""
    clip = R.query_clip(ws, index)
    middle = clip.shape[1] // 2
    cells = st.columns(len(settings.values), gap="xxsmall")
    for cell, value in zip(cells, settings.values, strict=True):
        size = value if settings.axis == "size" else settings.size
        position = value if settings.axis == "position" else settings.position
        _, drawn, _ = R.occluded(
            f"{ws.key}:query:{index}",
            clip,
            settings.kind,
            (position, position),
            size,
            (0, clip.shape[1] - 1),
            settings.seed,
        )
        cell.image(
            R.as_images(drawn[:, middle : middle + 1])[0],
            caption=f"{settings.axis} {value:g}",
            width="stretch",
        )


with one:
    _one_query()
with sweeps:
    _sweep()
