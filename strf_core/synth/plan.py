"""Planning a procedural world of walking people: who, where, how, which hard case; nothing drawn.

Six cameras watch identities walk past: each camera has its own scene, light, colour cast,
direction of travel, optics and noise; each identity its own clothes, build, carried item and
gait. A tracklet is one identity crossing one camera: planned here (:func:`plan_world`), drawn
frame by frame by :mod:`strf_core.synth.render` and written in the exact MARS layout of SPEC
section 4 by :mod:`strf_core.synth.generator`, so any MARS loader reads it.

Hard cases, built in on purpose:

- **look-alikes**: groups of 2-3 identities with one shared
  :class:`~strf_core.synth.specs.Appearance` (clothes, hair, build, bag: every pixel statistic
  of a frame) that differ only in :class:`~strf_core.synth.specs.Gait` (cadence, stride, arm
  swing, bounce, knee flexion, lean): only temporal dynamics tell them apart;
- **occluded** tracklets: a pole, bicycle, car or passer-by crosses the box in part of the frames;
- **misaligned** tracklets: the box is shifted off the person, drifts in scale or jitters.

Every tracklet also gets nuisances: length 8 to 128 frames (by preset), illumination, blur, noise.

Queries follow MARS: every test identity is seen by 2+ cameras; one tracklet in each camera but
one is a query, so the gallery always holds the identity in another camera.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np

from strf_core.data.datasets.synthetic import SUBSETS
from strf_core.synth.sample import (
    NUM_CAMERAS,
    Camera,
    lookalike_gaits,
    sample_appearance,
    sample_cameras,
    sample_gait,
    sample_occluder,
)
from strf_core.synth.specs import Appearance, Gait, RenderSpec

# SUBSETS: the hard-case subsets a tracklet may be in (several at once); "clean" is none.


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


# The 128x64 demo models' training world: demo with three times the training identities (room
# for a validation split) and a test split of the same style.
PRESETS["medium"] = replace(PRESETS["demo"], train_ids=450)


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


def resolve_config(preset: str | WorldConfig) -> WorldConfig:
    """A preset name (:data:`PRESETS`) or a config, as a config; unknown names raise."""
    if isinstance(preset, WorldConfig):
        return preset
    if preset not in PRESETS:
        raise SynthError(f"unknown preset {preset!r}: choose one of {', '.join(PRESETS)}")
    return PRESETS[preset]


def _length(rng: np.random.Generator, config: WorldConfig) -> int:
    lo, hi = config.length
    return int(min(hi, math.floor(math.exp(rng.uniform(math.log(lo), math.log(hi + 1))))))


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
        occluder=sample_occluder(rng, n) if occluded else None,
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
        occ = sample_occluder(rng, n, str(rng.choice(["pole", "bicycle"])))
        x = round(float(rng.uniform(-0.2, 0.2)), 4)
        spec = replace(spec, occluder=replace(occ, start=0, end=n - 1, x_from=x, x_to=x))
    return SynthTracklet(split="test", pid=pid, camera=camera.index, kind=kind, spec=spec)
