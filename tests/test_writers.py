"""The one MARS writer (SPEC section 4), its name encoding, and the .mat files it writes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import scipy.io

from strf_core.data.datasets import build_dataset
from strf_core.data.datasets.base import natural_key
from strf_core.data.datasets.mars import INFO_FILES, MAT_VARIABLES, frame_name, parse_frame_name
from strf_core.data.writers import MarsTracklet, layout_split, write_info, write_mars
from strf_core.data.writers.tiny import MARS_TEST, write_tiny_mars


def _mat(root: Path, key: str) -> np.ndarray:
    return scipy.io.loadmat(root / INFO_FILES[key])[MAT_VARIABLES[key]]


def test_names_parse_and_reject():
    assert frame_name(3, 2, 1, 7) == "0003C2T0001F007.jpg"
    assert frame_name(-1, 6, 12, 999) == "00-1C6T0012F999.jpg"
    assert parse_frame_name("0000C1T0003F010.jpg") == (0, 1, 3, 10)
    assert parse_frame_name("00-1C4T0001F001.jpg") == (-1, 4, 1, 1)
    for bad in (
        "0001C7T0001F001.jpg",
        "001C1T0001F001.jpg",
        "0001C1T001F001.jpg",
        "0001C1T0001F0001.jpg",
    ):
        with pytest.raises(ValueError, match="MARS"):
            parse_frame_name(bad)
    with pytest.raises(ValueError, match="camera"):
        frame_name(1, 0, 1, 1)


def test_write_mars_from_arrays_and_callables(tmp_path):
    def gray(i):
        return np.full((16, 8, 3), 20 * i, np.uint8)

    train = [MarsTracklet(5, 1, gray, num_frames=3), MarsTracklet(5, 2, [gray(0)] * 2)]
    test = [
        MarsTracklet(2, 3, gray, num_frames=4),
        MarsTracklet(2, 1, gray, num_frames=2),
        MarsTracklet(-1, 4, gray, num_frames=2),
        MarsTracklet(0, 2, gray, num_frames=1),
        MarsTracklet(2, 1, gray, num_frames=2),
    ]
    _, layout = write_mars(tmp_path, train, test, query=[0], newline="\r\n")
    names = (tmp_path / "info" / "test_name.txt").read_bytes().decode().split("\r\n")[:-1]
    # Sorted by pid folder (00-1 < 0000 < 0002), camera, tracklet number (input order).
    assert names[0] == "00-1C4T0001F001.jpg" and names[2] == "0000C2T0001F001.jpg"
    assert names[3:5] == ["0002C1T0001F001.jpg", "0002C1T0001F002.jpg"]
    assert names[5] == "0002C1T0002F001.jpg"
    info = _mat(tmp_path, "test_info")
    assert info.tolist() == [[1, 2, -1, 4], [3, 3, 0, 2], [4, 5, 2, 1], [6, 7, 2, 1], [8, 11, 2, 3]]
    assert _mat(tmp_path, "query").tolist() == [[5]]  # test[0] is the last row, 1-based
    assert layout.rows == [4, 2, 0, 1, 3]
    assert _mat(tmp_path, "train_info").tolist() == [[1, 3, 5, 1], [4, 5, 5, 2]]
    assert (tmp_path / "bbox_test" / "0002" / "0002C3T0001F004.jpg").is_file()
    with pytest.raises(ValueError, match="junk or distractor"):
        write_mars(tmp_path / "bad", [], test, query=[2])
    with pytest.raises(ValueError, match="train tracklets need pid >= 1"):
        write_mars(tmp_path / "bad", [MarsTracklet(0, 1, [gray(0)])], test, query=[])


def test_mat_files_carry_no_timestamp(tmp_path):
    layout = layout_split([(1, 1, 3), (2, 2, 2)])
    for sub in ("a", "b"):
        write_info(tmp_path / sub, layout, layout, [0])
    for name in ("tracks_train_info.mat", "tracks_test_info.mat", "query_IDX.mat"):
        assert (tmp_path / "a" / "info" / name).read_bytes() == (
            tmp_path / "b" / "info" / name
        ).read_bytes()


def test_frame_numbers_past_999_round_trip():
    assert frame_name(4, 1, 1, 1000) == "0004C1T0001F1000.jpg"
    assert parse_frame_name("0004C1T0001F1000.jpg") == (4, 1, 1, 1000)


def test_tiny_mars_keeps_the_table_order_given(tmp_path):
    root = write_tiny_mars(tmp_path / "mars", crlf=False)
    info = _mat(root, "test_info")
    assert [(pid, cam) for _, _, pid, cam in info] == [(p, c) for p, c, _ in MARS_TEST]
    assert _mat(root, "query").tolist() == [[1, 4]]
    # Rows 1 and 7: the same person and camera, tracklets T0001 and T0002.
    names = (root / "info" / "test_name.txt").read_text().split("\n")
    assert names[info[6, 0] - 1] == "0007C1T0002F001.jpg"
    assert len(build_dataset("mars", root, validate=True).query) == 2


def test_natural_key_orders_numbers_and_optionally_ignores_case():
    names = ["f10.jpg", "F2.jpg", "f1.jpg"]
    assert sorted(names, key=natural_key) == ["F2.jpg", "f1.jpg", "f10.jpg"]
    ordered = sorted(names, key=lambda n: natural_key(n, ignore_case=True))
    assert ordered == ["f1.jpg", "F2.jpg", "f10.jpg"]
