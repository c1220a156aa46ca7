"""A procedural world of walking people, written as a MARS dataset (``strf synth``).

Six cameras watch identities walk past: each camera has its own scene, light, colour cast,
direction of travel, optics and noise; each identity its own clothes, build, carried item and
gait. A tracklet is one identity crossing one camera, drawn frame by frame by
:mod:`strf_core.data.render` and written in the exact MARS layout of SPEC section 4
(:mod:`strf_core.data.mars_format`), so any MARS loader reads it.

Hard cases, built in on purpose:

- **look-alikes**: groups of 2-3 identities with one shared :class:`~render.Appearance`
  (clothes, hair, build, bag: every pixel statistic of a frame) that differ only in
  :class:`~render.Gait` (cadence, stride, arm swing, bounce, knee flexion, lean): only temporal
  dynamics tell them apart;
- **occluded** tracklets: a pole, bicycle, car or passer-by crosses the box in part of the frames;
- **misaligned** tracklets: the box is shifted off the person, drifts in scale or jitters.

Every tracklet also gets nuisances: length 8 to 128 frames (by preset), illumination, blur, noise.

Metadata: ``ROOT/synthetic_meta.json`` (:data:`META_NAME`), written last::

    {"format": "strf-synthetic-mars", "version": 1,
     "generator": {"preset", "seed", "size": [H, W], "fps", "jpeg_quality", "config", "counts"},
     "cameras": [{"camera": 1-6, "directions_deg", ...CameraLook fields}],
     "identities": [{"pid", "split", "lookalike_group", "appearance": {...}, "gait": {...}}]
                   (sorted by pid),
     "lookalike_groups": [{"group", "split", "pids"}],
     "tracklets": [{"split", "row" (1-based row of track_<split>_info), "name" ("0003C2T0001"),
                    "pid", "camera", "num_frames", "kind" (identity|distractor|junk), "query",
                    "subsets" (lookalike|occluded|misaligned), "lookalike_group",
                    "gait" (this tracklet's, with its small jitter; null: nobody in the box),
                    "view_deg" (walking direction, render.py: 0 right, 90 away, -90 towards),
                    "misalignment": {"shift", "scale_drift", "jitter"},
                    "occluder": null | {"kind", "frames": [first, last] (0-based, drawn),
                                        "scale", "drop"},
                    "occluded_fraction": [per frame: share of the walker's visible pixels
                                          the occluder covers, 0 when none]}]}

Queries follow MARS: every test identity is seen by 2+ cameras; one tracklet in each camera but
one is a query, so the gallery always holds the identity in another camera. Same seed, same
files, byte for byte, whatever the number of workers (each tracklet has its own seed).

CLI: ``strf synth ROOT --preset tiny|demo|medium|full --seed N --size 256x128|128x64 --workers N``.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field, replace
from multiprocessing import get_context
from pathlib import Path

import numpy as np
from PIL import Image
from tqdm import tqdm

from strf_core.data import mars_format
from strf_core.data.render import (
    BOTTOM_STYLES,
    CARRY_ITEMS,
    FPS,
    HAIR_STYLES,
    OCCLUDER_KINDS,
    RGB,
    SCENE_STYLES,
    TOP_PATTERNS,
    Appearance,
    CameraLook,
    Gait,
    Occluder,
    RenderSpec,
    TrackletRenderer,
)
from strf_core.data.tracklet import Tracklet

META_NAME = "synthetic_meta.json"
SUBSETS = ("lookalike", "occluded", "misaligned")
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


class SynthError(ValueError):
    """Bad input to the generator (preset, size, root), with a message naming the problem."""


@dataclass(frozen=True)
class WorldConfig:
    """The shape of a synthetic world.

    Attributes:
        train_ids, test_ids: identities per split.
        cameras_per_id: inclusive range of how many of the 6 cameras see an identity.
        tracklets_per_camera: inclusive range of tracklets per identity and camera.
        length: inclusive range of tracklet lengths (log-uniform, like MARS's many short ones).
        lookalike_share: share of identities in look-alike groups (of 2-3).
        occluded_share, misaligned_share: chance that a tracklet is occluded, misaligned.
        distractors, junk: test tracklets with pid 0 and -1.
        jpeg_quality: JPEG quality of the frames.
    """

    train_ids: int
    test_ids: int
    cameras_per_id: tuple[int, int]
    tracklets_per_camera: tuple[int, int]
    length: tuple[int, int]
    lookalike_share: float = 0.3
    occluded_share: float = 0.25
    misaligned_share: float = 0.2
    distractors: int = 0
    junk: int = 0
    jpeg_quality: int = 90

    def __post_init__(self) -> None:
        lo, hi = self.cameras_per_id
        if not 2 <= lo <= hi <= NUM_CAMERAS:
            raise SynthError(
                f"cameras_per_id must lie in 2..{NUM_CAMERAS}, got {self.cameras_per_id}"
            )
        if not 1 <= self.tracklets_per_camera[0] <= self.tracklets_per_camera[1]:
            raise SynthError(f"bad tracklets_per_camera {self.tracklets_per_camera}")
        if not 2 <= self.length[0] <= self.length[1] <= 999:
            raise SynthError(f"tracklet length must lie in 2..999, got {self.length}")
        if self.train_ids < 1 or self.test_ids < 1 or self.train_ids + self.test_ids > 9999:
            raise SynthError("need 1+ train and test identities, 9999 in all at most")


PRESETS: dict[str, WorldConfig] = {
    # A few seconds: unit tests. One look-alike group of 3 in each split.
    "tiny": WorldConfig(
        train_ids=6,
        test_ids=6,
        cameras_per_id=(2, 3),
        tracklets_per_camera=(1, 1),
        length=(8, 16),
        lookalike_share=0.5,
        occluded_share=0.3,
        misaligned_share=0.3,
        distractors=3,
        junk=2,
    ),
    # The shipped sample data and demo models: 312 queries (test ids see 2, 3 or 4 cameras).
    "demo": WorldConfig(
        train_ids=150,
        test_ids=156,
        cameras_per_id=(2, 4),
        tracklets_per_camera=(1, 2),
        length=(8, 32),
        distractors=60,
        junk=30,
    ),
    # The demo models' training world: three times demo's training identities (room for a
    # validation split), the same test split style.
    "medium": WorldConfig(
        train_ids=450,
        test_ids=156,
        cameras_per_id=(2, 4),
        tracklets_per_camera=(1, 2),
        length=(8, 32),
        distractors=60,
        junk=30,
    ),
    # MARS scale in identities and tracklets (625 + 636 ids); shorter tracklets on average.
    "full": WorldConfig(
        train_ids=625,
        test_ids=636,
        cameras_per_id=(2, 6),
        tracklets_per_camera=(1, 4),
        length=(8, 128),
        distractors=2000,
        junk=870,
    ),
}


@dataclass(frozen=True)
class Camera:
    """A camera: its 1-based index, how it sees, and the walking directions (radians) on it."""

    index: int
    look: CameraLook
    directions: tuple[float, ...]


@dataclass(frozen=True)
class Identity:
    """A person: pid, split, look, gait, and the look-alike group it belongs to (or None)."""

    pid: int
    split: str
    appearance: Appearance
    gait: Gait
    group: int | None = None


@dataclass(frozen=True)
class SynthTracklet:
    """One planned tracklet: where it goes in MARS, what it is, and how to draw it."""

    split: str
    pid: int
    camera: int
    kind: str  # identity | distractor | junk
    spec: RenderSpec
    subsets: tuple[str, ...] = ()
    group: int | None = None
    query: bool = False


@dataclass
class World:
    """A planned world: nothing drawn yet."""

    config: WorldConfig
    seed: int
    cameras: list[Camera]
    identities: list[Identity]
    tracklets: list[SynthTracklet] = field(default_factory=list)

    def split(self, name: str) -> list[SynthTracklet]:
        """The tracklets of split ``"train"`` or ``"test"``, in planning order."""
        return [t for t in self.tracklets if t.split == name]


@dataclass(frozen=True)
class SynthSummary:
    """What :func:`generate` wrote."""

    root: Path
    identities: dict[str, int]
    tracklets: dict[str, int]
    queries: int
    frames: int
    seconds: float


# --------------------------------------------------------------------------- sampling

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


def _length(rng: np.random.Generator, config: WorldConfig) -> int:
    lo, hi = config.length
    return int(min(hi, math.floor(math.exp(rng.uniform(math.log(lo), math.log(hi + 1))))))


def _occluder(rng: np.random.Generator, n: int, kind: str | None = None) -> Occluder:
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


def _spec(
    rng: np.random.Generator,
    camera: Camera,
    n: int,
    appearance: Appearance | None,
    gait: Gait,
    *,
    occluded: bool,
    misaligned: bool,
) -> RenderSpec:
    view = float(camera.directions[int(rng.integers(2))] + rng.normal(0, 0.15))
    tracklet_gait = replace(
        gait,
        cadence=round(gait.cadence * float(rng.uniform(0.97, 1.03)), 5),
        stride=round(gait.stride * float(rng.uniform(0.96, 1.04)), 5),
    )
    if misaligned:
        # One or two strong nuisances: a box off the person, a drifting scale, a shaky box.
        modes = set(
            rng.choice(
                ["shift", "drift", "jitter"], int(rng.integers(1, 3)), replace=False
            ).tolist()
        )
        sx = (
            rng.choice([-1, 1]) * rng.uniform(0.12, 0.28)
            if "shift" in modes
            else rng.normal(0, 0.03)
        )
        sy = (
            rng.choice([-1, 1]) * rng.uniform(0.06, 0.14)
            if "shift" in modes
            else rng.normal(0, 0.015)
        )
        drift = rng.choice([-1, 1]) * rng.uniform(0.2, 0.4) if "drift" in modes else 0.0
        jitter = rng.uniform(0.03, 0.06) if "jitter" in modes else rng.uniform(0.004, 0.012)
    else:
        sx, sy, drift = rng.normal(0, 0.03), rng.normal(0, 0.015), 0.0
        jitter = rng.uniform(0.004, 0.012)
    return RenderSpec(
        seed=int(rng.integers(2**63)),
        num_frames=n,
        camera=camera.look,
        appearance=appearance,
        gait=tracklet_gait,
        view=round(view, 5),
        phase=round(float(rng.uniform(0, 2 * math.pi)), 5),
        person_scale=round(camera.look.person_scale * float(rng.uniform(0.95, 1.05)), 5),
        scale_drift=round(float(drift), 5),
        shift=(round(float(sx), 5), round(float(sy), 5)),
        jitter=round(float(jitter), 5),
        gain=round(float(rng.uniform(0.9, 1.1)), 5),
        bg_start=round(float(rng.uniform(0, 1)), 5),
        occluder=_occluder(rng, n) if occluded else None,
    )


def _group_sizes(rng: np.random.Generator, members: int) -> list[int]:
    sizes = []
    while members >= 2:
        size = members if members in (2, 3) else (2 if members == 4 else int(rng.choice([2, 3])))
        sizes.append(size)
        members -= size
    return sizes


def plan_world(config: WorldConfig, seed: int) -> World:
    """Sample cameras, identities and every tracklet's spec; nothing is drawn.

    Args:
        config: the world's shape (a preset from :data:`PRESETS` or your own).
        seed: the one seed everything derives from.

    Returns:
        The planned world: tracklets of the train split first, then test.
    """
    rng = np.random.default_rng(seed)
    cameras = sample_cameras(rng)
    total = config.train_ids + config.test_ids
    pids = (rng.permutation(total) + 1).tolist()  # train and test pids interleave, as in MARS
    world = World(config, seed, cameras, [])
    group = 0
    for split, count in (("train", config.train_ids), ("test", config.test_ids)):
        split_pids, pids = pids[:count], pids[count:]
        members = round(config.lookalike_share * count)
        k = 0
        for size in _group_sizes(rng, members):
            appearance = sample_appearance(rng)
            for pid, gait in zip(split_pids[k : k + size], lookalike_gaits(rng, size), strict=True):
                world.identities.append(Identity(pid, split, appearance, gait, group))
            group += 1
            k += size
        for pid in split_pids[k:]:
            world.identities.append(Identity(pid, split, sample_appearance(rng), sample_gait(rng)))
    for split in ("train", "test"):
        identities = [i for i in world.identities if i.split == split]
        lo, hi = config.cameras_per_id
        if split == "test":
            # Balanced camera counts make the number of queries, sum(n_cams - 1), exact.
            counts = rng.permutation(np.resize(np.arange(lo, hi + 1), len(identities)))
        else:
            counts = rng.integers(lo, hi + 1, len(identities))
        for identity, n_cams in zip(identities, counts, strict=True):
            world.tracklets.extend(_identity_tracklets(rng, config, cameras, identity, int(n_cams)))
    for kind, pid, count in (("distractor", 0, config.distractors), ("junk", -1, config.junk)):
        for _ in range(count):
            world.tracklets.append(_stray_tracklet(rng, config, cameras, kind, pid))
    return world


def _identity_tracklets(
    rng, config, cameras, identity: Identity, n_cams: int
) -> list[SynthTracklet]:
    chosen = sorted(rng.choice(NUM_CAMERAS, n_cams, replace=False).tolist())
    query_cams = set(rng.choice(chosen, n_cams - 1, replace=False).tolist())
    lo, hi = config.tracklets_per_camera
    tracklets = []
    for cam in chosen:
        n_tracks = int(rng.integers(lo, hi + 1))
        query_at = int(rng.integers(n_tracks)) if cam in query_cams else -1
        for k in range(n_tracks):
            occluded = bool(rng.random() < config.occluded_share)
            misaligned = bool(rng.random() < config.misaligned_share)
            spec = _spec(
                rng,
                cameras[cam],
                _length(rng, config),
                identity.appearance,
                identity.gait,
                occluded=occluded,
                misaligned=misaligned,
            )
            flags = (identity.group is not None, occluded, misaligned)
            tracklets.append(
                SynthTracklet(
                    split=identity.split,
                    pid=identity.pid,
                    camera=cam + 1,
                    kind="identity",
                    spec=spec,
                    subsets=tuple(s for s, on in zip(SUBSETS, flags, strict=True) if on),
                    group=identity.group,
                    query=identity.split == "test" and k == query_at,
                )
            )
    return tracklets


def _stray_tracklet(rng, config, cameras, kind: str, pid: int) -> SynthTracklet:
    """A distractor (a box on background, a bicycle or a pole, or a sliver of a passer-by) or
    junk (a passer-by badly cut, tiny or drifting)."""
    camera = cameras[int(rng.integers(NUM_CAMERAS))]
    n = _length(rng, config)
    person = kind == "junk" or rng.random() < 0.5
    appearance = sample_appearance(rng) if person else None
    spec = _spec(rng, camera, n, appearance, sample_gait(rng), occluded=False, misaligned=True)
    if person:
        side = float(rng.choice([-1, 1]))
        spec = replace(spec, shift=(round(side * float(rng.uniform(0.3, 0.55)), 4), spec.shift[1]))
        if kind == "junk":
            spec = replace(spec, person_scale=round(float(rng.uniform(0.35, 1.4)), 4))
    elif rng.random() < 0.5:  # a false alarm on a static object
        occ = _occluder(rng, n, str(rng.choice(["pole", "bicycle"])))
        x = round(float(rng.uniform(-0.2, 0.2)), 4)
        spec = replace(spec, occluder=replace(occ, start=0, end=n - 1, x_from=x, x_to=x))
    return SynthTracklet(split="test", pid=pid, camera=camera.index, kind=kind, spec=spec)


# --------------------------------------------------------------------------- drawing, writing


def render_tracklet(spec: RenderSpec, size: tuple[int, int]) -> Iterator[tuple[Image.Image, float]]:
    """Frames of one tracklet with their occluded fraction: ``(PIL.Image, fraction)``."""
    renderer = TrackletRenderer(spec, size)
    for t in range(spec.num_frames):
        frame = renderer.render(t)
        yield frame.image, frame.occluded_fraction


def _render_job(
    job: tuple[int, RenderSpec, tuple[int, int], list[str], int],
) -> tuple[int, list[float]]:
    index, spec, size, paths, quality = job
    fractions = []
    for (image, fraction), path in zip(render_tracklet(spec, size), paths, strict=True):
        image.save(path, format="JPEG", quality=quality)
        fractions.append(round(fraction, 4))
    return index, fractions


def parse_size(text: str) -> tuple[int, int]:
    """``"256x128" -> (256, 128)``: height x width, height twice the width, 64 to 1024 high."""
    parts = text.lower().split("x")
    if len(parts) != 2 or not all(p.strip().isdigit() for p in parts):
        raise SynthError(f"bad size {text!r}: expected HEIGHTxWIDTH, e.g. 256x128 or 128x64")
    h, w = int(parts[0]), int(parts[1])
    if h != 2 * w or not 64 <= h <= 1024:
        raise SynthError(
            f"bad size {text!r}: height must be twice the width, 64 to 1024 (MARS: 256x128)"
        )
    return h, w


def resolve_config(preset: str | WorldConfig) -> WorldConfig:
    """A preset name (:data:`PRESETS`) or a config, as a config; unknown names raise."""
    if isinstance(preset, WorldConfig):
        return preset
    if preset not in PRESETS:
        raise SynthError(f"unknown preset {preset!r}: choose one of {', '.join(PRESETS)}")
    return PRESETS[preset]


def generate(
    root: str | Path,
    *,
    preset: str | WorldConfig = "demo",
    seed: int = 0,
    size: tuple[int, int] = (256, 128),
    workers: int = 1,
    overwrite: bool = False,
    progress: bool = True,
) -> SynthSummary:
    """Plan, draw and write a synthetic world as a MARS tree at ``root``.

    The tree is written into a temporary sibling folder and renamed into place at the end, so
    ``root`` is either absent or complete.

    Args:
        root: dataset root; must not exist (or be empty) unless ``overwrite``.
        preset: ``"tiny"``, ``"demo"``, ``"full"`` or a :class:`WorldConfig`.
        seed: the world's seed; the same seed gives byte-identical files.
        size: frame ``(height, width)``: ``(256, 128)`` or ``(128, 64)``.
        workers: processes drawing tracklets in parallel (the output does not depend on it).
        overwrite: replace an existing synthetic tree at ``root`` (one holding
            ``synthetic_meta.json``; anything else is never deleted).
        progress: show a tqdm progress bar over frames.

    Returns:
        Counts of what was written.

    Raises:
        SynthError: bad preset, size or workers, or a root that cannot be written.
    """
    started = time.perf_counter()
    config = resolve_config(preset)
    size = (int(size[0]), int(size[1]))
    if size[0] != 2 * size[1] or not 64 <= size[0] <= 1024:
        raise SynthError(f"bad size {size}: height must be twice the width, 64 to 1024")
    if workers < 1:
        raise SynthError(f"workers must be 1 or more, got {workers}")
    root = Path(root)
    tmp = _prepare_root(root, overwrite)
    try:
        world = plan_world(config, seed)
        train, test = world.split("train"), world.split("test")
        layouts = {
            split: mars_format.layout_split([(t.pid, t.camera, t.spec.num_frames) for t in tracks])
            for split, tracks in (("train", train), ("test", test))
        }
        jobs = []
        for split, tracks in (("train", train), ("test", test)):
            for tracklet, names in zip(tracks, layouts[split].frame_names, strict=True):
                folder = tmp / mars_format.SPLIT_DIRS[split] / mars_format.pid_folder(tracklet.pid)
                folder.mkdir(parents=True, exist_ok=True)
                paths = [str(folder / name) for name in names]
                jobs.append((len(jobs), tracklet.spec, size, paths, config.jpeg_quality))
        fractions = _run_jobs(jobs, workers, progress)
        query = [i for i, t in enumerate(test) if t.query]
        mars_format.write_info(tmp, layouts["train"], layouts["test"], query)
        meta = _metadata(world, layouts, fractions, size, preset)
        _write_json_atomic(tmp / META_NAME, meta)
        _install(tmp, root)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    counts = meta["generator"]["counts"]
    return SynthSummary(
        root=root,
        identities={"train": config.train_ids, "test": config.test_ids},
        tracklets={"train": len(train), "test": len(test)},
        queries=counts["queries"],
        frames=counts["frames"],
        seconds=time.perf_counter() - started,
    )


def _run_jobs(jobs: list, workers: int, progress: bool) -> list[list[float]]:
    """Draw and write every tracklet; its occluded fractions, in job order."""
    total = sum(len(job[3]) for job in jobs)
    results: list[list[float]] = [[] for _ in jobs]
    # Longest first keeps the workers busy to the end.
    order = sorted(jobs, key=lambda job: -len(job[3]))
    workers = min(workers, max(len(jobs), 1))
    with tqdm(total=total, unit="frame", disable=not progress, desc="synth") as bar:
        pool = get_context().Pool(workers) if workers > 1 else None
        try:
            done = (
                pool.imap_unordered(_render_job, order, chunksize=2)
                if pool
                else map(_render_job, order)
            )
            for index, fractions in done:
                results[index] = fractions
                bar.update(len(fractions))
        finally:
            if pool is not None:
                pool.terminate()
    return results


def _prepare_root(root: Path, overwrite: bool) -> Path:
    if root.exists():
        if not root.is_dir():
            raise SynthError(f"{root} exists and is not a folder")
        if any(root.iterdir()):
            if not overwrite:
                raise SynthError(f"{root} exists and is not empty (pass --overwrite to replace it)")
            if not (root / META_NAME).is_file():
                raise SynthError(
                    f"{root} is not a synthetic dataset (no {META_NAME}): not replacing it"
                )
    parent = root.resolve().parent
    tmp = parent / f".{root.name}.tmp-{uuid.uuid4().hex[:8]}"
    try:
        parent.mkdir(parents=True, exist_ok=True)
        tmp.mkdir()
    except OSError as error:
        raise SynthError(f"cannot write to {parent}: {error.strerror or error}") from error
    if not os.access(tmp, os.W_OK):
        shutil.rmtree(tmp, ignore_errors=True)
        raise SynthError(f"cannot write to {parent}: permission denied")
    return tmp


def _install(tmp: Path, root: Path) -> None:
    """Move the finished tree into place (an old tree is removed only after the swap)."""
    old = None
    if root.exists():
        old = root.resolve().parent / f".{root.name}.old-{uuid.uuid4().hex[:8]}"
        root.rename(old)
    tmp.rename(root)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _write_json_atomic(path: Path, payload: dict) -> None:
    """Valid JSON with one list entry (a tracklet, an identity) a line: compact and greppable."""
    parts = []
    for key, value in payload.items():
        if isinstance(value, list):
            body = ",\n".join("  " + json.dumps(item) for item in value)
            parts.append(f" {json.dumps(key)}: [\n{body}\n ]")
        else:
            parts.append(f" {json.dumps(key)}: {json.dumps(value)}")
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text("{\n" + ",\n".join(parts) + "\n}\n")
    tmp.replace(path)


def _gait_dict(gait: Gait) -> dict[str, float]:
    return asdict(gait)


def _metadata(world: World, layouts, fractions, size, preset) -> dict:
    by_split = {"train": world.split("train"), "test": world.split("test")}
    job = 0
    records = []
    frames = 0
    for split in ("train", "test"):
        layout = layouts[split]
        for i, t in enumerate(by_split[split]):
            spec = t.spec
            occ = spec.occluder
            first = layout.frame_names[i][0]
            records.append(
                {
                    "split": split,
                    "row": layout.rows[i] + 1,
                    "name": first[: first.rindex("F")],
                    "pid": t.pid,
                    "camera": t.camera,
                    "num_frames": spec.num_frames,
                    "kind": t.kind,
                    "query": t.query,
                    "subsets": list(t.subsets),
                    "lookalike_group": t.group,
                    "gait": _gait_dict(spec.gait) if spec.appearance is not None else None,
                    "view_deg": round(math.degrees(spec.view), 2),
                    "misalignment": {
                        "shift": list(spec.shift),
                        "scale_drift": spec.scale_drift,
                        "jitter": spec.jitter,
                    },
                    "occluder": None
                    if occ is None
                    else {
                        "kind": occ.kind,
                        "frames": [occ.start, occ.end],
                        "scale": occ.scale,
                        "drop": occ.drop,
                    },
                    "occluded_fraction": fractions[job],
                }
            )
            frames += spec.num_frames
            job += 1
    groups: dict[int, dict] = {}
    for identity in world.identities:
        if identity.group is not None:
            groups.setdefault(
                identity.group, {"group": identity.group, "split": identity.split, "pids": []}
            )
            groups[identity.group]["pids"].append(identity.pid)
    config = world.config
    return {
        "format": "strf-synthetic-mars",
        "version": 1,
        "generator": {
            "preset": preset if isinstance(preset, str) else "custom",
            "seed": world.seed,
            "size": list(size),
            "fps": FPS,
            "jpeg_quality": config.jpeg_quality,
            "config": asdict(config),
            "counts": {
                "identities": {"train": config.train_ids, "test": config.test_ids},
                "tracklets": {s: len(v) for s, v in by_split.items()},
                "queries": sum(t.query for t in by_split["test"]),
                "frames": frames,
            },
        },
        "cameras": [
            {
                "camera": c.index,
                "directions_deg": [round(math.degrees(d), 2) for d in c.directions],
                **asdict(c.look),
            }
            for c in world.cameras
        ],
        "identities": [
            {
                "pid": i.pid,
                "split": i.split,
                "lookalike_group": i.group,
                "appearance": asdict(i.appearance),
                "gait": _gait_dict(i.gait),
            }
            for i in sorted(world.identities, key=lambda i: i.pid)
        ],
        "lookalike_groups": [groups[g] for g in sorted(groups)],
        "tracklets": records,
    }


def load_metadata(root: str | Path) -> dict:
    """Read ``ROOT/synthetic_meta.json``."""
    path = Path(root) / META_NAME
    if not path.is_file():
        raise SynthError(f"{path} not found: is {root} a synthetic dataset (strf synth)?")
    return json.loads(path.read_text())


def lookalike_groups(root: str | Path, tracklets: Sequence[Tracklet]) -> list[int | None]:
    """The look-alike group of each of ``tracklets`` (of either split) of the synthetic world at
    ``root``, ``None`` for an identity in no group: generator knowledge that no real dataset
    has, for :class:`~strf_core.data.samplers.LookalikeBatchSampler`.

    Raises:
        SynthError: ``root`` has no metadata, or a tracklet is not in it.
    """
    records = {rec["name"]: rec for rec in load_metadata(root)["tracklets"]}
    out = []
    for tracklet in tracklets:
        name = Path(tracklet.frames[0]).name[:11]  # PPPPCcTtttt
        if name not in records:
            raise SynthError(f"tracklet {name} ({tracklet.frames[0]}) is not in {META_NAME}")
        out.append(records[name]["lookalike_group"])
    return out


def subset_masks(root: str | Path, tracklets: Sequence[Tracklet]) -> dict[str, np.ndarray]:
    """Which of ``tracklets`` (test tracklets of the synthetic world at ``root``) are in each
    hard-case subset, for per-subset metrics.

    Returns:
        ``{"lookalike": mask, "occluded": mask, "misaligned": mask, "clean": mask}``: boolean
        arrays over ``tracklets``; "clean" marks those in none of the three.

    Raises:
        SynthError: ``root`` has no metadata, or a tracklet is not in it.
    """
    records = {
        rec["name"]: rec for rec in load_metadata(root)["tracklets"] if rec["split"] == "test"
    }
    masks = {name: np.zeros(len(tracklets), bool) for name in (*SUBSETS, "clean")}
    for i, tracklet in enumerate(tracklets):
        name = Path(tracklet.frames[0]).name[:11]  # PPPPCcTtttt
        if name not in records:
            raise SynthError(f"tracklet {name} ({tracklet.frames[0]}) is not in {META_NAME}")
        subsets = records[name]["subsets"]
        for subset in subsets:
            masks[subset][i] = True
        masks["clean"][i] = not subsets
    return masks
