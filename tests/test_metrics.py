"""CMC / mAP against hand-computed cases, edge cases and the per-query reference loop."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from strf_core.metrics import (
    aggregate_splits,
    cosine_distance,
    evaluate_rank,
    evaluate_rank_subsets,
    rank_queries,
    summarize,
)
from strf_core.metrics.reference import evaluate_rank_loop


def test_hand_computed_query():
    # Gallery sorted by distance: g0 same pid + same camera (removed), g1 miss, g2 hit, g3 miss,
    # g4 hit. Kept ranks: g1 0, g2 1, g3 2, g4 3. AP = (1/2 + 2/4) / 2; first match at rank 1.
    dist = np.array([[0.1, 0.2, 0.3, 0.4, 0.5]])
    out = evaluate_rank(dist, [1], [1, 2, 1, 3, 1], [0], [0, 1, 1, 1, 2], max_rank=5)
    assert out["mAP"] == pytest.approx(0.5)
    np.testing.assert_allclose(out["cmc"], [0, 1, 1, 1, 1])
    assert out["num_valid"] == 1


def test_queries_without_a_true_match_are_skipped():
    dist = np.array([[0.3, 0.1, 0.2], [0.1, 0.2, 0.3], [0.5, 0.1, 0.9]])
    # q0: its only match is in its own camera -> skipped; q1 (pid 7) has none -> skipped.
    out = evaluate_rank(dist, [1, 7, 2], [1, 2, 2], [0, 0, 0], [0, 1, 1], max_rank=3)
    assert out["num_valid"] == 1 and out["num_queries"] == 3
    # q2: kept ranks g1 (hit, 0), g0 (miss, 1), g2 (hit, 2): AP = (1 + 2/3) / 2.
    assert out["mAP"] == pytest.approx((1 + 2 / 3) / 2)
    np.testing.assert_allclose(out["cmc"], [1, 1, 1])


def test_no_valid_query_is_a_clear_error():
    with pytest.raises(ValueError, match="no query has a true match"):
        evaluate_rank(np.zeros((2, 2)), [1, 2], [3, 4], [0, 0], [1, 1])
    results = rank_queries(np.zeros((2, 2)), [1, 2], [3, 4], [0, 0], [1, 1])
    assert np.isnan(summarize(results)["mAP"])


def test_ties_are_broken_by_gallery_order():
    dist = np.zeros((1, 4))
    out = evaluate_rank(dist, [1], [2, 1, 3, 1], [0], [1, 1, 1, 1], max_rank=4)
    assert out["mAP"] == pytest.approx((1 / 2 + 2 / 4) / 2)
    np.testing.assert_allclose(out["cmc"], [0, 1, 1, 1])


def test_short_gallery_gives_full_length_cmc():
    out = evaluate_rank(np.array([[0.2, 0.1]]), [1], [1, 2], [0], [1, 1], max_rank=50)
    assert out["cmc"].shape == (50,)
    np.testing.assert_allclose(out["cmc"][:2], [0, 1])
    assert (out["cmc"][1:] == 1).all()


def test_bad_shapes_and_nan_are_named():
    with pytest.raises(ValueError, match="distmat has shape"):
        evaluate_rank(np.zeros((2, 3)), [1, 2], [1, 2], [0, 0], [0, 0])
    with pytest.raises(ValueError, match="NaN"):
        evaluate_rank(np.full((1, 1), np.nan), [1], [1], [0], [1])


@pytest.mark.parametrize("block_size", [1, 7, 256])
def test_matches_the_per_query_loop_on_mars_like_labels(block_size):
    rng = np.random.default_rng(0)
    q_pids = rng.integers(0, 40, 60)
    g_pids = np.concatenate([rng.integers(0, 40, 300), np.zeros(20, int)])  # + distractors
    q_cams, g_cams = rng.integers(0, 6, 60), rng.integers(0, 6, 320)
    dist = rng.random((60, 320)).astype(np.float32)
    dist[:, ::7] = 0.5  # ties
    fast = evaluate_rank(dist, q_pids, g_pids, q_cams, g_cams, max_rank=20, block_size=block_size)
    slow = evaluate_rank_loop(dist, q_pids, g_pids, q_cams, g_cams, max_rank=20)
    assert fast["num_valid"] == slow["num_valid"]
    assert fast["mAP"] == pytest.approx(slow["mAP"], abs=1e-12)
    np.testing.assert_allclose(fast["cmc"], slow["cmc"])


def test_subset_summary_and_split_aggregation():
    results = rank_queries(np.array([[0.1, 0.9], [0.9, 0.1]]), [1, 1], [1, 2], [0, 0], [1, 1])
    only_first = summarize(results, max_rank=2, mask=[True, False])
    assert only_first["mAP"] == 1.0 and only_first["num_valid"] == 1
    assert summarize(results, max_rank=2)["mAP"] == pytest.approx(0.75)
    agg = aggregate_splits(
        [{"mAP": 0.5, "cmc": np.array([0.5, 1.0])}, {"mAP": 0.7, "cmc": np.ones(2)}]
    )
    assert agg["mAP"] == pytest.approx(0.6) and agg["mAP_std"] == pytest.approx(0.1)
    np.testing.assert_allclose(agg["cmc"], [0.75, 1.0])


def test_cosine_distance():
    q = torch.tensor([[1.0, 0.0], [0.0, 2.0]])
    g = torch.tensor([[3.0, 0.0], [-1.0, 0.0], [1.0, 1.0]])
    expected = torch.tensor([[0.0, 2.0, 1 - 2**-0.5], [1.0, 1.0, 1 - 2**-0.5]])
    torch.testing.assert_close(cosine_distance(q, g, block_size=1), expected)


def test_subsets_score_as_their_queries_alone():
    rng = np.random.default_rng(0)
    q_pids, g_pids = rng.integers(0, 6, 30), rng.integers(0, 6, 80)
    q_cams, g_cams = rng.integers(0, 3, 30), rng.integers(0, 3, 80)
    dist = rng.random((30, 80))
    masks = {"even": np.arange(30) % 2 == 0, "first": np.arange(30) < 7}
    out = evaluate_rank_subsets(dist, q_pids, g_pids, q_cams, g_cams, masks, max_rank=10)
    assert set(out) == {"all", "even", "first"}
    for name, mask in {"all": np.ones(30, bool), **masks}.items():
        want = evaluate_rank(dist[mask], q_pids[mask], g_pids, q_cams[mask], g_cams, max_rank=10)
        assert out[name]["mAP"] == pytest.approx(want["mAP"])
        np.testing.assert_allclose(out[name]["cmc"], want["cmc"])
        assert out[name]["num_valid"] == want["num_valid"]
