"""Exporting a checkpoint for inference: the weights intact, the optimizer and the training
machine's paths left out."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from strf_core.cli import main
from strf_core.data.datasets import build_dataset
from strf_core.engine.checkpoint import (
    TrainingState,
    export_checkpoint,
    load_trained_model,
    save_checkpoint,
)
from strf_core.engine.config import config_to_yaml, load_config
from strf_core.experiments import training_summary
from strf_core.models import build_model
from strf_core.synth import generate, subset_masks

ROOT = Path(__file__).resolve().parents[1]
SAMPLE_MODELS = ROOT / "sample_data" / "models"
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


def test_no_shipped_model_or_result_names_a_folder_of_the_machine_that_made_it():
    files = [p for p in SAMPLE_MODELS.rglob("*") if p.is_file()]
    files += [p for p in (ROOT / "docs" / "results").rglob("*.json")]
    assert len(files) > 100  # the models and every stored benchmark cell
    for path in files:
        found = MACHINE_PATH.search(path.read_bytes())
        assert found is None, f"{path.relative_to(ROOT)} names {found.group().decode()}"


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A tiny synthetic world and a 3-epoch run on it with a validation split."""
    tmp = tmp_path_factory.mktemp("export")
    world = tmp / "world"
    generate(world, preset="tiny", seed=3, size=(64, 32), workers=1, progress=False)
    args = ["train", "--data-root", str(world), "--output-dir", str(tmp / "run"), "--quiet"]
    for value in (
        "data.height=64",
        "data.width=32",
        "data.batch_p=2",
        "data.batch_k=2",
        "data.workers=0",
        "data.val_ids=2",
        "optim.epochs=3",
        "eval_every=1",
    ):
        args += ["--set", value]
    assert main(args) == 0
    return world, tmp / "run"


def test_strf_export_records_the_test_split_metrics_the_world_and_the_validation_curve(
    trained, tmp_path, capsys
):
    world, run = trained
    lines = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    val = [(r["epoch"], r["val"]["mAP"]) for r in lines if "val" in r]
    assert [epoch for epoch, _ in val] == [1, 2, 3]

    target = tmp_path / "shipped"
    args = ["export", str(run / "best"), str(target), "--data-root", str(world)]
    assert main([*args, "--label", "tiny baseline", "--check-ids", "2"]) == 0
    record = json.loads((target / "eval.json").read_text())

    # The same numbers as `strf eval` on the same checkpoint and world (another code path).
    report = tmp_path / "eval.json"
    assert main(["eval", str(run / "best"), "--data-root", str(world), "--json", str(report)]) == 0
    want = json.loads(report.read_text())
    for key in ("mAP", "rank1", "rank5", "num_queries"):
        assert record["metrics"][key] == pytest.approx(want[key], abs=1e-6), key
    masks = subset_masks(world, build_dataset("mars", world).query)
    for subset, mask in masks.items():
        assert record["metrics"]["subsets"][subset]["num_queries"] == int(mask.sum())
    check_pids = sorted({t.pid for t in build_dataset("mars", world).query})[:2]
    assert record["check"]["num_ids"] == 2 and record["check"]["metrics"]["num_queries"] == sum(
        t.pid in check_pids for t in build_dataset("mars", world).query
    )
    assert record["world"] == {"preset": "tiny", "seed": 3, "size": [64, 32]}
    # best/ is the epoch with the highest validation mAP (the first one on a tie).
    best_epoch = max(val, key=lambda item: (item[1], -item[0]))[0]
    assert record["checkpoint"]["epoch"] == best_epoch
    assert [row[:1] + row[2:3] for row in record["training"]["val_curve"]] == [
        [e, m] for e, m in val
    ]
    for path in target.iterdir():
        assert str(tmp_path.parent).encode() not in path.read_bytes(), path.name


def test_strf_export_errors_name_what_is_wrong(trained, tmp_path, capsys):
    world, run = trained
    not_a_world = tmp_path / "plain"
    not_a_world.mkdir()
    args = ["export", str(run / "best"), str(tmp_path / "out"), "--label", "x"]
    assert main([*args, "--data-root", str(not_a_world)]) == 2
    assert f"{not_a_world} has no synthetic_meta.json" in capsys.readouterr().err
    missing = ["export", str(run / "nope"), str(tmp_path / "out"), "--label", "x"]
    assert main([*missing, "--data-root", str(world)]) == 2
    assert str(run / "nope") in capsys.readouterr().err
    assert not (tmp_path / "out").exists()

    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "metrics.jsonl").write_text('{"epoch": 1, "step": 2}\n{"epoch": 1, "st\n')
    with pytest.raises(ValueError, match=r"metrics\.jsonl, line 2: not JSON"):
        training_summary(broken)


def test_model_card_shows_each_models_scores_and_both_validation_curves(trained, tmp_path, capsys):
    world, run = trained
    for name in ("best", "last"):
        args = ["export", str(run / name), str(tmp_path / name), "--data-root", str(world)]
        assert main([*args, "--label", f"tiny {name}", "--command", f"strf train {name}"]) == 0
    page = tmp_path / "card.md"
    folders = [str(tmp_path / "best"), str(tmp_path / "last")]
    assert main(["model-card", *folders, "--title", "Tiny", "--markdown", str(page)]) == 0
    text = page.read_text()
    assert text.startswith("# Tiny\n") and "`tiny` world, seed 3, 64x32 frames" in text
    for name in ("best", "last"):
        record = json.loads((tmp_path / name / "eval.json").read_text())
        row = next(line for line in text.splitlines() if line.startswith(f"| tiny {name} "))
        cells = [c.strip() for c in row.strip("|").split("|")]
        assert cells[1] == f"`{name}/`, epoch {record['checkpoint']['epoch']}"
        assert cells[2] == f"{100 * record['metrics']['mAP']:.1f}"
        occluded = record["metrics"]["subsets"]["occluded"]
        assert f"{100 * occluded['mAP']:.1f} | {100 * occluded['rank1']:.1f}" in row
        assert f"strf train {name}" in text
    curve = text.split("## Validation curve")[1].split("## Reproduce")[0]
    assert [line.split("|")[1].strip() for line in curve.splitlines() if line[:3] == "| 1"] == ["1"]
    assert sum(line.startswith("| ") and line[2].isdigit() for line in curve.splitlines()) == 3

    assert main(["model-card", str(tmp_path / "nowhere")]) == 2
    assert "eval.json not found" in capsys.readouterr().err
