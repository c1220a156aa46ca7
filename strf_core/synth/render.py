"""Drawing the synthetic world: articulated walkers with a gait model, camera scenes, occluders.

A frame is drawn in this order (one tracklet = one :class:`RenderSpec`)::

    camera scene (cached per camera and frame size), cropped where the bounding box is
     -> the walker: limbs, torso, head, hair, carried items, sorted far to near
     -> the occluder, if one crosses the box in this frame
     -> low resolution (far cameras) -> 1-2-1 blur passes and sensor noise -> uint8 RGB

Illumination (gain, colour cast, gamma) is a per-channel table applied to the colours before
drawing: once per tracklet to its stretch of background and to each colour and texture it uses.

Coordinates. A walker is posed in body units (height 1; ``f`` forward, ``l`` to its left, ``u``
up, origin on the ground under the pelvis) and projected orthographically into the frame:
``x = cx + H (f cos v - l sin v)``, ``y = ground - H u``, depth ``f sin v + l cos v`` (larger is
farther), where ``v`` is the walking direction: 0 walks right (profile), pi walks left, -pi/2
walks towards the camera (front view), +pi/2 away from it (back view).

Gait. Phase ``p = 2 pi cadence t / FPS + p0``. The hips swing ``+-stride sin p``, the arms the
other way ``-+arm_swing sin p``, the swing-phase knee flexes up to ``knee_flex``, the pelvis
bounces ``bounce (1 + cos 2p) / 2`` (highest when the legs pass each other) and the torso leans
forward by ``lean``. The look-alike identities of :mod:`strf_core.data.synthetic` differ in these
parameters only: cadence shows only across frames, the others as how poses change over a cycle.

Everything here is a pure function of its arguments: a frame depends on its spec and index only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import NamedTuple

import numpy as np
from PIL import Image, ImageDraw

FPS = 25.0
RGB = tuple[int, int, int]

HAIR_STYLES = ("short", "long", "cap", "bald")
TOP_PATTERNS = ("solid", "hstripes", "vstripes", "checks", "two_tone", "logo")
BOTTOM_STYLES = ("trousers", "shorts", "skirt")
CARRY_ITEMS = ("none", "backpack", "shoulder_bag", "handbag")
OCCLUDER_KINDS = ("pole", "bicycle", "car", "pedestrian")
SCENE_STYLES = ("street", "campus", "park", "plaza")

# Body proportions in units of body height (adult averages).
_ANKLE, _THIGH, _SHIN = 0.045, 0.245, 0.245
_TORSO, _NECK, _HEAD = 0.30, 0.03, 0.065
_UPPER_ARM, _FOREARM = 0.18, 0.155
# Where the bounding box sits in the camera scene: the scene is this many frame heights taller
# than the frame on each side, so vertical misalignment never runs out of background.
_SCENE_MARGIN = 0.4
_SCENE_WIDTHS = 14  # scene width in frame widths: room for the longest background scroll
_NOISE_PAD = 8


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
    """How a person walks (see the module docstring for the model).

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
        return 4 * (_THIGH + _SHIN) * math.sin(self.stride) * self.cadence / FPS


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
        view: walking direction, radians (module docstring).
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


class Shape(NamedTuple):
    """One filled primitive: ``kind`` is polygon, ellipse, chord, pieslice, line or ring;
    ``fill`` is a colour, or a texture image for a textured polygon."""

    depth: float
    kind: str
    geom: tuple
    fill: RGB | Image.Image
    width: int = 0


# --------------------------------------------------------------------------- walker


def _apparent(lateral: float, depth: float, sv: float, cv: float) -> float:
    """Screen half-width of an elliptic cross-section (half-axes lateral, depth) seen at ``v``."""
    return math.hypot(lateral * sv, depth * cv)


def _segment(p0, p1, w0: float, w1: float) -> tuple:
    """Quadrilateral of a limb from ``p0`` to ``p1``, ``w0`` and ``w1`` pixels thick."""
    dx, dy = p1[0] - p0[0], p1[1] - p0[1]
    n = math.hypot(dx, dy) or 1.0
    nx, ny = -dy / n / 2, dx / n / 2
    return (
        (p0[0] + nx * w0, p0[1] + ny * w0),
        (p1[0] + nx * w1, p1[1] + ny * w1),
        (p1[0] - nx * w1, p1[1] - ny * w1),
        (p0[0] - nx * w0, p0[1] - ny * w0),
    )


def _disc(p, r: float) -> tuple:
    return (p[0] - r, p[1] - r, p[0] + r, p[1] + r)


def top_texture(appearance: Appearance, body_px: float) -> Image.Image | None:
    """The upper-garment pattern as an image anchored at the torso's top-left (``None``: solid).

    Pattern sizes follow the body height ``body_px`` so a pattern looks the same at every
    frame size.
    """
    pattern = appearance.top_pattern
    if pattern == "solid":
        return None
    side = max(int(0.5 * body_px) + 4, 8)
    y, x = np.mgrid[0:side, 0:side]
    period = max(2.0, 0.05 * body_px)
    if pattern == "hstripes":
        accent = (y // (period / 2)) % 2 == 1
    elif pattern == "vstripes":
        accent = (x // (period / 2)) % 2 == 1
    elif pattern == "checks":
        accent = ((y // period) + (x // period)) % 2 == 1
    elif pattern == "two_tone":
        accent = y > 0.14 * body_px
    else:  # logo: a chest badge
        accent = (abs(y - 0.08 * body_px) < 0.035 * body_px) & (
            abs(x - 0.09 * body_px) < 0.04 * body_px
        )
    pixels = np.where(accent[..., None], appearance.top_accent, appearance.top)
    return Image.fromarray(pixels.astype(np.uint8))


def walker_shapes(
    appearance: Appearance,
    gait: Gait,
    phase: float,
    view: float,
    cx: float,
    ground: float,
    body_px: float,
    texture: Image.Image | None = None,
) -> list[Shape]:
    """The shapes of one posed walker, sorted far to near.

    Args:
        appearance: what the walker looks like.
        gait: how it walks.
        phase: gait phase, radians.
        view: walking direction, radians (module docstring).
        cx, ground: pixel x of the body axis and pixel y of the ground under it.
        body_px: body height in pixels.
        texture: :func:`top_texture` of ``appearance`` (``None`` draws the top solid).

    Returns:
        Shapes to paint in order.
    """
    cv, sv = math.cos(view), math.sin(view)
    b = appearance.build / appearance.height
    hpx = body_px
    a = appearance

    def proj(f: float, lat: float, u: float) -> tuple[float, float]:
        return (cx + hpx * (f * cv - lat * sv), ground - hpx * u)

    def depth(f: float, lat: float) -> float:
        return f * sv + lat * cv

    s = math.sin(phase)
    shapes: list[Shape] = []

    # Legs: the swing leg flexes its knee; the pelvis rides on the longer leg plus the bounce.
    alphas = (gait.stride * s, -gait.stride * s)  # left, right
    knees = tuple(
        gait.knee_flex * max(0.0, math.cos(phase + k * math.pi + 0.3)) ** 2 + 0.06 for k in (0, 1)
    )
    reach = max(
        _THIGH * math.cos(al) + _SHIN * math.cos(al - kn)
        for al, kn in zip(alphas, knees, strict=True)
    )
    hip_u = _ANKLE + reach + gait.bounce * (1 + math.cos(2 * phase)) / 2
    bare_legs = a.bottom_style != "trousers"
    leg_color = a.legwear if bare_legs else a.bottom
    for side, al, kn in zip((1, -1), alphas, knees, strict=True):
        lat = side * 0.047 * b
        hip = (0.0, lat, hip_u)
        knee = (_THIGH * math.sin(al), lat, hip_u - _THIGH * math.cos(al))
        sh = al - kn
        ankle = (knee[0] + _SHIN * math.sin(sh), lat, knee[2] - _SHIN * math.cos(sh))
        heel = (ankle[0] - 0.03 * math.cos(sh), lat, ankle[2] - 0.03 * math.sin(sh) - 0.02)
        toe = (ankle[0] + 0.1 * math.cos(sh), lat, ankle[2] + 0.1 * math.sin(sh) - 0.02)
        p_hip, p_knee, p_ankle = proj(*hip), proj(*knee), proj(*ankle)
        d = depth(0.0, lat)
        thigh_w, knee_w, ankle_w = 0.085 * b * hpx, 0.062 * b * hpx, 0.045 * b * hpx
        upper = a.bottom if a.bottom_style != "skirt" else leg_color
        shapes.append(Shape(d, "polygon", _segment(p_hip, p_knee, thigh_w, knee_w), upper))
        shapes.append(Shape(d, "polygon", _segment(p_knee, p_ankle, knee_w, ankle_w), leg_color))
        shapes.append(Shape(d, "ellipse", _disc(p_knee, knee_w / 2), leg_color))
        if a.bottom_style == "shorts":
            mid = tuple(h + 0.65 * (k - h) for h, k in zip(p_hip, p_knee, strict=True))
            shapes.append(
                Shape(d, "polygon", _segment(p_hip, mid, thigh_w * 1.1, thigh_w), a.bottom)
            )
        elif a.bottom_style == "trousers" and kn > 0.35:
            shapes.append(Shape(d, "ellipse", _disc(p_knee, knee_w / 2), a.bottom))
        shapes.append(
            Shape(d, "polygon", _segment(proj(*heel), proj(*toe), ankle_w, ankle_w), a.shoes)
        )

    # Torso, from the hips up, leaning forward.
    waist_u = hip_u + 0.04
    neck_f, neck_u = math.sin(gait.lean) * _TORSO, hip_u + math.cos(gait.lean) * _TORSO
    shoulder_u = neck_u - 0.025
    sw = _apparent(0.115 * b, 0.062 * b, sv, cv) * hpx
    ww = _apparent(0.092 * b, 0.056 * b, sv, cv) * hpx
    hw = _apparent(0.098 * b, 0.06 * b, sv, cv) * hpx
    p_sh, p_waist = proj(neck_f * 0.92, 0.0, shoulder_u), proj(0.012, 0.0, waist_u)
    p_hips = proj(0.0, 0.0, hip_u - 0.03)
    torso = (
        (p_sh[0] - sw, p_sh[1]),
        (p_sh[0] + sw, p_sh[1]),
        (p_waist[0] + ww, p_waist[1]),
        (p_waist[0] - ww, p_waist[1]),
    )
    pelvis = (
        (p_waist[0] - ww, p_waist[1]),
        (p_waist[0] + ww, p_waist[1]),
        (p_hips[0] + hw, p_hips[1]),
        (p_hips[0] - hw, p_hips[1]),
    )
    shapes.append(Shape(0.0, "polygon", pelvis, a.bottom))
    show_texture = texture is not None and not (a.top_pattern == "logo" and sv > 0.5)
    shapes.append(Shape(0.0, "polygon", torso, texture if show_texture else a.top))
    if a.bottom_style == "skirt":
        p_hem = proj(0.02, 0.0, hip_u - 0.19)
        hem = _apparent(0.15 * b, 0.13 * b, sv, cv) * hpx
        skirt = (
            (p_waist[0] - ww, p_waist[1]),
            (p_waist[0] + ww, p_waist[1]),
            (p_hem[0] + hem, p_hem[1]),
            (p_hem[0] - hem, p_hem[1]),
        )
        shapes.append(Shape(-0.06, "polygon", skirt, a.bottom))

    # Neck and head; hair and cap depend on which side of the head the camera sees.
    head_c = (neck_f + 0.01, 0.0, neck_u + _NECK + _HEAD)
    p_head = proj(*head_c)
    head_w = _apparent(0.05, 0.058, sv, cv) * hpx
    head_h = _HEAD * hpx
    p_neck = proj(neck_f, 0.0, neck_u + _NECK)
    neck_w = 0.045 * b * hpx
    shapes.append(Shape(-0.001, "polygon", _segment(p_sh, p_neck, neck_w, neck_w), a.skin))
    box = (p_head[0] - head_w, p_head[1] - head_h, p_head[0] + head_w, p_head[1] + head_h)
    facing = -sv  # 1: face to the camera, -1: back of the head
    back_of_head = a.hair if facing < -0.5 and a.hair_style != "bald" else a.skin
    if a.hair_style == "long":
        top, bottom = proj(head_c[0] - 0.04, 0.0, head_c[2]), proj(-0.03, 0.0, neck_u - 0.09)
        lw = _apparent(0.055, 0.03, sv, cv) * hpx
        shapes.append(
            Shape(depth(-0.05, 0.0), "polygon", _segment(top, bottom, 2 * lw, 2 * lw), a.hair)
        )
    shapes.append(Shape(-0.002, "ellipse", box, back_of_head))
    if a.hair_style in ("short", "long", "cap") and facing >= -0.5:
        color = a.hat if a.hair_style == "cap" else a.hair
        shapes.append(Shape(-0.003, "chord", box, color, 0))
        if abs(cv) > 0.4 and a.hair_style != "cap":  # hair on the back of the head in profile
            arc = (100.0, 270.0) if cv > 0 else (270.0, 440.0)
            shapes.append(Shape(-0.003, "pieslice", (box, arc), a.hair))
    if a.hair_style == "cap":
        ub = head_c[2] + 0.02
        brim = (
            proj(0.0, -0.05, ub),
            proj(0.0, 0.05, ub),
            proj(0.1, 0.05, ub),
            proj(0.1, -0.05, ub),
        )
        shapes.append(Shape(depth(0.05, 0.0) - 0.004, "polygon", brim, a.hat))
        if facing < -0.5:
            shapes.append(Shape(-0.003, "chord", box, a.hat, 0))

    # Arms swing against the legs; elbows bend more on the forward swing.
    arm_w, fore_w = 0.052 * b * hpx, 0.042 * b * hpx
    sleeve = a.top if a.sleeves == "long" else a.skin
    arm_lat = 0.115 * b + 0.02
    wrists = {}
    for side, gamma in ((1, -gait.arm_swing * s), (-1, gait.arm_swing * s)):
        lat = side * arm_lat
        elbow_flex = 0.15 + 0.6 * max(0.0, gamma)
        sh3 = (neck_f * 0.9, lat, shoulder_u)
        el3 = (sh3[0] + _UPPER_ARM * math.sin(gamma), lat, sh3[2] - _UPPER_ARM * math.cos(gamma))
        fa = gamma + elbow_flex
        wr3 = (el3[0] + _FOREARM * math.sin(fa), lat, el3[2] - _FOREARM * math.cos(fa))
        wrists[side] = wr3
        p_s, p_e, p_w = proj(*sh3), proj(*el3), proj(*wr3)
        d = depth((sh3[0] + wr3[0]) / 2, lat)
        shapes.append(Shape(d, "ellipse", _disc(p_s, arm_w / 2), a.top))
        shapes.append(Shape(d, "polygon", _segment(p_s, p_e, arm_w, fore_w), a.top))
        shapes.append(Shape(d, "ellipse", _disc(p_e, fore_w / 2), sleeve))
        shapes.append(Shape(d, "polygon", _segment(p_e, p_w, fore_w, fore_w * 0.9), sleeve))
        shapes.append(Shape(d, "ellipse", _disc(p_w, fore_w * 0.62), a.skin))

    shapes.extend(_carried_item(a, proj, depth, sv, cv, b, hpx, hip_u, shoulder_u, wrists))
    shapes.sort(key=lambda shape: -shape.depth)
    return shapes


def _carried_item(a: Appearance, proj, depth, sv, cv, b, hpx, hip_u, shoulder_u, wrists):
    side = a.carry_side
    if a.carry == "backpack":
        f = -(0.062 * b + 0.045)
        half = _apparent(0.085 * b, 0.045, sv, cv) * hpx
        top, bottom = proj(f, 0.0, shoulder_u - 0.02), proj(f, 0.0, shoulder_u - 0.24)
        shape = ((top[0] - half, top[1]), (top[0] + half, top[1]))
        shape += ((bottom[0] + half, bottom[1]), (bottom[0] - half, bottom[1]))
        strap_w = max(1, round(0.014 * hpx))
        straps = [
            Shape(
                depth(0.064 * b, 0.0),
                "line",
                (
                    proj(0.064 * b, k * 0.06 * b, shoulder_u),
                    proj(0.064 * b, k * 0.07 * b, hip_u + 0.1),
                ),
                a.carry_color,
                strap_w,
            )
            for k in (1, -1)
        ]
        return [Shape(depth(f, 0.0), "polygon", shape, a.carry_color), *straps]
    if a.carry == "shoulder_bag":
        lat = side * (0.1 * b + 0.035)
        half = _apparent(0.03, 0.08, sv, cv) * hpx
        top, bottom = proj(0.0, lat, hip_u + 0.05), proj(0.0, lat, hip_u - 0.09)
        shape = ((top[0] - half, top[1]), (top[0] + half, top[1]))
        shape += ((bottom[0] + half, bottom[1]), (bottom[0] - half, bottom[1]))
        strap_w = max(1, round(0.012 * hpx))
        straps = [
            Shape(
                depth(f, 0.0),
                "line",
                (proj(f, -side * 0.09 * b, shoulder_u), proj(f, side * 0.1 * b, hip_u + 0.05)),
                a.carry_color,
                strap_w,
            )
            for f in (0.064 * b, -0.064 * b)
        ]
        return [Shape(depth(0.0, lat) - 0.01, "polygon", shape, a.carry_color), *straps]
    if a.carry == "handbag":
        wf, wl, wu = wrists[side]
        half = _apparent(0.016, 0.05, sv, cv) * hpx
        top, bottom = proj(wf, wl, wu - 0.01), proj(wf, wl, wu - 0.1)
        shape = ((top[0] - half, top[1]), (top[0] + half, top[1]))
        shape += ((bottom[0] + half, bottom[1]), (bottom[0] - half, bottom[1]))
        return [Shape(depth(wf, wl) - 0.02, "polygon", shape, a.carry_color)]
    return []


# --------------------------------------------------------------------------- occluders


def occluder_shapes(
    occ: Occluder, t: int, width: int, ground: float, body_px: float
) -> list[Shape]:
    """The shapes of ``occ`` at frame ``t`` (empty when it is not in the box then).

    Args:
        occ: the occluder.
        t: frame index.
        width: frame width in pixels.
        ground: the walker's ground line (pixel y); the occluder stands ``occ.drop * body_px``
            lower.
        body_px: the walker's height in pixels; the occluder's sizes follow it.
    """
    center = occ.center(t)
    if center is None:
        return []
    x = width / 2 + center * width
    g = ground + occ.drop * body_px
    s = occ.scale * body_px
    if occ.kind == "pole":
        half = 0.05 * s
        pole = ((x - half, -body_px), (x + half, -body_px), (x + half, g), (x - half, g))
        sign = _disc((x, g - 0.75 * s), 0.09 * s)
        return [Shape(0, "polygon", pole, occ.color), Shape(0, "ellipse", sign, occ.accent)]
    if occ.kind == "bicycle":
        r = 0.19 * s
        rear, front = (x - 0.33 * s, g - r), (x + 0.33 * s, g - r)
        crank, seat, head = (
            (x - 0.06 * s, g - r),
            (x - 0.14 * s, g - 0.55 * s),
            (x + 0.22 * s, g - 0.58 * s),
        )
        tube = max(2, round(0.03 * s))
        tire = max(2, round(0.035 * s))
        frame = (rear, seat, crank, rear, crank, head, seat, head, front)
        handle = (head, (head[0] - 0.05 * s, head[1] - 0.08 * s))
        return [
            Shape(0, "ring", _disc(rear, r), occ.accent, tire),
            Shape(0, "ring", _disc(front, r), occ.accent, tire),
            Shape(0, "line", frame, occ.color, tube),
            Shape(0, "line", handle, occ.accent, tube),
            Shape(
                0,
                "line",
                ((seat[0] - 0.05 * s, seat[1]), (seat[0] + 0.05 * s, seat[1])),
                occ.accent,
                tube,
            ),
        ]
    if occ.kind == "car":
        half, wheel = 1.25 * s, 0.13 * s
        body_top, cabin_top = g - 0.42 * s, g - 0.66 * s
        sill = g - 0.08 * s
        body = ((x - half, body_top), (x + half, body_top), (x + half, sill), (x - half, sill))
        cabin = (
            (x - 0.55 * s, body_top),
            (x - 0.35 * s, cabin_top),
            (x + 0.45 * s, cabin_top),
            (x + 0.75 * s, body_top),
        )
        glass = tuple((px, py + 0.04 * s * (1 if py < body_top else -0.5)) for px, py in cabin)
        return [
            Shape(0, "polygon", cabin, occ.color),
            Shape(0, "polygon", glass, (45, 55, 65)),
            Shape(0, "polygon", body, occ.color),
            Shape(0, "ellipse", _disc((x - 0.8 * s, g - wheel), wheel), (20, 20, 22)),
            Shape(0, "ellipse", _disc((x + 0.8 * s, g - wheel), wheel), (20, 20, 22)),
            Shape(
                0,
                "polygon",
                _box(x + half - 0.08 * s, body_top + 0.06 * s, 0.06 * s, 0.04 * s),
                occ.accent,
            ),
        ]
    # pedestrian: another walker, nearer the camera
    assert occ.appearance is not None and occ.gait is not None
    phase = 2 * math.pi * occ.gait.cadence * t / FPS
    return walker_shapes(occ.appearance, occ.gait, phase, occ.view, x, g, s)


def _box(x0: float, y0: float, w: float, h: float) -> tuple:
    return ((x0, y0), (x0 + w, y0), (x0 + w, y0 + h), (x0, y0 + h))


# --------------------------------------------------------------------------- painting


def paint(image: Image.Image, shapes: list[Shape]) -> None:
    """Paint ``shapes`` onto an RGB ``image`` in order (textures through a polygon mask)."""
    draw = ImageDraw.Draw(image)
    for shape in shapes:
        fill = shape.fill
        if isinstance(fill, Image.Image):
            _paint_texture(image, shape.geom, fill)
        else:
            _draw(draw, shape, fill)


def paint_mask(size: tuple[int, int], shapes: list[Shape]) -> np.ndarray:
    """Boolean ``(H, W)`` mask of the pixels ``shapes`` cover, for frame ``size = (H, W)``."""
    mask = Image.new("L", (size[1], size[0]), 0)
    draw = ImageDraw.Draw(mask)
    for shape in shapes:
        _draw(draw, shape, 255)
    return np.asarray(mask) > 0


def _draw(draw: ImageDraw.ImageDraw, shape: Shape, fill) -> None:
    kind, geom = shape.kind, shape.geom
    if kind == "polygon":
        draw.polygon(geom, fill=fill)
    elif kind == "ellipse":
        draw.ellipse(geom, fill=fill)
    elif kind == "chord":  # the top cap of an ellipse: hair or a cap on a head
        draw.chord(geom, 195, 345, fill=fill)
    elif kind == "pieslice":
        box, (start, end) = geom
        draw.pieslice(box, start, end, fill=fill)
    elif kind == "line":
        draw.line(geom, fill=fill, width=shape.width, joint="curve")
    elif kind == "ring":
        draw.ellipse(geom, outline=fill, width=shape.width)
    else:
        raise ValueError(f"unknown shape kind {kind!r}")


def _paint_texture(image: Image.Image, points: tuple, texture: Image.Image) -> None:
    x0 = math.floor(min(p[0] for p in points))
    y0 = math.floor(min(p[1] for p in points))
    w = min(math.ceil(max(p[0] for p in points)) - x0 + 1, texture.width)
    h = min(math.ceil(max(p[1] for p in points)) - y0 + 1, texture.height)
    if w <= 0 or h <= 0:
        return
    mask = Image.new("L", (w, h), 0)
    ImageDraw.Draw(mask).polygon([(x - x0, y - y0) for x, y in points], fill=255)
    image.paste(texture.crop((0, 0, w, h)), (x0, y0), mask)


# --------------------------------------------------------------------------- scenes


@lru_cache(maxsize=16)
def camera_scene(camera: CameraLook, height: int, width: int) -> Image.Image:
    """The camera's background: a wide strip the bounding box slides along (cached).

    The frame at box offset (0, 0) is the region ``(0, margin, width, margin + height)`` with
    ``margin = round(0.4 * height)``; the strip is ``14 * width`` wide.
    """
    rng = np.random.default_rng(camera.scene_seed)
    margin = round(_SCENE_MARGIN * height)
    sh, sw = height + 2 * margin, _SCENE_WIDTHS * width
    base = margin + camera.wall_base * height
    scene = Image.new("RGB", (sw, sh))
    draw = ImageDraw.Draw(scene)
    _SCENES[camera.scene_style](draw, rng, sw, sh, base, height)
    # Low-frequency shading and fine grain, so flat areas are not flat.
    coarse = rng.normal(128, 40, (sh // 12 + 2, sw // 12 + 2)).clip(0, 255).astype(np.uint8)
    shade = Image.fromarray(coarse).resize((sw, sh), Image.BICUBIC)
    shade = (np.asarray(shade, dtype=np.float64)[..., None] - 128) * 0.2
    grain = rng.normal(0, 3, (sh, sw, 1))
    pixels = np.asarray(scene, dtype=np.float64) + shade + grain
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))


def _rgb(rng: np.random.Generator, palette: list[RGB], spread: float = 12) -> RGB:
    color = np.array(palette[rng.integers(len(palette))], dtype=float)
    return tuple(int(c) for c in np.clip(color + rng.normal(0, spread, 3), 0, 255))


def _ground(draw, rng, sw, sh, base, fh, colors, tile) -> None:
    color = _rgb(rng, colors)
    draw.rectangle((0, base, sw, sh), fill=color)
    line = tuple(max(c - 25, 0) for c in color)
    step = max(int(tile * fh), 4)
    for x in range(int(rng.integers(step)), sw, step):
        draw.line(((x, base), (x - 0.3 * step, sh)), fill=line, width=1)
    y = base + step * 0.3
    while y < sh:
        draw.line(((0, y), (sw, y)), fill=line, width=1)
        y += step * 0.45


def _street(draw, rng, sw, sh, base, fh) -> None:
    x = 0.0
    while x < sw:
        w = fh * rng.uniform(0.6, 1.6)
        wall = _rgb(
            rng, [(150, 80, 60), (200, 185, 160), (120, 120, 125), (175, 160, 130), (90, 70, 60)]
        )
        draw.rectangle((x, 0, x + w, base), fill=wall)
        win = _rgb(rng, [(50, 60, 80), (90, 110, 130), (40, 40, 45)], 8)
        ww, wh = fh * rng.uniform(0.08, 0.14), fh * rng.uniform(0.12, 0.2)
        gap = ww * rng.uniform(1.6, 2.4)
        for wx in np.arange(x + gap / 2, x + w - ww, gap):
            for wy in np.arange(base - fh * 0.55, -wh, -wh * 1.7):
                draw.rectangle((wx, wy, wx + ww, wy + wh), fill=win)
        if rng.random() < 0.6:  # shop front: sign band and door
            sign = _rgb(rng, [(180, 30, 30), (30, 90, 160), (230, 200, 50), (30, 120, 60)], 20)
            draw.rectangle((x, base - fh * 0.45, x + w, base - fh * 0.38), fill=sign)
            draw.rectangle((x + w * 0.3, base - fh * 0.36, x + w * 0.5, base), fill=win)
        x += w
    _ground(draw, rng, sw, sh, base, fh, [(130, 130, 130), (150, 140, 125), (100, 100, 105)], 0.3)


def _campus(draw, rng, sw, sh, base, fh) -> None:
    wall = _rgb(rng, [(215, 210, 195), (190, 195, 200), (230, 225, 215)])
    draw.rectangle((0, 0, sw, base), fill=wall)
    glass = _rgb(rng, [(120, 145, 165), (90, 110, 120)], 8)
    pillar = tuple(max(c - 30, 0) for c in wall)
    step = fh * rng.uniform(0.5, 0.9)
    for x in np.arange(0, sw, step):
        draw.rectangle(
            (x + step * 0.15, base - fh * 0.8, x + step * 0.85, base - fh * 0.05), fill=glass
        )
        draw.rectangle((x - step * 0.05, 0, x + step * 0.05, base), fill=pillar)
    _ground(draw, rng, sw, sh, base, fh, [(175, 170, 160), (140, 135, 130), (190, 185, 175)], 0.5)


def _park(draw, rng, sw, sh, base, fh) -> None:
    draw.rectangle((0, 0, sw, base), fill=_rgb(rng, [(170, 195, 215), (200, 205, 210)]))
    for _ in range(int(sw / fh * 5)):
        x, r = rng.uniform(0, sw), fh * rng.uniform(0.15, 0.4)
        y = base - fh * rng.uniform(0.1, 0.6)
        draw.rectangle((x - r * 0.12, y, x + r * 0.12, base), fill=_rgb(rng, [(80, 60, 40)], 8))
        draw.ellipse(
            (x - r, y - r, x + r, y + r * 0.8),
            fill=_rgb(rng, [(50, 100, 45), (70, 120, 50), (35, 75, 40)]),
        )
    draw.rectangle((0, base - fh * 0.12, sw, base), fill=_rgb(rng, [(60, 110, 50), (45, 90, 40)]))
    _ground(draw, rng, sw, sh, base, fh, [(190, 170, 130), (150, 150, 140), (95, 130, 70)], 0.6)


def _plaza(draw, rng, sw, sh, base, fh) -> None:
    draw.rectangle((0, 0, sw, base), fill=_rgb(rng, [(180, 190, 200)]))
    x = 0.0
    while x < sw:
        w = fh * rng.uniform(0.2, 0.9)
        color = _rgb(
            rng,
            [
                (200, 80, 60),
                (60, 120, 180),
                (230, 210, 120),
                (120, 120, 130),
                (240, 240, 235),
                (60, 60, 70),
            ],
            25,
        )
        draw.rectangle((x, base - fh * rng.uniform(0.4, 1.4), x + w, base), fill=color)
        x += w
    _ground(draw, rng, sw, sh, base, fh, [(160, 150, 140), (120, 115, 110), (200, 195, 185)], 0.7)


_SCENES = {"street": _street, "campus": _campus, "park": _park, "plaza": _plaza}


# --------------------------------------------------------------------------- frames


class FrameRender(NamedTuple):
    """A rendered frame, what share of the walker the occluder covers, and (when asked for)
    the masks behind that number."""

    image: Image.Image
    occluded_fraction: float  # share of the walker's visible pixels under the occluder
    person_mask: np.ndarray | None = None  # (H, W) bool: walker pixels inside the frame
    occluder_mask: np.ndarray | None = None  # (H, W) bool: occluder pixels (None: none drawn)


class TrackletRenderer:
    """Draws the frames of one :class:`RenderSpec` at one frame size.

    Args:
        spec: the tracklet.
        size: frame ``(height, width)`` in pixels.

    Shape:
        every frame is an RGB ``PIL.Image`` of ``size``.
    """

    def __init__(self, spec: RenderSpec, size: tuple[int, int]) -> None:
        self.spec, self.size = spec, size
        h, w = size
        n = spec.num_frames
        rng = np.random.default_rng(spec.seed)
        jitter = rng.normal(0.0, spec.jitter, (n, 3))  # box x, y, scale; one draw per frame
        grow = np.linspace(0.0, spec.scale_drift, n) if n > 1 else np.zeros(1)
        self.body_px = h * spec.person_scale * (1 + grow) * (1 + 0.5 * jitter[:, 2])
        self.cx = w / 2 + (spec.shift[0] + jitter[:, 0]) * w
        self.ground = h / 2 + self.body_px / 2 + (spec.shift[1] + jitter[:, 1]) * h
        self.phase = spec.phase + 2 * math.pi * spec.gait.cadence * np.arange(n) / FPS
        # The box follows the walker: the background slides the other way, slower (parallax).
        self.scene = camera_scene(spec.camera, h, w)
        step = spec.gait.speed() * h * spec.person_scale * spec.camera.parallax
        step *= math.cos(spec.view)
        free = self.scene.width - w - 1
        travel = min(abs(step) * (n - 1), free)
        step = math.copysign(travel / max(n - 1, 1), step)
        x0 = spec.bg_start * (free - travel) + (travel if step < 0 else 0)
        bx = x0 + step * np.arange(n) - (spec.shift[0] + jitter[:, 0]) * w
        by = round(_SCENE_MARGIN * h) - (spec.shift[1] + jitter[:, 1]) * h
        box_x = np.clip(np.rint(bx), 0, free).astype(int)
        box_y = np.clip(np.rint(by), 0, self.scene.height - h).astype(int)
        sigma = spec.camera.noise * 16  # in 1/16 grey levels, the blur's fixed point
        noise = rng.standard_normal((h + _NOISE_PAD, w + _NOISE_PAD, 3), dtype=np.float32)
        self.noise = (noise * sigma).astype(np.int16)
        self.noise_at = rng.integers(0, _NOISE_PAD, (n, 2))
        # Light only the stretch of scene this tracklet sees, once.
        self.lut = _illumination_lut(spec.camera, spec.gain)
        region = (box_x.min(), box_y.min(), box_x.max() + w, box_y.max() + h)
        self.background = self.scene.crop(region).point(self.lut)
        self.box_x, self.box_y = box_x - region[0], box_y - region[1]
        self._lit: dict[RGB, RGB] = {}
        app = spec.appearance
        self.texture = top_texture(app, float(self.body_px.max())) if app is not None else None
        self.lit_texture = self.texture.point(self.lut) if self.texture is not None else None

    def person_shapes(self, t: int) -> list[Shape]:
        spec = self.spec
        if spec.appearance is None:
            return []
        return walker_shapes(
            spec.appearance,
            spec.gait,
            float(self.phase[t]),
            spec.view,
            float(self.cx[t]),
            float(self.ground[t]),
            float(self.body_px[t]),
            self.texture,
        )

    def occluder_shapes(self, t: int) -> list[Shape]:
        occ = self.spec.occluder
        if occ is None:
            return []
        return occluder_shapes(occ, t, self.size[1], float(self.ground[t]), float(self.body_px[t]))

    def render(self, t: int, *, occluder: bool = True, masks: bool = False) -> FrameRender:
        """Frame ``t``.

        Args:
            t: frame index.
            occluder: draw the occluder (``False`` gives the same frame without it).
            masks: also return the walker and occluder masks.
        """
        h, w = self.size
        x, y = int(self.box_x[t]), int(self.box_y[t])
        image = self.background.crop((x, y, x + w, y + h))
        person = self.person_shapes(t)
        occ = self.occluder_shapes(t) if occluder else []
        paint(image, self._light(person + occ))
        if self.spec.camera.low_res:
            image = image.reduce(2).resize((w, h), Image.NEAREST)
        image = self._finish(image, t)
        person_mask = occ_mask = None
        fraction = 0.0
        if masks or (occ and person):
            person_mask = paint_mask(self.size, person)
            occ_mask = paint_mask(self.size, occ) if occ else None
            area = int(person_mask.sum())
            if occ_mask is not None and area:
                fraction = int((person_mask & occ_mask).sum()) / area
        if not masks:
            return FrameRender(image, fraction)
        return FrameRender(image, fraction, person_mask, occ_mask)

    def _finish(self, image: Image.Image, t: int) -> Image.Image:
        """Blur and sensor noise, in 1/16 grey-level fixed point."""
        h, w = self.size
        a = np.asarray(image, dtype=np.uint16)
        passes = self.spec.camera.blur
        for p in range(passes):
            a = _blur121(a)  # x16
            if p + 1 < passes:
                a >>= 4
        if passes == 0:
            a <<= 4
        dy, dx = self.noise_at[t]
        out = a.view(np.int16) + self.noise[dy : dy + h, dx : dx + w]
        np.clip(out, 0, 4095, out=out)
        return Image.fromarray((out >> 4).astype(np.uint8))

    def _light(self, shapes: list[Shape]) -> list[Shape]:
        """The shapes with illuminated colours (each colour looked up once per tracklet)."""
        lit = []
        for shape in shapes:
            fill = shape.fill
            if isinstance(fill, Image.Image):
                fill = self.lit_texture if fill is self.texture else fill.point(self.lut)
            else:
                fill = self._lit.get(fill) or self._lit.setdefault(fill, self._color(fill))
            lit.append(shape._replace(fill=fill))
        return lit

    def _color(self, rgb: RGB) -> RGB:
        return (self.lut[rgb[0]], self.lut[256 + rgb[1]], self.lut[512 + rgb[2]])


def _blur121(a: np.ndarray) -> np.ndarray:
    """Separable 1-2-1 blur of a uint16 ``(H, W, 3)`` image, times 16 (edges replicated)."""
    v = a * 2
    v[1:] += a[:-1]
    v[:-1] += a[1:]
    v[0] += a[0]
    v[-1] += a[-1]
    out = v * 2
    out[:, 1:] += v[:, :-1]
    out[:, :-1] += v[:, 1:]
    out[:, 0] += v[:, 0]
    out[:, -1] += v[:, -1]
    return out


def _illumination_lut(camera: CameraLook, gain: float) -> list[int]:
    """``Image.point`` table: ``255 * (gain * cast * x / 255) ** gamma`` per channel, clipped."""
    x = np.arange(256) / 255.0
    table: list[int] = []
    for cast in camera.cast:
        y = np.clip(camera.gain * gain * cast * x, 0, 1) ** camera.gamma
        table.extend(np.rint(255 * y).astype(int).tolist())
    return table
