"""Per-query AP from features, two models compared query by query, the median-query rule."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from strf_core.metrics import (
    median_difference_query,
    paired_ap,
    query_average_precision,
)
from strf_core.metrics.reference import evaluate_rank_loop


def _unit(degrees: float) -> list[float]:
    return [math.cos(math.radians(degrees)), math.sin(math.radians(degrees))]


def test_query_ap_hand_computed_from_angles():
    # Cosine distance grows with the angle. Query q0 (pid 1, camera 0) at 0 degrees; gallery
    # at 10 (pid 1, camera 0: junk, removed), 20 (pid 2), 30 (pid 1, hit), 40 (pid 3), 50
    # (pid 1, hit): kept ranks 0 miss, 1 hit, 2 miss, 3 hit -> AP = (1/2 + 2/4) / 2 = 0.5.
    # q1 (pid 9) has no true match: NaN, not 0 (a 0 would pull the mean down silently).
    gallery = torch.tensor([_unit(a) for a in (10, 20, 30, 40, 50)])
    queries = torch.tensor([_unit(0), _unit(45)])
    ap = query_average_precision(queries, gallery, [1, 9], [1, 2, 1, 3, 1], [0, 0], [0, 1, 1, 1, 2])
    assert ap[0] == pytest.approx(0.5)
    assert np.isnan(ap[1])


def test_query_ap_mean_is_the_reference_map():
    generator = torch.Generator().manual_seed(0)
    q, g = torch.randn(40, 16, generator=generator), torch.randn(90, 16, generator=generator)
    rng = np.random.default_rng(0)
    q_pids, g_pids = rng.integers(0, 12, 40), rng.integers(0, 12, 90)
    q_cams, g_cams = rng.integers(0, 3, 40), rng.integers(0, 3, 90)
    ap = query_average_precision(q, g, q_pids, g_pids, q_cams, g_cams)
    distances = (1 - torch.nn.functional.normalize(q) @ torch.nn.functional.normalize(g).T).numpy()
    reference = evaluate_rank_loop(distances, q_pids, g_pids, q_cams, g_cams)
    assert np.isfinite(ap).sum() == reference["num_valid"]
    assert np.nanmean(ap) == pytest.approx(reference["mAP"], abs=1e-6)


def test_paired_ap_counts_each_side_of_the_diagonal():
    a = [0.2, 0.5, 1.0, np.nan, 0.3, 0.7]
    b = [0.4, 0.5, 0.9, 0.8, np.nan, 0.7 + 1e-9]  # a tie within the tolerance, two invalid
    paired = paired_ap(a, b)
    assert paired.valid.tolist() == [True, True, True, False, False, True]
    assert paired.b_better.tolist() == [True, False, False, False, False, False]
    assert paired.a_better.tolist() == [False, False, True, False, False, False]
    assert paired.counts() == (1, 1, 2)
    assert paired.counts([True, True, False, True, True, False]) == (1, 0, 1)
    with pytest.raises(ValueError, match="two"):
        paired_ap([0.1, 0.2], [0.1])


def test_median_difference_query_is_the_middle_of_the_subset():
    a = np.array([0.5, 0.1, 0.9, 0.4, 0.2, np.nan])
    b = np.array([0.5, 0.6, 0.3, 0.5, 0.2, 0.9])
    # differences b - a: 0, 0.5, -0.6, 0.1, 0, (invalid). In the mask {0, 1, 2, 3, 5}:
    # sorted -0.6 (2), 0 (0), 0.1 (3), 0.5 (1): the lower middle is query 0.
    mask = np.array([True, True, True, True, False, True])
    assert median_difference_query(a, b, mask) == 0
    # Odd count {1, 2, 3}: sorted 2, 3, 1 -> query 3, whichever model it favours.
    assert median_difference_query(a, b, [False, True, True, True, False, False]) == 3
    # Ties in the difference go by index: 0 and 4 both differ by 0.
    assert median_difference_query(a, b, [True, False, False, False, True, False]) == 0
    assert median_difference_query(a, b, [False] * 5 + [True]) is None  # no valid query
    # Without ties: of {0, 1, 2, 3}, query 0 (difference 0) is left out: 2, 3, 1 -> query 3.
    assert median_difference_query(a, b, mask, ties=False) == 3
    only_ties = [True, False, False, False, True, False]
    assert median_difference_query(a, b, only_ties, ties=False) is None
