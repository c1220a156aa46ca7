"""The Benchmarks page, headless (streamlit's AppTest): it renders the tables of docs/results/
with ours beside the paper's MARS numbers (read here from the JSON, not typed in), marks cells
not run without inventing numbers, and computes the live CMC of the demo models on request."""

from __future__ import annotations

import itertools
import json
import os
from pathlib import Path

import pytest
import torch

pytest.importorskip("streamlit")
pytest.importorskip("plotly")
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[1]
APP = str(ROOT / "app" / "main.py")
PAGE = "views/benchmarks.py"
RESULTS = ROOT / "docs" / "results"
TIMEOUT = 600  # the live CMC embeds the demo world's queries and gallery the first time


@pytest.fixture(scope="module", autouse=True)
def app_environment(tmp_path_factory):
    """A private cache (demo world, embeddings), no background embedding, one torch thread."""
    saved = {k: os.environ.get(k) for k in ("STRF_CACHE", "STRF_APP_PRECOMPUTE")}
    threads = torch.get_num_threads()
    os.environ["STRF_CACHE"] = str(tmp_path_factory.mktemp("strf-cache"))
    os.environ["STRF_APP_PRECOMPUTE"] = "0"
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


def _page() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.switch_page(PAGE).run()  # straight to the page: the default page would rank a query
    _assert_ok(at)
    return at


def _assert_ok(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def _table_with(at: AppTest, labels: list[str], skip: int = 0, *, paper: bool = False):
    """The first table of the page (after ``skip`` others) whose model column holds ``labels``
    (and, with ``paper``, that has the paper's MARS columns: a results table, not a subset one)."""
    found = [
        frame.value.set_index("model")
        for frame in at.dataframe
        if "model" in frame.value.columns
        and set(labels) <= set(frame.value["model"])
        and (not paper or any("MARS" in c for c in frame.value.columns))
    ]
    if len(found) <= skip:
        raise AssertionError(f"fewer than {skip + 1} tables with rows {labels}")
    return found[skip]


def _paper_columns(df) -> tuple[str, str]:
    mars = [c for c in df.columns if "MARS" in c]
    return next(c for c in mars if "mAP" in c), next(c for c in mars if "R@1" in c)


def _expected(stat: dict | None) -> str:
    if not stat or stat["mean"] is None:
        return "not run"
    text = f"{100 * stat['mean']:.1f}"
    return text + (f" ± {100 * stat['std']:.1f}" if stat["std"] is not None else "")


def _check_rows(at: AppTest, rows: list[dict], skip: int = 0) -> None:
    """Each row's label, our mAP / R@1 and the paper's MARS numbers, as the JSON has them (in
    the first table of those rows after ``skip`` others)."""
    df = _table_with(at, [r["label"] for r in rows], skip, paper=True)
    paper_map, paper_r1 = _paper_columns(df)
    for row in rows:
        line = df.loc[row["label"]]
        assert line["mAP"] == _expected(row["stats"].get("mAP")), row["label"]
        assert line["R@1"] == _expected(row["stats"].get("rank1")), row["label"]
        for column, value in zip((paper_map, paper_r1), row["paper_mars"], strict=True):
            assert line[column] == ("—" if value is None else f"{value:.1f}"), (row, column)


def _live_curves(at: AppTest) -> dict[str, list[float]]:
    """The live CMC traces over all queries (the first subplot), by trace name, in %."""
    for chart in at.get("plotly_chart"):
        spec = json.loads(chart.proto.spec)
        curves = {
            t["name"]: t["y"]
            for t in spec["data"]
            if str(t.get("name", "")).endswith("(live)") and t.get("xaxis", "x") == "x"
        }
        if curves:
            return curves
    return {}


def test_benchmarks_page():
    benchmark = json.loads((RESULTS / "benchmark.json").read_text())
    ablations = json.loads((RESULTS / "ablations.json").read_text())
    at = _page()

    assert {"Baseline vs STRF"} <= {h.value for h in at.header}
    # The demo models' clip size (128x64) comes before the tiny benchmark's.
    sizes = [h.value.split(" ")[0] for h in at.subheader if " clips" in h.value]
    assert sizes[:2] == ["128x64", "64x32"], sizes
    codes = [c.value for c in at.code]
    assert benchmark["command"] in codes and ablations["command"] in codes
    assert len(benchmark["rows"]) >= 2  # baseline and STRF
    clips128 = json.loads((RESULTS / "clips128" / "benchmark.json").read_text())
    assert [r["label"] for r in clips128["rows"]] == [r["label"] for r in benchmark["rows"]]
    _check_rows(at, clips128["rows"])  # the 128x64 table first,
    _check_rows(at, benchmark["rows"], skip=1)  # then the 64x32 one with the same rows
    groups: dict[str, list[dict]] = {}
    for row in ablations["rows"]:
        groups.setdefault(row["group"], []).append(row)
    for rows in groups.values():
        _check_rows(at, rows)
    assert len(at.get("plotly_chart")) >= 2 + len(groups)
    # The ablations' seed note: seeds per cell and their mAP spread, read from the rows.
    seeds = {len(r["seeds"]) for r in ablations["rows"] if r["seeds"]}
    stds = [
        100 * s["std"] for r in ablations["rows"] if (s := r["stats"]["mAP"])["std"] is not None
    ]
    note = next(c.value for c in at.caption if "per cell" in c.value)
    assert note.startswith(f"{min(seeds)}" if len(seeds) == 1 else f"{min(seeds)}-{max(seeds)}")
    assert f"{min(stds):.1f}-{max(stds):.1f} points" in note, note
    # Each table's recipe is a table read from its JSON: the benchmark's tuned batch shape and
    # the ablations' base one, so the two baseline rows can be told apart.
    recipes = [
        dict(zip(d.value["setting"], d.value["value"], strict=True))
        for d in at.dataframe
        if list(d.value.columns) == ["setting", "value"]
    ]
    for data in (benchmark, ablations):
        shape = (str(data["recipe"]["batch_p"]), str(data["recipe"]["batch_k"]))
        assert any(
            (r["identities per batch (P)"], r["tracklets per identity (K)"]) == shape
            for r in recipes
        ), (shape, recipes)
        assert any(data["protocol"] in c.value for c in at.caption)
    assert not any(j for j in at.get("json"))  # no raw JSON on the page
    # The per-subset CMC is there without asking, from the shipped embeddings.
    curves = _live_curves(at)
    assert len(curves) == 2, curves.keys()  # the demo baseline and STRF
    for name, curve in curves.items():
        cmc = [v / 100 for v in curve]
        assert len(cmc) == 20, name
        assert all(b >= a for a, b in itertools.pairwise(cmc)), name
        assert cmc[0] >= 0 and cmc[-1] <= 1 + 1e-9, name


def _charts(at: AppTest) -> list[dict]:
    return [json.loads(c.proto.spec) for c in at.get("plotly_chart")]


def test_differences_from_the_baseline_on_one_scale():
    """STRF minus the baseline per subset, in points, with the seed spread as its error bar
    (read here from the JSON); every ablation chart on one x range; identical operators said."""
    benchmark = json.loads((RESULTS / "benchmark.json").read_text())
    base, strf = benchmark["rows"][0], benchmark["rows"][1]
    at = _page()
    chart = next(c for c in _charts(at) if "minus the baseline, points" in json.dumps(c))
    trace = next(t for t in chart["data"] if t.get("name") == "64x32 clips")  # the mAP panel
    assert trace["y"][0] == "overall"
    points = 100 * (strf["stats"]["mAP"]["mean"] - base["stats"]["mAP"]["mean"])
    spread = 100 * max(strf["stats"]["mAP"]["std"], base["stats"]["mAP"]["std"])
    assert trace["x"][0] == pytest.approx(points)
    assert trace["error_x"]["array"][0] == pytest.approx(spread)
    ranges = {
        tuple(c["layout"]["xaxis"]["range"])
        for c in _charts(at)
        if "range" in c["layout"].get("xaxis", {}) and "minus the baseline" in json.dumps(c)
    }
    assert len(ranges) == 1, ranges  # the ablation charts share one scale
    assert any("t_dynamic and s_fine are the same operator" in c.value for c in at.caption)
    if not (RESULTS / "clips128" / "benchmark.json").is_file():  # still training
        assert any(i.value.startswith("No benchmark at 128x64 yet") for i in at.info)


def test_a_partial_128x64_benchmark_says_how_many_seeds(monkeypatch):
    from app import resources as R
    from strf_core.experiments import Report

    real = json.loads((RESULTS / "benchmark.json").read_text())
    partial = json.loads(json.dumps(real))
    for row in partial["rows"]:
        row["seeds"] = row["seeds"][:1]
        for stat in row["stats"].values():
            stat["values"] = stat["values"][:1]
            stat["mean"], stat["std"] = (stat["values"][0] if stat["values"] else None), None
    reports = {"64x32": {}, "128x64": {"benchmark": Report.from_dict(partial)}}
    monkeypatch.setattr(R, "results", lambda clip_size="64x32": reports[clip_size])
    at = _page()
    labels = [r["label"] for r in partial["rows"]]
    assert _table_with(at, labels)["seeds"].tolist() == ["1/3", "1/3"]
    assert any(f"{labels[0]}: 1 of 3 seeds" in c.value for c in at.caption)
    assert any(h.value.startswith("128x64 clips") for h in at.subheader)


def test_evidence_reports_old_and_new(monkeypatch, tmp_path):
    """Files with "groups" (mean and std over seeds) and older ones with one "rows" entry per
    run are both shown, one row per model, with the pixel shares as the reference."""
    from app import resources as R
    from strf_core.experiments.evidence import EvidenceSummary, group_runs

    def summary(label: str, person: float) -> EvidenceSummary:
        shares = {"person": person, "occluder": 0.3, "background": 0.7 - person}
        area = {"person": 0.2, "occluder": 0.25, "background": 0.55}
        return EvidenceSummary(label, 40, 42, shares, shares, area)

    runs = [summary("baseline", p) for p in (0.20, 0.22, 0.24)]
    runs += [summary("strf", p) for p in (0.30, 0.31, 0.32)]
    (tmp_path / "evidence_new.json").write_text(
        json.dumps({"queries": 42, "groups": [g.to_dict() for g in group_runs(runs)]})
    )
    (tmp_path / "evidence_old.json").write_text(
        json.dumps({"queries": 42, "rows": [summary("strf", 0.4).to_dict()]})
    )
    monkeypatch.setattr(R, "RESULTS_DIR", tmp_path)
    R.evidence_tables.clear()
    try:
        at = _page()
    finally:
        R.evidence_tables.clear()
    new = _table_with(at, ["baseline", "strf", "pixel shares (a uniform map)"])
    assert new.loc["baseline", "person"] == "0.220 ± 0.020"
    assert new.loc["strf", "runs (seeds)"] == "3"
    assert new.loc["pixel shares (a uniform map)", "occluder"] == "0.250"
    old = [d.value for d in at.dataframe if "person" in d.value.columns][1].set_index("model")
    assert old.loc["strf", "person"] == "0.400" and old.loc["strf", "queries"] == "40 of 42"


def test_rows_not_run_and_missing_paper_numbers(monkeypatch):
    """A group whose cells are not run yet shows "not run" and "—", never a number."""
    from app import resources as R
    from strf_core.experiments import Report

    real = json.loads((RESULTS / "ablations.json").read_text())
    row = json.loads(json.dumps(real["rows"][0]))
    row |= {"group": "fig4b", "label": "not yet", "paper_mars": [None, None], "seeds": []}
    row["stats"] = {k: {"mean": None, "std": None, "values": []} for k in row["stats"]}
    partial = real | {"rows": [real["rows"][0], row], "cells_finished": 1, "cells_planned": 2}
    found = {"ablations": Report.from_dict(partial)}
    monkeypatch.setattr(
        R, "results", lambda clip_size="64x32": found if clip_size == "64x32" else {}
    )
    at = _page()
    line = _table_with(at, ["not yet"]).loc["not yet"]
    assert line["mAP"] == "not run" and line["R@1"] == "not run"
    assert all(line[c] == "—" for c in _paper_columns(_table_with(at, ["not yet"])))
    assert line["seeds"] == f"0/{len(row['seeds_planned'])}"  # none of the planned seeds run
