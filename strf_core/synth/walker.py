"""The walker: an articulated person posed by a gait model, as shapes to paint.

A walker is posed in body units (height 1; ``f`` forward, ``l`` to its left, ``u`` up, origin on
the ground under the pelvis) and projected orthographically into the frame:
``x = cx + H (f cos v - l sin v)``, ``y = ground - H u``, depth ``f sin v + l cos v`` (larger is
farther), where ``v`` is the walking direction: 0 walks right (profile), pi walks left, -pi/2
walks towards the camera (front view), +pi/2 away from it (back view).

Gait. Phase ``p = 2 pi cadence t / FPS + p0``. The hips swing ``+-stride sin p``, the arms the
other way ``-+arm_swing sin p``, the swing-phase knee flexes up to ``knee_flex``, the pelvis
bounces ``bounce (1 + cos 2p) / 2`` (highest when the legs pass each other) and the torso leans
forward by ``lean``. The look-alike identities of :mod:`strf_core.synth.plan` differ in these
parameters only: cadence shows only across frames, the others as how poses change over a cycle.

:func:`walker_shapes` draws the body part by part, in this order (the order breaks depth ties)::

    legs (thighs, shins, knees, shorts, shoes) -> pelvis, torso, skirt -> neck, hair, head, cap
     -> arms -> carried item; then all sorted far to near
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from PIL import Image

from strf_core.synth.shapes import Shape, apparent_half_width, disc, limb
from strf_core.synth.specs import (
    ANKLE,
    FOREARM,
    HEAD,
    NECK,
    SHIN,
    THIGH,
    TORSO,
    UPPER_ARM,
    Appearance,
    Gait,
)

Point3 = tuple[float, float, float]  # (forward, left, up) in body heights


@dataclass(frozen=True)
class Projection:
    """Where body coordinates land in the frame for one walker in one frame.

    Attributes:
        cos_view, sin_view: of the walking direction ``v`` (module docstring).
        cx, ground: pixel x of the body axis and pixel y of the ground under it.
        body_px: body height in pixels.
    """

    cos_view: float
    sin_view: float
    cx: float
    ground: float
    body_px: float

    def point(self, forward: float, left: float, up: float) -> tuple[float, float]:
        """Pixel ``(x, y)`` of a body point."""
        return (
            self.cx + self.body_px * (forward * self.cos_view - left * self.sin_view),
            self.ground - self.body_px * up,
        )

    def depth(self, forward: float, left: float) -> float:
        """Distance from the camera along the view (larger is farther), in body heights."""
        return forward * self.sin_view + left * self.cos_view

    def half_width(self, lateral: float, depth: float) -> float:
        """Screen half-width in pixels of a body cross-section of half-axes (lateral, depth)."""
        return apparent_half_width(lateral, depth, self.sin_view, self.cos_view) * self.body_px


@dataclass(frozen=True)
class Skeleton:
    """The joints the parts drawn after the legs hang from, in body heights.

    Attributes:
        hip_u: pelvis height (longer leg plus bounce).
        neck_f, neck_u: the neck's base, forward of the hips by the lean.
        shoulder_u: shoulder height.
    """

    hip_u: float
    neck_f: float
    neck_u: float
    shoulder_u: float


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
    proj = Projection(math.cos(view), math.sin(view), cx, ground, body_px)
    girth = appearance.build / appearance.height  # widths scale with build over height
    leg_shapes, hip_u = _legs(appearance, gait, phase, proj, girth)
    neck_f = math.sin(gait.lean) * TORSO
    neck_u = hip_u + math.cos(gait.lean) * TORSO
    skeleton = Skeleton(hip_u, neck_f, neck_u, shoulder_u=neck_u - 0.025)
    shapes = [
        *leg_shapes,
        *_torso(appearance, skeleton, proj, girth, texture),
        *_head(appearance, skeleton, proj, girth),
    ]
    arm_shapes, wrists = _arms(appearance, gait, math.sin(phase), skeleton, proj, girth)
    shapes += arm_shapes
    shapes += _carried_item(appearance, skeleton, proj, girth, wrists)
    shapes.sort(key=lambda shape: -shape.depth)
    return shapes


def _legs(
    look: Appearance, gait: Gait, phase: float, proj: Projection, girth: float
) -> tuple[list[Shape], float]:
    """Legs and shoes, and the pelvis height: the swing leg flexes its knee; the pelvis rides
    on the longer leg plus the bounce."""
    swing = math.sin(phase)
    hip_angles = (gait.stride * swing, -gait.stride * swing)  # left, right
    knee_bends = tuple(
        gait.knee_flex * max(0.0, math.cos(phase + k * math.pi + 0.3)) ** 2 + 0.06 for k in (0, 1)
    )
    reach = max(
        THIGH * math.cos(hip) + SHIN * math.cos(hip - bend)
        for hip, bend in zip(hip_angles, knee_bends, strict=True)
    )
    hip_u = ANKLE + reach + gait.bounce * (1 + math.cos(2 * phase)) / 2
    bare_legs = look.bottom_style != "trousers"
    leg_color = look.legwear if bare_legs else look.bottom
    body_px = proj.body_px
    shapes: list[Shape] = []
    for side, hip_angle, bend in zip((1, -1), hip_angles, knee_bends, strict=True):
        lat = side * 0.047 * girth
        hip = (0.0, lat, hip_u)
        knee = (THIGH * math.sin(hip_angle), lat, hip_u - THIGH * math.cos(hip_angle))
        shin = hip_angle - bend
        ankle = (knee[0] + SHIN * math.sin(shin), lat, knee[2] - SHIN * math.cos(shin))
        heel = (ankle[0] - 0.03 * math.cos(shin), lat, ankle[2] - 0.03 * math.sin(shin) - 0.02)
        toe = (ankle[0] + 0.1 * math.cos(shin), lat, ankle[2] + 0.1 * math.sin(shin) - 0.02)
        p_hip, p_knee, p_ankle = proj.point(*hip), proj.point(*knee), proj.point(*ankle)
        depth = proj.depth(0.0, lat)
        thigh_w, knee_w = 0.085 * girth * body_px, 0.062 * girth * body_px
        ankle_w = 0.045 * girth * body_px
        upper = look.bottom if look.bottom_style != "skirt" else leg_color
        shapes.append(Shape(depth, "polygon", limb(p_hip, p_knee, thigh_w, knee_w), upper))
        shapes.append(Shape(depth, "polygon", limb(p_knee, p_ankle, knee_w, ankle_w), leg_color))
        shapes.append(Shape(depth, "ellipse", disc(p_knee, knee_w / 2), leg_color))
        if look.bottom_style == "shorts":
            mid = tuple(h + 0.65 * (k - h) for h, k in zip(p_hip, p_knee, strict=True))
            shapes.append(
                Shape(depth, "polygon", limb(p_hip, mid, thigh_w * 1.1, thigh_w), look.bottom)
            )
        elif look.bottom_style == "trousers" and bend > 0.35:
            shapes.append(Shape(depth, "ellipse", disc(p_knee, knee_w / 2), look.bottom))
        foot = limb(proj.point(*heel), proj.point(*toe), ankle_w, ankle_w)
        shapes.append(Shape(depth, "polygon", foot, look.shoes))
    return shapes, hip_u


def _torso(
    look: Appearance,
    skeleton: Skeleton,
    proj: Projection,
    girth: float,
    texture: Image.Image | None,
) -> list[Shape]:
    """Pelvis, torso (from the hips up, leaning forward) and skirt."""
    hip_u, neck_f = skeleton.hip_u, skeleton.neck_f
    waist_u = hip_u + 0.04
    shoulder_w = proj.half_width(0.115 * girth, 0.062 * girth)
    waist_w = proj.half_width(0.092 * girth, 0.056 * girth)
    hips_w = proj.half_width(0.098 * girth, 0.06 * girth)
    p_sh = proj.point(neck_f * 0.92, 0.0, skeleton.shoulder_u)
    p_waist = proj.point(0.012, 0.0, waist_u)
    p_hips = proj.point(0.0, 0.0, hip_u - 0.03)
    torso = (
        (p_sh[0] - shoulder_w, p_sh[1]),
        (p_sh[0] + shoulder_w, p_sh[1]),
        (p_waist[0] + waist_w, p_waist[1]),
        (p_waist[0] - waist_w, p_waist[1]),
    )
    pelvis = (
        (p_waist[0] - waist_w, p_waist[1]),
        (p_waist[0] + waist_w, p_waist[1]),
        (p_hips[0] + hips_w, p_hips[1]),
        (p_hips[0] - hips_w, p_hips[1]),
    )
    shapes = [Shape(0.0, "polygon", pelvis, look.bottom)]
    # A logo is on the chest: not drawn when the camera sees the back.
    show_texture = texture is not None and not (look.top_pattern == "logo" and proj.sin_view > 0.5)
    shapes.append(Shape(0.0, "polygon", torso, texture if show_texture else look.top))
    if look.bottom_style == "skirt":
        p_hem = proj.point(0.02, 0.0, hip_u - 0.19)
        hem = proj.half_width(0.15 * girth, 0.13 * girth)
        skirt = (
            (p_waist[0] - waist_w, p_waist[1]),
            (p_waist[0] + waist_w, p_waist[1]),
            (p_hem[0] + hem, p_hem[1]),
            (p_hem[0] - hem, p_hem[1]),
        )
        shapes.append(Shape(-0.06, "polygon", skirt, look.bottom))
    return shapes


def _head(look: Appearance, skeleton: Skeleton, proj: Projection, girth: float) -> list[Shape]:
    """Neck and head; hair and cap depend on which side of the head the camera sees."""
    neck_f, neck_u = skeleton.neck_f, skeleton.neck_u
    head_c = (neck_f + 0.01, 0.0, neck_u + NECK + HEAD)
    p_head = proj.point(*head_c)
    head_w = proj.half_width(0.05, 0.058)
    head_h = HEAD * proj.body_px
    p_sh = proj.point(neck_f * 0.92, 0.0, skeleton.shoulder_u)
    p_neck = proj.point(neck_f, 0.0, neck_u + NECK)
    neck_w = 0.045 * girth * proj.body_px
    shapes = [Shape(-0.001, "polygon", limb(p_sh, p_neck, neck_w, neck_w), look.skin)]
    box = (p_head[0] - head_w, p_head[1] - head_h, p_head[0] + head_w, p_head[1] + head_h)
    facing = -proj.sin_view  # 1: face to the camera, -1: back of the head
    back_of_head = look.hair if facing < -0.5 and look.hair_style != "bald" else look.skin
    if look.hair_style == "long":
        top = proj.point(head_c[0] - 0.04, 0.0, head_c[2])
        bottom = proj.point(-0.03, 0.0, neck_u - 0.09)
        hair_w = proj.half_width(0.055, 0.03)
        hair = limb(top, bottom, 2 * hair_w, 2 * hair_w)
        shapes.append(Shape(proj.depth(-0.05, 0.0), "polygon", hair, look.hair))
    shapes.append(Shape(-0.002, "ellipse", box, back_of_head))
    if look.hair_style in ("short", "long", "cap") and facing >= -0.5:
        color = look.hat if look.hair_style == "cap" else look.hair
        shapes.append(Shape(-0.003, "chord", box, color, 0))
        if abs(proj.cos_view) > 0.4 and look.hair_style != "cap":  # back of the head in profile
            arc = (100.0, 270.0) if proj.cos_view > 0 else (270.0, 440.0)
            shapes.append(Shape(-0.003, "pieslice", (box, arc), look.hair))
    if look.hair_style == "cap":
        brim_u = head_c[2] + 0.02
        brim = (
            proj.point(0.0, -0.05, brim_u),
            proj.point(0.0, 0.05, brim_u),
            proj.point(0.1, 0.05, brim_u),
            proj.point(0.1, -0.05, brim_u),
        )
        shapes.append(Shape(proj.depth(0.05, 0.0) - 0.004, "polygon", brim, look.hat))
        if facing < -0.5:
            shapes.append(Shape(-0.003, "chord", box, look.hat, 0))
    return shapes


def _arms(
    look: Appearance,
    gait: Gait,
    swing: float,
    skeleton: Skeleton,
    proj: Projection,
    girth: float,
) -> tuple[list[Shape], dict[int, Point3]]:
    """Arms swing against the legs (``swing = sin(phase)``); elbows bend more on the forward
    swing. Also returns each side's wrist (``+1`` left, ``-1`` right), where a handbag hangs."""
    arm_w, fore_w = 0.052 * girth * proj.body_px, 0.042 * girth * proj.body_px
    sleeve = look.top if look.sleeves == "long" else look.skin
    arm_lat = 0.115 * girth + 0.02
    shapes: list[Shape] = []
    wrists: dict[int, Point3] = {}
    for side, arm_angle in ((1, -gait.arm_swing * swing), (-1, gait.arm_swing * swing)):
        lat = side * arm_lat
        elbow_flex = 0.15 + 0.6 * max(0.0, arm_angle)
        shoulder = (skeleton.neck_f * 0.9, lat, skeleton.shoulder_u)
        elbow = (
            shoulder[0] + UPPER_ARM * math.sin(arm_angle),
            lat,
            shoulder[2] - UPPER_ARM * math.cos(arm_angle),
        )
        forearm_angle = arm_angle + elbow_flex
        wrist = (
            elbow[0] + FOREARM * math.sin(forearm_angle),
            lat,
            elbow[2] - FOREARM * math.cos(forearm_angle),
        )
        wrists[side] = wrist
        p_s, p_e, p_w = proj.point(*shoulder), proj.point(*elbow), proj.point(*wrist)
        depth = proj.depth((shoulder[0] + wrist[0]) / 2, lat)
        shapes.append(Shape(depth, "ellipse", disc(p_s, arm_w / 2), look.top))
        shapes.append(Shape(depth, "polygon", limb(p_s, p_e, arm_w, fore_w), look.top))
        shapes.append(Shape(depth, "ellipse", disc(p_e, fore_w / 2), sleeve))
        shapes.append(Shape(depth, "polygon", limb(p_e, p_w, fore_w, fore_w * 0.9), sleeve))
        shapes.append(Shape(depth, "ellipse", disc(p_w, fore_w * 0.62), look.skin))
    return shapes, wrists


def _carried_item(
    look: Appearance,
    skeleton: Skeleton,
    proj: Projection,
    girth: float,
    wrists: dict[int, Point3],
) -> list[Shape]:
    """A backpack, a shoulder bag or a handbag (in the hand on ``carry_side``), if any."""
    side = look.carry_side
    hip_u, shoulder_u = skeleton.hip_u, skeleton.shoulder_u
    if look.carry == "backpack":
        f = -(0.062 * girth + 0.045)
        half = proj.half_width(0.085 * girth, 0.045)
        top, bottom = proj.point(f, 0.0, shoulder_u - 0.02), proj.point(f, 0.0, shoulder_u - 0.24)
        shape = ((top[0] - half, top[1]), (top[0] + half, top[1]))
        shape += ((bottom[0] + half, bottom[1]), (bottom[0] - half, bottom[1]))
        strap_w = max(1, round(0.014 * proj.body_px))
        straps = [
            Shape(
                proj.depth(0.064 * girth, 0.0),
                "line",
                (
                    proj.point(0.064 * girth, k * 0.06 * girth, shoulder_u),
                    proj.point(0.064 * girth, k * 0.07 * girth, hip_u + 0.1),
                ),
                look.carry_color,
                strap_w,
            )
            for k in (1, -1)
        ]
        return [Shape(proj.depth(f, 0.0), "polygon", shape, look.carry_color), *straps]
    if look.carry == "shoulder_bag":
        lat = side * (0.1 * girth + 0.035)
        half = proj.half_width(0.03, 0.08)
        top, bottom = proj.point(0.0, lat, hip_u + 0.05), proj.point(0.0, lat, hip_u - 0.09)
        shape = ((top[0] - half, top[1]), (top[0] + half, top[1]))
        shape += ((bottom[0] + half, bottom[1]), (bottom[0] - half, bottom[1]))
        strap_w = max(1, round(0.012 * proj.body_px))
        straps = [
            Shape(
                proj.depth(f, 0.0),
                "line",
                (
                    proj.point(f, -side * 0.09 * girth, shoulder_u),
                    proj.point(f, side * 0.1 * girth, hip_u + 0.05),
                ),
                look.carry_color,
                strap_w,
            )
            for f in (0.064 * girth, -0.064 * girth)
        ]
        return [Shape(proj.depth(0.0, lat) - 0.01, "polygon", shape, look.carry_color), *straps]
    if look.carry == "handbag":
        wf, wl, wu = wrists[side]
        half = proj.half_width(0.016, 0.05)
        top, bottom = proj.point(wf, wl, wu - 0.01), proj.point(wf, wl, wu - 0.1)
        shape = ((top[0] - half, top[1]), (top[0] + half, top[1]))
        shape += ((bottom[0] + half, bottom[1]), (bottom[0] - half, bottom[1]))
        return [Shape(proj.depth(wf, wl) - 0.02, "polygon", shape, look.carry_color)]
    return []
