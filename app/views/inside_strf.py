"""Inside STRF: the FAM mask of a position, each branch's contribution, the architecture."""

import plotly.graph_objects as go
import streamlit as st

from app import resources as R
from app.components.branches import branch_toggles
from app.components.mask_plots import mask_figure
from app.components.other_units import other_units_page, position_picker
from app.components.query_picker import pick_query
from app.components.workspace import demo_workspace

KEY = "inside"
DIRECTIONS = {
    "where it draws from (column)": "column",
    "where it sends to (row)": "row",
}


def _reported(value: float | None) -> str:
    """A number of the paper, or "—" where it reports none."""
    return "—" if value is None else f"{value:.2f}"


st.title("Inside STRF")
st.caption(
    "Each STRF branch builds one factorized attention mask M = softmax(kappa T^T T) over the "
    "h x w positions of a unit's feature map, shared by every frame of the clip (its keys pool "
    "over time or space first). Click a position on the frame, or choose it with the sliders, "
    "to see the weights its column (or row) of the mask puts on every other position. The "
    "non-local block and AP3D's APM, the units the paper compares STRF with, can be chosen "
    "in the sidebar and are shown on the same scale."
)
ws = demo_workspace()
strf_labels = [label for label, m in ws.models.items() if m.has_strf]
unit_models = R.unit_models()
choices = {label: f"{label}: STRF (demo model, 128x64)" for label in strf_labels}
choices |= {f"tiny/{n}": f"{R.UNIT_MODELS[n]} (tiny, 64x32)" for n in unit_models}
if not choices:
    st.warning("This workspace has no model with STRF, non-local or APM units.")
    st.stop()
query = pick_query(ws, KEY)
with st.sidebar:
    st.subheader("Unit")
    label = st.selectbox("Model", tuple(choices), format_func=choices.get, key=f"{KEY}:model")
    if label in strf_labels:
        units = R.strf_units(ws, label)
        unit_name = st.selectbox("STRF unit", tuple(units), key=f"{KEY}:unit")
        direction = DIRECTIONS[st.radio("Show", tuple(DIRECTIONS), key=f"{KEY}:direction")]
    else:
        kinds = R.attention_unit_kinds(label.removeprefix("tiny/"))
        unit_name = st.selectbox(
            "Unit",
            tuple(kinds),
            format_func=lambda u: f"{u} ({R.UNIT_KIND_WORDS[kinds[u]]})",
            key=f"{KEY}:other-unit",
        )

if query is None:  # the picker has said why in the page
    st.stop()
if label not in strf_labels:
    other_units_page(query, label.removeprefix("tiny/"), unit_name, KEY)
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
frames = R.as_images(query.clip)
left, right = st.columns([1, 2])
with left:
    frame_index = st.slider("Frame shown", 0, len(frames) - 1, 0, key=f"{KEY}:frame")
    row, col = position_picker(frames[frame_index], (h, w), f"{KEY}:{{}}:{unit_name}")
with right:
    st.markdown(
        f"**{R.BRANCH_LABELS[branch]}** mask of `{unit_name}` ({h} x {w} positions, "
        f"{inspection.integration}), position row {row}, column {col}"
    )
    mask = R.position_mask(inspection, branch, (row, col), direction)
    st.plotly_chart(
        mask_figure(frames[frame_index], mask, (row, col)),
        key=f"{KEY}:mask",
        config={"displayModeBar": False},
        width="content",
    )
    stats = inspection.stats[branch]
    peak = max(max(r) for r in mask.relative)
    st.caption(
        f"One mask serves every frame of the clip (time is folded into its features). Colour: "
        f"each position's weight over the uniform weight 1/{h * w} on one fixed log scale for "
        f"every unit and branch (white: as a uniform average; blue: less; red: more); the black "
        f"square is the chosen position. This {direction} peaks at {peak:.1f}× uniform. A column "
        f"of this mask draws on {stats.effective_positions:.1f} of {h * w} positions on average "
        f"(exp of its entropy); its peak weight is {stats.peak:.2f} (1 = one position, "
        f"{1 / (h * w):.2f} = uniform)."
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
    "to two decimals of a million; —: not reported)"
)
st.dataframe(
    [
        {
            "model": row["model"],
            "ours": f"{row['params']:,}",
            "ours + STRF (stages 2-3)": f"{row['params_strf']:,}",
            "added": f"{row['added']:,}",
            "paper P(M)": _reported(row["paper_m"]),
            "paper + STRF P(M)": _reported(row["paper_strf_m"]),
        }
        for row in R.table2()
    ],
    hide_index=True,
)
