"""The shipped demo models load and reproduce their recorded metrics on regenerated sample data;
their shipped embeddings match recomputation; ``strf demo`` generates the test split only and
embeds nothing."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

import pytest
import torch

from strf_core import active_branches, cli
from strf_core.data.datasets.synthetic import drawn_splits
from strf_core.data.user import read_tracklet
from strf_core.demo import (
    demo_dataset,
    demo_models,
    demo_tracklets,
    demo_world,
    example_tracklets,
    model_gallery,
    world_spec,
)
from strf_core.engine.checkpoint import load_trained_model
from strf_core.experiments import evaluate_checkpoint
from strf_core.retrieval import BUNDLE_NAME
from strf_core.retrieval import gallery as gallery_module
from strf_core.synth import META_NAME

MODELS = Path(__file__).resolve().parents[1] / "sample_data" / "models"


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    """A private ``$STRF_CACHE`` for this module."""
    with pytest.MonkeyPatch.context() as mp:
        path = tmp_path_factory.mktemp("strf-cache")
        mp.setenv("STRF_CACHE", str(path))
        yield path


@pytest.fixture(scope="module")
def world(cache) -> Path:
    """The test split of the demo world the models were evaluated on, regenerated from its seed
    into the cache."""
    root = demo_world()
    assert root.is_relative_to(cache) and (root / META_NAME).is_file()
    assert root.name.endswith("-test") and drawn_splits(root) == ("test",)
    assert demo_world(root) == root  # present: not generated again
    return root


def test_demo_entry_points(world):
    models = demo_models()
    assert set(models) == {"baseline", "strf"}
    assert not models["baseline"].has_strf and models["strf"].has_strf
    assert models["baseline"].input_size == models["strf"].input_size == (128, 64)
    data = demo_dataset(world)
    assert len(data.query) == models["strf"].record["metrics"]["num_queries"]
    examples = example_tracklets()
    assert {"occluded", "lookalike_a", "lookalike_b", "misaligned"} <= set(examples)
    # The video is named after the tracklet its frames come from, so uploads of either are
    # labelled alike.
    tracklet = sorted(examples["occluded"].iterdir())[0].name[:11]
    video = f"occluded_{tracklet}.mp4"
    for name in ("occluded", "misaligned.zip", video):
        assert read_tracklet(examples[name]).num_frames >= 8
    frames = read_tracklet(examples["occluded"]).num_frames
    assert read_tracklet(examples[video]).num_frames == frames


@pytest.mark.parametrize("name, strf", [("baseline", False), ("strf", True)])
def test_demo_model_reproduces_its_recorded_metrics(world, name, strf):
    directory = MODELS / name
    files = {p.name: p.stat().st_size for p in directory.iterdir()}
    assert {"model.safetensors", "state.pt", "config.yaml", "eval.json"} <= set(files)
    files.pop(BUNDLE_NAME, None)  # the shipped embeddings: their own test
    assert sum(files.values()) < 10 * 2**20

    model, config = load_trained_model(directory)
    assert config.model.name == "p3dc_resnet_tiny" and config.model.strf is strf
    assert any(type(m).__name__ == "STRF" for m in model.modules()) is strf

    record = json.loads((directory / "eval.json").read_text())
    check = record["check"]
    got = evaluate_checkpoint(directory, world, num_ids=check["num_ids"])
    want = check["metrics"]
    assert got.num_queries == want["num_queries"]
    # Same data and weights; only float summation order may differ between machines.
    assert got.mAP == pytest.approx(want["mAP"], abs=2e-3)
    assert got.rank1 == pytest.approx(want["rank1"], abs=0.02)
    for subset in ("lookalike", "occluded", "misaligned"):
        assert got.subsets[subset].mAP == pytest.approx(want["subsets"][subset]["mAP"], abs=5e-3)
    # Trained models, far from chance on the full split (chance mAP is about 0.02 there).
    assert record["metrics"]["mAP"] > 0.3


@pytest.mark.parametrize("name, strf", [("baseline", False), ("strf", True)])
def test_tiny_pair_is_the_benchmarks_seed0_cell(name, strf):
    """The 64x32 pair kept in models/tiny/ is what `strf benchmark --seeds 0 --demo-models
    sample_data/models/tiny` exports: its record is the stored seed-0 cell of the benchmark."""
    directory = MODELS / "tiny" / name
    model, config = load_trained_model(directory)
    assert (config.data.height, config.data.width) == (64, 32) and config.model.strf is strf
    assert bool(model.strf_units()) is strf
    record = json.loads((directory / "eval.json").read_text())
    results = MODELS.parents[1] / "docs" / "results"
    cell = json.loads((results / "cells" / f"{name}_batch_p_4_batch_k_8__seed0.json").read_text())
    assert record["overrides"] == cell["overrides"] and record["metrics"] == cell["metrics"]
    assert not (directory / BUNDLE_NAME).exists()  # not the dashboard's: no embeddings shipped


def _fail(*args, **kwargs):
    raise AssertionError("generated or embedded")


def test_strf_demo_and_the_dashboards_galleries_use_the_shipped_embeddings(
    world, cache, monkeypatch, capsys
):
    # The world is there; every embedding comes from the shipped bundles.
    monkeypatch.setattr(gallery_module, "extract_features", _fail)
    monkeypatch.setattr("strf_core.demo.generate", _fail)
    assert cli.main(["demo", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "demo data ready" in out and out.count("shipped embeddings") == 2
    assert not (cache / "embeddings").exists()  # nothing embedded, nothing cached
    data = demo_dataset(world)
    for model in demo_models().values():
        for tracklets in (data.gallery, data.query):  # Explore's gallery, Benchmarks' queries
            gallery = model_gallery(tracklets, model, world_root=world)
            assert gallery.missing(model.model) == []  # every branch set: toggles wait for none
            assert gallery.features(model.model).shape == (len(tracklets), 512)


@pytest.mark.parametrize("name", ["baseline", "strf"])
def test_shipped_embeddings_match_recomputation(world, tmp_path, name):
    model = demo_models()[name]
    assert (MODELS / name / BUNDLE_NAME).stat().st_size < 20 * 2**20
    data = demo_dataset(world)
    assert demo_tracklets(data) == data.gallery  # AP3D protocol: the gallery holds the queries
    # A query, the longest tracklet and a distractor.
    longest = max(data.gallery, key=lambda t: len(t.frames))
    sample = [data.query[0], longest, next(t for t in data.gallery if t.pid == 0)]
    shipped = model_gallery(sample, model, tmp_path / "a", world_root=world)
    recomputed = model_gallery(sample, model, tmp_path / "b")
    sets = [None]
    if model.has_strf:  # all on, one off, one alone
        sets += [("t_dynamic", "s_fine", "s_coarse"), ("s_coarse",)]
    for names in sets:
        with active_branches(*names) if names else contextlib.nullcontext():
            want = recomputed.features(model.model)
            got = shipped.features(model.model)
        torch.testing.assert_close(got, want, rtol=2e-3, atol=2e-3 * float(want.abs().max()))
    assert not (tmp_path / "a").exists()  # served from the bundle, nothing embedded


def test_demo_world_uses_a_whole_world_of_its_spec_when_there(tmp_path, monkeypatch):
    monkeypatch.setenv("STRF_CACHE", str(tmp_path))
    spec = {"preset": "tiny", "seed": 0, "size": (128, 64)}
    monkeypatch.setattr("strf_core.demo.world_spec", lambda: spec)
    synth = tmp_path / "synth"
    assert demo_world() == synth / "tiny-seed0-128x64-test"
    whole = demo_world(splits=("train", "test"))  # to train on: generated whole
    assert whole == synth / "tiny-seed0-128x64" and drawn_splits(whole) == ("train", "test")
    monkeypatch.setattr("strf_core.demo.generate", _fail)
    assert demo_world() == whole  # the whole world serves for the test split too


def test_demo_command_bad_input_is_named(capsys, monkeypatch):
    monkeypatch.setattr("strf_core.demo.generate", _fail)
    assert cli.main(["demo", "--write-embeddings", "strff"]) == 2
    err = capsys.readouterr().err
    assert "unknown demo model(s) 'strff'" in err and "baseline, strf" in err
    assert cli.main(["demo", "--write-embeddings", "--all-branch-sets"]) == 2
    assert "--all-branch-sets" in capsys.readouterr().err
    assert cli.main(["demo", "--workers", "0"]) == 2
    assert "--workers must be 1 or more" in capsys.readouterr().err


def test_demo_models_must_record_one_world(tmp_path, monkeypatch):
    for name in ("baseline", "strf"):
        (tmp_path / name).mkdir()
        record = json.loads((MODELS / name / "eval.json").read_text())
        record["world"]["seed"] = {"baseline": 0, "strf": 1}[name]
        (tmp_path / name / "eval.json").write_text(json.dumps(record))
    monkeypatch.setattr("strf_core.demo.MODELS_DIR", tmp_path)
    with pytest.raises(ValueError, match="record different worlds"):
        world_spec()
