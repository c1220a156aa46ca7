"""The cameras' backgrounds: a procedural street, campus, park or plaza per camera, a wide strip
the bounding box slides along."""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from PIL import Image, ImageDraw

from strf_core.synth.specs import RGB, CameraLook

# Where the bounding box sits in the camera scene: the scene is this many frame heights taller
# than the frame on each side, so vertical misalignment never runs out of background.
SCENE_MARGIN = 0.4
SCENE_WIDTHS = 14  # scene width in frame widths: room for the longest background scroll


@lru_cache(maxsize=16)
def camera_scene(camera: CameraLook, height: int, width: int) -> Image.Image:
    """The camera's background: a wide strip the bounding box slides along (cached).

    The frame at box offset (0, 0) is the region ``(0, margin, width, margin + height)`` with
    ``margin = round(0.4 * height)``; the strip is ``14 * width`` wide.
    """
    rng = np.random.default_rng(camera.scene_seed)
    margin = round(SCENE_MARGIN * height)
    sh, sw = height + 2 * margin, SCENE_WIDTHS * width
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
