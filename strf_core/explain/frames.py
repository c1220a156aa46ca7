"""Which frames of a clip to show when there is room for fewer than it has: those that carry
the evidence, so a strip never leaves out the frames a caption talks about."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike
from torch import Tensor


def frame_evidence(maps: Tensor) -> np.ndarray:
    """Each frame's share of a clip's Grad-CAM mass (0 for a frame without evidence; all 0
    for a clip without any).

    Shape:
        maps: ``(T, h, w)`` non-negative (``FrameMaps.maps``). Returns: ``(T,)``, summing to 1
        (or 0).
    """
    if maps.dim() != 3:
        raise ValueError(f"expected per-frame maps (T, h, w), got {tuple(maps.shape)}")
    mass = maps.detach().float().clamp_min(0).sum(dim=(1, 2)).cpu().numpy().astype(float)
    total = mass.sum()
    return mass / total if total > 0 else mass


def evidence_frames(evidence: ArrayLike, slots: int) -> list[int]:
    """The frames to show in ``slots`` cells, in time order.

    Every frame when they fit. Otherwise the frames with the most evidence (ties: the earlier
    frame); when fewer than ``slots`` frames have any, the other cells go to frames without
    evidence, evenly spaced over the clip, so the strip still spans it.

    Args:
        evidence: per-frame evidence (:func:`frame_evidence`), 0 for none.
        slots: cells in the strip.

    Shape:
        evidence: ``(T,)``. Returns: ``min(T, slots)`` frame indices, increasing.
    """
    values = np.asarray(evidence, float)
    if values.ndim != 1:
        raise ValueError(f"expected per-frame evidence (T,), got shape {values.shape}")
    if slots < 1:
        raise ValueError(f"slots must be >= 1, got {slots}")
    num_frames = len(values)
    if num_frames <= slots:
        return list(range(num_frames))
    with_evidence = np.flatnonzero(values > 0)
    ranked = with_evidence[np.argsort(-values[with_evidence], kind="stable")]
    chosen = set(ranked[:slots].tolist())
    rest = [t for t in range(num_frames) if t not in chosen]
    missing = slots - len(chosen)
    if missing:
        spaced = np.linspace(0, len(rest) - 1, missing).round().astype(int)
        chosen.update(rest[i] for i in spaced)
    return sorted(chosen)
