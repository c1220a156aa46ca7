"""Maps over frames: colour maps and alpha blending into uint8 RGB images for display.

Blending weighs the colour by the map value itself, ``frame * (1 - alpha * m) + colour(m) *
alpha * m``, so pixels with no evidence show the frame unchanged and an all-zero map (see
:attr:`FrameMaps.empty <strf_core.explain.gradcam.FrameMaps>`) gives back the plain frames.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
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
        maps: one map per frame in ``[0, 1]`` (``FrameMaps.maps``); a single ``(H, W)`` map is
            shown over every frame (an FAM mask view). Maps of another size (those of the
            model's smaller input) are resized to the frames bilinearly.
        alpha: opacity of the colour where the map is 1.
        colormap: one of :data:`COLORMAPS`.

    Returns:
        RGB images ready to show (``PIL.Image.fromarray(out[t].numpy())``).

    Shape:
        clip: ``(3, T, H, W)``; maps: ``(T, h, w)`` or ``(h, w)``. Returns: ``(T, H, W, 3)``,
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
    if maps.dim() == 3 and maps.shape[0] == frames.shape[0] and maps.shape[1:] != frames.shape[1:3]:
        maps = F.interpolate(  # (T, 1, h, w) -> (T, 1, H, W)
            maps.float().unsqueeze(1), size=frames.shape[1:3], mode="bilinear", align_corners=False
        ).squeeze(1)
    if tuple(maps.shape) != tuple(frames.shape[:3]):
        raise ValueError(
            f"maps {tuple(maps.shape)} do not fit the clip's frames {tuple(frames.shape[:3])}"
        )
    m = torch.nan_to_num(maps.float().cpu(), nan=0.0).clamp(0.0, 1.0)
    weight = (alpha * m).unsqueeze(-1)  # (T, H, W, 1)
    out = frames * (1 - weight) + colorize(m, colormap) * weight
    return (out * 255.0).round_().clamp_(0, 255).to(torch.uint8)


def as_images(frames: Tensor) -> list[np.ndarray]:
    """Frames as RGB images to show (one ``(H, W, 3)`` uint8 array each).

    Shape:
        frames: a uint8 clip ``(3, T, H, W)`` or :func:`overlay`'s ``(T, H, W, 3)``.
    """
    if frames.dtype != torch.uint8 or frames.dim() != 4:
        raise ValueError(f"expected uint8 frames, got {tuple(frames.shape)} {frames.dtype}")
    if frames.shape[0] == 3 and frames.shape[-1] != 3:
        frames = frames.permute(1, 2, 3, 0)  # (T, H, W, 3)
    return [frame.contiguous().numpy() for frame in frames.cpu()]
