"""The ablation groups added after the first report (Table 2's backbones, Fig. 4b's pooling
per factorization, Fig. 6a, the other units): stored cells keep their keys, the stored reports
re-render byte for byte, a later group shows once a run of its own has finished, and one of
its cells trains end to end on the tiny world."""

from __future__ import annotations

import filecmp
import json
import shutil
from pathlib import Path

import torch

from strf_core import cli
from strf_core.engine.config import build_model_for, load_config
from strf_core.experiments import (
    ABLATION_GROUPS,
    ABLATIONS_REPORT,
    LATER_ABLATION_GROUPS,
    CellMetrics,
    CellRecord,
    Setup,
    ablation_cells,
    run_cells,
    runner,
    write_report,
)

RESULTS = Path(__file__).resolve().parents[1] / "docs" / "results"
FIRST_GROUPS = [g for g in ABLATION_GROUPS if g not in LATER_ABLATION_GROUPS]


def test_first_groups_keep_their_stored_keys():
    stored = {p.stem for p in (RESULTS / "cells").glob("*.json")}
    assert {c.key for c in ablation_cells([0, 1, 2], FIRST_GROUPS)} <= stored
    first = {c.key for c in ablation_cells([0], FIRST_GROUPS)}
    later = ablation_cells([0], LATER_ABLATION_GROUPS)
    new = {c.key for c in later} - first
    assert new == {
        *(
            f"{m}_name_{k}_resnet_tiny__seed0"
            for m in ("baseline", "strf")
            for k in ("i3d", "p3da", "p3db")
        ),
        "strf_pool_max_avg__seed0",
        "strf_pool_avg_max__seed0",
        "strf_fam_false__seed0",
        *(f"baseline_attn_layer_{u}__seed0" for u in ("nonlocal", "apm", "apm_nl")),
    }
    assert new <= stored  # the later groups have been run: their cells are in docs/results
    # The reference rows are the first groups' runs (the default STRF, the baseline, avg pooling).
    shared = {c.label: c.key for c in later if c.key in first}
    assert shared["with FAM"] == shared["m/m"] == shared["STRF"] == "strf__seed0"
    assert shared["a/a"] == "strf_pool_avg__seed0"


def test_later_cells_build_the_model_their_row_names():
    kinds = {}
    for cell in ablation_cells([0], LATER_ABLATION_GROUPS):
        config = load_config(None, list(cell.overrides))
        model = build_model_for(config, num_classes=5)
        kinds[cell.label] = sorted({type(u).__name__ for u in model.attention_units().values()})
        if cell.group == "table2":
            assert config.model.name.split("_")[0] == cell.label.split()[0].replace("-", "").lower()
    assert kinds["non-local (AP3D's positions)"] == ["NonLocalBlock3D"]
    assert kinds["APM (AP3D)"] == ["APM"]
    assert kinds["APM + non-local (AP3D-NL)"] == ["APM", "NonLocalBlock3D"]
    assert (
        kinds["without FAM"] == ["STRF"]
        and kinds["P3D-B"] == []
        and kinds["I3D + STRF"] == ["STRF"]
    )


def _fake(metric: float) -> dict:
    subset = {"mAP": metric, "rank1": metric, "num_queries": 3}
    return {
        **{k: metric for k in ("mAP", "rank1", "rank5", "rank10")},
        "num_queries": 9,
        "subsets": {s: dict(subset) for s in ("lookalike", "occluded", "misaligned")},
    }


def _record(cell, metric):
    return CellRecord(
        group=cell.group,
        label=cell.label,
        seed=cell.seed,
        overrides=list(cell.overrides),
        paper_mars=cell.paper,
        metrics=CellMetrics.from_evaluation(_fake(metric)),
        protocol="test",
        wall_s=1.0,
        device="cpu",
        world={},
        config={},
        finished="",
    )


def test_a_later_group_shows_once_a_run_of_its_own_finished(tmp_path):
    setup = Setup(results=tmp_path, work=tmp_path / "work")
    cells = ablation_cells([0])
    records = {c.key: _record(c, 0.4) for c in ablation_cells([0], FIRST_GROUPS)}
    md, js = write_report(ABLATIONS_REPORT, "strf ablate", setup, cells, records)
    text = md.read_text()
    assert "## fig4c" in text and "## units" not in text and "## fig6a" not in text
    assert f"{len(records)} of {len(records)} distinct runs finished" in text
    # Its shared rows (baseline, STRF) are finished: not enough. Its own NL run is.
    nl = next(c for c in cells if c.label.startswith("non-local"))
    records[nl.key] = _record(nl, 0.3)
    md, js = write_report(ABLATIONS_REPORT, "strf ablate", setup, cells, records)
    text = md.read_text()
    assert "## units" in text and "## fig6a" not in text and "## table2" not in text
    assert "| non-local (AP3D's positions) | 1/1 | 30.0 |" in text
    assert "| APM (AP3D) | 0/1 | not run |" in text and "| STRF | 1/1 | 40.0 |" in text
    assert "| APM + non-local (AP3D-NL) | 0/1 | not run |" in text
    assert "85.6 | 90.7 |" in text  # Table 3's AP3D beside the APM + NL row
    groups = {r["group"] for r in json.loads(js.read_text())["rows"]}
    assert "units" in groups and "fig6a" not in groups


def test_stored_reports_re_render_byte_for_byte(tmp_path, monkeypatch):
    """``strf ablate``, ``benchmark`` and ``recipe`` with no time to train re-write every
    stored report unchanged: the new groups' cells are planned but not shown."""

    def must_not_train(config, progress):
        raise AssertionError("trained a cell")

    monkeypatch.setattr(runner, "_train", must_not_train)
    shutil.copytree(RESULTS, tmp_path / "docs" / "results")
    monkeypatch.chdir(tmp_path)
    for command in ("ablate", "benchmark", "recipe"):
        args = [command, "--seeds", "0", "--max-minutes", "1e-9", "--quiet"]
        assert cli.main([*args, "--work-dir", str(tmp_path / "work")]) == 0
    for name in ("ablations", "benchmark", "recipe"):
        for suffix in (".md", ".json"):
            written = tmp_path / "docs" / "results" / f"{name}{suffix}"
            assert filecmp.cmp(written, RESULTS / f"{name}{suffix}", shallow=False), written


def test_a_unit_cell_trains_and_evaluates_end_to_end(tmp_path):
    """AP3D-NL (APM + non-local) through the real trainer on the tiny world."""
    setup = Setup(
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
    cell = next(c for c in ablation_cells([0], ["units"]) if "AP3D-NL" in c.label)
    torch.manual_seed(0)
    records = run_cells(setup, [cell], log=lambda _: None)
    record = json.loads(setup.cell_path(cell).read_text())
    assert 0.0 < records[cell.key].metrics.mAP <= 1.0
    assert record["config"]["model"]["attn_layer"] == "apm_nl"
    assert record["config"]["model"]["strf"] is False
    assert record["paper_mars"] == {"mAP": 85.6, "rank1": 90.7}  # Table 3, AP3D
