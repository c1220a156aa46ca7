"""Loaders against tiny trees in the real on-disk formats (SPEC section 4), with the splits
torchreid's loaders give written out by hand (read from torchreid 0.2.5's video datasets)."""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np
import pytest
import scipy.io
from PIL import Image

from strf_core.cli.data import add_data_parser
from strf_core.data import writers
from strf_core.data.datasets import (
    ILIDSVID,
    PRID2011,
    DatasetError,
    DukeMTMCVideoReID,
    Mars,
    TrackletFolder,
    build_dataset,
    dataset_options,
    datasets_with_option,
    list_datasets,
)
from strf_core.data.datasets.check import find_frame_problems
from strf_core.data.datasets.mars import frame_name
from strf_core.data.tracklet import Tracklet


def _mars(root: Path, home: str, stem: str, frames, pid: int, camid: int) -> Tracklet:
    """A MARS tracklet: ``stem`` is ``PPPPCcTtttt``, ``frames`` the frame numbers in order."""
    paths = tuple(str(root / home / stem[:4] / f"{stem}F{f:03d}.jpg") for f in frames)
    return Tracklet(paths, pid, camid)


def _duke(root: Path, split: str, pid: int, number: int, cam: int, frames, label: int) -> Tracklet:
    folder = root / split / f"{pid:04d}" / f"{number:04d}"
    paths = tuple(
        str(folder / f"{pid:04d}C{cam}F{f:04d}X{cam * 10000 + f:05d}.jpg") for f in frames
    )
    return Tracklet(paths, label, cam - 1)


def _sorted_files(folder: Path) -> tuple[str, ...]:
    # Zero-padded names of one width: text order is frame order.
    return tuple(sorted(str(p) for p in folder.iterdir()))


def _run_check(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="strf")
    add_data_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["data", "check", *argv])
    return args.func(args)


@pytest.fixture(scope="module")
def mars_root(tmp_path_factory) -> Path:
    return writers.write_tiny_mars(tmp_path_factory.mktemp("data") / "mars")


@pytest.fixture(scope="module")
def ilids_root(tmp_path_factory) -> Path:
    # The release's shape: 300 people, a 10 x 300 split table.
    return writers.write_tiny_ilids(tmp_path_factory.mktemp("data") / "ilids-vid")


# --- registry ---------------------------------------------------------------------------------


def test_list_datasets():
    assert list_datasets() == ["dukemtmc_vid", "folder", "ilids_vid", "mars", "prid2011"]


def test_unknown_dataset_names_the_available_ones(tmp_path):
    with pytest.raises(ValueError, match=r"unknown dataset 'market'.*dukemtmc_vid.*prid2011"):
        build_dataset("market", tmp_path)


def test_one_place_maps_a_dataset_to_its_options():
    everything = {"split_id": 3, "protocol": "ap3d", "train_dense": True}
    dense = {"train_dense": True}
    assert dataset_options("ilids_vid", **everything) == {"split_id": 3, **dense}
    assert dataset_options("prid2011", **everything) == {"split_id": 3, **dense}
    assert dataset_options("mars", **everything) == {"protocol": "ap3d"}
    assert dataset_options("dukemtmc_vid", **everything) == dense
    assert dataset_options("folder", **everything) == {}
    assert datasets_with_option("split_id") == ["ilids_vid", "prid2011"]
    assert datasets_with_option("protocol") == ["mars"]
    assert datasets_with_option("train_dense") == ["dukemtmc_vid", "ilids_vid", "prid2011"]
    with pytest.raises(ValueError, match="unknown dataset 'market'"):
        dataset_options("market", split_id=0)


def test_real_data_has_no_query_subsets_and_no_lookalike_groups(mars_root):
    data = build_dataset("mars", mars_root)
    assert data.query_subsets() == {}
    with pytest.raises(DatasetError, match="real data gives no such labels"):
        data.lookalike_groups()


def test_a_synthetic_world_exposes_its_query_subsets_and_lookalike_groups(tmp_path):
    from strf_core.synth import generate, lookalike_groups, subset_masks

    root = tmp_path / "world"
    generate(root, preset="tiny", seed=0, size=(64, 32), workers=1, progress=False)
    data = build_dataset("mars", root)
    subsets = data.query_subsets()
    expected = subset_masks(root, data.query)
    assert list(subsets) == list(expected) == ["lookalike", "occluded", "misaligned", "clean"]
    for name, mask in expected.items():
        assert np.array_equal(subsets[name], mask) and len(mask) == len(data.query)
    assert data.lookalike_groups() == lookalike_groups(root, data.train)
    assert any(g is not None for g in data.lookalike_groups())
    assert data.lookalike_groups(data.query) == lookalike_groups(root, data.query)


def test_missing_root_is_named(tmp_path):
    with pytest.raises(DatasetError, match="does not exist"):
        build_dataset("mars", tmp_path / "nowhere")


# --- MARS -------------------------------------------------------------------------------------


def test_mars_writer_follows_the_release_byte_for_byte(mars_root):
    info = mars_root / "info"
    lines = (info / "train_name.txt").read_bytes().split(b"\r\n")
    assert lines[:2] == [b"0005C1T0001F001.jpg", b"0005C1T0001F002.jpg"] and lines[-1] == b""
    assert b"00-1C5T0001F001.jpg\r\n" in (info / "test_name.txt").read_bytes()
    train = scipy.io.loadmat(info / "tracks_train_info.mat")["track_train_info"]
    assert train.dtype == np.int32 and train.tolist()[:2] == [[1, 3, 5, 1], [4, 5, 5, 3]]
    test = scipy.io.loadmat(info / "tracks_test_info.mat")["track_test_info"]
    assert test.shape == (7, 4) and test[4].tolist() == [10, 11, -1, 5]
    query = scipy.io.loadmat(info / "query_IDX.mat")["query_IDX"]
    assert query.dtype == np.int32 and query.tolist() == [[1, 4]]
    assert (mars_root / "bbox_test" / "00-1" / "00-1C5T0001F002.jpg").is_file()
    assert (mars_root / "bbox_test" / "0000" / "0000C3T0001F001.jpg").is_file()


def test_mars_torchreid_protocol_splits(mars_root):
    data = build_dataset("mars", mars_root)
    r = mars_root
    # Train pids 2, 5, 9 -> 0, 1, 2; camid = camera - 1.
    assert data.train == [
        _mars(r, "bbox_train", "0005C1T0001", [1, 2, 3], 1, 0),
        _mars(r, "bbox_train", "0005C3T0001", [1, 2], 1, 2),
        _mars(r, "bbox_train", "0002C2T0001", [1, 2, 3, 4], 0, 1),
        _mars(r, "bbox_train", "0009C6T0001", [1, 2], 2, 5),
    ]
    query = [
        _mars(r, "bbox_test", "0007C1T0001", [1, 2, 3], 7, 0),
        _mars(r, "bbox_test", "0011C4T0001", [1, 2], 11, 3),
    ]
    assert data.query == query
    # Test rows 2, 3, 6, 7: row 5 (junk) dropped, row 3 (distractor, pid 0) kept.
    gallery = [
        _mars(r, "bbox_test", "0007C2T0001", [1, 2], 7, 1),
        _mars(r, "bbox_test", "0000C3T0001", [1, 2], 0, 2),
        _mars(r, "bbox_test", "0011C5T0001", [1, 2, 3], 11, 4),
        _mars(r, "bbox_test", "0007C1T0002", [1, 2], 7, 0),
    ]
    assert data.gallery == gallery
    assert (data.num_train_pids, data.num_train_cams) == (3, 4)
    assert isinstance(data, Mars) and data.protocol == "torchreid"

    ap3d = build_dataset("mars", mars_root, protocol="ap3d")
    assert ap3d.train == data.train and ap3d.query == query
    assert ap3d.gallery == query + gallery


def test_mars_unknown_protocol(mars_root):
    with pytest.raises(ValueError, match="unknown MARS protocol 'market'"):
        build_dataset("mars", mars_root, protocol="market")


def test_mars_reads_lf_lists_and_torchreid_data_root(tmp_path, mars_root):
    writers.write_tiny_mars(tmp_path / "mars", crlf=False)
    assert b"\r" not in (tmp_path / "mars" / "info" / "train_name.txt").read_bytes()
    lf = build_dataset("mars", tmp_path)  # torchreid's data root: holds mars/
    crlf = build_dataset("mars", mars_root)
    for split in ("train", "query", "gallery"):
        relative = [
            (tuple(os.path.relpath(f, lf.root) for f in t.frames), t.pid, t.camid)
            for t in lf.split(split)
        ]
        expected = [
            (tuple(os.path.relpath(f, crlf.root) for f in t.frames), t.pid, t.camid)
            for t in crlf.split(split)
        ]
        assert relative == expected


def test_mars_frames_sorted_by_frame_number(tmp_path):
    # Listed out of order, and past F999 (four digits) where text order would put F1000 first.
    root = writers.write_tiny_mars(
        tmp_path / "mars",
        train=[(3, 2, [2, 1, 3]), (4, 1, [1000, 999])],
        test=[(8, 1, 1), (8, 2, 1)],
        query=[1],
    )
    data = build_dataset("mars", root)
    assert data.train == [
        _mars(root, "bbox_train", "0003C2T0001", [1, 2, 3], 0, 1),
        Tracklet(
            (
                str(root / "bbox_train" / "0004" / "0004C1T0001F999.jpg"),
                str(root / "bbox_train" / "0004" / "0004C1T0001F1000.jpg"),
            ),
            1,
            0,
        ),
    ]


def test_mars_loads_without_touching_frames(tmp_path, mars_root):
    # Only info/ is read at construction: with every image gone it still loads...
    root = tmp_path / "mars"
    (root / "info").mkdir(parents=True)
    for f in (mars_root / "info").iterdir():
        (root / "info" / f.name).write_bytes(f.read_bytes())
    assert len(build_dataset("mars", root).train) == 4
    # ...and validate=True is what notices.
    with pytest.raises(
        DatasetError, match=r"(?s)25 listed frame\(s\) missing.*0005C1T0001F001\.jpg"
    ):
        build_dataset("mars", root, validate=True)


def test_mars_validate_passes_on_a_complete_tree(mars_root):
    assert len(build_dataset("mars", mars_root, validate=True).query) == 2


@pytest.mark.slow
def test_mars_real_size_index_loads_fast(tmp_path):
    # The release's size: 8,298 + 12,180 tracklets, about 1.2M image names (no images needed).
    info = tmp_path / "mars" / "info"
    info.mkdir(parents=True)
    for split, num_tracklets, pids in (
        ("train", 8298, range(1, 626)),
        ("test", 12180, [0, -1, *range(626, 1262)]),
    ):
        names, rows = [], []
        for i in range(num_tracklets):
            pid, cam = pids[i % len(pids)], 1 + i % 6
            start = len(names) + 1
            number = i // len(pids) + 1  # tracklets count up per person
            names += [frame_name(pid, cam, number, f) for f in range(1, 59)]
            rows.append([start, len(names), pid, cam])
        (info / f"{split}_name.txt").write_bytes("".join(n + "\r\n" for n in names).encode())
        scipy.io.savemat(info / f"tracks_{split}_info.mat", {f"track_{split}_info": np.int32(rows)})
    query = [r + 1 for r in range(0, 12180, 6) if pids[r % len(pids)] > 0][:1980]
    scipy.io.savemat(info / "query_IDX.mat", {"query_IDX": np.int32(query)})
    start = time.perf_counter()
    data = build_dataset("mars", info.parent)
    seconds = time.perf_counter() - start
    assert (len(data.train), len(data.query), data.num_train_pids) == (8298, 1980, 625)
    assert seconds < 10, f"loading a real-size MARS index took {seconds:.1f} s"


@pytest.mark.parametrize(
    ("file", "content", "message"),
    [
        ("query_IDX.mat", None, r"query_IDX\.mat not found"),
        (
            "tracks_train_info.mat",
            {"track_info": np.int32([[1, 3, 5, 1]])},
            r"no variable "
            r"'track_train_info' \(found: track_info\)",
        ),
        ("tracks_test_info.mat", {"track_test_info": np.int32([[1, 3, 7]])}, "must have 4 columns"),
        ("query_IDX.mat", {"query_IDX": np.int32([1, 9])}, r"query_IDX holds \[9\], outside the 7"),
        ("query_IDX.mat", {"query_IDX": np.float64([1.5])}, "not whole numbers"),
        ("tracks_train_info.mat", b"not a mat file", r"tracks_train_info\.mat is not a readable"),
        ("train_name.txt", None, r"train_name\.txt not found"),
    ],
)
def test_mars_bad_info_files_are_named(tmp_path, file, content, message):
    root = writers.write_tiny_mars(tmp_path / "mars")
    path = root / "info" / file
    path.unlink()
    if isinstance(content, dict):
        scipy.io.savemat(path, content)
    elif isinstance(content, bytes):
        path.write_bytes(content)
    with pytest.raises(DatasetError, match=message):
        build_dataset("mars", root)


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ([4, 3, 2, 2], r"empty tracklet: tracks_train_info\.mat row 3 .* start > end"),
        ([9, 40, 2, 2], r"row 3 .* points outside the 11 names"),
        ([5, 8, 2, 2], r"row 3 .* lists '0005C3T0001F002\.jpg', not an image of pid 2 in camera 2"),
        ([6, 9, 2, 3], r"not an image of pid 2 in camera 3"),
    ],
)
def test_mars_bad_rows_are_named(tmp_path, row, message):
    root = writers.write_tiny_mars(tmp_path / "mars")
    path = root / "info" / "tracks_train_info.mat"
    table = scipy.io.loadmat(path)["track_train_info"]
    table[2] = row
    scipy.io.savemat(path, {"track_train_info": table})
    with pytest.raises(DatasetError, match=message):
        build_dataset("mars", root)


# --- DukeMTMC-VideoReID -----------------------------------------------------------------------


def test_duke_splits_and_the_f0002_tracklet_keeps_every_frame(tmp_path):
    root = writers.write_tiny_duke(tmp_path / "duke")
    quirk = root / "train" / "0007" / "0001"
    assert sorted(p.name for p in quirk.iterdir()) == [
        "0007C8F0002X80002.jpg",
        "0007C8F0003X80003.jpg",
        "0007C8F0004X80004.jpg",
    ]
    data = build_dataset("dukemtmc_vid", root)
    assert isinstance(data, DukeMTMCVideoReID)
    # Train pids 1, 4, 7 -> 0, 1, 2; torchreid would give pid 7's tracklet F0002-F0003 only.
    assert data.train == [
        _duke(root, "train", 1, 1, 1, [1, 2, 3], 0),
        _duke(root, "train", 1, 2, 2, [1, 2], 0),
        _duke(root, "train", 4, 1, 3, [1, 2], 1),
        _duke(root, "train", 7, 1, 8, [2, 3, 4], 2),
    ]
    assert data.query == [
        _duke(root, "query", 10, 1, 1, [1, 2], 10),
        _duke(root, "query", 12, 1, 5, [1, 2], 12),
    ]
    assert data.gallery == [
        _duke(root, "gallery", 10, 2, 2, [1, 2, 3], 10),
        _duke(root, "gallery", 10, 3, 1, [1, 2], 10),
        _duke(root, "gallery", 12, 2, 6, [1, 2], 12),
        _duke(root, "gallery", 30, 1, 4, [1, 2], 30),
    ]
    # torchreid's data root works too.
    nested = writers.write_tiny_duke(tmp_path / "r" / "dukemtmc-vidreid" / "DukeMTMC-VideoReID")
    assert len(build_dataset("dukemtmc_vid", tmp_path / "r").train) == 4 and nested.is_dir()


def test_duke_reads_underscore_names(tmp_path):
    folder = tmp_path / "duke" / "train" / "0003" / "0001"
    for frame in (10, 9):
        writers.write_image(folder / f"0003_C2_F{frame:04d}_X0001{frame}.jpg", (1, 2, 3))
    for split in ("query", "gallery"):
        (tmp_path / "duke" / split).mkdir()
    data = build_dataset("dukemtmc_vid", tmp_path / "duke")
    assert [os.path.basename(f) for f in data.train[0].frames] == [
        "0003_C2_F0009_X00019.jpg",
        "0003_C2_F0010_X000110.jpg",
    ]
    assert (data.train[0].pid, data.train[0].camid, data.query) == (0, 1, [])


@pytest.mark.parametrize("fault", ["empty", "person", "name", "pid", "cameras", "split"])
def test_duke_bad_folders_are_named(tmp_path, fault):
    root = writers.write_tiny_duke(tmp_path / "duke")
    folder = root / "query" / "0010" / "0001"
    if fault == "empty":
        for f in folder.iterdir():
            f.unlink()
        message = r"empty tracklet: .*query/0010/0001 has no \.jpg frames"
    elif fault == "person":
        (root / "query" / "tom").mkdir()
        message = r"query/tom: person folders are numbers"
    elif fault == "name":
        writers.write_image(folder / "frame7.jpg", (0, 0, 0))
        message = r"frame7\.jpg: not a DukeMTMC-VideoReID frame name"
    elif fault == "pid":
        writers.write_image(folder / "0011C1F0009X10009.jpg", (0, 0, 0))
        message = r"query/0010/0001: frames named for pid 11, in the folder of pid 10"
    elif fault == "cameras":
        writers.write_image(folder / "0010C3F0009X10009.jpg", (0, 0, 0))
        message = r"query/0010/0001: frames from several cameras \[1, 3\]"
    else:
        os.rename(root / "gallery", root / "gallery_old")
        message = r"gallery not found"
    with pytest.raises(DatasetError, match=message):
        build_dataset("dukemtmc_vid", root)


# --- iLIDS-VID --------------------------------------------------------------------------------


def test_ilids_writer_has_the_release_split_table(ilids_root):
    table = scipy.io.loadmat(
        ilids_root / "train-test people splits" / "train_test_splits_ilidsvid.mat"
    )
    ls_set = table["ls_set"]
    assert ls_set.shape == (10, 300) and ls_set.dtype == np.float64
    assert all(sorted(row) == list(range(1, 301)) for row in ls_set.astype(int).tolist())
    people = sorted(p.name for p in (ilids_root / "i-LIDS-VID" / "sequences" / "cam1").iterdir())
    assert len(people) == 300 and people[-1] == "person319" and "person016" not in people
    frames = sorted(p.name for p in (ilids_root / "i-LIDS-VID/sequences/cam2/person001").iterdir())
    assert frames[0] == "cam2_person001_01300.png"


@pytest.mark.parametrize("split_id", [0, 9])
def test_ilids_splits_follow_the_table(ilids_root, split_id):
    ls_set = scipy.io.loadmat(
        ilids_root / "train-test people splits" / "train_test_splits_ilidsvid.mat"
    )["ls_set"]
    sequences = ilids_root / "i-LIDS-VID" / "sequences"
    people = sorted(p.name for p in (sequences / "cam1").iterdir())
    row = [int(i) for i in ls_set[split_id]]
    test = [people[i - 1] for i in sorted(row[:150])]  # first half of a row: test people
    train = [people[i - 1] for i in sorted(row[150:])]

    data = build_dataset("ilids_vid", ilids_root, split_id=split_id)
    assert isinstance(data, ILIDSVID) and data.split_id == split_id
    assert data.train == [
        Tracklet(_sorted_files(sequences / cam / person), pid, camid)
        for pid, person in enumerate(train)
        for camid, cam in enumerate(("cam1", "cam2"))
    ]
    assert data.query == [
        Tracklet(_sorted_files(sequences / "cam1" / p), pid, 0) for pid, p in enumerate(test)
    ]
    assert data.gallery == [
        Tracklet(_sorted_files(sequences / "cam2" / p), pid, 1) for pid, p in enumerate(test)
    ]
    assert data.num_train_pids == 150 and data.num_train_cams == 2


def test_ilids_tiny_table_by_hand(tmp_path):
    # People 1, 2, 3, 5 -> folders person001, 002, 003, 005; split 0 = [3, 1, | 4, 2].
    root = writers.write_tiny_ilids(
        tmp_path, people=[1, 2, 3, 5], ls_set=np.array([[3, 1, 4, 2], [2, 4, 1, 3]], float)
    )
    seq = root / "i-LIDS-VID" / "sequences"
    data = ILIDSVID(root, split_id=0)
    assert [
        (os.path.basename(os.path.dirname(t.frames[0])), t.pid, t.camid) for t in data.train
    ] == [
        ("person002", 0, 0),
        ("person002", 0, 1),
        ("person005", 1, 0),
        ("person005", 1, 1),
    ]
    assert data.query == [
        Tracklet(_sorted_files(seq / "cam1" / "person001"), 0, 0),
        Tracklet(_sorted_files(seq / "cam1" / "person003"), 1, 0),
    ]
    assert [t.frames for t in data.gallery] == [
        _sorted_files(seq / "cam2" / "person001"),
        _sorted_files(seq / "cam2" / "person003"),
    ]
    with pytest.raises(DatasetError, match=r"split_id 2 out of range: .* has 2 splits \(0-1\)"):
        ILIDSVID(root, split_id=2)


@pytest.mark.parametrize("fault", ["table", "variable", "index", "people", "empty", "shape"])
def test_ilids_bad_folders_are_named(tmp_path, fault):
    root = writers.write_tiny_ilids(
        tmp_path, people=[1, 2, 3, 5], ls_set=np.array([[3, 1, 4, 2]], float)
    )
    mat = root / "train-test people splits" / "train_test_splits_ilidsvid.mat"
    if fault == "table":
        mat.unlink()
        message = r"train_test_splits_ilidsvid\.mat not found"
    elif fault == "variable":
        scipy.io.savemat(mat, {"splits": np.ones((1, 4))})
        message = r"has no variable 'ls_set' \(found: splits\)"
    elif fault == "index":
        scipy.io.savemat(mat, {"ls_set": np.array([[3, 1, 5, 2]], float)})
        message = r"ls_set holds \[5\], outside the 1-based indices of the 4 person folders"
    elif fault == "shape":
        scipy.io.savemat(mat, {"ls_set": np.array([[3, 1, 4]], float)})
        message = r"even number of people, got shape \(1, 3\)"
    elif fault == "people":
        os.rename(root / "i-LIDS-VID/sequences/cam2/person003", root / "person003")
        message = r"only in cam1: \['person003'\], only in cam2: none"
    else:
        for f in (root / "i-LIDS-VID/sequences/cam2/person005").iterdir():
            f.unlink()
        message = r"empty tracklet: .*cam2/person005 has no \.png frames"
    with pytest.raises(DatasetError, match=message):
        build_dataset("ilids_vid", root)


# --- PRID-2011 --------------------------------------------------------------------------------

PRID_SPLITS = [
    {"train": ["person_0003", "person_0001"], "test": ["person_0004", "person_0002"]},
    {"train": ["person_0002", "person_0004"], "test": ["person_0001", "person_0003"]},
]


def test_prid_writer_follows_the_release(tmp_path):
    root = writers.write_tiny_prid(tmp_path)
    cams = root / "prid_2011" / "multi_shot"
    assert len(list((cams / "cam_a").iterdir())) == 6 and len(list((cams / "cam_b").iterdir())) == 8
    assert (cams / "cam_b" / "person_0008" / "0001.png").is_file()
    import json

    splits = json.loads((root / "splits_prid2011.json").read_text())
    assert len(splits) == 10 and sorted(splits[0]) == ["test", "train"]
    assert sorted(splits[0]["train"] + splits[0]["test"]) == [
        f"person_{i:04d}" for i in range(1, 7)
    ]


def test_prid_splits_use_the_list_order_of_the_splits_file(tmp_path):
    root = writers.write_tiny_prid(tmp_path / "prid2011", num_people_a=4, splits=PRID_SPLITS)
    a, b = (root / "prid_2011" / "multi_shot" / c for c in ("cam_a", "cam_b"))
    for split_id, data_root in ((0, root), (1, tmp_path)):  # also torchreid's data root
        data = build_dataset("prid2011", data_root, split_id=split_id)
        assert isinstance(data, PRID2011)
        split = PRID_SPLITS[split_id]
        assert data.train == [
            Tracklet(_sorted_files(cam / person), pid, camid)
            for pid, person in enumerate(split["train"])
            for camid, cam in enumerate((a, b))
        ]
        assert data.query == [
            Tracklet(_sorted_files(a / p), pid, 0) for pid, p in enumerate(split["test"])
        ]
        assert data.gallery == [
            Tracklet(_sorted_files(b / p), pid, 1) for pid, p in enumerate(split["test"])
        ]
    assert data.query[0].frames[0].endswith(os.path.join("cam_a", "person_0001", "0001.png"))


@pytest.mark.parametrize("fault", ["missing", "json", "field", "range", "person"])
def test_prid_bad_folders_are_named(tmp_path, fault):
    root = writers.write_tiny_prid(tmp_path, num_people_a=4, splits=PRID_SPLITS)
    path = root / "splits_prid2011.json"
    split_id = 0
    if fault == "missing":
        path.unlink()
        message = r"splits_prid2011\.json not found"
    elif fault == "json":
        path.write_text("[{")
        message = r"splits_prid2011\.json is not valid JSON"
    elif fault == "field":
        path.write_text('[{"train": ["person_0001"]}]')
        message = r"split 0 has no 'test' list"
    elif fault == "range":
        split_id = 10
        message = r"split_id 10 out of range: .* has 2 splits \(0-1\)"
    else:
        path.write_text('[{"train": ["person_0001"], "test": ["person_0007"]}]')
        message = r"cam_a/person_0007 not found"
    with pytest.raises(DatasetError, match=message):
        build_dataset("prid2011", root, split_id=split_id)


# --- folder -----------------------------------------------------------------------------------


def test_folder_layout(tmp_path):
    root = writers.write_tiny_folder(tmp_path)
    data = build_dataset("folder", root)
    assert isinstance(data, TrackletFolder)

    def frames(split, pid, folder, n):
        return tuple(
            str(root / split / str(pid) / folder / f"frame_{k}.jpg") for k in range(1, n + 1)
        )

    # Cameras cam1, cam2, cam10 -> 0, 1, 2 (natural order); frame_9 before frame_10.
    assert data.train == [
        Tracklet(frames("train", 3, "cam1_a", 11), 0, 0),
        Tracklet(frames("train", 3, "cam2_b", 2), 0, 1),
        Tracklet(frames("train", 8, "cam10_a", 2), 1, 2),
    ]
    assert data.query == [Tracklet(frames("query", 21, "cam1_q", 2), 21, 0)]
    assert data.gallery == [
        Tracklet(frames("gallery", 0, "cam1_x", 1), 0, 0),
        Tracklet(frames("gallery", 21, "cam2_g", 3), 21, 1),
    ]


def test_folder_relative_root_gives_absolute_paths(tmp_path, monkeypatch):
    writers.write_tiny_folder(tmp_path / "mine", tracklets={"query": [(1, "c1", "t", 2)]})
    monkeypatch.chdir(tmp_path)
    data = build_dataset("folder", "mine")
    assert data.train == [] and data.gallery == []
    assert data.query[0].frames[0] == str(
        tmp_path / "mine" / "query" / "1" / "c1_t" / "frame_1.jpg"
    )


@pytest.mark.parametrize("fault", ["nothing", "pid", "camera", "empty"])
def test_folder_bad_layout_is_named(tmp_path, fault):
    root = tmp_path / "mine"
    writers.write_tiny_folder(root, tracklets={"train": [(1, "c1", "t", 2)]})
    if fault == "nothing":
        os.rename(root / "train", root / "training")
        message = r"none of the split folders train, query, gallery found"
    elif fault == "pid":
        (root / "train" / "bob" / "c1_t").mkdir(parents=True)
        message = r"train/bob: person folders must be whole numbers"
    elif fault == "camera":
        (root / "train" / "1" / "walk").mkdir()
        message = r"train/1/walk: tracklet folders are named <camera>_<anything>"
    else:
        (root / "train" / "1" / "c2_t").mkdir()
        message = r"empty tracklet: .*train/1/c2_t has no"
    with pytest.raises(DatasetError, match=message):
        build_dataset("folder", root)


# --- strf data check --------------------------------------------------------------------------


def test_data_check_prints_statistics(capsys, mars_root):
    assert _run_check([str(mars_root), "--dataset", "mars"]) == 0
    out = capsys.readouterr().out
    assert f"=> Mars (mars) at {mars_root}" in out
    assert "  train    |     3 |           4 |         4 | 11 / 2 / 2.8 / 4" in out
    assert "  query    |     2 |           2 |         2 | 5 / 2 / 2.5 / 3" in out
    assert "  gallery  |     3 |           4 |         4 | 9 / 2 / 2.2 / 3" in out
    assert "checked 25 frames: all present and readable" in out

    assert _run_check([str(mars_root), "--dataset", "mars", "--protocol", "ap3d"]) == 0
    out = capsys.readouterr().out
    assert "  gallery  |     3 |           6 |         5 | 14 / 2 / 2.3 / 3" in out
    assert "options: protocol=ap3d" in out and "checked 25 frames" in out


def test_data_check_split_id(capsys, ilids_root):
    assert _run_check([str(ilids_root), "--dataset", "ilids_vid", "--split-id", "4"]) == 0
    out = capsys.readouterr().out
    assert "  query    |   150 |         150 |         1 |" in out and "options: split_id=4" in out


def test_data_check_rejects_options_of_other_datasets(capsys, mars_root):
    assert _run_check([str(mars_root), "--dataset", "mars", "--split-id", "1"]) == 1
    assert "--split-id applies to ilids_vid, prid2011" in capsys.readouterr().err


def test_data_check_reports_a_folder_that_does_not_load(capsys, tmp_path):
    assert _run_check([str(tmp_path), "--dataset", "mars"]) == 1
    assert f"error: {tmp_path / 'info'} not found" in capsys.readouterr().err


def test_data_check_finds_unreadable_frames(capsys, tmp_path):
    root = writers.write_tiny_duke(tmp_path / "duke")
    garbage = root / "query" / "0012" / "0001" / "0012C5F0001X50001.jpg"
    garbage.write_bytes(b"this is not a JPEG")
    # A JPEG cut inside its pixel data: its header still parses.
    truncated = root / "gallery" / "0030" / "0001" / "0030C4F0002X40002.jpg"
    noise = np.random.default_rng(0).integers(0, 256, (64, 32, 3), dtype=np.uint8)
    Image.fromarray(noise).save(truncated)
    truncated.write_bytes(truncated.read_bytes()[:-400])

    assert _run_check([str(root), "--dataset", "dukemtmc_vid"]) == 1
    out = capsys.readouterr().out
    assert "1 of 23 frames have problems:" in out
    assert f"unreadable image (cannot identify image file '{garbage}'): {garbage}" in out

    # --full decodes every pixel, which is what finds the JPEG cut short.
    assert _run_check([str(root), "--dataset", "dukemtmc_vid", "--full"]) == 1
    out = capsys.readouterr().out
    assert "2 of 23 frames have problems:" in out
    assert "unreadable image (image file is truncated (" in out and f"): {truncated}" in out


def test_find_frame_problems_keeps_order_and_reports_progress(tmp_path):
    paths = []
    for i in range(1200):
        paths.append(str(tmp_path / f"{i}.png"))
        if i % 500 == 7:
            continue  # missing
        writers.write_image(Path(paths[-1]), (i % 256, 0, 0), size=(2, 2))
    calls = []
    problems = find_frame_problems(paths, workers=3, progress=lambda *a: calls.append(a))
    assert problems == [f"missing: {tmp_path / f'{i}.png'}" for i in (7, 507, 1007)]
    assert calls == [(512, 1200), (1024, 1200), (1200, 1200)]


def test_validate_finds_frames_gone_after_loading(tmp_path):
    root = writers.write_tiny_duke(tmp_path / "duke")
    data = build_dataset("dukemtmc_vid", root, validate=True)
    gone = root / "train" / "0007" / "0001" / "0007C8F0003X80003.jpg"
    gone.unlink()
    with pytest.raises(DatasetError, match=rf"(?s)1 listed frame\(s\) missing.*\n  {gone}$"):
        data.validate()


def test_data_check_lists_missing_frames(capsys, mars_root, tmp_path):
    root = writers.write_tiny_mars(tmp_path / "mars")
    gone = root / "bbox_test" / "0000" / "0000C3T0001F002.jpg"
    gone.unlink()
    assert _run_check([str(root), "--dataset", "mars", "--max-problems", "1"]) == 1
    out = capsys.readouterr().out
    assert f"1 of 25 frames have problems:\n  missing: {gone}\n" in out


# ----------------------------------------------------------------- AP3D's dense training splits


def _ap3d_dense(frames, step, pieces_of):
    """AP3D's ``tools/data_manager.py`` loop, transcribed: ``num_sampling = len // step``;
    piece ``idx`` is ``frames[idx*step : (idx+pieces_of)*step]``, the last ``frames[idx*step:]``
    (iLIDS-VID: step 32, ``idx + 2``; DukeMTMC-VideoReID: step 64, ``idx + 1``)."""
    num_sampling = len(frames) // step
    if num_sampling == 0:
        return [frames]
    out = []
    for idx in range(num_sampling):
        if idx == num_sampling - 1:
            out.append(frames[idx * step :])
        else:
            out.append(frames[idx * step : (idx + pieces_of) * step])
    return out


def test_ilids_dense_training_split_is_ap3ds(tmp_path):
    # 20 people: tracklets of 1 to 100 frames (the writer's rule), so every case occurs.
    root = writers.write_tiny_ilids(tmp_path / "ilids", people=range(1, 21), max_frames=100)
    whole = ILIDSVID(root, split_id=2)
    dense = build_dataset("ilids_vid", root, split_id=2, train_dense=True)
    expected = [
        t._replace(frames=piece) for t in whole.train for piece in _ap3d_dense(t.frames, 32, 2)
    ]
    assert dense.train == expected
    assert len(dense.train) > len(whole.train)  # some tracklets were long enough to cut
    # By hand: a tracklet of 64 to 95 frames gives frames [0, 64) and [32, end).
    long = next(t for t in whole.train if 64 <= len(t.frames) < 96)
    pieces = [p.frames for p in dense.train if p.pid == long.pid and p.camid == long.camid]
    assert pieces == [long.frames[:64], long.frames[32:]]
    assert (dense.query, dense.gallery) == (whole.query, whole.gallery)  # test splits untouched


def test_duke_dense_training_split_is_ap3ds(tmp_path):
    tracklets = dict(writers.tiny.DUKE_TRACKLETS)
    tracklets["train"] = ((1, 1, 1, 200), (1, 2, 2, 64), (4, 1, 3, 63), (7, 1, 8, range(2, 132)))
    root = writers.write_tiny_duke(tmp_path / "duke", tracklets=tracklets)
    whole = DukeMTMCVideoReID(root)
    dense = build_dataset("dukemtmc_vid", root, train_dense=True)
    expected = [
        t._replace(frames=piece) for t in whole.train for piece in _ap3d_dense(t.frames, 64, 1)
    ]
    assert dense.train == expected
    # By hand: 200 frames -> [0, 64), [64, 128), [128, 200); 64 and 63 frames stay whole;
    # 130 frames (F0002 to F0131) -> [0, 64), [64, 130).
    assert [len(t.frames) for t in dense.train] == [64, 64, 72, 64, 63, 64, 66]
    assert dense.query == whole.query and dense.gallery == whole.gallery


def test_prid_dense_uses_ilids_lengths_and_mars_has_none(tmp_path, mars_root):
    root = writers.write_tiny_prid(
        tmp_path / "prid", num_people_a=24, num_people_b=24, max_frames=80
    )
    whole, dense = PRID2011(root), PRID2011(root, train_dense=True)
    expected = [
        t._replace(frames=piece) for t in whole.train for piece in _ap3d_dense(t.frames, 32, 2)
    ]
    assert dense.train == expected and len(dense.train) > len(whole.train)
    with pytest.raises(TypeError):
        build_dataset("mars", mars_root, train_dense=True)
