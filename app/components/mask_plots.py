"""Inside STRF's figures: the position picker (a frame under the unit's grid), one position's
FAM mask over the frame, and where a position of a non-local or APM unit draws from in the
frames around its own; every mask on one fixed scale relative to uniform, with a colour bar."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from app import resources as R

PICKED = "#FF1744"
# Diverging around uniform (white): blue below, red above; one scale for every unit and grid.
MASK_COLORS = [
    (0.0, "#2166AC"),
    (0.35, "#92C5DE"),
    (0.5, "#F7F7F7"),
    (0.65, "#F4A582"),
    (1.0, "#B2182B"),
]
FIGURE_HEIGHT = 380


def cell_centres(grid: tuple[int, int]) -> tuple[list[float], list[float]]:
    """Frame-pixel ``(x, y)`` centres of the grid's cells, row by row (display size)."""
    (h, w), (height, width) = grid, R.DISPLAY_SIZE
    xs = [(c + 0.5) * width / w for r in range(h) for c in range(w)]
    ys = [(r + 0.5) * height / h for r in range(h) for c in range(w)]
    return xs, ys


def _frame_figure(frame: np.ndarray, width: int) -> go.Figure:
    fig = go.Figure(go.Image(z=frame, hoverinfo="skip"))
    fig.update_layout(
        height=FIGURE_HEIGHT,
        width=width,
        margin={"l": 0, "r": 0, "t": 0, "b": 0},
        showlegend=False,
        dragmode=False,
    )
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return fig


def picker_figure(frame: np.ndarray, grid: tuple[int, int], cell: tuple[int, int]) -> go.Figure:
    """The frame with one square per grid cell (``customdata``: ``(row, col)``), the chosen
    one filled red."""
    h, w = grid
    xs, ys = cell_centres(grid)
    size = min(R.DISPLAY_SIZE[1] / w, R.DISPLAY_SIZE[0] / h) * FIGURE_HEIGHT / R.DISPLAY_SIZE[0]
    chosen = cell[0] * w + cell[1]
    fig = _frame_figure(frame, width=FIGURE_HEIGHT // 2)
    fig.add_trace(
        go.Scatter(
            x=xs,
            y=ys,
            mode="markers",
            marker={
                "size": max(6.0, size - 3),
                "symbol": ["square" if i == chosen else "square-open" for i in range(h * w)],
                "color": [PICKED if i == chosen else "white" for i in range(h * w)],
                "opacity": [0.8 if i == chosen else 0.6 for i in range(h * w)],
                "line": {"width": 1},
            },
            customdata=[[r, c] for r in range(h) for c in range(w)],
            hovertemplate="row %{customdata[0]}, column %{customdata[1]}<extra></extra>",
        )
    )
    fig.update_layout(clickmode="event+select")
    return fig


def mask_figure(frame: np.ndarray, mask: R.PositionMask, cell: tuple[int, int]) -> go.Figure:
    """The mask over the frame, coloured by ``log2`` of the weight relative to uniform on the
    fixed scale ``±MASK_LOG2_LIMIT``, with its colour bar; the chosen position outlined."""
    fig = _frame_figure(frame, width=FIGURE_HEIGHT // 2 + 130)
    fig.add_trace(_mask_heatmap(mask).update(colorbar=_colorbar()))
    fig.add_shape(_marker(cell, mask.grid))
    return fig


def panels_figure(
    frames: list[np.ndarray],
    panels: list[R.AttentionPanel],
    cell: tuple[int, int],
    grid: tuple[int, int],
) -> go.Figure:
    """Several source frames side by side, each with its weights (or the note why it has
    none), on the one colour scale of :func:`mask_figure` with its colour bar; the target's
    cell (of the target ``grid``) outlined on each.

    Args:
        frames: the clip's frames at display size, indexed by source frame.
        panels: what each panel shows (:func:`app.resources.attention_panels`).
        cell: the target's ``(row, col)``.
        grid: the target grid ``(h, w)`` (a source cell may cover several of its cells).
    """
    fig = make_subplots(
        rows=1,
        cols=len(panels),
        subplot_titles=[p.title for p in panels],
        horizontal_spacing=0.03,
    )
    for k, panel in enumerate(panels, 1):
        fig.add_trace(go.Image(z=frames[panel.frame], hoverinfo="skip"), 1, k)
        if panel.mask is not None:
            fig.add_trace(_mask_heatmap(panel.mask).update(coloraxis="coloraxis"), 1, k)
        else:
            fig.add_annotation(
                text=panel.note.replace(": ", ":<br>"),
                x=R.DISPLAY_SIZE[1] / 2,
                y=R.DISPLAY_SIZE[0] / 2,
                showarrow=False,
                bgcolor="rgba(255,255,255,0.85)",
                font={"size": 11},
                row=1,
                col=k,
            )
        fig.add_shape(_marker(cell, grid), row=1, col=k)
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    for k in range(1, len(panels) + 1):  # square pixels: each y axis scaled to its x
        suffix = "" if k == 1 else str(k)
        fig.layout[f"yaxis{suffix}"].update(scaleanchor=f"x{suffix}", constrain="domain")
    limit = R.MASK_LOG2_LIMIT
    fig.update_layout(
        height=FIGURE_HEIGHT,
        margin={"l": 0, "r": 0, "t": 30, "b": 0},
        coloraxis={
            "colorscale": MASK_COLORS,
            "cmin": -limit,
            "cmax": limit,
            "colorbar": _colorbar(),
        },
        showlegend=False,
        dragmode=False,
    )
    fig.update_annotations(font_size=12)
    return fig


def _mask_heatmap(mask: R.PositionMask) -> go.Heatmap:
    """The mask's ``log2`` weights over the display-size frame, each cell on its pixels."""
    (h, w), (height, width) = mask.grid, R.DISPLAY_SIZE
    limit = R.MASK_LOG2_LIMIT
    return go.Heatmap(
        z=mask.log2,
        x=[(c + 0.5) * width / w for c in range(w)],
        y=[(r + 0.5) * height / h for r in range(h)],
        customdata=mask.relative,
        zmin=-limit,
        zmax=limit,
        colorscale=MASK_COLORS,
        opacity=0.7,
        hovertemplate="%{customdata:.2f} × uniform<extra></extra>",
    )


def _colorbar() -> dict:
    limit = R.MASK_LOG2_LIMIT
    ticks = np.arange(-limit, limit + 1, 2)
    return {
        "title": {"text": "weight ÷ uniform", "side": "right"},
        "tickvals": ticks.tolist(),
        "ticktext": [_times(t, limit) for t in ticks],
        "thickness": 14,
    }


def _marker(cell: tuple[int, int], grid: tuple[int, int]) -> dict:
    """A black square around ``cell`` of ``grid``, in display pixels."""
    (h, w), (height, width) = grid, R.DISPLAY_SIZE
    row, col = cell
    return {
        "type": "rect",
        "x0": col * width / w,
        "x1": (col + 1) * width / w,
        "y0": row * height / h,
        "y1": (row + 1) * height / h,
        "line": {"color": "black", "width": 3},
    }


def _times(log2: float, limit: float) -> str:
    """A colour-bar label: ``"1× uniform"``, ``"4×"``, ``"1/4×"``, with ``≤``/``≥`` at the
    clipped ends."""
    if log2 == 0:
        return "1× uniform"
    factor = f"{2 ** abs(log2):g}"
    text = f"{factor}×" if log2 > 0 else f"1/{factor}×"
    if abs(log2) >= limit:
        text = ("≥ " if log2 > 0 else "≤ ") + text
    return text
