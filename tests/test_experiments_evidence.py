"""Fig. 5 measured: nearest true matches, evidence shares per occluded query, ``strf evidence``."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from strf_core import active_branches, build_model
from strf_core.cli import main
from strf_core.data.datasets import build_dataset
from strf_core.data.tracklet import Tracklet
from strf_core.engine.checkpoint import TrainingState, save_checkpoint
from strf_core.engine.config import config_to_yaml, load_config
from strf_core.experiments.evidence import (
    EvidenceSummary,
    QueryEvidence,
    group_runs,
    nearest_true_matches,
    occluded_queries,
    query_evidence,
    summarize,
    summarize_common,
)
from strf_core.features import extract_features
from strf_core.synth import generate
from strf_core.synth.ground_truth import load_masks

SIZE = (64, 32)


def _t(pid: int, camid: int) -> Tracklet:
    return Tracklet(frames=(f"{pid}_{camid}.jpg",), pid=pid, camid=camid)


def test_the_nearest_true_match_is_the_most_similar_same_identity_in_another_camera():
    query = [_t(1, 0), _t(2, 0), _t(3, 0)]
    gallery = [_t(1, 0), _t(1, 1), _t(1, 2), _t(2, 1), _t(4, 1)]
    q = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]])
    # Gallery 0 is the most similar to query 0 but in its own camera: not a match.
    g = torch.tensor([[1.0, 0.0], [0.6, 0.8], [0.8, 0.6], [1.0, 0.0], [0.0, 1.0]])
    assert nearest_true_matches(q, g, query, gallery) == [2, 3, None]


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("evidence") / "mars"
    generate(root, preset="tiny", seed=1, size=(128, 64), workers=1, progress=False)
    return root


def test_every_occluded_query_gets_shares_that_add_up_and_its_pixel_areas(world):
    dataset = build_dataset("mars", world, protocol="ap3d")
    torch.manual_seed(0)
    model = build_model("p3dc_resnet_tiny", num_classes=6, strf=True).eval()
    chosen = occluded_queries(dataset)
    assert chosen and all(dataset.query_subsets()["occluded"][i] for i in chosen)
    found = query_evidence(model, dataset, size=SIZE, branches=["s_fine", "t_static"])
    assert [e.query for e in found] == [
        i for i in chosen if any(g.pid == dataset.query[i].pid for g in dataset.gallery)
    ]
    # The match is the most similar true match of the whole gallery (only true matches are
    # embedded to find it: the ranking over all of them must agree).
    with active_branches("s_fine", "t_static"):
        everything = F.normalize(extract_features(model, dataset.gallery, size=SIZE), dim=1)
        queries = F.normalize(
            extract_features(model, [dataset.query[i] for i in chosen], size=SIZE), dim=1
        )
    similarity = queries @ everything.T  # (Q, G)
    for e in found:
        row = similarity[chosen.index(e.query)]
        assert dataset.gallery[e.match].pid == dataset.query[e.query].pid
        assert dataset.gallery[e.match].camid != dataset.query[e.query].camid
        rivals = [
            g
            for g, t in enumerate(dataset.gallery)
            if t.pid == dataset.query[e.query].pid and t.camid != dataset.query[e.query].camid
        ]
        assert float(row[e.match]) == pytest.approx(float(row[rivals].max()), abs=1e-5)
        masks = load_masks(world, dataset.query[e.query])
        drawn = masks.occluder.any(axis=(1, 2))
        occluder_area = masks.occluder[drawn].mean()
        assert e.area[1] == pytest.approx(occluder_area)
        for shares in (e.occluded, e.all_frames):
            if not np.isnan(shares).any():
                assert sum(shares) == pytest.approx(1.0) and min(shares) >= 0
    summary = summarize("strf", found, len(chosen))
    assert summary.total == len(chosen) and 0 < summary.queries <= len(found)
    assert sum(summary.occluded.values()) == pytest.approx(1.0)


def test_strf_evidence_writes_rows_and_names_a_world_without_masks(
    world, tmp_path, capsys, monkeypatch
):
    config = load_config(None, ["model.name=p3dc_resnet_tiny", "data.height=64", "data.width=32"])
    torch.manual_seed(0)
    model = build_model("p3dc_resnet_tiny", num_classes=6, strf=True)
    save_checkpoint(tmp_path / "strf", model, TrainingState(), config_to_yaml(config))
    out = tmp_path / "evidence.json"
    cache = ["--cache", str(tmp_path / "measured")]
    args = ["evidence", str(tmp_path / "strf"), "--data-root", str(world), "--queries", "2", *cache]
    table = tmp_path / "evidence.md"
    assert main([*args, "--branches-off", "--json", str(out), "--markdown", str(table)]) == 0
    first = out.read_text()
    # Measured once: a re-run reads every model back from the cache, to the same rows.
    monkeypatch.setattr("strf_core.experiments.evidence.query_evidence", _measured_again)
    assert main([*args, "--branches-off", "--json", str(out)]) == 0
    assert json.loads(out.read_text())["rows"] == json.loads(first)["rows"]
    monkeypatch.undo()
    assert "| strf without s_coarse | " in table.read_text()
    rows = json.loads(out.read_text())["rows"]
    assert [r["label"] for r in rows] == [
        "strf",
        "strf without t_dynamic",
        "strf without t_static",
        "strf without s_fine",
        "strf without s_coarse",
    ]
    assert all(r["total"] == 2 for r in rows)
    # Two runs under one label (two seeds): one row with their spread; the rows keep each run.
    torch.manual_seed(1)
    other = build_model("p3dc_resnet_tiny", num_classes=6, strf=True)
    save_checkpoint(tmp_path / "seed1", other, TrainingState(), config_to_yaml(config))
    seeds = [f"STRF={tmp_path / 'strf'}", f"STRF={tmp_path / 'seed1'}"]
    pooled = ["evidence", *seeds, "--data-root", str(world), "--queries", "2", *cache]
    assert main([*pooled, "--json", str(out), "--markdown", str(table)]) == 0
    written = json.loads(out.read_text())
    assert [r["label"] for r in written["rows"]] == ["STRF", "STRF"]
    assert [(g["label"], g["runs"]) for g in written["groups"]] == [("STRF", 2)]
    person = [r["occluded"]["person"] for r in written["rows"]]
    mean, std = written["groups"][0]["occluded"]["person"]
    assert mean == pytest.approx(np.mean(person)) and std == pytest.approx(np.std(person, ddof=1))
    assert "| STRF | 2 | " in table.read_text() and " ± " in table.read_text()
    assert str(tmp_path) in written["rows"][1]["checkpoint"]  # outside the working folder
    no_masks = tmp_path / "old"
    generate(no_masks, preset="tiny", seed=1, size=(128, 64), workers=1, progress=False)
    shutil.rmtree(no_masks / "masks")  # as a world written before masks existed
    capsys.readouterr()
    assert main(["evidence", str(tmp_path / "strf"), "--data-root", str(no_masks)]) == 2
    assert "generated before ground-truth masks" in capsys.readouterr().err


def test_rows_are_summarized_over_the_queries_every_model_has_evidence_for():
    nan = (float("nan"),) * 3
    a = [
        QueryEvidence(0, 5, (0.5, 0.2, 0.3), (0.5, 0.2, 0.3), (0.2, 0.3, 0.5)),
        QueryEvidence(1, 6, (0.1, 0.1, 0.8), (0.1, 0.1, 0.8), (0.2, 0.3, 0.5)),
    ]
    b = [
        QueryEvidence(0, 5, (0.3, 0.3, 0.4), (0.3, 0.3, 0.4), (0.2, 0.3, 0.5)),
        QueryEvidence(1, 6, nan, (0.2, 0.2, 0.6), (0.2, 0.3, 0.5)),  # no mass where occluded
    ]
    rows = summarize_common([("a", a), ("b", b)], total=3)
    assert [(r.label, r.queries, r.total) for r in rows] == [("a", 1, 3), ("b", 1, 3)]
    assert rows[0].occluded["person"] == pytest.approx(0.5)  # query 1 left out of a as well
    assert rows[1].occluded["person"] == pytest.approx(0.3)


def _measured_again(*args, **kwargs):
    raise AssertionError("measured again instead of read from the cache")


def _summary(label: str, person: float) -> EvidenceSummary:
    rest = (1.0 - person) / 2
    shares = {"person": person, "occluder": rest, "background": rest}
    area = {"person": 0.2, "occluder": 0.3, "background": 0.5}
    return EvidenceSummary(label, 4, 5, shares, shares, area)


def test_runs_of_one_label_are_pooled_with_their_sample_spread_in_first_seen_order():
    runs = [_summary("strf", 0.3), _summary("baseline", 0.2), _summary("strf", 0.5)]
    strf, baseline = group_runs(runs)
    assert (strf.label, strf.runs, baseline.label, baseline.runs) == ("strf", 2, "baseline", 1)
    mean, std = strf.occluded["person"]
    assert mean == pytest.approx(0.4) and std == pytest.approx(0.1414213, abs=1e-6)  # ddof 1
    assert baseline.occluded["person"] == (pytest.approx(0.2), None)  # one run: no spread
    assert strf.area == runs[0].area and strf.queries == 4 and strf.total == 5
