"""Inside STRF's position picker, and its section for the other attention units: where a
position of a non-local block or of AP3D's APM draws from, on the scale of STRF's masks."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from app import resources as R
from app.components.mask_plots import PICKED, panels_figure, picker_figure

KIND_TEXT = {
    "nonlocal": (
        "The **non-local block** (Wang et al.; AP3D's code) lets every position of every frame "
        "draw from every position of every frame: one softmax over the clip's T x h/2 x w/2 "
        "positions (its keys are max-pooled 2x2 in space, so each source square covers 2 x 2 "
        "of the grid). Uniform is 1 / (T h/2 w/2). It sits after a residual block and adds "
        "its result to the block's output."
    ),
    "apm": (
        "AP3D's **appearance-preserving module** (APM) re-arranges the neighbour frames t-1 "
        "and t+1 so that they line up with frame t before the block's temporal convolution "
        "mixes them: position j of frame t takes a softmax-weighted average of the positions "
        "of frame t-1 (and, separately, of frame t+1), by the cosine similarity of their "
        "features (temperature 4). Frame t itself is passed on unchanged; the first and last "
        "frames have no neighbour on one side (AP3D pads zeros). Uniform is 1 / hw, over the "
        "neighbour frame only. A contrastive gate then scales each aligned feature "
        "(not shown)."
    ),
}


def position_picker(frame: np.ndarray, grid: tuple[int, int], keys: str) -> tuple[int, int]:
    """The frame under the grid, clickable, and a row and a column slider; returns the cell.

    The position lives in the two sliders' session state, its one source of truth: a click on
    the picker writes it there (in the chart's callback, before the sliders are drawn), and
    the sliders, the mask and the caption all read it.

    Args:
        frame: ``(H, W, 3)`` uint8 at display size.
        grid: the unit's ``(h, w)``.
        keys: a key pattern with one ``{}`` for ``"row"``, ``"col"`` and ``"picker"``.
    """
    h, w = grid
    row_key, col_key, picker_key = (keys.format(k) for k in ("row", "col", "picker"))
    st.session_state[row_key] = min(st.session_state.get(row_key, h // 2), h - 1)
    st.session_state[col_key] = min(st.session_state.get(col_key, w // 2), w - 1)

    def pick() -> None:
        event = st.session_state.get(picker_key)
        points = [p for p in (event["selection"]["points"] if event else []) if p.get("customdata")]
        if points:
            st.session_state[row_key], st.session_state[col_key] = points[0]["customdata"][:2]

    cell = (st.session_state[row_key], st.session_state[col_key])
    st.plotly_chart(
        picker_figure(frame, grid, cell),
        on_select=pick,
        selection_mode="points",
        key=picker_key,
        config={"displayModeBar": False},  # no toolbar over the grid it would cover
        width="content",
    )
    st.caption("Click a cell of the grid, or use the sliders.")
    row = st.slider("Row", 0, h - 1, key=row_key)
    col = st.slider("Column", 0, w - 1, key=col_key)
    return row, col


def other_units_page(query, name: str, unit: str, key: str) -> None:
    """The section for a non-local or APM unit of the shipped tiny model ``name``."""
    model = R.unit_models()[name]
    with st.spinner("Running the model with hooks on the unit..."):
        maps = R.unit_maps(name, query.key, query.clip, unit)
    kind = maps[0].kind
    frames_total, h, w = maps[0].target_grid
    _model_note(model, name)
    st.markdown(KIND_TEXT[kind])
    frames = R.as_images(query.clip)
    left, right = st.columns([1, 2])
    with left:
        frame = st.slider("Frame of the position", 0, frames_total - 1, 0, key=f"{key}:frame")
        scope = f"{key}:{{}}:{name}:{unit}"
        row, col = position_picker(frames[frame], (h, w), scope)
    panels, attention = R.attention_panels(maps, (frame, row, col))
    with right:
        st.markdown(
            f"**{R.UNIT_KIND_WORDS[kind]}** `{unit}` ({h} x {w} positions a frame, "
            f"{frames_total} frames at 64x32): where frame {frame}, row {row}, column {col} "
            "draws from, in the frames around its own"
        )
        st.plotly_chart(
            panels_figure(frames, panels, (row, col), (h, w)),
            key=f"{key}:panels",
            config={"displayModeBar": False},
            width="stretch",
        )
        st.caption(_scale_caption(attention, kind))
        if kind == "nonlocal":
            st.plotly_chart(
                _share_figure(next(iter(attention.values())).frame_share.tolist(), frame),
                key=f"{key}:share",
                config={"displayModeBar": False},
                width="stretch",
            )
            st.caption(
                "Share of this position's attention on each frame of the clip (the dashed "
                "line: a uniform share, 1/T); the red bar is its own frame."
            )


def _scale_caption(attention: dict, kind: str) -> str:
    parts = []
    for map_name, a in attention.items():
        if not a.candidates:
            parts.append(f"Its {map_name} map: no such frame, nothing drawn")
            continue
        where = "every frame" if kind == "nonlocal" else f"frame {a.frames[0]}"
        parts.append(
            f"{'This position' if kind == 'nonlocal' else 'Its ' + map_name + ' map'} draws on "
            f"{a.effective_positions:.1f} of the {a.candidates} positions of {where} "
            f"(exp of its entropy); peak {a.peak * a.candidates:.1f}× uniform"
        )
    return (
        "Colour: each source position's weight over the uniform weight (a plain average over "
        "the position's sources) on the fixed log scale of the STRF masks (white: as a uniform "
        "average; blue: less; red: more); the black square is the chosen position's place. "
        + ". ".join(parts)
        + "."
    )


def _share_figure(share: list[float], frame: int) -> go.Figure:
    fig = go.Figure(
        go.Bar(
            x=list(range(len(share))),
            y=share,
            marker_color=[PICKED if t == frame else "#888888" for t in range(len(share))],
            hovertemplate="frame %{x}: %{y:.3f}<extra></extra>",
        )
    )
    fig.add_hline(y=1 / len(share), line_dash="dash", line_color="#444")
    fig.update_layout(
        height=200,
        margin={"l": 40, "r": 10, "t": 10, "b": 40},
        xaxis_title="source frame",
        yaxis_title="share",
    )
    return fig


def _model_note(model, name: str) -> None:
    """What the model is, where its units sit and how it scores, said plainly."""
    record = model.record
    metrics = record.get("metrics", {})
    world = record.get("world", {})
    size = "x".join(str(s) for s in world.get("size", ()))
    units = ", ".join(
        f"`{u}` ({R.UNIT_KIND_WORDS[k]})" for u, k in R.attention_unit_kinds(name).items()
    )
    lines = [
        f"**{R.UNIT_MODELS[name]}**: the tiny P3D-C (layers 1-2-3-1 at a quarter of "
        f"ResNet-50's width) on **64x32 clips**, trained with the ablations' recipe on the "
        f"synthetic `{world.get('preset', '?')}` world ({size} frames, seed "
        f"{world.get('seed', '?')}), one seed; the STRF model beside it in the sidebar is the "
        f"128x64 demo model. Units: {units}."
    ]
    if metrics:
        lines.append(
            f"Its test split: mAP {100 * metrics['mAP']:.1f}, rank-1 {100 * metrics['rank1']:.1f} "
            "(`eval.json`)."
        )
    rows = R.units_rows()
    if rows:
        cells = []
        for row in rows:
            stat = row.stat("mAP")
            if stat.mean is not None:
                spread = f" ± {100 * stat.std:.1f}" if stat.std is not None else ""
                cells.append(f"{row.label} {100 * stat.mean:.1f}{spread} ({len(row.seeds)})")
        lines.append(
            "The ablation's units group, mAP over seeds (seeds run): " + "; ".join(cells) + "."
        )
    st.info(" ".join(lines))
