"""Random draws of the world's parts: a person's look and gait, look-alike gaits, the six
cameras, an occluder. Each takes the generator to draw from, so a world is one seeded stream."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from strf_core.synth.specs import (
    BOTTOM_STYLES,
    CARRY_ITEMS,
    HAIR_STYLES,
    OCCLUDER_KINDS,
    RGB,
    SCENE_STYLES,
    TOP_PATTERNS,
    Appearance,
    CameraLook,
    Gait,
    Occluder,
)

NUM_CAMERAS = 6
# Gait ranges: (low, high) of each parameter, for sampling and for spreading look-alikes apart.
GAIT_RANGES = {
    "cadence": (0.75, 1.2),
    "stride": (0.24, 0.5),
    "arm_swing": (0.08, 0.6),
    "bounce": (0.004, 0.035),
    "knee_flex": (0.5, 1.1),
    "lean": (0.0, 0.14),
}


@dataclass(frozen=True)
class Camera:
    """A camera: its 1-based index, how it sees, and the walking directions (radians) on it."""

    index: int
    look: CameraLook
    directions: tuple[float, ...]


# Clothing colours, weighted roughly like a city crowd: dark and muted colours dominate.
_CLOTHES: list[tuple[RGB, float]] = [
    ((25, 25, 28), 6),
    ((55, 55, 60), 4),
    ((120, 120, 125), 3),
    ((185, 185, 190), 2),
    ((235, 235, 232), 3),
    ((30, 40, 85), 4),
    ((40, 80, 170), 2),
    ((130, 170, 215), 2),
    ((60, 85, 125), 3),
    ((175, 30, 35), 2),
    ((110, 30, 45), 1),
    ((40, 120, 60), 1),
    ((95, 100, 50), 1),
    ((175, 160, 115), 2),
    ((205, 190, 160), 1),
    ((100, 65, 40), 2),
    ((220, 190, 40), 1),
    ((225, 120, 35), 1),
    ((225, 140, 170), 1),
    ((100, 60, 140), 1),
    ((30, 120, 125), 1),
]
_SKIN: list[RGB] = [
    (255, 219, 172),
    (241, 194, 125),
    (224, 172, 105),
    (198, 134, 66),
    (141, 85, 36),
    (92, 56, 30),
    (234, 192, 160),
]
_HAIR: list[RGB] = [
    (20, 18, 18),
    (50, 35, 25),
    (95, 65, 40),
    (200, 170, 110),
    (160, 160, 160),
    (120, 50, 30),
]
_CASTS = [
    (1.0, 1.0, 1.0),
    (1.1, 1.0, 0.85),
    (0.88, 0.98, 1.12),
    (0.95, 1.08, 0.92),
    (1.05, 0.9, 1.05),
]


def _color(rng: np.random.Generator, palette: Sequence[RGB], spread: float = 10.0) -> RGB:
    base = np.array(palette[int(rng.integers(len(palette)))], dtype=float)
    jittered = base * rng.uniform(0.9, 1.1) + rng.normal(0, spread, 3)
    return tuple(int(c) for c in np.clip(np.rint(jittered), 0, 255))


def _clothing(rng: np.random.Generator) -> RGB:
    colors = [c for c, _ in _CLOTHES]
    weights = np.array([w for _, w in _CLOTHES], dtype=float)
    base = colors[int(rng.choice(len(colors), p=weights / weights.sum()))]
    return _color(rng, [base])


def sample_appearance(rng: np.random.Generator) -> Appearance:
    """A random person's look (clothes, hair, build, carried item)."""
    skin = _color(rng, _SKIN, 6)
    bottom_style = str(rng.choice(BOTTOM_STYLES, p=[0.7, 0.15, 0.15]))
    top = _clothing(rng)
    accent = _clothing(rng)
    carry = str(rng.choice(CARRY_ITEMS, p=[0.45, 0.25, 0.15, 0.15]))
    return Appearance(
        skin=skin,
        hair=_color(rng, _HAIR, 6),
        hair_style=str(rng.choice(HAIR_STYLES, p=[0.45, 0.3, 0.15, 0.1])),
        hat=_clothing(rng),
        top=top,
        top_accent=accent,
        top_pattern=str(rng.choice(TOP_PATTERNS, p=[0.45, 0.14, 0.08, 0.08, 0.13, 0.12])),
        sleeves=str(rng.choice(["long", "short"], p=[0.6, 0.4])),
        bottom=_clothing(rng),
        bottom_style=bottom_style,
        legwear=skin if rng.random() < 0.6 else _clothing(rng),
        shoes=_color(rng, [(20, 20, 20), (235, 235, 235), (90, 60, 40), (40, 40, 90)], 8),
        build=round(float(rng.uniform(0.85, 1.3)), 4),
        height=round(float(rng.uniform(0.9, 1.08)), 4),
        carry=carry,
        carry_color=_clothing(rng),
        carry_side=int(rng.choice([-1, 1])),
    )


def sample_gait(rng: np.random.Generator) -> Gait:
    """A random gait, each parameter uniform over :data:`GAIT_RANGES`."""
    return Gait(**{k: round(float(rng.uniform(lo, hi)), 5) for k, (lo, hi) in GAIT_RANGES.items()})


def lookalike_gaits(rng: np.random.Generator, n: int) -> list[Gait]:
    """``n`` gaits that differ in every parameter: each parameter's range is cut into ``n``
    bands, and each member takes a different band (a random assignment per parameter), so any
    two members differ by at least half a band in cadence, stride, arm swing, bounce, ..."""
    values: dict[str, list[float]] = {}
    for key, (lo, hi) in GAIT_RANGES.items():
        band = (hi - lo) / n
        order = rng.permutation(n)
        values[key] = [round(lo + band * (k + rng.uniform(0.25, 0.75)), 5) for k in order]
    return [Gait(**{k: v[i] for k, v in values.items()}) for i in range(n)]


def sample_cameras(rng: np.random.Generator) -> list[Camera]:
    """Six cameras with distinct scenes, light and optics; two are low-resolution."""
    low_res = set(rng.choice(NUM_CAMERAS, 2, replace=False).tolist())
    cameras = []
    for i in range(NUM_CAMERAS):
        cast = np.array(_CASTS[int(rng.integers(len(_CASTS)))]) * rng.uniform(0.97, 1.03, 3)
        look = CameraLook(
            scene_style=SCENE_STYLES[(i + int(rng.integers(2))) % len(SCENE_STYLES)],
            scene_seed=int(rng.integers(2**31)),
            wall_base=round(float(rng.uniform(0.35, 0.7)), 4),
            gain=round(float(rng.uniform(0.7, 1.25)), 4),
            cast=tuple(round(float(c), 4) for c in cast),
            gamma=round(float(rng.uniform(0.85, 1.2)), 4),
            parallax=round(float(rng.uniform(0.4, 0.8)), 4),
            low_res=i in low_res,
            blur=int(rng.choice([1, 1, 2])),
            noise=round(float(rng.uniform(1.5, 6.0)), 3),
            person_scale=round(float(rng.uniform(0.8, 0.92)), 4),
        )
        # The road through the view: profile, diagonal or towards/away from the camera.
        axis = float(rng.choice([0.0, math.pi / 4, -math.pi / 4, math.pi / 2]))
        cameras.append(Camera(i + 1, look, (axis, axis + math.pi)))
    return cameras


def sample_occluder(rng: np.random.Generator, n: int, kind: str | None = None) -> Occluder:
    """Something crossing the box from one side to the other at constant speed. The crossing may
    start before the first frame or end after the last (the tracklet begins or ends behind it),
    so it covers the walker in part of the frames, seldom in all."""
    kind = kind or str(rng.choice(OCCLUDER_KINDS))
    scales = {
        "pole": (1.0, 2.5),
        "bicycle": (1.1, 1.4),
        "car": (0.95, 1.3),
        "pedestrian": (1.1, 1.4),
    }
    scale = float(rng.uniform(*scales[kind]))
    # Half its width in frame widths (a box is about 0.58 body heights wide).
    half = {"pole": 0.09, "bicycle": 0.8, "car": 2.2, "pedestrian": 0.3}[kind] * scale
    reach = 0.5 + half  # out of the box beyond +-reach
    direction = int(rng.choice([-1, 1]))
    duration = max(4.0, n * float(rng.uniform(0.6, 1.6)))  # frames from edge to edge
    t0 = float(rng.uniform(-0.4 * duration, n - 0.6 * duration))
    start = min(max(0, math.ceil(t0)), n - 1)
    end = max(min(n - 1, math.floor(t0 + duration)), start)

    def x(t: float) -> float:
        return round(direction * (-reach + 2 * reach * (t - t0) / duration), 4)

    colors = {
        "pole": [(90, 90, 95), (40, 70, 50), (30, 30, 30), (160, 160, 160)],
        "bicycle": [(170, 30, 30), (30, 30, 30), (40, 80, 170), (200, 200, 200)],
        "car": [(200, 200, 205), (30, 30, 35), (150, 20, 25), (40, 60, 120), (120, 120, 125)],
        "pedestrian": [(0, 0, 0)],
    }[kind]
    accent = {"pole": [(200, 40, 40), (230, 200, 40), (40, 90, 180)], "bicycle": [(25, 25, 25)]}
    pedestrian = kind == "pedestrian"
    return Occluder(
        kind=kind,
        start=start,
        end=end,
        x_from=x(start),
        x_to=x(end),
        scale=round(scale, 4),
        drop=round(float(rng.uniform(0.02, 0.12)), 4),
        color=_color(rng, colors, 8),
        accent=_color(rng, accent.get(kind, [(230, 180, 60)]), 8),
        appearance=sample_appearance(rng) if pedestrian else None,
        gait=sample_gait(rng) if pedestrian else None,
        view=0.0 if direction > 0 else math.pi,
    )
