"""Maps over frames: colour maps and alpha blending into uint8 RGB images for display.

Blending weighs the colour by the map value itself, ``frame * (1 - alpha * m) + colour(m) *
alpha * m``, so pixels with no evidence show the frame unchanged and an all-zero map (see
:attr:`FrameMaps.empty <strf_core.explain.gradcam.FrameMaps>`) gives back the plain frames.
"""

from __future__ import annotations

import torch
from torch import Tensor

# Piecewise-linear colour maps: (position in [0, 1], RGB in [0, 1]) anchors.
COLORMAPS: dict[str, tuple[tuple[float, tuple[float, float, float]], ...]] = {
    "jet": (
        (0.0, (0.0, 0.0, 0.5)),
        (0.125, (0.0, 0.0, 1.0)),
        (0.375, (0.0, 1.0, 1.0)),
        (0.625, (1.0, 1.0, 0.0)),
        (0.875, (1.0, 0.0, 0.0)),
        (1.0, (0.5, 0.0, 0.0)),
    ),
    "heat": (
        (0.0, (0.0, 0.0, 0.0)),
        (0.4, (0.8, 0.0, 0.0)),
        (0.75, (1.0, 0.8, 0.0)),
        (1.0, (1.0, 1.0, 1.0)),
    ),
}


def colorize(maps: Tensor, colormap: str = "jet") -> Tensor:
    """Colour values in ``[0, 1]`` through a piecewise-linear colour map.

    Shape:
        ``(...) -> (..., 3)``, float32 in ``[0, 1]``.
    """
    if colormap not in COLORMAPS:
        raise ValueError(f"colormap must be one of {tuple(COLORMAPS)}, got {colormap!r}")
    anchors = COLORMAPS[colormap]
    positions = torch.tensor([p for p, _ in anchors])
    colors = torch.tensor([c for _, c in anchors])  # (K, 3)
    x = torch.nan_to_num(maps.float(), nan=0.0).clamp(0.0, 1.0)
    right = torch.searchsorted(positions, x.contiguous(), right=True).clamp(1, len(anchors) - 1)
    left = right - 1
    span = positions[right] - positions[left]
    u = ((x - positions[left]) / span).unsqueeze(-1)  # (..., 1)
    return colors[left] * (1 - u) + colors[right] * u


def overlay(clip: Tensor, maps: Tensor, *, alpha: float = 0.5, colormap: str = "jet") -> Tensor:
    """Blend maps over the frames of a clip.

    Args:
        clip: the frames, uint8, in the loader's layout.
        maps: one map per frame in ``[0, 1]`` at frame size (``FrameMaps.maps``); a single
            ``(H, W)`` map is shown over every frame (an FAM mask view).
        alpha: opacity of the colour where the map is 1.
        colormap: one of :data:`COLORMAPS`.

    Returns:
        RGB images ready to show (``PIL.Image.fromarray(out[t].numpy())``).

    Shape:
        clip: ``(3, T, H, W)``; maps: ``(T, H, W)`` or ``(H, W)``. Returns: ``(T, H, W, 3)``,
        uint8.
    """
    if clip.dim() != 4 or clip.shape[0] != 3 or clip.dtype != torch.uint8:
        raise ValueError(
            f"expected a uint8 clip (3, T, H, W), got {tuple(clip.shape)} {clip.dtype}"
        )
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must lie in [0, 1], got {alpha}")
    frames = clip.permute(1, 2, 3, 0).float() / 255.0  # (T, H, W, 3)
    if maps.dim() == 2:
        maps = maps.expand(frames.shape[0], *maps.shape)
    if tuple(maps.shape) != tuple(frames.shape[:3]):
        raise ValueError(
            f"maps {tuple(maps.shape)} do not fit the clip's frames {tuple(frames.shape[:3])}"
        )
    m = torch.nan_to_num(maps.float().cpu(), nan=0.0).clamp(0.0, 1.0)
    weight = (alpha * m).unsqueeze(-1)  # (T, H, W, 1)
    out = frames * (1 - weight) + colorize(m, colormap) * weight
    return (out * 255.0).round_().clamp_(0, 255).to(torch.uint8)
