"""Exporting a checkpoint for inference: the weights intact, the optimizer and the training
machine's paths left out."""

from __future__ import annotations

import re
from pathlib import Path

import torch
from safetensors.torch import load_file

from strf_core.engine.checkpoint import (
    TrainingState,
    export_checkpoint,
    load_trained_model,
    save_checkpoint,
)
from strf_core.engine.config import config_to_yaml, load_config
from strf_core.models import build_model

SAMPLE_MODELS = Path(__file__).resolve().parents[1] / "sample_data" / "models"
MACHINE_PATH = re.compile(rb"(/root/|/home/|/work/|/tmp/|/Users/|[A-Za-z]:\\\\)")


def test_export_leaves_out_the_optimizer_and_the_machine_paths(tmp_path):
    data_root, run_dir = tmp_path / "worlds" / "medium-seed0", tmp_path / "runs" / "strf"
    config = load_config(
        None,
        [
            "model.name=p3dc_resnet_tiny",
            "model.strf=true",
            f"data.root={data_root}",
            f"output_dir={run_dir}",
        ],
    )
    model = build_model(config.model.name, num_classes=7, strf=True)
    optimizer = torch.optim.Adam(model.parameters())
    model(torch.randn(2, 3, 4, 64, 32)).logits.sum().backward()
    optimizer.step()
    state = TrainingState(epoch=3, step=30, optimizer=optimizer.state_dict())
    source = save_checkpoint(run_dir / "last", model, state, config_to_yaml(config))

    target = export_checkpoint(source, tmp_path / "shipped", extra_files={"eval.json": "{}"})

    for path in target.iterdir():
        assert str(tmp_path).encode() not in path.read_bytes(), path.name
    exported = load_config(target / "config.yaml")
    assert exported.data.root == "" and exported.output_dir == ""
    assert exported.model == config.model and exported.optim == config.optim
    weights, want = load_file(target / "model.safetensors"), model.state_dict()
    assert all(torch.equal(weights[k], want[k]) for k in want)
    loaded, _ = load_trained_model(target)
    assert loaded.strf_units()
    kept = torch.load(target / "state.pt", weights_only=False)
    assert (kept["epoch"], kept["step"], kept["optimizer"]) == (3, 30, {})


def test_no_shipped_model_file_names_a_folder_of_the_machine_that_made_it():
    files = [p for p in SAMPLE_MODELS.rglob("*") if p.is_file()]
    assert files
    for path in files:
        found = MACHINE_PATH.search(path.read_bytes())
        assert found is None, f"{path.relative_to(SAMPLE_MODELS)} names {found.group().decode()}"
