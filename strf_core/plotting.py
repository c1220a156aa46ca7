"""Figures the tutorials share (plotly, from the ``notebooks`` extra or ``requirements.txt``).

Nothing in the package imports this module, so ``strf_core`` itself does not need plotly.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import plotly.express as px
import plotly.graph_objects as go
from plotly.subplots import make_subplots
from torch import Tensor, nn

from strf_core.explain import as_images
from strf_core.modules import STRF


def frame_strip(
    frames: Tensor,
    title: str,
    labels: Sequence[str] | None = None,
    *,
    max_frames: int | None = None,
    height: int = 240,
) -> go.Figure:
    """Frames as one row of images, each captioned ``t=0``, ``t=1``, ... or by ``labels``.

    Args:
        frames: uint8 frames, a clip as the loaders give it or :func:`~strf_core.explain.overlay`'s
            images.
        title: the figure's title.
        labels: one caption per frame shown.
        max_frames: show only the first ``max_frames`` frames (default: all).
        height: the figure's height in pixels.

    Returns:
        The figure (``frame_strip(...).show()`` in a notebook).

    Shape:
        frames: ``(3, T, H, W)`` or ``(T, H, W, 3)``.
    """
    images = np.stack(as_images(frames)[:max_frames])  # (T, H, W, 3)
    captions = [f"t={t}" for t in range(len(images))] if labels is None else list(labels)
    if len(captions) < len(images):
        raise ValueError(f"{len(captions)} labels for {len(images)} frames")
    fig = px.imshow(images, facet_col=0, binary_string=True)
    # plotly captions each facet "facet_col=<index>"; replace that with the frame's label
    fig.for_each_annotation(lambda a: a.update(text=captions[int(a.text.split("=")[-1])]))
    fig.update_xaxes(showticklabels=False).update_yaxes(showticklabels=False)
    fig.update_layout(title=title, height=height, margin={"l": 10, "r": 10, "t": 60, "b": 10})
    return fig


def clip_animation(
    clips: Mapping[str, Tensor],
    title: str,
    *,
    fps: float = 6.0,
    height: int = 360,
) -> go.Figure:
    """Clips side by side as one animation (play, pause and a frame slider), where motion
    matters: a gait is seen in the animation, not in a row of thumbnails.

    Clips of different lengths play together: step ``s`` shows frame ``s mod T`` of each clip,
    so a shorter one loops.

    Args:
        clips: uint8 clips of one frame size, by caption.
        title: the figure's title.
        fps: frames per second when played.
        height: the figure's height in pixels.

    Returns:
        The figure, with one animation frame per time step of the longest clip.

    Shape:
        clips: each ``(3, T, H, W)`` or ``(T, H, W, 3)``, ``H`` and ``W`` shared.
    """
    if not clips or fps <= 0:
        raise ValueError(f"clip_animation needs at least one clip and fps > 0, got {fps}")
    names = list(clips)
    frames = {name: as_images(clip) for name, clip in clips.items()}  # each T x (H, W, 3)
    sizes = {name: f[0].shape for name, f in frames.items()}
    if len(set(sizes.values())) > 1:
        raise ValueError(f"clip_animation needs clips of one frame size, got {sizes}")
    steps = max(len(f) for f in frames.values())
    # (steps, clips, H, W, 3): step s shows frame s mod T of each clip
    images = np.stack([[frames[n][s % len(frames[n])] for n in names] for s in range(steps)])
    fig = px.imshow(images, animation_frame=0, facet_col=1, binary_string=True)
    fig.for_each_annotation(lambda a: a.update(text=names[int(a.text.split("=")[-1])]))
    fig.update_xaxes(showticklabels=False).update_yaxes(showticklabels=False)
    lengths = ", ".join(f"{n}: {len(frames[n])}" for n in names)
    fig.update_layout(
        title=f"{title}<br><sup>frames per clip ({lengths}); ▶ plays at {fps:g} fps</sup>",
        height=height,
        margin={"l": 10, "r": 10, "t": 80, "b": 10},
    )
    duration = 1000 / fps
    play = fig.layout.updatemenus[0].buttons[0]
    play.args[1]["frame"]["duration"] = duration
    play.args[1]["transition"]["duration"] = 0
    fig.layout.sliders[0].currentvalue.prefix = "step "
    return fig


def mask_panels(
    masks: Mapping[str, Tensor],
    grid: tuple[int, int],
    cells: Mapping[str, tuple[int, int]],
    *,
    title: str,
    frame: Tensor | None = None,
    opacity: float = 0.6,
    height_per_row: int = 190,
) -> go.Figure:
    """Where each queried cell draws from, for several masks: one row per mask, one column per
    cell, on one colour scale (with its colour bar), the queried cell outlined in red.

    Unlike :func:`~strf_core.explain.mask_view` the weights are not rescaled: a uniform column
    shows as ``1/hw`` everywhere, a one-hot column as one bright cell.

    Args:
        masks: one clip's mask per row label (a branch name), columns summing to 1.
        grid: the feature map's ``(h, w)``.
        cells: ``(row, col)`` of each queried position, by column label.
        title: the figure's title.
        frame: a video frame to draw the weights over (each cell then covers its block of
            pixels, axes in pixels); ``None``: the grid alone (axes in cells).
        opacity: of the weights over ``frame``.
        height_per_row: pixels per mask row.

    Returns:
        The figure.

    Shape:
        masks: each ``(hw, hw)``. frame: ``(3, H, W)`` uint8.
    """
    h, w = grid
    image = None if frame is None else as_images(frame[:, None])[0]  # (H, W, 3)
    # one cell spans (sy, sx) units of the axes: pixels over a frame, 1 on the bare grid
    sy, sx = (1.0, 1.0) if image is None else (image.shape[0] / h, image.shape[1] / w)
    rows, cols = list(masks), list(cells)
    fig = make_subplots(
        rows=len(rows),
        cols=len(cols),
        subplot_titles=[f"{r}: {c} {cells[c]}" for r in rows for c in cols],
        horizontal_spacing=0.03,
        vertical_spacing=0.3 / len(rows),
    )
    for i, label in enumerate(rows, 1):
        mask = masks[label]
        if mask.shape != (h * w, h * w):
            raise ValueError(f"mask {label!r} {tuple(mask.shape)} does not fit a {h}x{w} grid")
        for k, name in enumerate(cols, 1):
            row, col = cells[name]
            if not (0 <= row < h and 0 <= col < w):
                raise ValueError(f"cell {name!r} {cells[name]} lies outside the {h}x{w} grid")
            weights = mask[:, row * w + col].float().reshape(h, w).cpu().numpy()
            heatmap = go.Heatmap(z=weights, coloraxis="coloraxis")
            if image is not None:
                fig.add_trace(go.Image(z=image, hoverinfo="skip"), i, k)
                # cell centres in pixels: cell c covers pixels [c * sx, (c + 1) * sx)
                heatmap.update(x0=sx / 2 - 0.5, dx=sx, y0=sy / 2 - 0.5, dy=sy, opacity=opacity)
            fig.add_trace(heatmap, i, k)
            fig.add_shape(
                type="rect",
                x0=col * sx - 0.5,
                x1=(col + 1) * sx - 0.5,
                y0=row * sy - 0.5,
                y1=(row + 1) * sy - 0.5,
                line={"color": "red", "width": 2},
                row=i,
                col=k,
            )
    fig.update_yaxes(autorange="reversed", showticklabels=False)
    fig.update_xaxes(showticklabels=False, constrain="domain")
    for k in range(1, len(rows) * len(cols) + 1):  # square cells: each y axis scaled to its x
        suffix = "" if k == 1 else str(k)
        fig.layout[f"yaxis{suffix}"].update(scaleanchor=f"x{suffix}", constrain="domain")
    fig.update_annotations(font_size=11)
    fig.update_layout(
        title=title,
        height=80 + height_per_row * len(rows),
        coloraxis={"colorscale": "Viridis", "colorbar": {"title": "weight"}},
        margin={"l": 10, "r": 10, "t": 80, "b": 10},
    )
    return fig


def _box(fig: go.Figure, x: float, y: float, text: str, color: str, width: float = 1.7) -> None:
    fig.add_shape(
        type="rect",
        x0=x - width / 2,
        x1=x + width / 2,
        y0=y - 0.46,
        y1=y + 0.46,
        fillcolor=color,
        line={"color": "#444"},
        layer="below",
    )
    fig.add_annotation(x=x, y=y, text=text, showarrow=False, font={"size": 11})


def _arrow(fig: go.Figure, start: tuple[float, float], end: tuple[float, float]) -> None:
    fig.add_annotation(
        x=end[0],
        y=end[1],
        ax=start[0],
        ay=start[1],
        xref="x",
        yref="y",
        axref="x",
        ayref="y",
        text="",
        showarrow=True,
        arrowhead=2,
        arrowwidth=1.3,
        arrowcolor="#444",
    )


BRANCH_COLORS = {
    "t_dynamic": "#cfe3f7",
    "t_static": "#a9cbee",
    "s_fine": "#f9dcc0",
    "s_coarse": "#f3bf8f",
}


def _keys_label(branch: nn.Module, channels: int) -> str:
    """How a branch makes its keys: ``"H: 256→16, G: max 1x3x3"``, or, for a unit without FAM
    (``fam=False``, Fig. 6a: no reduction, no pooling), ``"no H, no G: T = f"``."""
    if isinstance(branch.reduce, nn.Identity):
        return "no H, no G: T = f (without FAM)"
    kernel = "x".join(str(k) for k in branch.pool.kernel_size)
    pool = "max" if isinstance(branch.pool, nn.MaxPool3d) else "avg"
    return f"H: {channels}→{branch.reduce.out_channels}, G: {pool} {kernel}"


def strf_unit_figure(unit: STRF) -> go.Figure:
    """A diagram of one STRF unit as built: its branches (reduction, pooling, mask), the sums of
    eq. 5 and 7, its integration order (eq. 8) and the residual.

    Every label is read from ``unit`` (channels, reduction, pooling kernels, ``kappa``,
    similarity, integration, ``gamma``), so the figure shows any unit, trained or not, a unit
    without FAM (``fam=False``: keys are the input itself) included.

    Args:
        unit: an STRF unit.

    Returns:
        The figure.
    """
    temporal = [b for b in unit.branches if b.startswith("t_")]
    spatial = [b for b in unit.branches if b.startswith("s_")]
    stages = {"temporal (eq. 5)": temporal, "spatial (eq. 7)": spatial}
    if unit.integration == "s->t":
        stages = dict(reversed(list(stages.items())))
    stages = {name: names for name, names in stages.items() if names}
    fig = go.Figure()
    c = unit.channels
    _box(fig, 0, 0, f"f<br>(N, {c}, T, H, W)", "#eeeeee", width=1.3)
    columns = (
        [list(stages.items())]
        if unit.integration == "parallel"
        else [[item] for item in stages.items()]
    )
    x, source, bottom = 2.2, (0.65, 0.0), -1.0
    for column in columns:
        names = [b for _, group in column for b in group]
        ys = [1.1 * (len(names) - 1) / 2 - 1.1 * i for i in range(len(names))]
        bottom = min(bottom, ys[-1] - 0.46)
        total = x + 2.15  # the sum's box, 1.2 wide
        for name, y in zip(names, ys, strict=True):
            branch = unit.branches[name]
            text = (
                f"<b>{name}</b><br>{_keys_label(branch, c)}<br>"
                f"M = softmax<sub>i</sub>(κ TᵀT), κ={branch.kappa:g}, {branch.similarity}<br>f̂ M"
            )
            _box(fig, x, y, text, BRANCH_COLORS.get(name, "#dddddd"), width=2.3)
            _arrow(fig, source, (x - 1.15, y))
            _arrow(fig, (x + 1.15, y), (total - 0.6, 0))
        label = " + ".join(name.split(" ")[0] for name, _ in column)
        eqs = " ".join(name.split(" ", 1)[1] for name, _ in column)
        _box(fig, total, 0, f"sum: {label}<br>{eqs}", "#ffffff", width=1.2)
        x, source = total + 2.3, (total + 0.6, 0.0)
    order = {"t->s": "t → s", "s->t": "s → t", "parallel": "t + s"}[unit.integration]
    if unit.gamma is None:
        _box(fig, x, 0, f"φ(f), {order}<br>(no residual)", "#e6f2dc", width=1.6)
    else:
        gamma = float(unit.gamma.detach())
        _box(fig, x, 0, f"f + γ φ(f)<br>φ: {order} (eq. 8)<br>γ = {gamma:.3g}", "#e6f2dc", 1.6)
        skip = bottom - 0.3
        fig.add_shape(
            type="path",
            path=f"M 0,-0.42 L 0,{skip} L {x},{skip} L {x},-0.42",
            line={"color": "#888", "dash": "dot"},
        )
        fig.add_annotation(x=x / 2, y=skip, yshift=9, text="residual: f", showarrow=False)
    _arrow(fig, source, (x - 0.8, 0))
    fig.update_xaxes(visible=False, range=[-0.8, x + 1.0])
    fig.update_yaxes(visible=False, range=[bottom - 0.5, -bottom + 0.1])
    fig.update_layout(
        title=f"STRF({c}), integration {unit.integration!r}"
        + ("" if unit.fam else ", without FAM (Fig. 6a)"),
        height=int(140 - 110 * bottom),
        plot_bgcolor="white",
        margin={"l": 10, "r": 10, "t": 50, "b": 10},
        showlegend=False,
    )
    return fig
