"""The non-learned colour-histogram baseline: its scores by hand, chance levels, a tiny world."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest

from strf_core.baselines.histogram import _chance_ap, evaluate, rank_scores
from strf_core.synth import generate, load_metadata


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("synth") / "tiny"
    generate(root, preset="tiny", seed=0, size=(128, 64), workers=1, progress=False)
    return root


def test_rank_scores_by_hand():
    # Query pid 1 cam 1; gallery: pid 1 cam 1 (removed), pid 2, pid 1 cam 2, pid 0, pid 1 cam 3.
    dist = np.array([[0.0, 0.1, 0.2, 0.3, 0.4]])
    scores = rank_scores(
        dist, np.array([1]), np.array([1]), np.array([1, 2, 1, 0, 1]), np.array([1, 1, 2, 1, 3])
    )
    assert scores["rank1"] == 0 and scores["rank5"] == 1
    assert scores["mAP"] == pytest.approx((1 / 2 + 2 / 4) / 2)
    assert scores["chance_rank1"] == pytest.approx(2 / 4)


def test_chance_ap_matches_enumeration():
    for positives, total in ((1, 1), (1, 4), (2, 5), (3, 6)):
        aps = []
        for hits in itertools.combinations(range(total), positives):
            aps.append(np.mean([(k + 1) / (h + 1) for k, h in enumerate(hits)]))
        assert _chance_ap(positives, total) == pytest.approx(np.mean(aps))


def test_histogram_baseline_runs_on_tiny(tiny):
    results = evaluate(tiny, max_frames=4)
    assert results["overall"]["queries"] == load_metadata(tiny)["generator"]["counts"]["queries"]
    for key in ("overall", "lookalike", "within_group"):
        assert 0 <= results[key]["mAP"] <= 1 and 0 < results[key]["chance_mAP"] <= 1
