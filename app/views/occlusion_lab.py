"""Occlusion lab: draw an occluder into a tracklet; baseline and STRF before and after."""

import plotly.graph_objects as go
import streamlit as st

from app import resources as R
from app.components.branches import branch_toggles, describe
from app.components.frames import COLUMN_SLOTS, evidence_note, frame_strip
from app.components.query_picker import pick_query
from app.components.workspace import demo_workspace

KEY = "occlusion"
RANK_TICKS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000]  # log axis: whole ranks

st.title("Occlusion lab")
st.caption(
    "Draw one of the synthetic world's occluders (a pole, a bicycle, a car or a passer-by) into a "
    "tracklet and compare what the baseline and STRF make of it: where they look, where the true "
    "match ranks, and how similar the query stays to it."
)
ws = demo_workspace()
query = pick_query(ws, KEY)
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

if query is None:  # the picker has said why in the page
    st.stop()

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
st.caption(query.title)
frame_strip(R.as_images(query.clip))
st.subheader("After")
st.caption(f"{kind} over {fraction:.0%} of the pixels on average, frames t={first}-{last}")
frame_strip(R.as_images(occluded_clip))

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
            frame_strip(analysis.overlays, slots=COLUMN_SLOTS)
        rows.append((label, before, after))

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
if query.pid is not None:
    ranks = go.Figure(
        [
            go.Bar(name="before", x=names, y=[b.score.first_match for _, b, _ in rows]),
            go.Bar(name="after", x=names, y=[a.score.first_match for _, _, a in rows]),
        ]
    )
    ranks.update_layout(
        barmode="group",
        title="Rank of the first true match (lower is better)",
        yaxis={
            "title": "rank",
            "type": "log",
            "tickvals": RANK_TICKS,
            "autorangeoptions": {"include": 1},  # bars from rank 1 up
        },
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
    )
else:
    charts[1].info("The query's identity is unknown, so the true match cannot be ranked.")
