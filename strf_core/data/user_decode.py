"""Decoding a user's files into RGB frames: images, animated GIFs and videos, all untrusted.

::

    decode_image(name, bytes, limits)  -> DecodedImage(frame (H, W, 3) uint8, changes, animated)
    decode_gif(name, bytes, limits)    -> DecodedFrames(frames, sources, step, warnings)
    decode_video(name, bytes, limits)  -> DecodedFrames(...)          (PyAV, imported lazily)

Every frame comes out as 8-bit RGB, converted the way its format means it:

- EXIF orientation is applied (a phone's portrait photo stands upright);
- 16-bit frames (``I;16`` PNGs, 16-bit grayscale TIFFs) are scaled to 8 bits (value / 257),
  never clipped, which would turn them white; 32-bit float images are refused (their range is
  unknown);
- grayscale, bilevel, palette, CMYK, YCbCr and LAB frames are converted by PIL;
- transparent pixels (alpha, a palette's transparent index) are composited over mid-gray
  (:data:`ALPHA_BACKGROUND`), the value that says least about a person, with a warning.

Frames smaller than :attr:`InputLimits.min_side` on a side are refused: the backbones reduce
a frame 16-fold (output stride 16, AP3D's last stride 1), so a side under 16 pixels is less
than one cell of the last feature map, where STRF's spatial branches work; enlarged to the
model's input, such a frame holds no person left to see (1x1, 1x4000, a 4x3 icon).
"""

from __future__ import annotations

import io
import math
import os
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
from PIL import Image, ImageOps, ImageSequence, UnidentifiedImageError

ALPHA_BACKGROUND = 128  # mid-gray under transparent pixels
SIXTEEN_BIT_MODES = frozenset({"I;16", "I;16L", "I;16B", "I;16N", "I"})
EXIF_ORIENTATION = 0x0112  # the EXIF tag a camera writes how it was held into


class TrackletInputError(ValueError):
    """A user's input cannot be read as a tracklet.

    Attributes:
        path: the offending file (``archive.zip:member`` for a zip member).
        reason: what is wrong with it.
    """

    def __init__(self, path: str | os.PathLike[str], reason: str) -> None:
        self.path, self.reason = os.fspath(path), reason
        super().__init__(f"{self.path}: {reason}")


@dataclass(frozen=True)
class InputLimits:
    """What a user's input may be.

    Attributes:
        max_frames: frames of a tracklet (image collections above it are refused; videos are
            thinned to it).
        max_pixels: pixels of one frame as stored (width x height).
        min_side: the shortest side a frame may have, in pixels (see the module doc).
        max_side: frames with a longer side are scaled down to it on reading (memory bound).
        max_file_bytes: size of one image or video file.
        max_archive_bytes: size of a zip file.
        max_unpacked_bytes: total unpacked size of a zip's members.
        max_compression_ratio: unpacked over packed size of one zip member (images barely
            compress, so a large ratio means a zip bomb).
        max_members: entries of a zip.
        max_video_seconds: duration of a video or animated GIF.
        max_video_frames: frames decoded from a video before thinning.
    """

    max_frames: int = 256
    max_pixels: int = 4096 * 4096
    min_side: int = 16
    max_side: int = 1024
    max_file_bytes: int = 50 * 2**20
    max_archive_bytes: int = 200 * 2**20
    max_unpacked_bytes: int = 500 * 2**20
    max_compression_ratio: float = 100.0
    max_members: int = 2000
    max_video_seconds: float = 30.0
    max_video_frames: int = 3000


DEFAULT_LIMITS = InputLimits()


@dataclass(frozen=True)
class DecodedImage:
    """One image file as a frame.

    Attributes:
        frame: ``(H, W, 3)`` uint8, upright, at most ``max_side`` on its longer side.
        changes: what the conversion did, in words (``"16-bit scaled to 8 bits"``, ...).
        animated: the file held more frames (only the first is kept).
    """

    frame: np.ndarray
    changes: tuple[str, ...] = ()
    animated: bool = False


@dataclass(frozen=True)
class DecodedFrames:
    """The frames of a GIF or a video.

    Attributes:
        frames: ``(H, W, 3)`` uint8 each.
        sources: ``name#index`` of each kept frame.
        step: every ``step``-th frame was kept.
        warnings: what was changed or may be missing.
    """

    frames: list[np.ndarray]
    sources: list[str]
    step: int = 1
    warnings: list[str] = field(default_factory=list)


# --------------------------------------------------------------------------- checks


def too_big(size: int, limit: int) -> str:
    return f"{size / 2**20:.1f} MiB, more than the limit of {limit / 2**20:.1f} MiB"


def check_bytes(name: str, data: bytes, limit: int) -> None:
    """Refuse an empty file or one over ``limit`` bytes."""
    if not data:
        raise TrackletInputError(name, "empty file (0 bytes)")
    if len(data) > limit:
        raise TrackletInputError(name, too_big(len(data), limit))


def check_frame_size(name: str, height: int, width: int, limits: InputLimits) -> None:
    """Refuse frames with too many pixels (before decoding any) or a side under the minimum."""
    if height * width > limits.max_pixels:
        raise TrackletInputError(
            name,
            f"{height}x{width} pixels (height x width), more than the limit of {limits.max_pixels}",
        )
    if min(height, width) < limits.min_side:
        raise TrackletInputError(
            name,
            f"{height}x{width} pixels (height x width): too small to show a person; frames "
            f"need at least {limits.min_side} pixels on each side",
        )


def limit_side(frame: np.ndarray, max_side: int) -> np.ndarray:
    """Scale a frame down to ``max_side`` on its longer side, so that many large frames fit in
    memory; the model resizes every frame to its input size anyway."""
    h, w = frame.shape[:2]
    if max(h, w) <= max_side:
        return frame
    scale = max_side / max(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return np.asarray(Image.fromarray(frame).resize(size, Image.BICUBIC))


# --------------------------------------------------------------------------- images


def to_rgb(image: Image.Image) -> tuple[np.ndarray, tuple[str, ...]]:
    """Any PIL image as ``(H, W, 3)`` uint8 RGB, and what the conversion did in words.

    Raises:
        ValueError: a mode whose values have no known range (32-bit float).
    """
    changes: list[str] = []
    if image.mode == "F":
        raise ValueError("a 32-bit floating-point image: save it with 8 or 16 bits per channel")
    if image.mode in SIXTEEN_BIT_MODES:
        values = np.asarray(image).astype(np.int64)
        if values.min() < 0 or values.max() > 65535:
            raise ValueError(
                f"a 32-bit integer image with values {values.min()}..{values.max()}, outside "
                "16 bits: save it with 8 or 16 bits per channel"
            )
        gray = ((values + 128) // 257).astype(np.uint8)  # 65535 -> 255, rounded
        changes.append("16-bit scaled to 8 bits")
        return np.repeat(gray[..., None], 3, axis=2), tuple(changes)
    if "A" in image.mode or "a" in image.mode or "transparency" in image.info:
        rgba = np.asarray(image.convert("RGBA")).astype(np.float32)
        alpha = rgba[..., 3:] / 255.0
        if float(alpha.min()) < 1.0:
            changes.append("transparent pixels composited over mid-gray")
        rgb = rgba[..., :3] * alpha + ALPHA_BACKGROUND * (1.0 - alpha)
        return np.clip(np.rint(rgb), 0, 255).astype(np.uint8), tuple(changes)
    return np.asarray(image.convert("RGB")), tuple(changes)


def decode_image(name: str, data: bytes, limits: InputLimits) -> DecodedImage:
    """One image file (first frame of an animated one) as an upright RGB frame.

    Raises:
        TrackletInputError: not an image, truncated, too large or too small, an unknown range.
    """
    try:
        with Image.open(io.BytesIO(data)) as image:
            width, height = image.size
            check_frame_size(name, height, width, limits)
            animated = getattr(image, "n_frames", 1) > 1
            image.load()  # a truncated file fails here, not later
            orientation = image.getexif().get(EXIF_ORIENTATION)
            upright = ImageOps.exif_transpose(image)
            turned = orientation not in (None, 1)
            changes = (f"rotated upright (EXIF orientation {orientation})",) if turned else ()
            frame, converted = to_rgb(upright)
            return DecodedImage(limit_side(frame, limits.max_side), changes + converted, animated)
    except TrackletInputError:
        raise
    except UnidentifiedImageError:
        raise TrackletInputError(name, "not an image (no image format recognised)") from None
    except Image.DecompressionBombError:
        raise TrackletInputError(
            name,
            f"more than {2 * Image.MAX_IMAGE_PIXELS} pixels, far above the limit of "
            f"{limits.max_pixels}: a decompression bomb?",
        ) from None
    except Exception as err:  # PIL's decoders raise OSError, SyntaxError, ValueError, zlib.error
        raise TrackletInputError(name, f"unreadable or truncated image: {err}") from None


def summarise_changes(changed: Iterable[tuple[str, tuple[str, ...]]], total: int) -> list[str]:
    """One warning per kind of conversion: ``"2 of 16 frames: 16-bit scaled to 8 bits (a.png,
    b.png)"``, naming at most three frames."""
    by_change: dict[str, list[str]] = {}
    for name, changes in changed:
        for change in changes:
            by_change.setdefault(change, []).append(name)
    return [
        f"{len(names)} of {total} frames: {change} ({describe_names(names)})"
        for change, names in by_change.items()
    ]


def describe_names(names: list[str], shown: int = 3) -> str:
    """``"a.png, b.png, c.png and 13 more (16 files)"``: a few names and the count."""
    if len(names) <= shown:
        return ", ".join(names)
    return f"{', '.join(names[:shown])} and {len(names) - shown} more ({len(names)} files)"


# --------------------------------------------------------------------------- GIFs and videos


def over_long(seconds: float | None, limits: InputLimits) -> str:
    length = f"{seconds:.1f} s" if seconds is not None else f"over {limits.max_video_frames} frames"
    return f"over-long video ({length}); the limit is {limits.max_video_seconds:g} s: trim it"


def decode_gif(name: str, data: bytes, limits: InputLimits) -> DecodedFrames:
    """Every frame of a GIF (composited as shown), thinned to ``max_frames``.

    Raises:
        TrackletInputError: not a GIF, truncated, too long, too large or too small.
    """
    try:
        with Image.open(io.BytesIO(data)) as image:
            width, height = image.size
            check_frame_size(name, height, width, limits)
            count = getattr(image, "n_frames", 1)
            if count > limits.max_video_frames:
                raise TrackletInputError(
                    name, f"{count} frames, more than {limits.max_video_frames}"
                )
            step = max(1, math.ceil(count / limits.max_frames))
            frames, sources, changed, milliseconds = [], [], [], 0.0
            for index, frame in enumerate(ImageSequence.Iterator(image)):
                milliseconds += frame.info.get("duration", 0) or 0
                if milliseconds / 1000 > limits.max_video_seconds:
                    raise TrackletInputError(name, over_long(milliseconds / 1000, limits))
                if index % step == 0:
                    rgb, changes = to_rgb(frame)
                    frames.append(limit_side(rgb, limits.max_side))
                    sources.append(f"{name}#{index}")
                    changed.append((sources[-1], changes))
    except TrackletInputError:
        raise
    except UnidentifiedImageError:
        raise TrackletInputError(name, "not a GIF image") from None
    except Exception as err:  # PIL's decoders raise OSError, SyntaxError, ValueError, EOFError
        raise TrackletInputError(name, f"unreadable or truncated GIF: {err}") from None
    return DecodedFrames(frames, sources, step, summarise_changes(changed, len(frames)))


def decode_video(name: str, data: bytes, limits: InputLimits) -> DecodedFrames:
    """Every frame of a video's first video stream, thinned to ``max_frames``.

    FFmpeg's own messages (errno numbers, ``avcodec_send_packet()``) never reach the user: the
    error says in words what is wrong with the file.

    Raises:
        TrackletInputError: not a video, no video stream, truncated or damaged, too long,
            too large or too small.
    """
    import av  # imported here: only videos need FFmpeg

    try:
        container = av.open(io.BytesIO(data))
    except (av.FFmpegError, OSError, ValueError):
        raise TrackletInputError(name, _unopenable(data)) from None
    with container:
        if not container.streams:
            raise TrackletInputError(name, _unopenable(data))
        if not container.streams.video:
            kinds = sorted({s.type for s in container.streams})
            raise TrackletInputError(
                name, f"no video stream (the file holds {' and '.join(kinds)} only)"
            )
        stream = container.streams.video[0]
        if stream.codec_context is None:  # the stream's header is cut off or unknown
            raise TrackletInputError(
                name,
                "its video stream cannot be decoded: the file is cut off or damaged, or "
                "its codec is unknown",
            )
        width, height = stream.codec_context.width, stream.codec_context.height
        check_frame_size(name, height, width, limits)
        seconds = _video_seconds(container, stream)
        if seconds is not None and seconds > limits.max_video_seconds:
            raise TrackletInputError(name, over_long(seconds, limits))
        declared = stream.frames or 0
        estimate = declared or (
            round(seconds * float(stream.average_rate)) if seconds and stream.average_rate else 0
        )
        step = max(1, math.ceil(estimate / limits.max_frames)) if estimate else 1
        frames, sources, decoded = [], [], 0
        try:
            for index, frame in enumerate(container.decode(stream)):
                # The container's duration may be missing or wrong: check as frames arrive.
                if index >= limits.max_video_frames or (
                    frame.time is not None and frame.time > limits.max_video_seconds
                ):
                    raise TrackletInputError(name, over_long(frame.time, limits))
                if index % step == 0:
                    frames.append(limit_side(frame.to_ndarray(format="rgb24"), limits.max_side))
                    sources.append(f"{name}#{index}")
                decoded = index + 1
        except TrackletInputError:
            raise
        except Exception:  # av.FFmpegError mostly; PyAV raises others on damaged streams
            raise TrackletInputError(
                name,
                f"truncated or damaged: decoding failed after {decoded} frames"
                + (f" of {declared}" if declared else ""),
            ) from None
    return DecodedFrames(frames, sources, step, _missing_frames(name, decoded, declared))


def _unopenable(data: bytes) -> str:
    """Why FFmpeg finds no stream, in words: an MP4 (``ftyp`` box first) whose index never
    came is a cut-off file; anything else is damaged or not a video."""
    if data[4:8] == b"ftyp":
        return (
            "an MP4 without its index: the file is cut off (an unfinished download or "
            "recording?) or damaged"
        )
    return "not a video FFmpeg can read (a damaged file, or not a video at all)"


def _missing_frames(name: str, decoded: int, declared: int) -> list[str]:
    """A warning for a frame or two short of what the container declares (edit lists, a last
    frame dropped by an encoder); more missing means the file was cut off: an error."""
    missing = declared - decoded
    if missing <= 0:
        return []
    if missing > max(1, declared // 50):
        raise TrackletInputError(
            name,
            f"truncated: the video declares {declared} frames, only {decoded} could be decoded",
        )
    return [f"{name}: {decoded} of the {declared} frames the video declares could be decoded"]


def _video_seconds(container, stream) -> float | None:
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:
        return container.duration / 1_000_000  # av.time_base: microseconds
    return None
