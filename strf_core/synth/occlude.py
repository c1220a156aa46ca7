"""Draw one of the synthetic world's occluders onto any tracklet: what-if occlusion.

The occluder is the generator's own (:class:`~strf_core.synth.specs.Occluder`, drawn by
:func:`~strf_core.synth.occluders.occluder_shapes` and :func:`~strf_core.synth.shapes.paint`),
with its colours (and a pedestrian's look and gait) sampled as the generator does
(:func:`~strf_core.synth.sample.sample_occluder`).
Its sizes follow the person, who is assumed to stand centred in the box, ``person_scale`` of the
frame height tall, feet at the bottom of that span (as the synthetic world's aligned boxes).
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import NamedTuple

import numpy as np
import torch
from PIL import Image
from torch import Tensor

from strf_core.synth.occluders import occluder_shapes
from strf_core.synth.sample import sample_occluder
from strf_core.synth.shapes import paint, paint_mask
from strf_core.synth.specs import OCCLUDER_KINDS, Occluder


class OccludedClip(NamedTuple):
    """A clip with an occluder drawn in.

    Attributes:
        clip: the frames, ``(3, T, H, W)`` uint8.
        masks: where the occluder is, per frame, ``(T, H, W)`` bool.
        occluder: what was drawn.
    """

    clip: Tensor
    masks: Tensor
    occluder: Occluder


def occlude(
    clip: Tensor,
    kind: str,
    *,
    position: float | tuple[float, float] = (-0.8, 0.8),
    size: float = 1.2,
    frames: tuple[int, int] | None = None,
    drop: float = 0.05,
    person_scale: float = 0.85,
    seed: int = 0,
) -> OccludedClip:
    """Draw an occluder into a copy of ``clip``.

    Args:
        clip: the tracklet's frames, uint8.
        kind: one of :data:`~strf_core.synth.specs.OCCLUDER_KINDS` (pole, bicycle, car,
            pedestrian).
        position: the occluder's centre x in frame widths from the frame's centre (-0.5 is the
            left edge); a pair ``(from, to)`` moves it across the frames at constant speed.
        size: its size relative to the person's height (the generator draws 1 to 2.5 for poles,
            about 1 to 1.4 for the others).
        frames: first and last frame (inclusive, 0-based) to draw it in; ``None``: all.
        drop: how much nearer the camera it stands, in person heights (its ground line is lower).
        person_scale: the person's height over the frame height.
        seed: seed of its colours (and of a pedestrian's look and gait).

    Returns:
        The occluded clip, the occluder's masks and the occluder.

    Shape:
        clip: ``(3, T, H, W)``.
    """
    if clip.dim() != 4 or clip.shape[0] != 3 or clip.dtype != torch.uint8:
        raise ValueError(
            f"expected a uint8 clip (3, T, H, W), got {tuple(clip.shape)} {clip.dtype}"
        )
    if kind not in OCCLUDER_KINDS:
        raise ValueError(f"kind must be one of {OCCLUDER_KINDS}, got {kind!r}")
    num_frames, height, width = clip.shape[1:]
    start, end = frames if frames is not None else (0, num_frames - 1)
    if not 0 <= start <= end < num_frames:
        raise ValueError(f"frames must satisfy 0 <= first <= last < {num_frames}, got {frames}")
    if size <= 0 or not 0 < person_scale <= 2:
        raise ValueError(f"size must be > 0 and person_scale in (0, 2], got {size}, {person_scale}")
    x_from, x_to = (position, position) if isinstance(position, (int, float)) else position
    occluder = replace(
        sample_occluder(np.random.default_rng(seed), num_frames, kind),
        start=start,
        end=end,
        x_from=float(x_from),
        x_to=float(x_to),
        scale=float(size),
        drop=float(drop),
    )
    if kind == "pedestrian":  # the passer-by faces the way it moves
        occluder = replace(occluder, view=0.0 if x_to >= x_from else math.pi)
    body_px = person_scale * height
    ground = height / 2 + body_px / 2  # where an aligned walker's feet are (TrackletRenderer)
    out = clip.clone()
    masks = torch.zeros(num_frames, height, width, dtype=torch.bool)
    for t in range(start, end + 1):
        shapes = occluder_shapes(occluder, t, width, ground, body_px)
        image = Image.fromarray(clip[:, t].permute(1, 2, 0).numpy())
        paint(image, shapes)
        out[:, t] = torch.from_numpy(np.array(image)).permute(2, 0, 1)
        masks[t] = torch.from_numpy(paint_mask((height, width), shapes))
    return OccludedClip(out, masks, occluder)
