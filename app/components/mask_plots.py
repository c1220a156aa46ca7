"""Inside STRF's two figures: the position picker (a frame under the unit's grid) and one
position's FAM mask over the frame, on a fixed scale relative to uniform with a colour bar."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

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
    h, w = mask.grid
    height, width = R.DISPLAY_SIZE
    limit = R.MASK_LOG2_LIMIT
    fig = _frame_figure(frame, width=FIGURE_HEIGHT // 2 + 130)
    ticks = np.arange(-limit, limit + 1, 2)
    fig.add_trace(
        go.Heatmap(
            z=mask.log2,
            x=[(c + 0.5) * width / w for c in range(w)],
            y=[(r + 0.5) * height / h for r in range(h)],
            customdata=mask.relative,
            zmin=-limit,
            zmax=limit,
            colorscale=MASK_COLORS,
            opacity=0.7,
            colorbar={
                "title": {"text": "weight ÷ uniform", "side": "right"},
                "tickvals": ticks.tolist(),
                "ticktext": [_times(t, limit) for t in ticks],
                "thickness": 14,
            },
            hovertemplate="row %{y}, %{customdata:.2f} × uniform<extra></extra>",
        )
    )
    xs, ys = cell_centres(mask.grid)
    j = cell[0] * w + cell[1]
    fig.add_shape(
        type="rect",
        x0=xs[j] - width / w / 2,
        x1=xs[j] + width / w / 2,
        y0=ys[j] - height / h / 2,
        y1=ys[j] + height / h / 2,
        line={"color": "black", "width": 3},
    )
    return fig


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
