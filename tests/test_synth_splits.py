"""A synthetic world drawn without its training split (``generate(..., splits=("test",))``):
the same test files as the whole world, read by the MARS loader, and refused for training."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from strf_core.cli import main
from strf_core.data.datasets import DatasetError, build_dataset
from strf_core.data.datasets.synthetic import require_split
from strf_core.synth import META_NAME, SynthError, generate, load_metadata

SIZE = (128, 64)
TRAIN_TABLE = "info/tracks_train_info.mat"


@pytest.fixture(scope="module")
def worlds(tmp_path_factory) -> dict[str, Path]:
    """The tiny world whole, and its test split alone, from the same seed."""
    base = tmp_path_factory.mktemp("splits")
    generate(base / "full", preset="tiny", seed=0, size=SIZE, progress=False)
    generate(base / "test", preset="tiny", seed=0, size=SIZE, progress=False, splits=("test",))
    return {"full": base / "full", "test": base / "test"}


def _files(root: Path) -> dict[str, str]:
    """Every file under ``root`` but the metadata, by relative path, as a SHA-256."""
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name != META_NAME
    }


def _is_train(relative: str) -> bool:
    return "bbox_train" in relative or relative in ("info/train_name.txt", TRAIN_TABLE)


def test_test_split_files_are_those_of_the_whole_world(worlds):
    full, test = _files(worlds["full"]), _files(worlds["test"])
    wanted = {path: digest for path, digest in full.items() if not _is_train(path)}
    assert any(p.startswith("bbox_test/") for p in wanted)
    assert any(p.startswith("masks/bbox_test/") for p in wanted)
    assert {"info/test_name.txt", "info/tracks_test_info.mat", "info/query_IDX.mat"} <= set(wanted)
    # Frames, masks and the test tables byte for byte; of the training split, only its two
    # (empty) info files.
    assert {p: d for p, d in test.items() if not _is_train(p)} == wanted
    assert sorted(p for p in test if _is_train(p)) == [
        "info/tracks_train_info.mat",
        "info/train_name.txt",
    ]
    assert (worlds["test"] / "info" / "train_name.txt").read_text() == ""


def test_metadata_records_the_drawn_splits_and_their_tracklets(worlds):
    full, test = load_metadata(worlds["full"]), load_metadata(worlds["test"])
    assert full["generator"]["splits"] == ["train", "test"]
    assert test["generator"]["splits"] == ["test"]
    assert test["tracklets"] == [t for t in full["tracklets"] if t["split"] == "test"]
    assert test["generator"]["counts"]["tracklets"] == {
        "train": 0,
        "test": full["generator"]["counts"]["tracklets"]["test"],
    }
    assert test["identities"] == full["identities"]


def test_mars_loader_reads_query_and_gallery_as_in_the_whole_world(worlds):
    def relative(root: Path, tracklets) -> list:
        return [
            (tuple(Path(f).relative_to(root).as_posix() for f in t.frames), t.pid, t.camid)
            for t in tracklets
        ]

    for protocol in ("ap3d", "torchreid"):
        full = build_dataset("mars", worlds["full"], protocol=protocol)
        test = build_dataset("mars", worlds["test"], protocol=protocol, validate=True)
        for split in ("query", "gallery"):
            got = relative(worlds["test"], test.split(split))
            assert got and got == relative(worlds["full"], full.split(split))
        assert test.query_subsets().keys() == full.query_subsets().keys()
        for name, mask in full.query_subsets().items():
            assert (test.query_subsets()[name] == mask).all()


def test_training_on_a_test_only_world_is_refused_by_name(worlds, tmp_path, capsys):
    data = build_dataset("mars", worlds["test"])
    with pytest.raises(DatasetError) as error:
        data.train  # noqa: B018 (the property raises)
    message = str(error.value)
    assert str(worlds["test"]) in message and "train split was not drawn" in message
    assert "strf synth DIR --preset tiny --seed 0 --size 128x64" in message
    # The whole world trains as before.
    assert len(build_dataset("mars", worlds["full"]).train) > 0

    run = ["train", "--data-root", str(worlds["test"]), "--output-dir", str(tmp_path / "run")]
    assert main([*run, "--quiet", "--set", "model.name=p3dc_resnet_tiny"]) == 2
    err = capsys.readouterr().err
    assert "train split was not drawn" in err and "strf synth" in err
    assert not (tmp_path / "run" / "last").exists()


def test_worlds_written_before_the_splits_key_train_as_before(worlds, tmp_path):
    old = tmp_path / "old"
    old.mkdir()
    for name in ("info", "bbox_train", "bbox_test"):
        (old / name).symlink_to(worlds["full"] / name)
    meta = load_metadata(worlds["full"])
    del meta["generator"]["splits"]
    (old / META_NAME).write_text(json.dumps(meta))
    require_split(old, "train")  # no record of the splits: both were drawn
    with pytest.raises(DatasetError, match="train split was not drawn"):
        require_split(worlds["test"], "train")
    counts = meta["generator"]["counts"]["tracklets"]
    assert len(build_dataset("mars", old).train) == counts["train"]


def test_bad_splits_are_named(tmp_path):
    for splits in (("train",), (), ("test", "train"), ("query",)):
        with pytest.raises(SynthError, match="bad splits"):
            generate(tmp_path / "w", preset="tiny", progress=False, splits=splits)
    assert not any(tmp_path.iterdir())
