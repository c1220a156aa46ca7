"""The resumable experiment runner: grids, skipping finished cells, tables that invent nothing."""

from __future__ import annotations

import argparse
import json

import pytest

from strf_core.benchmark import (
    Cell,
    Setup,
    ablation_cells,
    add_ablate_parser,
    add_benchmark_parser,
    aggregate,
    benchmark_cells,
    compare,
    run_cells,
    write_report,
)
from strf_core.engine.config import load_config
from strf_core.engine.trainer import build_model_for


def _tiny_setup(tmp_path) -> Setup:
    # The tiny world has 6 training identities: P = 4 of them a batch; one epoch of 64x32 clips.
    return Setup(
        results=tmp_path / "results",
        work=tmp_path / "work",
        preset="tiny",
        size=(64, 32),
        clip_size=(64, 32),
        epochs=1,
        device="cpu",
        workers=0,
        extra=["data.batch_p=4"],
    )


def _fake_record(metric: float) -> dict:
    """What a training function returns (the shape of :func:`evaluate`'s result)."""
    subset = {"mAP": metric, "rank1": metric, "num_queries": 3}
    return {
        **{k: metric for k in ("mAP", "rank1", "rank5", "rank10")},
        "num_queries": 9,
        "subsets": {s: dict(subset) for s in ("lookalike", "occluded", "misaligned")},
    }


def test_runner_trains_each_cell_once_and_skips_finished_ones(tmp_path):
    setup = _tiny_setup(tmp_path)
    cells = benchmark_cells([0])
    first = run_cells(setup, cells, log=lambda _: None)  # real training, tiny preset
    assert set(first) == {"baseline__seed0", "strf__seed0"}
    for cell in cells:
        record = json.loads(setup.cell_path(cell).read_text())
        assert 0.0 < record["metrics"]["mAP"] <= 1.0
        assert set(record["metrics"]["subsets"]) >= {"lookalike", "occluded", "misaligned"}
        assert record["config"]["model"]["strf"] == (cell.label == "STRF-P3D-C")
        assert record["config"]["data"]["height"] == 64

    def must_not_train(config, progress):
        raise AssertionError("a finished cell was trained again")

    again = run_cells(setup, cells, train=must_not_train, log=lambda _: None)
    assert again == first

    # A lost result is re-made, and only that one.
    setup.cell_path(cells[1]).unlink()
    trained = []

    def fake(config, progress):
        trained.append(config.model.strf)
        return _fake_record(0.5)

    third = run_cells(setup, cells, train=fake, log=lambda _: None)
    assert trained == [True]
    assert third["baseline__seed0"] == first["baseline__seed0"]
    assert third["strf__seed0"]["metrics"]["mAP"] == 0.5


def test_a_result_made_with_another_recipe_is_not_mixed_in(tmp_path):
    setup = _tiny_setup(tmp_path)
    cells = benchmark_cells([0])[:1]
    run_cells(setup, cells, train=lambda c, p: _fake_record(0.3), log=lambda _: None)
    setup.epochs = 2
    with pytest.raises(ValueError, match="other settings"):
        run_cells(setup, cells, train=lambda c, p: _fake_record(0.3), log=lambda _: None)


def test_time_limit_leaves_cells_not_run_and_tables_say_so(tmp_path):
    setup = _tiny_setup(tmp_path)
    cells = benchmark_cells([0, 1])
    records = run_cells(setup, cells[:1], train=lambda c, p: _fake_record(0.4), log=lambda _: None)
    # max_minutes is already spent after the first cell: nothing new starts.
    records = run_cells(
        setup,
        cells,
        train=lambda c, p: _fake_record(0.9),
        max_minutes=1e-9,
        log=lambda _: None,
    )
    assert list(records) == ["baseline__seed0"]
    md, js = write_report("benchmark", "t", "strf benchmark", setup, cells, records)
    text = md.read_text()
    assert "| P3D-C baseline | 1/2 | 40.0 |" in text
    assert "| STRF-P3D-C | 0/2 | not run |" in text
    assert "1 of 4 distinct runs finished" in text
    payload = json.loads(js.read_text())
    strf_row = next(r for r in payload["rows"] if r["label"] == "STRF-P3D-C")
    assert strf_row["stats"]["mAP"]["mean"] is None and strf_row["seeds"] == []


def test_mean_spread_and_the_plain_verdict():
    cells = benchmark_cells([0, 1, 2])
    maps = {"baseline": [0.40, 0.42, 0.44], "strf": [0.50, 0.51, 0.52]}
    records = {}
    for cell in cells:
        kind = "baseline" if cell.overrides == ("model.strf=false",) else "strf"
        records[cell.key] = {"metrics": _fake_record(maps[kind][cell.seed]), "wall_s": 1.0}
    rows = aggregate(cells, records)
    base = next(r for r in rows if r["label"] == "P3D-C baseline")
    assert base["stats"]["mAP"]["mean"] == pytest.approx(0.42)
    assert base["stats"]["mAP"]["std"] == pytest.approx(0.02)
    lines = compare(rows, "P3D-C baseline", "STRF-P3D-C")
    assert lines[0] == (
        "- overall mAP: STRF-P3D-C - P3D-C baseline = +9.0 points, "
        "larger than the seed spread (2.0); Welch t = 7.0 over 3+3 seeds"
    )


def test_ablation_grids_match_the_paper_and_every_cell_builds():
    cells = ablation_cells([0])
    groups = {}
    for cell in cells:
        groups.setdefault(cell.group, []).append(cell)
    sizes = {g: len(c) for g, c in groups.items()}
    assert sizes == {"table4": 10, "table5": 7, "fig4a": 4, "fig4b": 2, "fig4c": 3, "design": 3}
    # The default STRF model and the baseline are one run each, shared by every table.
    keys = [c.key for c in cells]
    assert keys.count("strf__seed0") == 6 and keys.count("baseline__seed0") == 2
    assert len(set(keys)) == 23
    for key in set(keys):
        cell = next(c for c in cells if c.key == key)
        config = load_config(None, list(cell.overrides))
        model = build_model_for(config, num_classes=5)
        units = [m for n, m in model.named_modules() if type(m).__name__ == "STRF"]
        assert bool(units) == config.model.strf, key
    with pytest.raises(ValueError, match="unknown ablation group"):
        ablation_cells([0], ["table9"])


def test_cell_keys_are_file_safe_and_distinct():
    cell = Cell("fig4c", "s->t", ("model.strf=true", 'model.strf_kwargs={integration: "s->t"}'))
    assert cell.key == "strf_integration_s_t__seed0"


def test_parsers_register_their_subcommands():
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command")
    add_benchmark_parser(sub)
    add_ablate_parser(sub)
    args = parser.parse_args(["benchmark", "--seeds", "3", "4", "--epochs", "2"])
    assert args.seeds == [3, 4] and args.epochs == 2 and args.device == "auto"
    args = parser.parse_args(["ablate", "--groups", "table5", "fig4b"])
    assert args.groups == ["table5", "fig4b"] and args.seeds == [0]


def test_a_failing_cell_is_reported_and_the_grid_goes_on(tmp_path):
    setup = _tiny_setup(tmp_path)
    cells = benchmark_cells([0])

    def train(config, progress):
        if config.model.strf:
            raise RuntimeError("kernel larger than the feature map")
        return _fake_record(0.3)

    records = run_cells(setup, cells, train=train, log=lambda _: None)
    assert list(records) == ["baseline__seed0"]
    md, _ = write_report("benchmark", "t", "strf benchmark", setup, cells, records)
    assert "- `strf__seed0`: RuntimeError: kernel larger than the feature map" in md.read_text()
    # Tried again next time; a success clears the error.
    records = run_cells(setup, cells, train=lambda c, p: _fake_record(0.5), log=lambda _: None)
    assert set(records) == {"baseline__seed0", "strf__seed0"}
    assert not list((setup.results / "cells").glob("*.error.txt"))
