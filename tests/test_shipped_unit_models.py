"""The shipped tiny models with the other attention units (sample_data/models/tiny/nonlocal and
apm_nl, the ablation's seed-0 cells of the units group, exported with ``strf export``) load with
their units and reproduce their eval.json on its check slice of the world they were trained on,
regenerated from its seed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from strf_core.engine.checkpoint import load_trained_model
from strf_core.experiments import evaluate_checkpoint
from strf_core.synth import generate

TINY = Path(__file__).resolve().parents[1] / "sample_data" / "models" / "tiny"
UNITS = {"nonlocal": ["NonLocalBlock3D"] * 2, "apm_nl": ["APM"] * 3 + ["NonLocalBlock3D"] * 2}


def _record(name: str) -> dict:
    return json.loads((TINY / name / "eval.json").read_text())


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Path:
    """The test split of the world both models recorded in eval.json, from its seed."""
    specs = {json.dumps(_record(name)["world"], sort_keys=True) for name in UNITS}
    assert len(specs) == 1, specs  # one world for both: generated once
    spec = json.loads(specs.pop())
    root = tmp_path_factory.mktemp("units-world") / "world"
    size = tuple(spec["size"])
    generate(
        root, preset=spec["preset"], seed=spec["seed"], size=size, splits=("test",), progress=False
    )
    return root


@pytest.mark.parametrize("name", list(UNITS))
def test_unit_model_loads_small_with_its_units(name):
    directory = TINY / name
    files = {p.name: p.stat().st_size for p in directory.iterdir()}
    assert set(files) == {"model.safetensors", "state.pt", "config.yaml", "eval.json"}
    assert sum(files.values()) < 5 * 2**20
    model, config = load_trained_model(directory)
    assert config.model.attn_layer == name and config.model.name == "p3dc_resnet_tiny"
    assert (config.data.height, config.data.width) == (64, 32)
    kinds = sorted(type(u).__name__ for u in model.attention_units().values())
    assert kinds == UNITS[name]
    # (test_export_checkpoint checks that no shipped file names a folder of the machine)
    assert config.data.root == "" and config.output_dir == ""


@pytest.mark.parametrize("name", list(UNITS))
def test_unit_model_reproduces_its_check_slice(world, name):
    record = _record(name)
    want = record["check"]["metrics"]
    got = evaluate_checkpoint(TINY / name, world, num_ids=record["check"]["num_ids"])
    assert got.num_queries == want["num_queries"]
    # Same data and weights; only float summation order may differ between machines.
    assert got.mAP == pytest.approx(want["mAP"], abs=2e-3)
    assert got.rank1 == pytest.approx(want["rank1"], abs=0.02)
    for subset in ("lookalike", "occluded", "misaligned"):
        assert got.subsets[subset].mAP == pytest.approx(want["subsets"][subset]["mAP"], abs=5e-3)
    assert record["metrics"]["mAP"] > 0.2  # trained: chance is about 0.02 on the whole split
