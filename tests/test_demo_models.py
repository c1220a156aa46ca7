"""The shipped demo models load and reproduce their recorded metrics on regenerated sample data."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from strf_core import cli
from strf_core.data.user import read_tracklet
from strf_core.demo import (
    demo_dataset,
    demo_models,
    demo_world,
    example_tracklets,
    model_gallery,
)
from strf_core.engine.checkpoint import load_trained_model
from strf_core.experiments import evaluate_checkpoint
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
    """The demo world the models were evaluated on, regenerated from its seed into the cache."""
    root = demo_world()
    assert root.is_relative_to(cache) and (root / META_NAME).is_file()
    assert demo_world(root) == root  # present: not generated again
    return root


def test_demo_entry_points(world):
    models = demo_models()
    assert set(models) == {"baseline", "strf"}
    assert not models["baseline"].has_strf and models["strf"].has_strf
    assert models["strf"].input_size == (64, 32) and models["strf"].record["metrics"]
    data = demo_dataset(world)
    assert len(data.query) == models["strf"].record["metrics"]["num_queries"]
    examples = example_tracklets()
    assert {"occluded", "lookalike_a", "lookalike_b", "misaligned"} <= set(examples)
    for name in ("occluded", "misaligned.zip", "occluded.mp4"):
        assert read_tracklet(examples[name]).num_frames >= 8


@pytest.mark.parametrize("name, strf", [("baseline", False), ("strf", True)])
def test_demo_model_reproduces_its_recorded_metrics(world, name, strf):
    directory = MODELS / name
    files = {p.name: p.stat().st_size for p in directory.iterdir()}
    assert {"model.safetensors", "state.pt", "config.yaml", "eval.json"} <= set(files)
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


def test_strf_demo_embeds_the_galleries_the_dashboard_reads_and_reads_them_back(
    world, monkeypatch, capsys
):
    data = demo_dataset(world)
    galleries = {name: model_gallery(data.gallery, m) for name, m in demo_models().items()}
    paths = {
        name: g.cache.path(g.model_key(demo_models()[name].model), g.data_key)
        for name, g in galleries.items()
    }
    assert not any(p.is_file() for p in paths.values())

    assert cli.main(["demo", "--quiet", "--workers", "1"]) == 0
    assert all(p.is_file() for p in paths.values())  # where the dashboard's galleries look
    assert "demo data ready" in capsys.readouterr().out

    # A second run finds the world and both embeddings: nothing is generated or embedded.
    def fail(*args, **kwargs):
        raise AssertionError("embedded again")

    monkeypatch.setattr("strf_core.retrieval.gallery.extract_features", fail)
    monkeypatch.setattr("strf_core.demo.generate", fail)
    assert cli.main(["demo", "--quiet"]) == 0
