"""Tracklets from a user's files: a folder of images, a zip of images, image files, a video.

::

    read_tracklet(path | [paths])  or  read_uploads([(name, bytes), ...])
      folder / zip / image files -> one frame per image, in natural name order (frame2 < frame10)
      .mp4 .mov .avi .mkv .webm  -> PyAV;  .gif -> PIL (frames composited)
      -> UserTracklet(clip (3, T, H, W) uint8, sources, warnings, notes, digests)
    name_labels(sources)          -> the MARS labels the names give, or why none (user_labels.py)

Everything arrives untrusted. Each bad input raises :class:`TrackletInputError` naming the file
(a zip member as ``archive.zip:member``) and the reason: an empty, unreadable, truncated or
non-image file, too many frames, too many pixels or too few (a side under
``InputLimits.min_side``), no frames at all, a zip member whose path leaves the archive
(``../x.jpg``, ``/etc/x``), an encrypted member, a zip bomb (an unpacked size or compression
ratio past the limits, or a member larger than its header says), a video without a video
stream, cut off, or over-long. Nothing is extracted to disk: members are read into memory with
bounded reads. Decoding (16-bit, EXIF orientation, alpha, palettes, CMYK, videos) is in
:mod:`strf_core.data.user_decode`.

Some inputs are accepted with a word in the result: frames of mixed sizes are resized to the
most common size, 16-bit or transparent frames converted, EXIF-rotated frames turned upright
(``warnings``); a single frame is allowed (``notes`` says what it means for the temporal
branches); a long video is thinned to every n-th frame, and very large frames are scaled down
on reading (``notes``). Hidden files and ``__MACOSX/`` folders (left by archivers) are skipped.
Lists of files are named by a few names and the count (:func:`describe_names`).
"""

from __future__ import annotations

import dataclasses
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
from PIL import Image
from torch import Tensor

from strf_core.data.datasets.base import natural_key
from strf_core.data.tracklet import Tracklet
from strf_core.data.transforms import ClipTransform
from strf_core.data.user_decode import (
    DEFAULT_LIMITS,
    DecodedFrames,
    InputLimits,
    TrackletInputError,
    check_bytes,
    decode_gif,
    decode_image,
    decode_video,
    describe_names,
    summarise_changes,
    too_big,
)
from strf_core.data.user_labels import (
    GalleryFrames,
    NameLabels,
    against_gallery,
    digest,
    labels_from_names,
    name_labels,
)

VIDEO_SUFFIXES = frozenset({".mp4", ".m4v", ".mov", ".avi", ".mkv", ".webm"})
GIF_SUFFIXES = frozenset({".gif"})
ZIP_SUFFIXES = frozenset({".zip"})

SINGLE_FRAME_NOTE = (
    "a single frame: nothing moves, so the temporal convolutions and the temporal STRF branches "
    "(t_dynamic, t_static) have no motion to use and the model ranks by appearance alone; the "
    "spatial branches work as usual"
)


@dataclass(frozen=True)
class UserTracklet:
    """A tracklet read from a user's files.

    Attributes:
        clip: the frames in temporal order, all one size.
        sources: where each frame came from (file name, ``zip:member``, ``video#index``).
        source: what was read (the path, or the names).
        warnings: what was changed to make the input usable (resized frames, ...).
        notes: what the input means for the model (a single frame, a thinned video, ...).
        digests: ``(size, sha1)`` of each image file, in frame order (``()`` for a video or
            a GIF), to recognise frames copied from a gallery
            (:class:`~strf_core.data.user_labels.GalleryFrames`).

    Shape:
        clip: ``(3, T, H, W)``, uint8.
    """

    clip: Tensor
    sources: tuple[str, ...]
    source: str
    warnings: tuple[str, ...] = field(default=())
    notes: tuple[str, ...] = field(default=())
    digests: tuple[tuple[int, str], ...] = field(default=())

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
        name = describe_names([p.name for p in paths]) or "[]"
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
                describe_names([name for name, _ in files]),
                "a zip or a video is read on its own: upload one, or image files only",
            )
        name, data = files[0]
        suffix = _suffix(name)
        if suffix in ZIP_SUFFIXES:
            check_bytes(name, data, limits.max_archive_bytes)
            return _from_images(_zip_files(name, data, limits), name, limits, sort)
        check_bytes(name, data, limits.max_file_bytes)
        if suffix in VIDEO_SUFFIXES:
            return _from_frames(decode_video(name, data, limits), name, limits)
        if suffix in GIF_SUFFIXES:
            return _from_frames(decode_gif(name, data, limits), name, limits)
    for name, data in files:
        check_bytes(name, data, limits.max_file_bytes)
    return _from_images(list(files), describe_names([n for n, _ in files]), limits, sort)


# --------------------------------------------------------------------------- collecting files


def _suffix(name: str) -> str:
    return PurePosixPath(name.replace("\\", "/")).suffix.lower()


def _skipped(name: str) -> bool:
    """Files archivers and file managers leave behind: hidden files, ``__MACOSX/``."""
    parts = PurePosixPath(name.replace("\\", "/")).parts
    return any(p.startswith(".") or p == "__MACOSX" for p in parts) or parts[-1] == "Thumbs.db"


def _read_file(path: Path, max_bytes: int) -> bytes:
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise TrackletInputError(path, too_big(size, max_bytes))
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
                raise TrackletInputError(
                    member, "encrypted member: zip the frames without a password"
                )
            if _suffix(path) in ZIP_SUFFIXES | VIDEO_SUFFIXES:
                raise TrackletInputError(
                    member, "an archive or a video inside the zip: upload it on its own"
                )
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
                name, f"unpacks to {too_big(unpacked, limits.max_unpacked_bytes)}: a zip bomb?"
            )
        files = []
        for info in members:
            member = f"{name}:{info.filename}"
            if info.file_size > limits.max_file_bytes:
                raise TrackletInputError(member, too_big(info.file_size, limits.max_file_bytes))
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
    frames, changed, animated = [], [], []
    for name, data in files:
        check_bytes(name, data, limits.max_file_bytes)
        image = decode_image(name, data, limits)
        frames.append(image.frame)
        changed.append((name, image.changes))
        if image.animated:
            animated.append(name)
    warnings = summarise_changes(changed, len(frames))
    if animated:
        warnings.append(f"animated images, only their first frame used: {describe_names(animated)}")
    user = _assemble(frames, [n for n, _ in files], source, warnings, [], limits)
    return dataclasses.replace(user, digests=tuple(digest(d) for _, d in files))


def _from_frames(decoded: DecodedFrames, name: str, limits: InputLimits) -> UserTracklet:
    """A video's or a GIF's frames, thinned further if the container under-reported them."""
    frames, sources, step, notes = decoded.frames, decoded.sources, decoded.step, []
    if len(frames) > limits.max_frames:
        extra = math.ceil(len(frames) / limits.max_frames)
        frames, sources, step = frames[::extra], sources[::extra], step * extra
    if step > 1:
        notes.append(
            f"every {step}th frame kept ({len(frames)} frames) to stay within "
            f"{limits.max_frames}: motion between kept frames is {step}x faster than filmed"
        )
    return _assemble(frames, sources, name, list(decoded.warnings), notes, limits)


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


__all__ = [
    "DEFAULT_LIMITS",
    "SINGLE_FRAME_NOTE",
    "GalleryFrames",
    "InputLimits",
    "NameLabels",
    "TrackletInputError",
    "UserTracklet",
    "against_gallery",
    "describe_names",
    "labels_from_names",
    "name_labels",
    "read_tracklet",
    "read_uploads",
]
