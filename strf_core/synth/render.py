"""Drawing the frames of one tracklet: camera scene, walker, occluder, optics and sensor.

A frame is drawn in this order (one tracklet = one :class:`~strf_core.synth.specs.RenderSpec`)::

    camera scene (scene.py, cached per camera and frame size), cropped where the bounding box is
     -> the walker (walker.py): limbs, torso, head, hair, carried items, sorted far to near
     -> the occluder (occluders.py), if one crosses the box in this frame
     -> low resolution (far cameras) -> 1-2-1 blur passes and sensor noise -> uint8 RGB

Illumination (gain, colour cast, gamma) is a per-channel table applied to the colours before
drawing: once per tracklet to its stretch of background and to each colour and texture it uses.

Everything here is a pure function of its arguments: a frame depends on its spec and index only.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import NamedTuple

import numpy as np
from PIL import Image

from strf_core.synth.occluders import occluder_shapes
from strf_core.synth.scene import SCENE_MARGIN, camera_scene
from strf_core.synth.shapes import Shape, paint, paint_mask
from strf_core.synth.specs import FPS, RGB, CameraLook, RenderSpec
from strf_core.synth.walker import top_texture, walker_shapes

_NOISE_PAD = 8


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
        by = round(SCENE_MARGIN * h) - (spec.shift[1] + jitter[:, 1]) * h
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


def render_tracklet(spec: RenderSpec, size: tuple[int, int]) -> Iterator[tuple[Image.Image, float]]:
    """Frames of one tracklet with their occluded fraction: ``(PIL.Image, fraction)``."""
    renderer = TrackletRenderer(spec, size)
    for t in range(spec.num_frames):
        frame = renderer.render(t)
        yield frame.image, frame.occluded_fraction
