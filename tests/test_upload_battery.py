"""A battery of malformed and unusual uploads, each with its exact outcome: the error (file
named, reason in words) or the exact frames, warnings and labels read. Inputs are built here
by code (PIL, PyAV, zipfile, a hand-written PNG for what PIL cannot write)."""

from __future__ import annotations

import io
import re
import struct
import tempfile
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from strf_core.data.datasets.mars import frame_name
from strf_core.data.tracklet import Tracklet
from strf_core.data.user import (
    GalleryFrames,
    NameLabels,
    TrackletInputError,
    against_gallery,
    describe_names,
    labels_from_names,
    name_labels,
    read_uploads,
)

Files = list[tuple[str, bytes]]

# --------------------------------------------------------------------------- builders


def _encode(image: Image.Image, fmt: str = "PNG", **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def _pattern(height: int = 24, width: int = 16) -> np.ndarray:
    """An RGB frame whose every pixel differs from its mirror images (to check rotations)."""
    y, x = np.mgrid[0:height, 0:width]
    frame = np.zeros((height, width, 3), dtype=np.uint8)
    frame[..., 0] = (y * 7 + x * 3) % 256
    frame[..., 1] = y * 10
    frame[..., 2] = x * 15
    return frame


def _rgb(color=(90, 40, 10), size=(32, 16)) -> bytes:
    return _encode(Image.new("RGB", (size[1], size[0]), color))


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _raw_png(
    width: int, height: int, *, depth: int = 8, color: int = 0, rows: bytes | None = None
) -> bytes:
    """A PNG written by hand: any bit depth and colour type, or a header with no pixel data
    (``rows=None``: what a decompression bomb's header looks like before its data)."""
    header = struct.pack(">IIBBBBB", width, height, depth, color, 0, 0, 0)
    png = b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header)
    if rows is not None:
        png += _chunk(b"IDAT", zlib.compress(rows))
    return png + _chunk(b"IEND", b"")


def _rows(values: np.ndarray) -> bytes:
    """PNG scanlines (filter 0) of big-endian values ``(H, W[, C])``."""
    flat = values.reshape(values.shape[0], -1)
    return b"".join(b"\0" + row.tobytes() for row in flat)


def _zip(entries: dict[str, bytes], compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def _encrypted(entries: dict[str, bytes]) -> bytes:
    """A zip whose members are marked encrypted (bit 0 of the flags, local and central)."""
    data = bytearray(_zip(entries, zipfile.ZIP_STORED))
    for signature, offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        start = 0
        while (pos := data.find(signature, start)) >= 0:
            data[pos + offset] |= 0x1
            start = pos + 4
    return bytes(data)


def _lying_zip() -> bytes:
    data = bytearray(_zip({"a.png": _rgb()}, zipfile.ZIP_STORED))
    pos = data.rindex(b"PK\x01\x02") + 24  # the central directory's uncompressed size
    data[pos : pos + 4] = (len(_rgb()) - 10).to_bytes(4, "little")
    return bytes(data)


def _video(
    frames: int = 12,
    *,
    size=(32, 16),
    fps: int = 25,
    codec: str = "mpeg4",
    faststart: bool = False,
    audio_only: bool = False,
    noise: bool = True,
) -> bytes:
    """An mp4 written by PyAV: random frames (``noise``) or a smooth red ramp."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "clip.mp4"
        options = {"movflags": "faststart"} if faststart else {}
        with av.open(str(path), mode="w", format="mp4", options=options) as container:
            if audio_only:
                stream = container.add_stream("aac", rate=8000)
                sound = av.AudioFrame.from_ndarray(
                    np.zeros((1, 1024), dtype=np.float32), format="fltp", layout="mono"
                )
                sound.sample_rate = 8000
                container.mux(stream.encode(sound))
                container.mux(stream.encode())
            else:
                stream = container.add_stream(codec, rate=fps)
                stream.width, stream.height, stream.pix_fmt = size[1], size[0], "yuv420p"
                rng = np.random.default_rng(0)
                for i in range(frames):
                    image = rng.integers(0, 255, (*size, 3), dtype=np.uint8)
                    if not noise:
                        image = np.zeros((*size, 3), np.uint8) + np.uint8([i * 9, 0, 0])
                    container.mux(stream.encode(av.VideoFrame.from_ndarray(image, "rgb24")))
                container.mux(stream.encode())
        return path.read_bytes()


def _gif(frames: list[Image.Image], **options) -> bytes:
    return _encode(frames[0], "GIF", save_all=True, append_images=frames[1:], **options)


def _exif_png(orientation: int) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = orientation
    return _encode(Image.fromarray(_pattern()), exif=exif)


def _cut(data: bytes, fraction: float) -> bytes:
    return data[: int(len(data) * fraction)]


# --------------------------------------------------------------------------- errors


@dataclass(frozen=True)
class Refused:
    """The upload must raise TrackletInputError naming ``path``, its reason matching
    ``reason`` (a regular expression, matched in full)."""

    files: Callable[[], Files]
    path: str
    reason: str


def _too_small(h: int, w: int) -> str:
    return re.escape(
        f"{h}x{w} pixels (height x width): too small to show a person; frames need at least "
        "16 pixels on each side"
    )


NOT_AN_IMAGE = re.escape("not an image (no image format recognised)")
EMPTY = re.escape("empty file (0 bytes)")
TRAVERSAL = re.escape("path leaves the archive (path traversal)")
CUT_OFF_MP4 = re.escape(
    "an MP4 without its index: the file is cut off (an unfinished download or recording?) or "
    "damaged"
)
NOT_A_VIDEO = re.escape("not a video FFmpeg can read (a damaged file, or not a video at all)")

REFUSED = {
    # empty and zero-byte
    "no files": Refused(lambda: [], "<upload>", "no files: a tracklet needs at least one frame"),
    "zero-byte png": Refused(lambda: [("a.png", b"")], "a.png", EMPTY),
    "zero-byte jpg among good": Refused(
        lambda: [("a.png", _rgb()), ("b.jpg", b"")], "b.jpg", EMPTY
    ),
    "zero-byte mp4": Refused(lambda: [("a.mp4", b"")], "a.mp4", EMPTY),
    "zero-byte gif": Refused(lambda: [("a.gif", b"")], "a.gif", EMPTY),
    "zero-byte zip": Refused(lambda: [("a.zip", b"")], "a.zip", EMPTY),
    "zero-byte zip member": Refused(
        lambda: [("a.zip", _zip({"f1.png": _rgb(), "f2.png": b""}))], "a.zip:f2.png", EMPTY
    ),
    # wrong type
    "text as png": Refused(lambda: [("a.png", b"hello")], "a.png", NOT_AN_IMAGE),
    "text file": Refused(lambda: [("notes.txt", b"hello")], "notes.txt", NOT_AN_IMAGE),
    "pdf": Refused(lambda: [("scan.pdf", b"%PDF-1.4\n%\xe2\xe3")], "scan.pdf", NOT_AN_IMAGE),
    "video named png": Refused(lambda: [("f.png", _video(3))], "f.png", NOT_AN_IMAGE),
    "zip named png": Refused(lambda: [("f.png", _zip({"a.png": _rgb()}))], "f.png", NOT_AN_IMAGE),
    "png named zip": Refused(
        lambda: [("f.zip", _rgb())], "f.zip", "not a readable zip archive: File is not a zip file"
    ),
    "text named mp4": Refused(lambda: [("f.mp4", b"no video here")], "f.mp4", NOT_A_VIDEO),
    "text named gif": Refused(lambda: [("f.gif", b"GIF? no")], "f.gif", "not a GIF image"),
    "text in zip": Refused(
        lambda: [("t.zip", _zip({"f1.png": _rgb(), "readme.txt": b"hi"}))],
        "t.zip:readme.txt",
        NOT_AN_IMAGE,
    ),
    "float tiff": Refused(
        lambda: [("f.tif", _encode(Image.new("F", (16, 32), 0.5), "TIFF"))],
        "f.tif",
        re.escape(
            "unreadable or truncated image: a 32-bit floating-point image: save it with 8 or "
            "16 bits per channel"
        ),
    ),
    "32-bit int tiff": Refused(
        lambda: [("f.tif", _encode(Image.new("I", (16, 32), 70000), "TIFF"))],
        "f.tif",
        re.escape(
            "unreadable or truncated image: a 32-bit integer image with values 70000..70000, "
            "outside 16 bits: save it with 8 or 16 bits per channel"
        ),
    ),
    # truncated
    "truncated png": Refused(
        lambda: [("a.png", _cut(_encode(Image.fromarray(_pattern(64, 64))), 0.5))],
        "a.png",
        "unreadable or truncated image: .+",
    ),
    "truncated jpeg": Refused(
        lambda: [("a.jpg", _cut(_encode(Image.fromarray(_pattern(64, 64)), "JPEG"), 0.5))],
        "a.jpg",
        "unreadable or truncated image: .+",
    ),
    "png header only": Refused(lambda: [("a.png", _rgb()[:40])], "a.png", ".+"),
    "truncated gif": Refused(
        lambda: [("a.gif", _cut(_gif([Image.fromarray(_pattern(64, 64))] * 3), 0.3))],
        "a.gif",
        "unreadable or truncated GIF: .+",
    ),
    "mp4 cut before its index": Refused(
        lambda: [("c.mp4", _cut(_video(20), 0.4))], "c.mp4", CUT_OFF_MP4
    ),
    "mp4 cut mid-data, index first": Refused(
        lambda: [("c.mp4", _cut(_video(20, faststart=True, noise=False), 0.9))],
        "c.mp4",
        r"truncated: the video declares 20 frames, only \d+ could be decoded",
    ),
    "mp4 cut in its stream header": Refused(
        lambda: [("c.mp4", _cut(_video(20, faststart=True, noise=False), 0.3))],
        "c.mp4",
        re.escape(
            "its video stream cannot be decoded: the file is cut off or damaged, or its codec "
            "is unknown"
        ),
    ),
    "noisy mp4 cut mid-data": Refused(
        lambda: [("c.mp4", _cut(_video(20, faststart=True), 0.5))],
        "c.mp4",
        r"truncated or damaged: decoding failed after \d+ frames of 20",
    ),
    "h264 cut mid-data": Refused(
        lambda: [("c.mp4", _cut(_video(20, codec="libx264", faststart=True), 0.5))],
        "c.mp4",
        r"truncated or damaged: decoding failed after \d+ frames of 20",
    ),
    "mp4 header only": Refused(lambda: [("c.mp4", _video(5)[:40])], "c.mp4", CUT_OFF_MP4),
    "mp4 without its first bytes": Refused(
        lambda: [("c.mp4", _video(5)[16:])],
        "c.mp4",
        "truncated or damaged: decoding failed after 5 frames",
    ),
    # videos without video
    "audio-only mp4": Refused(
        lambda: [("talk.mp4", _video(audio_only=True))],
        "talk.mp4",
        re.escape("no video stream (the file holds audio only)"),
    ),
    "over-long video": Refused(
        lambda: [("long.mp4", _video(32, fps=1))],
        "long.mp4",
        re.escape("over-long video (32.0 s); the limit is 30 s: trim it"),
    ),
    "over-long gif": Refused(
        lambda: [
            (
                "long.gif",
                _gif([Image.new("RGB", (16, 16), (i, 0, 0)) for i in range(4)], duration=9000),
            )
        ],
        "long.gif",
        re.escape("over-long video (36.0 s); the limit is 30 s: trim it"),
    ),
    # too small
    "1x1 png": Refused(lambda: [("a.png", _rgb(size=(1, 1)))], "a.png", _too_small(1, 1)),
    "1x4000 png": Refused(lambda: [("a.png", _rgb(size=(1, 4000)))], "a.png", _too_small(1, 4000)),
    "4000x1 png": Refused(lambda: [("a.png", _rgb(size=(4000, 1)))], "a.png", _too_small(4000, 1)),
    "15x15 png": Refused(lambda: [("a.png", _rgb(size=(15, 15)))], "a.png", _too_small(15, 15)),
    "15x400 jpeg": Refused(
        lambda: [("a.jpg", _encode(Image.new("RGB", (400, 15)), "JPEG"))],
        "a.jpg",
        _too_small(15, 400),
    ),
    "one tiny frame among good": Refused(
        lambda: [("f1.png", _rgb()), ("f2.png", _rgb(size=(8, 4)))], "f2.png", _too_small(8, 4)
    ),
    "tiny gif": Refused(
        lambda: [("a.gif", _gif([Image.new("RGB", (8, 8))] * 2))], "a.gif", _too_small(8, 8)
    ),
    "tiny video": Refused(lambda: [("a.mp4", _video(3, size=(8, 8)))], "a.mp4", _too_small(8, 8)),
    # huge (the default limits) and decompression bombs
    "4097x4096 header": Refused(
        lambda: [("big.png", _raw_png(4096, 4097))],
        "big.png",
        re.escape("4097x4096 pixels (height x width), more than the limit of 16777216"),
    ),
    "png bomb header 20000x20000": Refused(
        lambda: [("bomb.png", _raw_png(20000, 20000))],
        "bomb.png",
        re.escape(
            "more than 178956970 pixels, far above the limit of 16777216: a decompression bomb?"
        ),
    ),
    "over-size file": Refused(
        lambda: [("big.png", b"\x89PNG" + b"\0" * (50 * 2**20))],
        "big.png",
        re.escape("50.0 MiB, more than the limit of 50.0 MiB"),
    ),
    "257 images": Refused(
        lambda: [(f"f{i}.png", _rgb()) for i in range(257)],
        describe_names([f"f{i}.png" for i in range(257)]),
        re.escape("257 images, more than the limit of 256 frames"),
    ),
    "zip of 257 images": Refused(
        lambda: [("many.zip", _zip({f"f{i}.png": _rgb() for i in range(257)}))],
        "many.zip",
        re.escape("257 files, more than the limit of 256 frames"),
    ),
    "zip bomb by ratio": Refused(
        lambda: [("bomb.zip", _zip({"a.png": _rgb(), "b.png": b"\0" * (8 * 2**20)}))],
        "bomb.zip:b.png",
        r"compression ratio \d+:1, above the limit of 100:1: a zip bomb\?",
    ),
    "zip member larger than its header": Refused(
        lambda: [("lying.zip", _lying_zip())],
        "lying.zip:a.png",
        "(cannot be unpacked: .+|unpacks to more than its header says: a zip bomb\\?)",
    ),
    # zip slip, nesting, encryption
    **{
        f"zip slip {member}": Refused(
            lambda member=member: [("up.zip", _zip({"ok.png": _rgb(), member: _rgb()}))],
            f"up.zip:{member}",
            TRAVERSAL,
        )
        for member in (
            "../evil.png",
            "/abs/evil.png",
            "a/../../evil.png",
            "C:/x.png",
            "..\\evil.png",
        )
    },
    "nested zip": Refused(
        lambda: [("outer.zip", _zip({"inner.zip": _zip({"a.png": _rgb()})}))],
        "outer.zip:inner.zip",
        re.escape("an archive or a video inside the zip: upload it on its own"),
    ),
    "video in a zip": Refused(
        lambda: [("outer.zip", _zip({"clip.mp4": _video(3)}))],
        "outer.zip:clip.mp4",
        re.escape("an archive or a video inside the zip: upload it on its own"),
    ),
    "encrypted zip": Refused(
        lambda: [("secret.zip", _encrypted({"a.png": _rgb()}))],
        "secret.zip:a.png",
        re.escape("encrypted member: zip the frames without a password"),
    ),
    "zip of archiver leftovers only": Refused(
        lambda: [("x.zip", _zip({"__MACOSX/._a.png": b"x", ".DS_Store": b"x"}))],
        "x.zip",
        re.escape("no image files: a tracklet needs at least one frame"),
    ),
    "zip of folders only": Refused(
        lambda: [("x.zip", _zip({"a/": b"", "a/b/": b""}))],
        "x.zip",
        re.escape("no image files: a tracklet needs at least one frame"),
    ),
    "zip with a video beside images": Refused(
        lambda: [("a.zip", _zip({"a.png": _rgb()})), ("b.mp4", b"x")],
        "a.zip, b.mp4",
        re.escape("a zip or a video is read on its own: upload one, or image files only"),
    ),
    "two videos": Refused(
        lambda: [(f"{c}.mp4", b"x") for c in "abcde"],
        "a.mp4, b.mp4, c.mp4 and 2 more (5 files)",
        re.escape("a zip or a video is read on its own: upload one, or image files only"),
    ),
}


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_refused_with_the_file_and_the_reason(case):
    expected = REFUSED[case]
    with pytest.raises(TrackletInputError) as info:
        read_uploads(expected.files())
    assert info.value.path == expected.path
    assert re.fullmatch(expected.reason, info.value.reason), info.value.reason
    assert "Errno" not in info.value.reason and "avcodec" not in info.value.reason


# --------------------------------------------------------------------------- accepted


@dataclass(frozen=True)
class Read:
    """The upload must read as ``frames`` exactly (``(T, H, W, 3)`` uint8, or a tolerance for
    lossy formats) with exactly these warnings."""

    files: Callable[[], Files]
    frames: Callable[[], np.ndarray]
    warnings: tuple[str, ...] = ()
    tolerance: int = 0


def _solid(color, size=(32, 16), frames: int = 1) -> np.ndarray:
    return np.broadcast_to(np.array(color, np.uint8), (frames, *size, 3)).copy()


# EXIF orientation -> the transform that stands the stored pixels upright (EXIF 2.3, 4.6.4).
UPRIGHT = {
    1: lambda a: a,
    2: lambda a: a[:, ::-1],
    3: lambda a: a[::-1, ::-1],
    4: lambda a: a[::-1],
    5: lambda a: a.transpose(1, 0, 2),
    6: lambda a: np.rot90(a, -1),
    7: lambda a: a[::-1, ::-1].transpose(1, 0, 2),
    8: lambda a: np.rot90(a, 1),
}

_gray16 = np.array([[0, 257 * 100, 65535, 32768]] * 16, dtype=">u2").repeat(4, axis=1)  # 16x16
_rgb16 = np.stack([_gray16, np.full_like(_gray16, 16384), np.full_like(_gray16, 65535)], -1)
_rgb16 = _rgb16.astype(">u2")  # PNG samples are big-endian
_alpha = np.array([0, 128, 255], np.float64)


def _la(gray: int = 200) -> bytes:
    values = np.zeros((16, 48, 2), np.uint8)
    values[..., 0] = gray
    values[:, :, 1] = np.repeat(_alpha.astype(np.uint8), 16)[None]
    return _encode(Image.fromarray(values, "LA"))


def _la_expected(gray: int = 200) -> np.ndarray:
    # alpha * value + (1 - alpha) * 128, by hand: 0 -> 128, 128 -> 164.1, 255 -> 200
    blended = np.rint(gray * _alpha / 255 + 128 * (1 - _alpha / 255)).astype(np.uint8)
    return np.repeat(np.repeat(blended, 16)[None, :, None], 16, 0)[None].repeat(3, -1)


def _palette(transparent: bool) -> bytes:
    image = Image.new("P", (16, 32), 0)
    image.putpalette([10, 20, 30, 200, 100, 50] + [0] * 762)
    image.paste(1, (0, 16, 16, 32))
    options = {"transparency": 1} if transparent else {}
    return _encode(image, **options)


def _palette_expected(transparent: bool) -> np.ndarray:
    frame = _solid((10, 20, 30))[0]
    frame[16:] = (128, 128, 128) if transparent else (200, 100, 50)
    return frame[None]


GRAY16_8 = np.array([0, 100, 255, 128], np.uint8).repeat(4)  # 65535 -> 255, 32768 -> 128

ACCEPTED = {
    "rgb png": Read(lambda: [("a.png", _rgb())], lambda: _solid((90, 40, 10))),
    "16-bit grayscale png": Read(
        lambda: [("a.png", _encode(Image.fromarray(_gray16.astype(np.uint16))))],
        lambda: np.repeat(np.broadcast_to(GRAY16_8, (16, 16))[None, ..., None], 3, -1),
        ("1 of 1 frames: 16-bit scaled to 8 bits (a.png)",),
    ),
    "16-bit grayscale png, hand-written": Read(
        lambda: [("a.png", _raw_png(16, 16, depth=16, rows=_rows(_gray16)))],
        lambda: np.repeat(np.broadcast_to(GRAY16_8, (16, 16))[None, ..., None], 3, -1),
        ("1 of 1 frames: 16-bit scaled to 8 bits (a.png)",),
    ),
    "16-bit grayscale tiff": Read(
        lambda: [("a.tif", _encode(Image.fromarray(_gray16.astype(np.uint16)), "TIFF"))],
        lambda: np.repeat(np.broadcast_to(GRAY16_8, (16, 16))[None, ..., None], 3, -1),
        ("1 of 1 frames: 16-bit scaled to 8 bits (a.tif)",),
    ),
    "16-bit rgb png (48 bits)": Read(
        lambda: [("a.png", _raw_png(16, 16, depth=16, color=2, rows=_rows(_rgb16)))],
        lambda: np.stack(
            [np.broadcast_to(GRAY16_8, (16, 16)), np.full((16, 16), 64), np.full((16, 16), 255)],
            -1,
        ).astype(np.uint8)[None],
    ),
    "8-bit grayscale": Read(
        lambda: [("a.png", _encode(Image.new("L", (16, 32), 77)))], lambda: _solid((77,) * 3)
    ),
    "bilevel": Read(
        lambda: [("a.png", _encode(Image.new("1", (16, 32), 1)))], lambda: _solid((255,) * 3)
    ),
    "cmyk tiff": Read(
        lambda: [("a.tif", _encode(Image.new("CMYK", (16, 32), (0, 255, 255, 0)), "TIFF"))],
        lambda: _solid((255, 0, 0)),
    ),
    "cmyk jpeg": Read(
        lambda: [("a.jpg", _encode(Image.new("CMYK", (16, 32), (0, 255, 255, 0)), "JPEG"))],
        lambda: _solid((255, 0, 0)),
        tolerance=3,
    ),
    "palette": Read(lambda: [("a.png", _palette(False))], lambda: _palette_expected(False)),
    "palette with a transparent index": Read(
        lambda: [("a.png", _palette(True))],
        lambda: _palette_expected(True),
        ("1 of 1 frames: transparent pixels composited over mid-gray (a.png)",),
    ),
    "gray with alpha": Read(
        lambda: [("a.png", _la())],
        _la_expected,
        ("1 of 1 frames: transparent pixels composited over mid-gray (a.png)",),
    ),
    "opaque rgba": Read(
        lambda: [("a.png", _encode(Image.new("RGBA", (16, 32), (1, 2, 3, 255))))],
        lambda: _solid((1, 2, 3)),
    ),
    "transparent rgba": Read(
        lambda: [("a.png", _encode(Image.new("RGBA", (16, 32), (1, 2, 3, 0))))],
        lambda: _solid((128, 128, 128)),
        ("1 of 1 frames: transparent pixels composited over mid-gray (a.png)",),
    ),
    **{
        f"exif orientation {k}": Read(
            lambda k=k: [("a.png", _exif_png(k))],
            lambda k=k: UPRIGHT[k](_pattern())[None],
            (f"1 of 1 frames: rotated upright (EXIF orientation {k}) (a.png)",) if k > 1 else (),
        )
        for k in range(1, 9)
    },
    "16x16, the smallest frame": Read(
        lambda: [("a.png", _rgb(size=(16, 16)))], lambda: _solid((90, 40, 10), (16, 16))
    ),
    "4096x4096, the largest frame": Read(
        lambda: [("a.png", _raw_png(4096, 4096, rows=_rows(np.zeros((4096, 4096), np.uint8))))],
        lambda: _solid((0, 0, 0), (1024, 1024)),
    ),
    "mixed sizes": Read(
        lambda: [("f1.png", _rgb()), ("f2.png", _rgb()), ("f3.png", _rgb(size=(40, 20)))],
        lambda: _solid((90, 40, 10), frames=3),
        (
            "1 of 3 frames differ in size from the others (32x16) and were resized to it: "
            "f3.png (40x20)",
        ),
    ),
    "names in natural order": Read(
        lambda: [(f"f{i}.png", _rgb((i, 0, 0))) for i in (10, 2, 1)],
        lambda: np.concatenate([_solid((i, 0, 0)) for i in (1, 2, 10)]),
    ),
    "zip with archiver leftovers": Read(
        lambda: [("a.zip", _zip({"t/f1.png": _rgb(), "__MACOSX/t/._f1.png": b"x", "t/": b""}))],
        lambda: _solid((90, 40, 10)),
    ),
    "animated png": Read(
        lambda: [
            (
                "a.png",
                _encode(
                    Image.new("RGB", (16, 16), (5, 5, 5)),
                    save_all=True,
                    append_images=[Image.new("RGB", (16, 16), (9, 9, 9))],
                ),
            )
        ],
        lambda: _solid((5, 5, 5), (16, 16)),
        ("animated images, only their first frame used: a.png",),
    ),
    "gif with transparency": Read(
        lambda: [("a.gif", _gif([Image.open(io.BytesIO(_palette(True)))], transparency=1))],
        lambda: _palette_expected(True),
        ("1 of 1 frames: transparent pixels composited over mid-gray (a.gif#0)",),
    ),
    "png named mp4 (FFmpeg reads images)": Read(
        lambda: [("a.mp4", _rgb())], lambda: _solid((90, 40, 10)), tolerance=3
    ),
    "mp4 missing its last bytes only": Read(
        lambda: [("c.mp4", _video(4)[:-8])],
        lambda: np.stack(
            [np.random.default_rng(0).integers(0, 255, (32, 16, 3), dtype=np.uint8)] * 4
        ),
        tolerance=255,  # lossy noise: only the count and size are exact here
    ),
}


@pytest.mark.parametrize("case", sorted(ACCEPTED))
def test_read_exactly(case):
    expected = ACCEPTED[case]
    user = read_uploads(expected.files())
    frames = user.clip.permute(1, 2, 3, 0).numpy()  # (T, H, W, 3)
    wanted = expected.frames()
    assert frames.shape == wanted.shape
    difference = np.abs(frames.astype(int) - wanted.astype(int)).max()
    assert difference <= expected.tolerance, difference
    assert user.warnings == expected.warnings


# --------------------------------------------------------------------------- labels


MARS = [frame_name(159, 3, 1, f) for f in (1, 2, 3)]
LABELS = {
    "mars frames": (MARS, NameLabels(159, 2, "0159C3T0001")),
    "mars frames in a zip": ([f"q.zip:walk/{n}" for n in MARS], NameLabels(159, 2, "0159C3T0001")),
    "mars frames as png": (
        [n.replace(".jpg", ".png") for n in MARS],
        NameLabels(159, 2, "0159C3T0001"),
    ),
    "two tracklets of one person and camera": (
        [*MARS, frame_name(159, 3, 2, 1)],
        NameLabels(159, 2, None),
    ),
    "mars video name": (
        ["0159C3T0001.mp4#0", "0159C3T0001.mp4#1"],
        NameLabels(159, 2, "0159C3T0001"),
    ),
    "prefixed video name": (["occluded_0159C3T0001.mp4#0"], NameLabels(159, 2, "0159C3T0001")),
    "video name glued to a word": (["x0159C3T0001.mp4#0"], NameLabels()),
    "plain names": (["0001.png", "0002.png"], NameLabels()),
    "plain video": (["clip.mp4#0"], NameLabels()),
    "distractor": (
        [frame_name(0, 1, 1, 1)],
        NameLabels(
            problem="0000C1T0001F001.jpg has pid 0000, MARS's mark for a distractor (a box "
            "holding no person of the dataset): it has no identity, so no true match"
        ),
    ),
    "junk": (
        [frame_name(-1, 2, 1, 1)],
        NameLabels(
            problem="00-1C2T0001F001.jpg has pid 00-1, MARS's mark for junk (a box its "
            "labellers could not use): it has no identity, so no true match"
        ),
    ),
    "distractor video": (
        ["0000C1T0001.mp4#0"],
        NameLabels(
            problem="0000C1T0001.mp4 has pid 0000, MARS's mark for a distractor (a box "
            "holding no person of the dataset): it has no identity, so no true match"
        ),
    ),
    **{
        f"camera {c}": (
            [f"0159C{c}T0001F001.jpg"],
            NameLabels(
                problem=f"0159C{c}T0001F001.jpg names camera {c}; MARS cameras are 1-6, so the "
                "name does not say which camera filmed it"
            ),
        )
        for c in (0, 7, 9)
    },
    "two ids mixed": (
        [frame_name(159, 3, 1, 1), frame_name(160, 3, 1, 2)],
        NameLabels(
            problem="the names mix 2 identity-camera pairs (id 0159 camera 3, id 0160 camera "
            "3); a tracklet is one person seen by one camera"
        ),
    ),
    "two cameras mixed": (
        [frame_name(159, 3, 1, 1), frame_name(159, 4, 1, 2)],
        NameLabels(
            problem="the names mix 2 identity-camera pairs (id 0159 camera 3, id 0159 camera "
            "4); a tracklet is one person seen by one camera"
        ),
    ),
    "some names not mars": (
        [*MARS, "0004.jpg"],
        NameLabels(
            problem="3 of 4 file names are MARS names, others are not (e.g. 0004.jpg): one "
            "tracklet's frames share one name scheme"
        ),
    ),
}


@pytest.mark.parametrize("case", sorted(LABELS))
def test_mars_labels(case):
    sources, expected = LABELS[case]
    assert name_labels(sources) == expected
    pair = (expected.pid, expected.camid) if expected.labelled else None
    assert labels_from_names(sources) == pair


def test_labels_of_an_id_the_gallery_lacks_are_refused():
    labels = name_labels(MARS)
    assert against_gallery(labels, [1, 159, 160]) == labels
    refused = against_gallery(labels, [1, 160])
    assert not refused.labelled and refused.tracklet == "0159C3T0001"
    assert refused.problem == (
        "the names say id 159, which this gallery does not hold (another dataset's id?): no hit "
        "could be a true match"
    )


def test_gallery_duplicates_by_bytes_and_by_name(tmp_path):
    # Two gallery tracklets; the first's frames are uploaded under other names.
    frames = {}
    for pid, camera in ((159, 3), (160, 1)):
        folder = tmp_path / f"{pid:04d}"
        folder.mkdir()
        paths = []
        for f in (1, 2):
            path = folder / frame_name(pid, camera, 1, f)
            path.write_bytes(_rgb((pid % 256, f, camera)))
            paths.append(str(path))
        frames[pid] = Tracklet(tuple(paths), pid, camera - 1)
    gallery = GalleryFrames([frames[160], frames[159]])
    upload = read_uploads([("a.png", _rgb((159, 1, 3))), ("b.png", _rgb((159, 2, 3)))])
    assert gallery.by_bytes(upload.digests) == 1
    one_frame = read_uploads([("a.png", _rgb((159, 2, 3)))])
    assert gallery.by_bytes(one_frame.digests) == 1  # a part of the tracklet is still it
    mixed = read_uploads([("a.png", _rgb((159, 1, 3))), ("b.png", _rgb((160, 1, 1)))])
    assert gallery.by_bytes(mixed.digests) is None  # frames of two tracklets: neither
    other = read_uploads([("a.png", _rgb((1, 1, 1)))])
    assert gallery.by_bytes(other.digests) is None
    assert gallery.by_name("0159C3T0001") == 1 and gallery.by_name("0159C3T0002") is None
    video = read_uploads([("clip.mp4", _video(3))])
    assert video.digests == () and gallery.by_bytes(video.digests) is None
