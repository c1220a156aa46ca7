"""Inside STRF: the FAM mask of a position, each branch's contribution, the architecture."""

import plotly.graph_objects as go
import streamlit as st

from app import resources as R
from app.components.branches import branch_toggles
from app.components.frames import COLUMN_SLOTS, frame_strip
from app.components.query_picker import pick_query
from app.components.workspace import demo_workspace

KEY = "inside"
DIRECTIONS = {
    "where it draws from (column)": "column",
    "where it sends to (row)": "row",
}

st.title("Inside STRF")
st.caption(
    "Each STRF branch builds one factorized attention mask M = softmax(kappa T^T T) over the "
    "h x w positions of a unit's feature map, shared by every frame of the clip (its keys pool "
    "over time or space first). Click a position on the frame, or choose it with the sliders, "
    "to see the weights its column (or row) of the mask puts on every other position."
)
ws = demo_workspace()
strf_labels = [label for label, m in ws.models.items() if m.has_strf]
if not strf_labels:
    st.warning("This workspace has no model with STRF units.")
    st.stop()
query = pick_query(ws, KEY)
with st.sidebar:
    st.subheader("Unit")
    label = st.selectbox("Model", strf_labels, key=f"{KEY}:model")
    units = R.strf_units(ws, label)
    unit_name = st.selectbox("STRF unit", tuple(units), key=f"{KEY}:unit")
    direction = DIRECTIONS[st.radio("Show", tuple(DIRECTIONS), key=f"{KEY}:direction")]

if query is None:  # the picker has said why in the page
    st.stop()

st.markdown("**STRF branches switched on** (the others are skipped in every unit)")
branches = branch_toggles(KEY)
with st.spinner("Running the model with hooks on the unit..."):
    inspection = R.inspect(ws, label, query.key, query.clip, unit_name, branches)
if not inspection.branches:
    st.warning("No branch is switched on: the unit is the identity and has no mask.")
    st.stop()

h, w = inspection.grid
branch = st.radio(
    "Branch",
    inspection.branches,
    format_func=lambda b: R.BRANCH_LABELS[b],
    horizontal=True,
    key=f"{KEY}:branch",
)
cell_key = f"{KEY}:cell:{unit_name}"
row, col = st.session_state.get(cell_key, (h // 2, w // 2))
row, col = min(row, h - 1), min(col, w - 1)

frames = R.as_images(query.clip)
frame_index = st.slider("Frame shown", 0, len(frames) - 1, 0, key=f"{KEY}:frame")
height, width = R.DISPLAY_SIZE
centres = [((c + 0.5) * width / w, (r + 0.5) * height / h) for r in range(h) for c in range(w)]
picker = go.Figure(go.Image(z=frames[frame_index]))
picker.add_trace(
    go.Scatter(
        x=[x for x, _ in centres],
        y=[y for _, y in centres],
        mode="markers",
        marker={
            "size": 14,
            "symbol": "square-open",
            "color": ["red" if i == row * w + col else "white" for i in range(h * w)],
            "line": {"width": 2},
        },
        hovertemplate="row %{customdata[0]}, col %{customdata[1]}<extra></extra>",
        customdata=[(r, c) for r in range(h) for c in range(w)],
    )
)
picker.update_layout(
    height=360, width=220, margin={"l": 0, "r": 0, "t": 0, "b": 0}, showlegend=False
)
picker.update_xaxes(visible=False)
picker.update_yaxes(visible=False)

left, right = st.columns([1, 3])
with left:
    event = st.plotly_chart(
        picker, on_select="rerun", selection_mode="points", key=f"{KEY}:picker:{unit_name}"
    )
    points = event.selection.points if event and event.selection else []
    if points:
        picked = divmod(int(points[0]["point_index"]), w)
        if picked != (row, col):
            st.session_state[cell_key] = picked
            st.rerun()
    row = st.slider("Row", 0, h - 1, row, key=f"{KEY}:row:{unit_name}")
    col = st.slider("Column", 0, w - 1, col, key=f"{KEY}:col:{unit_name}")
    st.session_state[cell_key] = (row, col)
with right:
    st.markdown(
        f"**{R.BRANCH_LABELS[branch]}** mask of `{unit_name}` ({h} x {w} positions, "
        f"{inspection.integration}), position row {row}, column {col}"
    )
    frame_strip(
        R.mask_overlay(inspection, branch, (row, col), query.clip, direction), slots=COLUMN_SLOTS
    )
    stats = inspection.stats[branch]
    st.caption(
        f"A column of this mask draws on {stats.effective_positions:.1f} of {h * w} positions "
        f"on average (exp of its entropy); its peak weight is {stats.peak:.2f} "
        f"(1 = one position, {1 / (h * w):.2f} = uniform)."
    )

st.subheader("What each branch adds")
names = [R.BRANCH_LABELS[b] for b in inspection.branches]
contributions = go.Figure(
    [
        go.Bar(
            name="||output|| / ||input|| of the branch",
            x=names,
            y=[inspection.contributions[b].relative_norm for b in inspection.branches],
        ),
        go.Bar(
            name="||gamma * output|| / ||unit input||",
            x=names,
            y=[inspection.contributions[b].residual_share for b in inspection.branches],
        ),
    ]
)
contributions.update_layout(barmode="group", height=320, margin={"t": 20, "b": 20})
st.plotly_chart(contributions, width="stretch", key=f"{KEY}:contributions")
st.caption(
    f"gamma of this unit: {inspection.gamma:.4f}. The first ratio is how much of its input a "
    "branch's mask keeps (1 for a mask that copies positions, lower for one that averages "
    "unlike positions); the second is what the branch adds to the unit's input at the learned "
    "residual scale."
)
st.dataframe(
    [
        {
            "branch": R.BRANCH_LABELS[b],
            "effective positions": round(inspection.stats[b].effective_positions, 2),
            "peak weight": round(inspection.stats[b].peak, 3),
            "normalised entropy": round(inspection.stats[b].normalized_entropy, 3),
        }
        for b in inspection.branches
    ],
    hide_index=True,
)

st.subheader("Architecture")
st.markdown(
    f"`{label}`: {ws.models[label].config.model.name}, "
    f"{R.model_parameters(ws, label):,} parameters; STRF units:"
)
st.dataframe(R.unit_table(ws, label), hide_index=True)
st.markdown(
    "**Table 2** (ResNet-50 baselines, 625 classes): ours beside the paper's (which truncates "
    "to two decimals of a million; empty: not reported)"
)
st.dataframe(
    [
        {
            "model": row["model"],
            "ours": f"{row['params']:,}",
            "ours + STRF (stages 2-3)": f"{row['params_strf']:,}",
            "added": f"{row['added']:,}",
            "paper P(M)": row["paper_m"],
            "paper + STRF P(M)": row["paper_strf_m"],
        }
        for row in R.table2()
    ],
    hide_index=True,
)
