"""Shapes and their painting: the walker, the occluders and anything else drawn into a frame
is a list of :class:`Shape` painted in order with PIL; :func:`paint_mask` gives the pixels a
list covers."""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from PIL import Image, ImageDraw

from strf_core.synth.specs import RGB


class Shape(NamedTuple):
    """One filled primitive: ``kind`` is polygon, ellipse, chord, pieslice, line or ring;
    ``fill`` is a colour, or a texture image for a textured polygon."""

    depth: float
    kind: str
    geom: tuple
    fill: RGB | Image.Image
    width: int = 0


def apparent_half_width(lateral: float, depth: float, sv: float, cv: float) -> float:
    """Screen half-width of an elliptic cross-section (half-axes lateral, depth) seen at ``v``."""
    return math.hypot(lateral * sv, depth * cv)


def limb(p0, p1, w0: float, w1: float) -> tuple:
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


def disc(p, r: float) -> tuple:
    """Bounding box of a disc of radius ``r`` around ``p``."""
    return (p[0] - r, p[1] - r, p[0] + r, p[1] + r)


def box(x0: float, y0: float, w: float, h: float) -> tuple:
    """Corners of an axis-aligned rectangle, clockwise from the top-left."""
    return ((x0, y0), (x0 + w, y0), (x0 + w, y0 + h), (x0, y0 + h))


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
