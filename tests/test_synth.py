"""The synthetic tracklet world: MARS layout, determinism, metadata, hard cases, CLI."""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import os
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import scipy.io
import torch

from strf_core.cli.data import add_synth_parser
from strf_core.data.datasets.mars import (
    INFO_FILES,
    MAT_VARIABLES,
    SPLIT_DIRS,
    parse_frame_name,
    pid_folder,
)
from strf_core.data.pipeline import read_frame
from strf_core.synth import (
    GAIT_RANGES,
    META_NAME,
    PRESETS,
    SynthError,
    TrackletRenderer,
    generate,
    load_metadata,
    lookalike_gaits,
    parse_size,
    plan_world,
)

SIZE = (128, 64)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("synth") / "tiny"
    generate(root, preset="tiny", seed=0, size=SIZE, workers=1, progress=False)
    return root


def _hashes(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def _mat(root: Path, key: str) -> np.ndarray:
    return scipy.io.loadmat(root / INFO_FILES[key])[MAT_VARIABLES[key]]


# --------------------------------------------------------------------------- determinism


def test_same_seed_same_bytes_whatever_the_workers(tiny, tmp_path):
    generate(tmp_path / "again", preset="tiny", seed=0, size=SIZE, workers=2, progress=False)
    assert _hashes(tmp_path / "again") == _hashes(tiny)
    generate(tmp_path / "other", preset="tiny", seed=1, size=SIZE, workers=1, progress=False)
    other = _hashes(tmp_path / "other")
    assert other != _hashes(tiny)


# --------------------------------------------------------------------------- MARS layout


def test_mars_tree_and_info_follow_spec(tiny):
    assert sorted(p.name for p in tiny.iterdir()) == [
        "bbox_test",
        "bbox_train",
        "info",
        "masks",
        META_NAME,
    ]
    folders = {p.name for p in (tiny / "bbox_test").iterdir()}
    assert {"0000", "00-1"} <= folders
    for key, split in (("train", "train_info"), ("test", "test_info")):
        names = (tiny / INFO_FILES[f"{key}_names"]).read_text().split("\n")
        assert names[-1] == ""  # one name a line, newline-terminated
        names = names[:-1]
        info = _mat(tiny, split)
        assert info.dtype == np.int32 and info.ndim == 2 and info.shape[1] == 4
        # Rows cover the name list exactly, in order, 1-based inclusive.
        assert info[0, 0] == 1 and info[-1, 1] == len(names)
        assert (info[1:, 0] == info[:-1, 1] + 1).all() and (info[:, 0] <= info[:, 1]).all()
        on_disk = {p.name for p in (tiny / SPLIT_DIRS[key]).rglob("*.jpg")}
        assert on_disk == set(names)
        for start, end, pid, cam in info:
            parsed = [parse_frame_name(n) for n in names[start - 1 : end]]
            assert {(p.pid, p.camera, p.tracklet) for p in parsed} == {
                (pid, cam, parsed[0].tracklet)
            }
            assert [p.frame for p in parsed] == list(range(1, end - start + 2))
            assert (tiny / SPLIT_DIRS[key] / pid_folder(pid) / names[start - 1]).is_file()
        if key == "train":
            assert (info[:, 2] >= 1).all()
        else:
            assert {0, -1} <= set(info[:, 2].tolist())
    query = _mat(tiny, "query")
    assert query.dtype == np.int32 and query.shape[0] == 1
    assert query.min() >= 1 and len(set(query.ravel())) == query.size


def test_every_query_has_a_match_in_another_camera(tiny):
    info = _mat(tiny, "test_info")
    rows = _mat(tiny, "query").ravel() - 1
    gallery = np.setdiff1d(np.arange(len(info)), rows)
    for r in rows:
        pid, cam = info[r, 2], info[r, 3]
        assert pid >= 1
        assert ((info[gallery, 2] == pid) & (info[gallery, 3] != cam)).any()


def test_torchreid_style_reading(tiny):
    # What torchreid's MARS loader does with the files (its asserts), rewritten here.
    names = [line.rstrip() for line in (tiny / "info" / "test_name.txt").read_text().splitlines()]
    info = _mat(tiny, "test_info")
    query = _mat(tiny, "query").squeeze() - 1
    _ = info[query, :]
    for start, end, pid, cam in info:
        assert 1 <= cam <= 6
        block = names[start - 1 : end]
        assert len({n[:4] for n in block}) == 1 and len({n[5] for n in block}) == 1
        assert block[0][:4] == pid_folder(int(pid)) and int(block[0][5]) == cam


def test_our_mars_loader_reads_it(tiny):
    datasets = pytest.importorskip("strf_core.data.datasets")
    meta = load_metadata(tiny)
    data = datasets.build_dataset("mars", tiny, validate=True)
    tracks = meta["tracklets"]
    assert len(data.train) == sum(t["split"] == "train" for t in tracks)
    assert len(data.query) == sum(t["query"] for t in tracks)
    gallery = [t for t in tracks if t["split"] == "test" and not t["query"] and t["pid"] != -1]
    assert len(data.gallery) == len(gallery)
    assert all(len(t.frames) >= 8 for t in data.train + data.query + data.gallery)


# --------------------------------------------------------------------------- metadata


def test_its_frames_decode_to_the_same_pixels_with_pil_and_torchvision(tiny):
    # The loaders decode with torchvision, the dashboard with PIL (app/resources.py: DECODER);
    # a libjpeg build with another IDCT in either would make its clips differ from the loader's.
    frames = sorted((tiny / SPLIT_DIRS["test"]).rglob("*.jpg"))
    assert len(frames) > 100
    for path in frames[:: max(1, len(frames) // 200)]:
        pil, torchvision = read_frame(str(path), "pil"), read_frame(str(path), "torchvision")
        assert torch.equal(pil, torchvision), path


def test_metadata_is_read_again_once_the_file_changes(tiny, tmp_path):
    # load_metadata keeps the parsed file; a world regenerated in the same process (the
    # dashboard's, a notebook's) must not be served its old metadata.
    (tmp_path / META_NAME).write_bytes((tiny / META_NAME).read_bytes())
    first = load_metadata(tmp_path)
    assert load_metadata(tmp_path) is first  # unchanged file: parsed once
    changed = dict(first, generator=dict(first["generator"], seed=first["generator"]["seed"] + 1))
    replacement = tmp_path / "new.json"
    replacement.write_text(json.dumps(changed))
    os.replace(replacement, tmp_path / META_NAME)  # as the generator writes it: atomically
    assert load_metadata(tmp_path)["generator"]["seed"] == first["generator"]["seed"] + 1
    text = (tmp_path / META_NAME).read_text().replace('"preset": "tiny"', '"preset": "tinY"')
    (tmp_path / META_NAME).write_text(text)  # rewritten in place, same size
    assert load_metadata(tmp_path)["generator"]["preset"] == "tinY"


def test_metadata_matches_the_tree(tiny):
    meta = load_metadata(tiny)
    assert meta["format"] == "strf-synthetic-mars" and meta["generator"]["size"] == list(SIZE)
    infos = {"train": _mat(tiny, "train_info"), "test": _mat(tiny, "test_info")}
    queries = set((_mat(tiny, "query").ravel()).tolist())
    tracks = meta["tracklets"]
    assert len(tracks) == len(infos["train"]) + len(infos["test"])
    assert sum(t["num_frames"] for t in tracks) == meta["generator"]["counts"]["frames"]
    for t in tracks:
        start, end, pid, cam = infos[t["split"]][t["row"] - 1]
        assert (pid, cam, end - start + 1) == (t["pid"], t["camera"], t["num_frames"])
        assert t["query"] == (t["split"] == "test" and t["row"] in queries)
        assert f"{t['name']}F001.jpg" in (tiny / "info" / f"{t['split']}_name.txt").read_text()
        assert len(t["occluded_fraction"]) == t["num_frames"]
        assert ("occluded" in t["subsets"]) == (
            t["occluder"] is not None and t["kind"] == "identity"
        )
        assert ("lookalike" in t["subsets"]) == (t["lookalike_group"] is not None)
        if t["occluder"] is None:
            assert not any(t["occluded_fraction"])
        else:
            first, last = t["occluder"]["frames"]
            outside = t["occluded_fraction"][:first] + t["occluded_fraction"][last + 1 :]
            assert not any(outside)
    subsets = {s for t in tracks for s in t["subsets"]}
    assert subsets == {"lookalike", "occluded", "misaligned"}
    assert any(max(t["occluded_fraction"]) > 0.1 for t in tracks)


def test_recorded_occlusion_is_really_drawn(tiny):
    meta = load_metadata(tiny)
    world = plan_world(PRESETS["tiny"], 0)
    checked = 0
    for split in ("train", "test"):
        specs = [t.spec for t in world.split(split)]
        records = [t for t in meta["tracklets"] if t["split"] == split]
        for spec, record in zip(specs, records, strict=True):
            if spec.occluder is None or spec.appearance is None:
                continue
            renderer = TrackletRenderer(spec, SIZE)
            for t, recorded in enumerate(record["occluded_fraction"]):
                frame = renderer.render(t, masks=True)
                bare = renderer.render(t, occluder=False)
                changed = np.abs(
                    np.asarray(frame.image, dtype=int) - np.asarray(bare.image, dtype=int)
                ).max(-1)
                if frame.occluder_mask is None or not frame.occluder_mask.any():
                    assert recorded == 0 and not changed.any()
                    continue
                overlap = frame.person_mask & frame.occluder_mask
                assert recorded == round(overlap.sum() / frame.person_mask.sum(), 4)
                # The occluder changes pixels where it is drawn, and nothing far from it.
                assert (changed[frame.occluder_mask] > 0).mean() > 0.5
                near = _dilate(frame.occluder_mask, 6)
                assert not changed[~near].any()
                checked += recorded > 0
    assert checked >= 5


def _dilate(mask: np.ndarray, r: int) -> np.ndarray:
    out = mask.copy()
    for dy, dx in itertools.product(range(-r, r + 1), repeat=2):
        out |= np.roll(np.roll(mask, dy, 0), dx, 1)
    return out


# --------------------------------------------------------------------------- hard cases


def test_lookalikes_share_appearance_and_differ_in_gait(tiny):
    meta = load_metadata(tiny)
    identities = {i["pid"]: i for i in meta["identities"]}
    assert {g["split"] for g in meta["lookalike_groups"]} == {"train", "test"}
    for group in meta["lookalike_groups"]:
        members = [identities[p] for p in group["pids"]]
        assert 2 <= len(members) <= 3
        assert all(m["appearance"] == members[0]["appearance"] for m in members)
        for a, b in itertools.combinations(members, 2):
            for key, (lo, hi) in GAIT_RANGES.items():
                # Each parameter's range is banded: members sit at least half a band apart.
                assert abs(a["gait"][key] - b["gait"][key]) >= (hi - lo) / len(members) / 2 - 1e-6
    others = [i["appearance"] for i in identities.values() if i["lookalike_group"] is None]
    assert len({json.dumps(a, sort_keys=True) for a in others}) == len(others)


def test_lookalike_gaits_are_banded():
    rng = np.random.default_rng(0)
    for n in (2, 3):
        gaits = lookalike_gaits(rng, n)
        for key, (lo, hi) in GAIT_RANGES.items():
            values = sorted(getattr(g, key) for g in gaits)
            assert lo <= values[0] and values[-1] <= hi
            assert min(np.diff(values)) >= (hi - lo) / n / 2 - 1e-9


def test_gait_is_only_visible_over_time():
    """Same look, same start phase: frame 0 is identical, later frames are not."""
    world = plan_world(PRESETS["tiny"], 0)
    spec = next(t.spec for t in world.tracklets if t.spec.occluder is None and t.kind == "identity")
    slower = replace(spec, gait=replace(spec.gait, cadence=spec.gait.cadence * 0.7))
    a, b = TrackletRenderer(spec, SIZE), TrackletRenderer(slower, SIZE)
    assert np.array_equal(np.asarray(a.render(0).image), np.asarray(b.render(0).image))
    assert not np.array_equal(np.asarray(a.render(6).image), np.asarray(b.render(6).image))


def test_presets_plan_what_they_promise():
    demo = plan_world(PRESETS["demo"], 0)
    test = demo.split("test")
    assert sum(t.query for t in test) >= 300
    lengths = [t.spec.num_frames for t in demo.tracklets]
    assert min(lengths) >= 8 and max(lengths) <= 32
    full = PRESETS["full"]
    assert (full.train_ids, full.test_ids) == (625, 636) and full.length[1] >= 64
    assert {"occluded", "misaligned", "lookalike"} <= {s for t in test for s in t.subsets}


# --------------------------------------------------------------------------- bad input, CLI


def test_bad_input_is_named(tmp_path):
    for text in ("256*128", "256x", "100x64", "32x16"):
        with pytest.raises(SynthError, match="size"):
            parse_size(text)
    assert parse_size("128x64") == (128, 64)
    with pytest.raises(SynthError, match="unknown preset 'huge'"):
        generate(tmp_path / "a", preset="huge", progress=False)
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "mine.txt").write_text("keep me")
    with pytest.raises(SynthError, match="not empty"):
        generate(tmp_path / "full", preset="tiny", progress=False)
    with pytest.raises(SynthError, match="not a synthetic dataset"):
        generate(tmp_path / "full", preset="tiny", overwrite=True, progress=False)
    assert (tmp_path / "full" / "mine.txt").read_text() == "keep me"
    (tmp_path / "file").write_text("")
    with pytest.raises(SynthError, match="cannot write"):
        generate(tmp_path / "file" / "root", preset="tiny", progress=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file", "full"]  # no temp dirs left


def test_cli(tmp_path, capsys):
    parser = argparse.ArgumentParser(prog="strf")
    add_synth_parser(parser.add_subparsers(dest="command", required=True))
    root = tmp_path / "cli"
    args = parser.parse_args(
        ["synth", str(root), "--preset", "tiny", "--size", "128x64", "--quiet"]
    )
    assert args.func(args) == 0
    assert "queries" in capsys.readouterr().out
    assert load_metadata(root)["generator"]["preset"] == "tiny"
    # Again: refused, then replaced with --overwrite.
    assert args.func(args) == 2
    assert "--overwrite" in capsys.readouterr().err
    args = parser.parse_args(
        [
            "synth",
            str(root),
            "--preset",
            "tiny",
            "--seed",
            "3",
            "--size",
            "128x64",
            "--overwrite",
            "--quiet",
        ]
    )
    assert args.func(args) == 0 and load_metadata(root)["generator"]["seed"] == 3
    args = parser.parse_args(["synth", str(root), "--size", "256by128"])
    assert args.func(args) == 2
    assert "bad size '256by128'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        parser.parse_args(["synth", str(root), "--preset", "huge"])
