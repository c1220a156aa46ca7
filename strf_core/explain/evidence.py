"""Where the evidence falls: the share of an attribution map's mass on the person, on the
occluder and on the background, against the synthetic world's ground-truth masks.

This turns the paper's Fig. 5 (attention maps that "focus on the person" under occlusion) into a
number::

    maps (T, H, W) >= 0 at frame size       (FrameMaps.raw upsampled, not normalised)
    masks person, occluder (T, H, W) bool   (strf_core.synth.ground_truth)
    regions: occluder = occluder mask (it is drawn over the person)
             person   = person mask and not occluder
             background = the rest
    share_r = sum(maps * region_r) / sum(maps)            per frame, and over the whole tracklet

A uniform map puts on each region its share of the pixels (``area``), which is what a model
that looks nowhere in particular would score.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from strf_core.synth.ground_truth import FrameMasks

REGIONS = ("person", "occluder", "background")


class EvidenceShares(NamedTuple):
    """Shares of attribution mass per region.

    Attributes:
        frames: ``(T, 3)`` share of each frame's mass on person, occluder, background (rows of
            frames without mass are NaN).
        mass: ``(T,)`` each frame's total mass.
        area: ``(T, 3)`` share of each frame's pixels in each region (a uniform map's shares).
    """

    frames: np.ndarray
    mass: np.ndarray
    area: np.ndarray

    def total(self, frames: np.ndarray | None = None) -> np.ndarray:
        """``(3,)`` shares of the mass of all frames together (or of the frames selected by a
        boolean ``(T,)`` mask); NaN when those frames carry no mass."""
        keep = np.ones(len(self.mass), bool) if frames is None else np.asarray(frames, bool)
        mass = self.mass[keep]
        if not mass.sum() > 0:
            return np.full(len(REGIONS), np.nan)
        weighted = np.nan_to_num(self.frames[keep]) * mass[:, None]
        return weighted.sum(axis=0) / mass.sum()

    def area_total(self, frames: np.ndarray | None = None) -> np.ndarray:
        """``(3,)`` pixel shares of the selected frames together."""
        keep = np.ones(len(self.mass), bool) if frames is None else np.asarray(frames, bool)
        return self.area[keep].mean(axis=0) if keep.any() else np.full(len(REGIONS), np.nan)


def region_masks(masks: FrameMasks) -> np.ndarray:
    """``(T, 3, H, W)`` bool: person (not under the occluder), occluder, background."""
    occluder = masks.occluder
    person = masks.person & ~occluder
    background = ~(person | occluder)
    return np.stack([person, occluder, background], axis=1)


def evidence_shares(maps: Tensor | np.ndarray, masks: FrameMasks) -> EvidenceShares:
    """Shares of ``maps``' mass on each region of each frame.

    Args:
        maps: non-negative attributions ``(T, h, w)``; upsampled bilinearly to the masks' frame
            size when smaller (Grad-CAM's layer resolution).
        masks: the tracklet's ground truth, ``(T, H, W)`` each.

    Raises:
        ValueError: frame counts differ, or the maps have negative values.
    """
    maps = torch.as_tensor(maps).float()
    t, h, w = masks.person.shape
    if maps.dim() != 3 or maps.shape[0] != t:
        raise ValueError(f"maps {tuple(maps.shape)} do not fit masks of {t} frames")
    if (maps < 0).any():
        raise ValueError("maps must be non-negative (Grad-CAM after its ReLU)")
    if tuple(maps.shape[1:]) != (h, w):
        maps = F.interpolate(maps[:, None], size=(h, w), mode="bilinear", align_corners=False)[:, 0]
    values = maps.clamp_min(0).numpy().astype(np.float64)  # (T, H, W)
    regions = region_masks(masks)  # (T, 3, H, W)
    per_region = (values[:, None] * regions).sum(axis=(2, 3))  # (T, 3)
    mass = values.sum(axis=(1, 2))  # (T,)
    with np.errstate(invalid="ignore", divide="ignore"):
        frames = np.where(mass[:, None] > 0, per_region / mass[:, None], np.nan)
    area = regions.mean(axis=(2, 3))
    return EvidenceShares(frames=frames, mass=mass, area=area)
