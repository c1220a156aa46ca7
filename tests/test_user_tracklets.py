"""User tracklets: folders, zips, image files, videos; every bad input named; the occlusion tool."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import av
import numpy as np
import pytest
import torch
from PIL import Image

from strf_core.data.datasets.mars import frame_name
from strf_core.data.user import (
    SINGLE_FRAME_NOTE,
    InputLimits,
    TrackletInputError,
    labels_from_names,
    read_tracklet,
    read_uploads,
)
from strf_core.synth import OCCLUDER_KINDS
from strf_core.synth.occlude import occlude


def _frame(value: int, size=(32, 16)) -> np.ndarray:
    """A frame whose pixel values encode ``value`` (so frame order can be checked)."""
    frame = np.zeros((*size, 3), dtype=np.uint8)
    frame[..., 0] = value
    frame[..., 1] = np.arange(size[1], dtype=np.uint8)[None] * 8
    return frame


def _png(value: int, size=(32, 16)) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(_frame(value, size)).save(buf, format="PNG")
    return buf.getvalue()


def _write_frames(folder: Path, values, size=(32, 16), pattern="f{}.png") -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, v in enumerate(values):
        path = folder / pattern.format(i + 1)
        path.write_bytes(_png(v, size))
        paths.append(path)
    return paths


def _zip(entries: dict[str, bytes], compression=zipfile.ZIP_DEFLATED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return buf.getvalue()


def _video(num_frames: int, fps: int = 25, size=(32, 16)) -> bytes:
    buf = io.BytesIO()
    with av.open(buf, mode="w", format="mp4") as container:
        stream = container.add_stream("mpeg4", rate=fps)
        stream.width, stream.height, stream.pix_fmt = size[1], size[0], "yuv420p"
        for i in range(num_frames):
            frame = av.VideoFrame.from_ndarray(_frame(i * 9 % 250, size), format="rgb24")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return buf.getvalue()


def _gif(values, duration_ms=40, size=(32, 16)) -> bytes:
    frames = [Image.fromarray(_frame(v, size)) for v in values]
    buf = io.BytesIO()
    frames[0].save(buf, format="GIF", save_all=True, append_images=frames[1:], duration=duration_ms)
    return buf.getvalue()


def _error(call) -> TrackletInputError:
    with pytest.raises(TrackletInputError) as info:
        call()
    return info.value


# --------------------------------------------------------------------------- good inputs


def test_folder_in_natural_order_skipping_hidden_files(tmp_path):
    # f1..f12: a plain string sort would put f10 before f2.
    _write_frames(tmp_path / "t", [10 * i for i in range(1, 13)])
    (tmp_path / "t" / ".DS_Store").write_bytes(b"\0junk")
    user = read_tracklet(tmp_path / "t")
    assert user.clip.shape == (3, 12, 32, 16) and user.clip.dtype == torch.uint8
    assert user.clip[0, :, 0, 0].tolist() == [10 * i for i in range(1, 13)]
    assert [Path(s).name for s in user.sources][:3] == ["f1.png", "f2.png", "f3.png"]
    assert user.warnings == () and user.notes == ()


def test_zip_with_a_top_folder_and_archiver_leftovers(tmp_path):
    entries = {f"walk/{i:03d}.png": _png(i * 20) for i in range(5)}
    entries["__MACOSX/walk/._000.png"] = b"resource fork"
    path = tmp_path / "walk.zip"
    path.write_bytes(_zip(entries))
    user = read_tracklet(path)
    assert user.num_frames == 5
    assert user.clip[0, :, 0, 0].tolist() == [0, 20, 40, 60, 80]
    assert user.sources[0].endswith("walk.zip:walk/000.png")


def test_labels_from_mars_names(tmp_path):
    names = [frame_name(159, 3, 1, f) for f in (1, 2, 3)]
    entries = {f"q/{n}": _png(i * 20) for i, n in enumerate(names)}
    path = tmp_path / "q.zip"
    path.write_bytes(_zip(entries))
    assert labels_from_names(read_tracklet(path).sources) == (159, 2)  # camid 0-based
    assert labels_from_names([*names[:2], frame_name(159, 4, 1, 3)]) is None  # two cameras
    assert labels_from_names([*names, "0001.png"]) is None
    assert labels_from_names(["clip.mp4#0"]) is None


def test_image_files_in_given_order_or_sorted(tmp_path):
    paths = _write_frames(tmp_path, [1, 2, 3])
    assert read_tracklet(paths[::-1]).clip[0, :, 0, 0].tolist() == [1, 2, 3]
    assert read_tracklet(paths[::-1], sort=False).clip[0, :, 0, 0].tolist() == [3, 2, 1]


def test_uploads_in_memory():
    user = read_uploads([("b.png", _png(7)), ("a.png", _png(3))])
    assert user.clip[0, :, 0, 0].tolist() == [3, 7]


def test_mp4_video_is_decoded():
    user = read_uploads([("clip.mp4", _video(12))])
    assert user.clip.shape == (3, 12, 32, 16)
    assert user.sources[0] == "clip.mp4#0" and user.notes == ()
    # A lossy codec: the red channel still rises with the encoded ramp, frame after frame.
    red = user.clip[0, :, 16, 8].float()
    assert (red[1:] >= red[:-1] - 4).all() and red[-1] - red[0] > 60


def test_long_video_is_thinned_with_a_note():
    user = read_uploads([("clip.mp4", _video(40))], limits=InputLimits(max_frames=10))
    assert user.num_frames == 10
    assert user.sources[1] == "clip.mp4#4"
    assert any("every 4th frame" in n for n in user.notes)


def test_gif_frames(tmp_path):
    path = tmp_path / "walk.gif"
    path.write_bytes(_gif([0, 50, 100, 150]))
    user = read_tracklet(path)
    assert user.num_frames == 4
    assert user.clip[0, :, 0, 0].tolist() == pytest.approx([0, 50, 100, 150], abs=3)


def test_mixed_sizes_are_resized_with_a_warning(tmp_path):
    _write_frames(tmp_path, [1, 2, 3], size=(32, 16))
    (tmp_path / "f4.png").write_bytes(_png(4, size=(40, 20)))
    user = read_tracklet(tmp_path)
    assert user.clip.shape == (3, 4, 32, 16)
    assert len(user.warnings) == 1
    assert "1 of 4 frames" in user.warnings[0] and "f4.png (40x20)" in user.warnings[0]


def test_single_frame_is_allowed_with_a_note(tmp_path):
    (tmp_path / "one.png").write_bytes(_png(5))
    user = read_tracklet(tmp_path / "one.png")
    assert user.num_frames == 1
    assert user.notes == (SINGLE_FRAME_NOTE,)
    assert "temporal" in SINGLE_FRAME_NOTE


def test_large_frames_are_scaled_down_on_reading(tmp_path):
    _write_frames(tmp_path, [1, 2], size=(64, 32))
    user = read_tracklet(tmp_path, limits=InputLimits(max_side=32))
    assert user.frame_size == (32, 16)
    assert any("scaled down" in n for n in user.notes)


def test_resized_and_saved_tracklets(tmp_path):
    _write_frames(tmp_path / "in", [1, 2, 3])
    user = read_tracklet(tmp_path / "in")
    assert user.resized((64, 32)).shape == (3, 3, 64, 32)
    tracklet = user.save(tmp_path / "out", pid=-1, camid=2)
    assert len(tracklet.frames) == 3 and tracklet.camid == 2
    again = read_tracklet(tmp_path / "out")
    assert torch.equal(again.clip, user.clip)  # PNG is lossless


# --------------------------------------------------------------------------- bad inputs


def test_zero_frames(tmp_path):
    (tmp_path / "empty").mkdir()
    err = _error(lambda: read_tracklet(tmp_path / "empty"))
    assert err.path == str(tmp_path / "empty") and "at least one frame" in err.reason
    assert "at least one frame" in _error(lambda: read_uploads([])).reason
    err = _error(lambda: read_uploads([("x.zip", _zip({"__MACOSX/._a.png": b"x"}))]))
    assert err.path == "x.zip" and "at least one frame" in err.reason


def test_non_image_file_is_named(tmp_path):
    _write_frames(tmp_path, [1, 2])
    (tmp_path / "notes.txt").write_text("not a frame")
    err = _error(lambda: read_tracklet(tmp_path))
    assert err.path.endswith("notes.txt") and "not an image" in err.reason
    assert str(err).startswith(err.path)


def test_truncated_image_is_named(tmp_path):
    _write_frames(tmp_path, [1, 2])
    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8)).save(
        buf, format="JPEG"
    )
    (tmp_path / "f3.jpg").write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])
    err = _error(lambda: read_tracklet(tmp_path))
    assert err.path.endswith("f3.jpg") and "truncated" in err.reason


def test_unreadable_file_is_named(tmp_path):
    err = _error(lambda: read_tracklet([tmp_path / "missing.png"]))
    assert err.path.endswith("missing.png") and "cannot be read" in err.reason


def test_too_many_frames_and_pixels(tmp_path):
    _write_frames(tmp_path, range(5))
    err = _error(lambda: read_tracklet(tmp_path, limits=InputLimits(max_frames=4)))
    assert "5 files" in err.reason and "4 frames" in err.reason
    err = _error(lambda: read_tracklet(tmp_path, limits=InputLimits(max_pixels=100)))
    assert err.path.endswith(".png") and "32x16" in err.reason


@pytest.mark.parametrize("member", ["../evil.png", "/abs/evil.png", "a/../../evil.png", "C:/x.png"])
def test_zip_path_traversal_is_refused(member):
    data = _zip({"ok.png": _png(1), member: _png(2)})
    err = _error(lambda: read_uploads([("up.zip", data)]))
    assert err.path == f"up.zip:{member}" and "path traversal" in err.reason


def test_zip_bomb_by_ratio_and_by_total_size():
    bomb = _zip({"a.png": _png(1), "b.png": b"\0" * (8 * 2**20)})
    err = _error(lambda: read_uploads([("bomb.zip", bomb)]))
    assert err.path == "bomb.zip:b.png" and "zip bomb" in err.reason
    many = _zip({f"{i}.png": _png(i) for i in range(4)}, compression=zipfile.ZIP_STORED)
    err = _error(
        lambda: read_uploads([("many.zip", many)], limits=InputLimits(max_unpacked_bytes=300))
    )
    assert err.path == "many.zip" and "zip bomb" in err.reason


def test_zip_member_larger_than_its_header_says():
    data = bytearray(_zip({"a.png": _png(1)}, compression=zipfile.ZIP_STORED))
    # Shrink the uncompressed size in the central directory (offset 24 of the entry): reading
    # stops at the declared size and the member is refused, never read past it.
    pos = data.rindex(b"PK\x01\x02") + 24
    data[pos : pos + 4] = (len(_png(1)) - 10).to_bytes(4, "little")
    err = _error(lambda: read_uploads([("lying.zip", bytes(data))]))
    assert err.path == "lying.zip:a.png"
    assert "cannot be unpacked" in err.reason or "header" in err.reason


def test_archive_and_file_size_limits(tmp_path):
    data = _zip({"a.png": _png(1)})
    err = _error(lambda: read_uploads([("a.zip", data)], limits=InputLimits(max_archive_bytes=10)))
    assert err.path == "a.zip" and "MiB" in err.reason
    err = _error(lambda: read_uploads([("a.png", _png(1))], limits=InputLimits(max_file_bytes=10)))
    assert err.path == "a.png"


def test_not_a_zip_and_not_a_video():
    assert "zip" in _error(lambda: read_uploads([("x.zip", b"no zip here")])).reason
    assert "video" in _error(lambda: read_uploads([("x.mp4", b"no video here")])).reason


def test_over_long_video_and_gif():
    limits = InputLimits(max_video_seconds=1.0)
    err = _error(lambda: read_uploads([("long.mp4", _video(40, fps=25))], limits=limits))
    assert err.path == "long.mp4" and "over-long video" in err.reason
    err = _error(lambda: read_uploads([("long.gif", _gif(range(0, 200, 10), 100))], limits=limits))
    assert err.path == "long.gif" and "over-long" in err.reason


def test_truncated_video():
    data = _video(20)
    with pytest.raises(TrackletInputError) as info:
        read_uploads([("cut.mp4", data[: len(data) // 3])])
    assert info.value.path == "cut.mp4"


def test_zip_and_video_are_read_on_their_own():
    err = _error(lambda: read_uploads([("a.zip", b""), ("b.png", _png(1))]))
    assert "on its own" in err.reason


# --------------------------------------------------------------------------- occlusion


@pytest.mark.parametrize("kind", OCCLUDER_KINDS)
def test_occluder_is_drawn_in_the_chosen_frames_only(kind):
    clip = torch.full((3, 6, 128, 64), 128, dtype=torch.uint8)
    out = occlude(clip, kind, position=0.0, size=1.2, frames=(1, 3))
    assert out.clip.shape == clip.shape and out.clip.dtype == torch.uint8
    drawn = out.masks.flatten(1).any(dim=1).tolist()
    assert drawn == [False, True, True, True, False, False]
    changed = (out.clip != clip).flatten(2).any(dim=0).any(dim=1).tolist()
    assert changed == drawn
    assert torch.equal(clip, torch.full_like(clip, 128))  # the input is untouched
    assert (out.occluder.kind, out.occluder.start, out.occluder.end) == (kind, 1, 3)


def test_occluder_moves_and_scales():
    clip = torch.zeros((3, 5, 128, 64), dtype=torch.uint8)
    out = occlude(clip, "pole", position=(-0.4, 0.4))
    columns = [m.any(dim=0).nonzero().float().mean().item() for m in out.masks]
    assert columns == sorted(columns) and columns[0] < 20 < 44 < columns[-1]
    small = occlude(clip, "car", position=0.0, size=0.5).masks.sum()
    large = occlude(clip, "car", position=0.0, size=1.0).masks.sum()
    assert large > 2 * small


def test_occluder_rejects_bad_arguments():
    clip = torch.zeros((3, 4, 32, 16), dtype=torch.uint8)
    with pytest.raises(ValueError, match="kind"):
        occlude(clip, "umbrella")
    with pytest.raises(ValueError, match="frames"):
        occlude(clip, "pole", frames=(2, 9))
    with pytest.raises(ValueError, match="uint8"):
        occlude(clip.float(), "pole")
