"""The occluders' shapes: a pole, a bicycle, a car or a passer-by crossing the box."""

from __future__ import annotations

import math

from strf_core.synth.shapes import Shape, box, disc
from strf_core.synth.specs import FPS, Occluder
from strf_core.synth.walker import walker_shapes


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
        sign = disc((x, g - 0.75 * s), 0.09 * s)
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
            Shape(0, "ring", disc(rear, r), occ.accent, tire),
            Shape(0, "ring", disc(front, r), occ.accent, tire),
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
            Shape(0, "ellipse", disc((x - 0.8 * s, g - wheel), wheel), (20, 20, 22)),
            Shape(0, "ellipse", disc((x + 0.8 * s, g - wheel), wheel), (20, 20, 22)),
            Shape(
                0,
                "polygon",
                box(x + half - 0.08 * s, body_top + 0.06 * s, 0.06 * s, 0.04 * s),
                occ.accent,
            ),
        ]
    # pedestrian: another walker, nearer the camera
    assert occ.appearance is not None and occ.gait is not None
    phase = 2 * math.pi * occ.gait.cadence * t / FPS
    return walker_shapes(occ.appearance, occ.gait, phase, occ.view, x, g, s)
