"""The resumable experiment runner: grids, skipping finished cells, tables that invent nothing."""

from __future__ import annotations

import argparse
import json

import pytest

from strf_core import cli
from strf_core.cli.experiments import add_ablate_parser, add_benchmark_parser
from strf_core.engine.config import load_config
from strf_core.engine.trainer import build_model_for
from strf_core.experiments import (
    ABLATION_GROUPS,
    BASELINE,
    BENCHMARK_REPORT,
    LATER_ABLATION_GROUPS,
    RECIPE_VARIANTS,
    TUNED_VARIANT,
    Cell,
    CellMetrics,
    CellRecord,
    CellSettingsError,
    Setup,
    ablation_cells,
    aggregate,
    benchmark_cells,
    compare,
    ensure_data,
    recipe_cells,
    run_cells,
    runner,
    write_report,
)
from strf_core.synth import lookalike_groups as benchmark_lookalike_groups


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


# The benchmark's cells under the tuned recipe (P x K = 4 x 8).
TUNED_BASELINE = "baseline_batch_p_4_batch_k_8__seed0"
TUNED_STRF = "strf_batch_p_4_batch_k_8__seed0"


def _fake_record(metric: float) -> dict:
    """What a training function returns (the shape of :func:`evaluate`'s result)."""
    subset = {"mAP": metric, "rank1": metric, "num_queries": 3}
    return {
        **{k: metric for k in ("mAP", "rank1", "rank5", "rank10")},
        "num_queries": 9,
        "subsets": {s: dict(subset) for s in ("lookalike", "occluded", "misaligned")},
    }


def _record(cell: Cell, metric: float) -> CellRecord:
    """A finished cell's record whose every metric is ``metric``, run in one second."""
    return CellRecord(
        group=cell.group,
        label=cell.label,
        seed=cell.seed,
        overrides=list(cell.overrides),
        paper_mars=cell.paper,
        metrics=CellMetrics.from_evaluation(_fake_record(metric)),
        protocol="test",
        wall_s=1.0,
        device="cpu",
        world={},
        config={},
        finished="",
    )


def test_runner_trains_each_cell_once_and_skips_finished_ones(tmp_path):
    setup = _tiny_setup(tmp_path)
    cells = benchmark_cells([0])
    first = run_cells(setup, cells, log=lambda _: None)  # real training, tiny preset
    assert set(first) == {TUNED_BASELINE, TUNED_STRF}
    for cell in cells:
        record = json.loads(setup.cell_path(cell).read_text())
        assert 0.0 < record["metrics"]["mAP"] <= 1.0
        assert set(record["metrics"]["subsets"]) >= {"lookalike", "occluded", "misaligned"}
        assert record["config"]["model"]["strf"] == (cell.label == "STRF-P3D-C")
        assert record["config"]["data"]["height"] == 64
        text = setup.cell_path(cell).read_text()  # results are shipped: none of our folders
        assert str(tmp_path) not in text and record["config"]["output_dir"] == ""

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
    assert third[TUNED_BASELINE] == first[TUNED_BASELINE]
    assert third[TUNED_STRF].metrics.mAP == 0.5


def test_a_result_made_with_another_recipe_is_not_mixed_in(tmp_path):
    setup = _tiny_setup(tmp_path)
    cells = benchmark_cells([0])[:1]
    run_cells(setup, cells, train=lambda c, p: _fake_record(0.3), log=lambda _: None)
    setup.epochs = 2
    with pytest.raises(CellSettingsError, match="other settings"):
        run_cells(setup, cells, train=lambda c, p: _fake_record(0.3), log=lambda _: None)


def test_cells_keep_the_identity_epoch_they_were_stored_with(tmp_path):
    """CELL_DEFAULTS: the stored cells were trained with an epoch of every identity once; the
    package's default is now AP3D's epoch, but the grids must go on training (and matching)
    the way their stored cells were made."""
    setup = _tiny_setup(tmp_path)
    lookalike = Cell("recipe", "look-alike", (*BASELINE, "data.sampler=lookalike"))
    cells = [benchmark_cells([0])[0], lookalike]
    samplers = []

    def fake(config, progress):
        samplers.append(config.data.sampler)
        return _fake_record(0.3)

    run_cells(setup, cells, train=fake, log=lambda _: None)
    assert samplers == ["identity", "lookalike"]
    assert load_config(None).data.sampler == "tracklet"  # what the pin guards against
    path = setup.cell_path(cells[0])
    stored = json.loads(path.read_text())
    stored["config"]["data"]["sampler"] = "tracklet"
    path.write_text(json.dumps(stored))
    with pytest.raises(CellSettingsError, match=r"made with data\.sampler=tracklet"):
        run_cells(setup, cells, train=fake, log=lambda _: None)
    del stored["config"]["data"]["sampler"]  # a cell stored before the setting existed
    path.write_text(json.dumps(stored))
    assert set(run_cells(setup, cells, train=fake, log=lambda _: None)) == {c.key for c in cells}
    assert len(samplers) == 2  # nothing trained again


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
    assert list(records) == [TUNED_BASELINE]
    md, js = write_report(BENCHMARK_REPORT, "strf benchmark", setup, cells, records)
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
        kind = "baseline" if cell.overrides[: len(BASELINE)] == BASELINE else "strf"
        records[cell.key] = _record(cell, maps[kind][cell.seed])
    rows = aggregate(cells, records)
    base = next(r for r in rows if r.label == "P3D-C baseline")
    assert base.stat("mAP").mean == pytest.approx(0.42)
    assert base.stat("mAP").std == pytest.approx(0.02)
    lines = compare(rows, "P3D-C baseline", "STRF-P3D-C")
    assert lines[0] == (
        "- overall mAP: STRF-P3D-C - P3D-C baseline = +9.0 points, "
        "larger than the seed spread (2.0); Welch t = 7.0 over 3+3 seeds"
    )


def test_ablation_grids_match_the_paper_and_every_cell_builds():
    # The groups of the first report (the later ones: tests/test_units_experiments.py).
    cells = ablation_cells([0], [g for g in ABLATION_GROUPS if g not in LATER_ABLATION_GROUPS])
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
    assert list(records) == [TUNED_BASELINE]
    md, _ = write_report(BENCHMARK_REPORT, "strf benchmark", setup, cells, records)
    assert (
        "- `strf_batch_p_4_batch_k_8__seed0`: RuntimeError: kernel larger than the feature map"
        in md.read_text()
    )
    # Tried again next time; a success clears the error.
    records = run_cells(setup, cells, train=lambda c, p: _fake_record(0.5), log=lambda _: None)
    assert set(records) == {TUNED_BASELINE, TUNED_STRF}
    assert not list((setup.results / "cells").glob("*.error.txt"))


def _fake_cli(monkeypatch, tmp_path, metric=0.5):
    """``strf ablate`` / ``strf recipe`` on ``tmp_path`` with a fake training and no data."""
    trained = []

    def fake_train(config, progress):
        trained.append(config)
        return _fake_record(metric)

    monkeypatch.setattr(runner, "_train", fake_train)
    monkeypatch.setattr(runner, "ensure_data", lambda setup, progress=False: tmp_path / "w")
    common = ["--results", str(tmp_path / "results"), "--work-dir", str(tmp_path / "work")]
    return trained, [*common, "--quiet", "--device", "cpu"]


def test_ablate_of_some_groups_keeps_every_group_in_the_tables(monkeypatch, tmp_path):
    trained, common = _fake_cli(monkeypatch, tmp_path)
    assert cli.main(["ablate", "--groups", "fig4b", *common]) == 0
    assert len(trained) == 2  # max (the default STRF) and avg
    assert cli.main(["ablate", "--groups", "fig4c", "--seeds", "0", "1", *common]) == 0
    assert len(trained) == 2 + 2 + 3  # fig4c's two others at seed 0, all three at seed 1
    text = (tmp_path / "results" / "ablations.md").read_text()
    # fig4b, run before, is still there (it used to be dropped); the groups never run are
    # listed as not run, for the seeds asked for now and every seed already stored.
    for group in ("table4", "table5", "fig4a", "fig4b", "fig4c", "design"):
        assert f"## {group}" in text
    assert "| avg | 1/2 | 50.0 |" in text
    assert "min / run" not in text
    assert "| max | 2/2 | 50.0 ± 0.0 |" in text  # the default STRF, shared with fig4c's t->s
    assert "| parallel | 2/2 | 50.0 ± 0.0 |" in text
    assert "| (3,5) | 0/2 | not run |" in text
    assert "strf ablate --seeds 0 1 " in text  # the command that completes the whole table
    assert "--groups" not in text
    report = json.loads((tmp_path / "results" / "ablations.json").read_text())
    assert {r["group"] for r in report["rows"]} == {
        "table4",
        "table5",
        "fig4a",
        "fig4b",
        "fig4c",
        "design",
    }
    # The ablations run under the base recipe, and the table says so.
    assert report["recipe"] == {"batch_p": 8, "batch_k": 4, "seq_len": 4, "epochs": 25, "lr": 1e-3}


def test_recipe_variants_are_the_same_for_baseline_and_strf_and_build():
    cells = recipe_cells([0])
    assert len(cells) == 2 * len(RECIPE_VARIANTS)
    keys = [c.key for c in cells]
    assert len(set(keys)) == len(keys)
    # The base recipe's cells are the ablations' baseline and default STRF, the tuned variant's
    # the benchmark's; a variant's cells say what they change.
    ablation_keys = {c.label: c.key for c in ablation_cells([0], ["table4"])}
    assert keys[:2] == [ablation_keys["baseline"], ablation_keys["all four"]]
    tuned = [c.key for c in recipe_cells([0], [TUNED_VARIANT])]
    assert tuned == [c.key for c in benchmark_cells([0])]
    assert tuned == ["baseline_batch_p_4_batch_k_8__seed0", "strf_batch_p_4_batch_k_8__seed0"]
    assert "baseline_seq_len_8__seed0" in keys and "strf_seq_len_8__seed0" in keys
    assert "strf_sampler_lookalike__seed0" in keys
    for base, strf in zip(cells[::2], cells[1::2], strict=True):
        assert base.overrides[1:] == strf.overrides[1:]  # only model.strf differs
        for cell in (base, strf):
            config = load_config(None, list(cell.overrides))
            assert config.model.strf == (cell is strf)
    # The option that uses knowledge real data would not give says so in its row.
    lookalike = [c for c in cells if "data.sampler=lookalike" in c.overrides]
    assert lookalike and all("not on real data" in c.label for c in lookalike)
    with pytest.raises(ValueError, match="unknown recipe variant"):
        recipe_cells([0], ["seq16"])


def test_recipe_command_tabulates_every_variant_with_verdicts(monkeypatch, tmp_path):
    trained, common = _fake_cli(monkeypatch, tmp_path)
    assert cli.main(["recipe", "--variants", "base", "seq8", *common]) == 0
    assert [c.data.seq_len for c in trained] == [4, 4, 8, 8]
    text = (tmp_path / "results" / "recipe.md").read_text()
    assert "strf recipe --seeds 0 " in text
    assert "| 8-frame clips: STRF | 1/1 | 50.0 |" in text
    assert "| 40 epochs (lr x0.1 at 28): baseline | 0/1 | not run |" in text
    assert "min / run" in text and "paper MARS" not in text
    assert "| 8-frame clips: STRF | base recipe: STRF | 1 vs 1 | +0.0 (no spread) |" in text
    assert "Uses knowledge real data would not give" in text
    # Variants of the same step count are compared too (not run here).
    assert "| P x K = 4 x 8: STRF | 50 epochs (lr x0.1 at 35): STRF | 0 vs 0 | not run |" in text
    # The settings every cell shares are recorded; the clip length differs, so it is left out.
    recipe = json.loads((tmp_path / "results" / "recipe.json").read_text())["recipe"]
    assert recipe == {"batch_p": 8, "batch_k": 4, "epochs": 25, "lr": 1e-3}


def test_lookalike_sampler_reads_the_synthetic_groups_and_refuses_real_data(tmp_path):
    from strf_core.data.samplers import LookalikeBatchSampler
    from strf_core.data.writers import write_tiny_mars
    from strf_core.engine.config import ConfigError
    from strf_core.engine.trainer import Trainer

    setup = _tiny_setup(tmp_path)
    overrides = [*setup.overrides(Cell("", "", BASELINE)), "data.sampler=lookalike", "device=cpu"]
    root = ensure_data(setup)
    trainer = Trainer.from_config(
        load_config(None, [*overrides, f"data.root={root}"]), progress=False
    )
    sampler = trainer.loader.batch_sampler
    assert isinstance(sampler, LookalikeBatchSampler) and sampler.num_groups == 1
    train_pids = [t.pid for t in trainer.dataset.train]
    groups = benchmark_lookalike_groups(root, trainer.dataset.train)
    group = {pid for pid, g in zip(train_pids, groups, strict=True) if g is not None}
    assert len(group) == 3
    for epoch in range(3):
        batches = [{train_pids[k.index] for k in b} for b in sampler.epoch_batches(epoch)]
        assert any(group <= pids for pids in batches)

    real = write_tiny_mars(tmp_path / "mars", size=(64, 32))
    with pytest.raises(ConfigError, match="real data gives no such labels"):
        Trainer.from_config(load_config(None, [*overrides, f"data.root={real}"]), progress=False)
    with pytest.raises(
        ConfigError, match=r"data\.sampler: expected one of tracklet, identity, lookalike"
    ):
        Trainer.from_config(
            load_config(None, [*overrides, "data.sampler=hard", f"data.root={root}"])
        )


def test_typed_results_read_and_write_the_stored_files_key_for_key():
    """Every stored cell and report of docs/results/ reads into its type and writes back the
    same JSON, in the same key order (the reports re-render byte-identical from them)."""
    from pathlib import Path

    from strf_core.experiments import Report
    from strf_core.experiments.results import json_text

    results = Path(__file__).resolve().parents[1] / "docs" / "results"
    cells = sorted((results / "cells").glob("*.json"))
    assert cells
    for path in cells:
        assert json_text(CellRecord.read(path).to_dict()) == path.read_text(), path
    for name in ("benchmark", "ablations", "recipe"):
        path = results / f"{name}.json"
        report = Report.from_dict(json.loads(path.read_text()))
        assert json_text(report.to_dict()) == path.read_text(), path
        row = report.rows[0]
        assert (
            row.stat("mAP", "lookalike").to_dict()
            == json.loads(path.read_text())["rows"][0]["stats"]["lookalike/mAP"]
        )
