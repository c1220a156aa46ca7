"""What the synthetic world draws, as plain frozen dataclasses: a person's look and gait, a
camera's look, an occluder, and the spec of one tracklet (:class:`RenderSpec`); the body's
proportions; the vocabularies of styles and kinds."""

from __future__ import annotations

import math
from dataclasses import dataclass

FPS = 25.0
RGB = tuple[int, int, int]

HAIR_STYLES = ("short", "long", "cap", "bald")
TOP_PATTERNS = ("solid", "hstripes", "vstripes", "checks", "two_tone", "logo")
BOTTOM_STYLES = ("trousers", "shorts", "skirt")
CARRY_ITEMS = ("none", "backpack", "shoulder_bag", "handbag")
OCCLUDER_KINDS = ("pole", "bicycle", "car", "pedestrian")
SCENE_STYLES = ("street", "campus", "park", "plaza")

# Body proportions in units of body height (adult averages).
ANKLE, THIGH, SHIN = 0.045, 0.245, 0.245
TORSO, NECK, HEAD = 0.30, 0.03, 0.065
UPPER_ARM, FOREARM = 0.18, 0.155


@dataclass(frozen=True)
class Appearance:
    """What a person looks like: everything a single frame shows.

    Attributes:
        skin, hair: colours.
        hair_style: one of :data:`HAIR_STYLES`; ``cap`` wears a cap of colour ``hat``.
        hat: cap colour.
        top, top_accent: upper-garment colours; the accent draws the pattern.
        top_pattern: one of :data:`TOP_PATTERNS` (``logo`` is on the chest, not the back).
        sleeves: ``"long"`` or ``"short"`` (bare forearms).
        bottom: trousers, shorts or skirt colour.
        bottom_style: one of :data:`BOTTOM_STYLES`.
        legwear: colour of what shows below shorts or a skirt (skin or tights).
        shoes: colour.
        build: width multiplier (0.85 slim to 1.3 heavy).
        height: body height relative to the average; detections are resized to a fixed box, so
            height shows mostly as slimmer proportions.
        carry: one of :data:`CARRY_ITEMS`.
        carry_color: colour of the carried item.
        carry_side: ``+1`` carried on the left, ``-1`` on the right.
    """

    skin: RGB
    hair: RGB
    hair_style: str
    hat: RGB
    top: RGB
    top_accent: RGB
    top_pattern: str
    sleeves: str
    bottom: RGB
    bottom_style: str
    legwear: RGB
    shoes: RGB
    build: float
    height: float
    carry: str
    carry_color: RGB
    carry_side: int


@dataclass(frozen=True)
class Gait:
    """How a person walks (the gait model: :mod:`strf_core.synth.walker`).

    Attributes:
        cadence: gait cycles (two steps) per second.
        stride: hip swing amplitude, radians.
        arm_swing: shoulder swing amplitude, radians.
        bounce: vertical pelvis bounce, in body heights.
        knee_flex: peak swing-phase knee flexion, radians.
        lean: forward torso lean, radians.
    """

    cadence: float
    stride: float
    arm_swing: float
    bounce: float
    knee_flex: float
    lean: float

    def speed(self) -> float:
        """Walking speed in body heights per frame (two steps of ``2 leg sin(stride)``)."""
        return 4 * (THIGH + SHIN) * math.sin(self.stride) * self.cadence / FPS


@dataclass(frozen=True)
class CameraLook:
    """How one camera sees. Sizes are relative, so one camera serves every frame size.

    Attributes:
        scene_style: one of :data:`SCENE_STYLES`.
        scene_seed: seed of the procedural scene.
        wall_base: where walls meet the ground, in frame heights from the box top.
        gain: illumination (1 = neutral).
        cast: per-channel gains (R, G, B): the colour cast of the light and sensor.
        gamma: tone curve exponent.
        parallax: background scroll speed relative to the walker's speed.
        low_res: far camera: the frame is drawn at half resolution and blown up.
        blur: number of 1-2-1 blur passes (1 is just anti-aliasing).
        noise: sensor noise standard deviation, grey levels.
        person_scale: walker height over frame height (how tight the detector's boxes are).
    """

    scene_style: str
    scene_seed: int
    wall_base: float
    gain: float
    cast: tuple[float, float, float]
    gamma: float
    parallax: float
    low_res: bool
    blur: int
    noise: float
    person_scale: float


@dataclass(frozen=True)
class Occluder:
    """Something between the camera and the walker, crossing the box during frames
    ``start..end`` (inclusive): its centre moves from ``x_from`` to ``x_to`` (frame widths
    from the box centre).

    Attributes:
        kind: one of :data:`OCCLUDER_KINDS`.
        start, end: first and last frame it is drawn in.
        x_from, x_to: centre x at ``start`` and ``end``, frame widths from the box centre.
        scale: its size relative to the walker's height.
        drop: how much lower its ground line is than the walker's (nearer the camera), in
            walker heights.
        color, accent: main and secondary colours.
        appearance, gait, view: the passer-by of a ``pedestrian`` occluder (else ``None``, 0).
    """

    kind: str
    start: int
    end: int
    x_from: float
    x_to: float
    scale: float
    drop: float
    color: RGB
    accent: RGB
    appearance: Appearance | None = None
    gait: Gait | None = None
    view: float = 0.0

    def center(self, t: int) -> float | None:
        """Centre x at frame ``t`` in frame widths from the box centre; ``None`` if not drawn."""
        if not self.start <= t <= self.end:
            return None
        u = (t - self.start) / max(self.end - self.start, 1)
        return self.x_from + (self.x_to - self.x_from) * u


@dataclass(frozen=True)
class RenderSpec:
    """Everything that decides the frames of one tracklet.

    Attributes:
        seed: per-frame randomness (box jitter, sensor noise).
        num_frames: tracklet length.
        camera: the camera that sees it.
        appearance: the walker, or ``None`` for a box with nobody in it (a false detection).
        gait: the walker's gait for this tracklet.
        view: walking direction, radians (:mod:`strf_core.synth.walker`).
        phase: gait phase at frame 0, radians.
        person_scale: walker height over frame height at frame 0.
        scale_drift: relative change of the walker's size from the first to the last frame.
        shift: constant box misalignment: walker offset in (frame widths, frame heights).
        jitter: per-frame box jitter, standard deviation in frame sizes.
        gain: this tracklet's illumination factor on top of the camera's.
        bg_start: where the box starts in the scene (0 to 1 of the free scroll range).
        occluder: what crosses the box, if anything.
    """

    seed: int
    num_frames: int
    camera: CameraLook
    appearance: Appearance | None
    gait: Gait
    view: float
    phase: float
    person_scale: float
    scale_drift: float
    shift: tuple[float, float]
    jitter: float
    gain: float
    bg_start: float
    occluder: Occluder | None = None
