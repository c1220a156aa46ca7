"""Tracklets from a user's files: a folder of images, a zip of images, image files, a video.

::

    read_tracklet(path | [paths])  or  read_uploads([(name, bytes), ...])
      folder / zip / image files -> one frame per image, in natural name order (frame2 < frame10)
      .mp4 .mov .avi .mkv .webm  -> PyAV;  .gif -> PIL (frames composited)
      -> UserTracklet(clip (3, T, H, W) uint8, sources, warnings, notes)

Everything arrives untrusted. Each bad input raises :class:`TrackletInputError` naming the file
(a zip member as ``archive.zip:member``) and the reason: an unreadable, truncated or non-image
file, too many frames, too many pixels, no frames at all, a zip member whose path leaves the
archive (``../x.jpg``, ``/etc/x``), a zip bomb (an unpacked size or compression ratio past the
limits, or a member larger than its header says), an over-long video. Nothing is extracted to
disk: members are read into memory with bounded reads.

Some inputs are accepted with a word in the result: frames of mixed sizes are resized to the
most common size (``warnings``); a single frame is allowed (``notes`` says what it means for
the temporal branches); a long video is thinned to every n-th frame, and very large frames are
scaled down on reading (``notes``). Hidden files and ``__MACOSX/`` folders (left by archivers)
are skipped.
"""

from __future__ import annotations

import io
import math
import os
import re
import zipfile
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import numpy as np
import torch
from PIL import Image, ImageSequence, UnidentifiedImageError
from torch import Tensor

from strf_core.data.datasets.base import natural_key
from strf_core.data.tracklet import Tracklet
from strf_core.data.transforms import ClipTransform

VIDEO_SUFFIXES = frozenset({".mp4", ".m4v", ".mov", ".avi", ".mkv", ".webm"})
GIF_SUFFIXES = frozenset({".gif"})
ZIP_SUFFIXES = frozenset({".zip"})

SINGLE_FRAME_NOTE = (
    "a single frame: nothing moves, so the temporal convolutions and the temporal STRF branches "
    "(t_dynamic, t_static) have no motion to use and the model ranks by appearance alone; the "
    "spatial branches work as usual"
)


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
class UserTracklet:
    """A tracklet read from a user's files.

    Attributes:
        clip: the frames in temporal order, all one size.
        sources: where each frame came from (file name, ``zip:member``, ``video#index``).
        source: what was read (the path, or the names).
        warnings: what was changed to make the input usable (resized frames, ...).
        notes: what the input means for the model (a single frame, a thinned video, ...).

    Shape:
        clip: ``(3, T, H, W)``, uint8.
    """

    clip: Tensor
    sources: tuple[str, ...]
    source: str
    warnings: tuple[str, ...] = field(default=())
    notes: tuple[str, ...] = field(default=())

    @property
    def num_frames(self) -> int:
        return self.clip.shape[1]

    @property
    def frame_size(self) -> tuple[int, int]:
        """``(H, W)`` of the frames."""
        return self.clip.shape[2], self.clip.shape[3]

    def resized(self, size: tuple[int, int]) -> Tensor:
        """The clip resized like the test loader's frames (bicubic), for a model or a gallery.

        Shape:
            ``(3, T, size[0], size[1])``, uint8.
        """
        return ClipTransform(size=size, flip_p=0.0, normalize=False)(self.clip.unbind(1))

    def save(self, folder: str | os.PathLike[str], *, pid: int = -1, camid: int = 0) -> Tracklet:
        """Write the frames as PNG files (``0001.png``, ...) and return them as a
        :class:`Tracklet` (for the dataset loaders' pipeline)."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        paths = []
        for t, frame in enumerate(self.clip.unbind(1), start=1):
            path = folder / f"{t:04d}.png"
            Image.fromarray(frame.permute(1, 2, 0).numpy()).save(path)
            paths.append(str(path))
        return Tracklet(tuple(paths), pid, camid)


def labels_from_names(sources: Sequence[str]) -> tuple[int, int] | None:
    """The ``(pid, camid)`` of frames named as MARS names them (``0159C3T0001F001.jpg``), when
    every frame agrees; ``None`` otherwise. ``camid`` is 0-based, as the loaders give it.

    Lets a tracklet taken out of a MARS-layout dataset (the examples in ``sample_data/``) be
    ranked with its true matches marked.
    """
    from strf_core.data.datasets.mars import parse_frame_name

    labels = set()
    for source in sources:
        try:
            name = parse_frame_name(Path(source.split(":")[-1]).name)
        except ValueError:
            return None
        labels.add((name.pid, name.camera - 1))
    return labels.pop() if len(labels) == 1 else None


def read_tracklet(
    source: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    *,
    limits: InputLimits = DEFAULT_LIMITS,
    sort: bool = True,
) -> UserTracklet:
    """Read a tracklet from a folder of images, a zip of images, image files or a video.

    Args:
        source: a folder, a ``.zip``, a video (``.mp4``, ``.gif``, ...), one image file, or a
            list of image files.
        limits: the limits to enforce.
        sort: order image files by natural name order (``f2`` before ``f10``); ``False`` keeps
            a list's order.

    Raises:
        TrackletInputError: the input (named in the message) cannot be used, and why.
    """
    if not isinstance(source, (str, os.PathLike)):
        paths = [Path(p) for p in source]
        name = ", ".join(p.name for p in paths) or "[]"
        if len(paths) > limits.max_frames:  # before reading any of them
            raise TrackletInputError(
                name, f"{len(paths)} images, more than the limit of {limits.max_frames} frames"
            )
        files = [(str(p), _read_file(p, limits.max_file_bytes)) for p in paths]
        return _from_images(files, name, limits, sort)
    path = Path(source)
    if path.is_dir():
        return _from_images(_folder_files(path, limits), str(path), limits, sort)
    max_bytes = (
        limits.max_archive_bytes if _suffix(str(path)) in ZIP_SUFFIXES else limits.max_file_bytes
    )
    return read_uploads([(str(path), _read_file(path, max_bytes))], limits=limits, sort=sort)


def read_uploads(
    files: Sequence[tuple[str, bytes]], *, limits: InputLimits = DEFAULT_LIMITS, sort: bool = True
) -> UserTracklet:
    """Read a tracklet from uploaded files held in memory (a dashboard's file uploader).

    Args:
        files: ``(name, content)`` pairs: one zip, one video, or one or more images.
        limits: the limits to enforce.
        sort: order images by natural name order.

    Raises:
        TrackletInputError: the input (named in the message) cannot be used, and why.
    """
    if not files:
        raise TrackletInputError("<upload>", "no files: a tracklet needs at least one frame")
    kinds = {_suffix(name) for name, _ in files}
    if len(files) == 1 or kinds & (ZIP_SUFFIXES | VIDEO_SUFFIXES | GIF_SUFFIXES):
        if len(files) > 1:
            raise TrackletInputError(
                ", ".join(name for name, _ in files),
                "a zip or a video is read on its own: upload one, or image files only",
            )
        name, data = files[0]
        suffix = _suffix(name)
        if suffix in ZIP_SUFFIXES:
            if len(data) > limits.max_archive_bytes:
                raise TrackletInputError(name, _too_big(len(data), limits.max_archive_bytes))
            return _from_images(_zip_files(name, data, limits), name, limits, sort)
        _check_size(name, len(data), limits.max_file_bytes)
        if suffix in VIDEO_SUFFIXES:
            return _from_video(name, data, limits)
        if suffix in GIF_SUFFIXES:
            return _from_gif(name, data, limits)
    for name, data in files:
        _check_size(name, len(data), limits.max_file_bytes)
    return _from_images(list(files), ", ".join(n for n, _ in files), limits, sort)


# --------------------------------------------------------------------------- collecting files


def _suffix(name: str) -> str:
    return PurePosixPath(name.replace("\\", "/")).suffix.lower()


def _skipped(name: str) -> bool:
    """Files archivers and file managers leave behind: hidden files, ``__MACOSX/``."""
    parts = PurePosixPath(name.replace("\\", "/")).parts
    return any(p.startswith(".") or p == "__MACOSX" for p in parts) or parts[-1] == "Thumbs.db"


def _too_big(size: int, limit: int) -> str:
    return f"{size / 2**20:.1f} MiB, more than the limit of {limit / 2**20:.1f} MiB"


def _check_size(name: str, size: int, limit: int) -> None:
    if size > limit:
        raise TrackletInputError(name, _too_big(size, limit))


def _read_file(path: Path, max_bytes: int) -> bytes:
    try:
        size = path.stat().st_size
        _check_size(str(path), size, max_bytes)
        with open(path, "rb") as f:
            return f.read(max_bytes + 1)
    except TrackletInputError:
        raise
    except OSError as err:
        raise TrackletInputError(path, f"cannot be read: {err.strerror or err}") from err


def _folder_files(folder: Path, limits: InputLimits) -> list[tuple[str, bytes]]:
    entries = [p for p in folder.iterdir() if p.is_file() and not _skipped(p.name)]
    if len(entries) > limits.max_frames:
        raise TrackletInputError(
            folder, f"{len(entries)} files, more than the limit of {limits.max_frames} frames"
        )
    return [(str(p), _read_file(p, limits.max_file_bytes)) for p in entries]


def _zip_files(name: str, data: bytes, limits: InputLimits) -> list[tuple[str, bytes]]:
    """The members of a zip, after every check that can be made before unpacking anything."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, OSError, ValueError) as err:
        raise TrackletInputError(name, f"not a readable zip archive: {err}") from err
    with archive:
        members = []
        for info in archive.infolist():
            member = f"{name}:{info.filename}"
            path = info.filename.replace("\\", "/")
            if path.startswith("/") or re.match(r"^[A-Za-z]:", path) or ".." in path.split("/"):
                raise TrackletInputError(member, "path leaves the archive (path traversal)")
            if info.is_dir() or _skipped(path):
                continue
            if info.flag_bits & 0x1:
                raise TrackletInputError(member, "encrypted member")
            ratio = info.file_size / max(info.compress_size, 1)
            if info.file_size > 2**20 and ratio > limits.max_compression_ratio:
                raise TrackletInputError(
                    member,
                    f"compression ratio {ratio:.0f}:1, above the limit of "
                    f"{limits.max_compression_ratio:.0f}:1: a zip bomb?",
                )
            members.append(info)
        if len(members) > min(limits.max_members, limits.max_frames):
            raise TrackletInputError(
                name, f"{len(members)} files, more than the limit of {limits.max_frames} frames"
            )
        unpacked = sum(info.file_size for info in members)
        if unpacked > limits.max_unpacked_bytes:
            raise TrackletInputError(
                name, f"unpacks to {_too_big(unpacked, limits.max_unpacked_bytes)}: a zip bomb?"
            )
        files = []
        for info in members:
            member = f"{name}:{info.filename}"
            _check_size(member, info.file_size, limits.max_file_bytes)
            try:
                with archive.open(info) as f:
                    content = f.read(info.file_size + 1)  # never more than the header promises
            except (zipfile.BadZipFile, OSError, ValueError, EOFError) as err:
                raise TrackletInputError(member, f"cannot be unpacked: {err}") from err
            if len(content) > info.file_size:
                raise TrackletInputError(
                    member, "unpacks to more than its header says: a zip bomb?"
                )
            files.append((member, content))
    return files


# --------------------------------------------------------------------------- decoding


def _decode_image(name: str, data: bytes, limits: InputLimits) -> tuple[np.ndarray, bool]:
    """An image as ``(H, W, 3)`` uint8, and whether it was animated (first frame kept)."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            width, height = image.size
            _check_pixels(name, height, width, limits)
            animated = getattr(image, "n_frames", 1) > 1
            image.load()  # a truncated file fails here, not later
            return _limit_side(np.asarray(image.convert("RGB")), limits.max_side), animated
    except TrackletInputError:
        raise
    except UnidentifiedImageError:
        raise TrackletInputError(name, "not an image (no image format recognised)") from None
    except Image.DecompressionBombError as err:
        raise TrackletInputError(name, f"too many pixels: {err}") from None
    except Exception as err:  # PIL's decoders raise OSError, SyntaxError, ValueError, zlib.error
        raise TrackletInputError(name, f"unreadable or truncated image: {err}") from None


def _check_pixels(name: str, height: int, width: int, limits: InputLimits) -> None:
    if height * width > limits.max_pixels:
        raise TrackletInputError(
            name,
            f"{height}x{width} pixels (height x width), more than the limit of {limits.max_pixels}",
        )


def _limit_side(frame: np.ndarray, max_side: int) -> np.ndarray:
    """Scale a frame down to ``max_side`` on its longer side, so that many large frames fit in
    memory; the model resizes every frame to its input size anyway."""
    h, w = frame.shape[:2]
    if max(h, w) <= max_side:
        return frame
    scale = max_side / max(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return np.asarray(Image.fromarray(frame).resize(size, Image.BICUBIC))


def _from_images(
    files: list[tuple[str, bytes]], source: str, limits: InputLimits, sort: bool
) -> UserTracklet:
    files = [(n, d) for n, d in files if not _skipped(Path(n).name)]
    if not files:
        raise TrackletInputError(source, "no image files: a tracklet needs at least one frame")
    if len(files) > limits.max_frames:
        raise TrackletInputError(
            source, f"{len(files)} images, more than the limit of {limits.max_frames} frames"
        )
    if sort:
        files = sorted(files, key=lambda f: natural_key(f[0], ignore_case=True))
    frames, warnings = [], []
    for name, data in files:
        frame, animated = _decode_image(name, data, limits)
        if animated:
            warnings.append(f"{name} is animated: only its first frame is used")
        frames.append(frame)
    return _assemble(frames, [n for n, _ in files], source, warnings, [], limits)


def _from_video(name: str, data: bytes, limits: InputLimits) -> UserTracklet:
    import av  # imported here: only videos need FFmpeg

    try:
        container = av.open(io.BytesIO(data))
    except (av.FFmpegError, OSError, ValueError) as err:
        raise TrackletInputError(name, f"not a readable video: {err}") from None
    with container:
        if not container.streams.video:
            raise TrackletInputError(name, "no video stream")
        stream = container.streams.video[0]
        width, height = stream.codec_context.width, stream.codec_context.height
        _check_pixels(name, height, width, limits)
        seconds = _video_seconds(container, stream)
        if seconds is not None and seconds > limits.max_video_seconds:
            raise TrackletInputError(name, _over_long(seconds, limits))
        estimate = stream.frames or (
            round(seconds * float(stream.average_rate)) if seconds and stream.average_rate else 0
        )
        step = max(1, math.ceil(estimate / limits.max_frames)) if estimate else 1
        frames, sources = [], []
        try:
            for index, frame in enumerate(container.decode(stream)):
                # The container's duration may be missing or wrong: check as frames arrive.
                if index >= limits.max_video_frames or (
                    frame.time is not None and frame.time > limits.max_video_seconds
                ):
                    raise TrackletInputError(name, _over_long(frame.time, limits))
                if index % step == 0:
                    frames.append(_limit_side(frame.to_ndarray(format="rgb24"), limits.max_side))
                    sources.append(f"{name}#{index}")
        except av.FFmpegError as err:
            raise TrackletInputError(name, f"unreadable or truncated video: {err}") from None
    return _thinned(frames, sources, name, step, limits)


def _from_gif(name: str, data: bytes, limits: InputLimits) -> UserTracklet:
    try:
        with Image.open(io.BytesIO(data)) as image:
            width, height = image.size
            _check_pixels(name, height, width, limits)
            count = getattr(image, "n_frames", 1)
            if count > limits.max_video_frames:
                raise TrackletInputError(
                    name, f"{count} frames, more than {limits.max_video_frames}"
                )
            step = max(1, math.ceil(count / limits.max_frames))
            frames, sources, milliseconds = [], [], 0.0
            for index, frame in enumerate(ImageSequence.Iterator(image)):
                milliseconds += frame.info.get("duration", 0) or 0
                if milliseconds / 1000 > limits.max_video_seconds:
                    raise TrackletInputError(name, _over_long(milliseconds / 1000, limits))
                if index % step == 0:
                    frames.append(_limit_side(np.asarray(frame.convert("RGB")), limits.max_side))
                    sources.append(f"{name}#{index}")
    except TrackletInputError:
        raise
    except UnidentifiedImageError:
        raise TrackletInputError(name, "not a GIF image") from None
    except Exception as err:  # PIL's decoders raise OSError, SyntaxError, ValueError, EOFError
        raise TrackletInputError(name, f"unreadable or truncated GIF: {err}") from None
    return _thinned(frames, sources, name, step, limits)


def _video_seconds(container, stream) -> float | None:
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:
        return container.duration / 1_000_000  # av.time_base: microseconds
    return None


def _over_long(seconds: float | None, limits: InputLimits) -> str:
    length = f"{seconds:.1f} s" if seconds is not None else f"over {limits.max_video_frames} frames"
    return f"over-long video ({length}); the limit is {limits.max_video_seconds:g} s: trim it"


def _thinned(
    frames: list[np.ndarray], sources: list[str], name: str, step: int, limits: InputLimits
) -> UserTracklet:
    notes = []
    if len(frames) > limits.max_frames:  # the container under-reported its frames
        extra = math.ceil(len(frames) / limits.max_frames)
        frames, sources, step = frames[::extra], sources[::extra], step * extra
    if step > 1:
        notes.append(
            f"every {step}th frame kept ({len(frames)} frames) to stay within "
            f"{limits.max_frames}: motion between kept frames is {step}x faster than filmed"
        )
    return _assemble(frames, sources, name, [], notes, limits)


# --------------------------------------------------------------------------- assembling


def _assemble(
    frames: list[np.ndarray],
    sources: list[str],
    source: str,
    warnings: list[str],
    notes: list[str],
    limits: InputLimits,
) -> UserTracklet:
    if not frames:
        raise TrackletInputError(source, "no frames: a tracklet needs at least one frame")
    sizes = [f.shape[:2] for f in frames]
    common = Counter(sizes).most_common(1)[0][0]
    odd = [i for i, s in enumerate(sizes) if s != common]
    if odd:
        shown = ", ".join(f"{sources[i]} ({sizes[i][0]}x{sizes[i][1]})" for i in odd[:3])
        warnings.append(
            f"{len(odd)} of {len(frames)} frames differ in size from the others "
            f"({common[0]}x{common[1]}) and were resized to it: {shown}"
            + (", ..." if len(odd) > 3 else "")
        )
        for i in odd:
            frames[i] = np.asarray(
                Image.fromarray(frames[i]).resize((common[1], common[0]), Image.BICUBIC)
            )
    if any(max(s) == limits.max_side for s in sizes):
        notes.append(
            f"frames larger than {limits.max_side} pixels on a side were scaled down on reading"
        )
    if len(frames) == 1:
        notes.append(SINGLE_FRAME_NOTE)
    clip = torch.from_numpy(np.stack(frames)).permute(3, 0, 1, 2).contiguous()  # (3, T, H, W)
    return UserTracklet(clip, tuple(sources), source, tuple(warnings), tuple(notes))
