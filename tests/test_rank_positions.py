"""The sort-free ranking behind evaluate_rank against plain argsort references, ties and junk."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from strf_core.metrics import evaluate_rank, rank_queries
from strf_core.metrics.positions import PidGroups, stable_positions
from strf_core.metrics.reference import evaluate_rank_loop


def tied_problem(seed: int, *, num_q: int = 50, num_g: int = 400, levels: int = 6):
    """Labels with junk (same pid and camera), distractors (pid 0) and pids no query has, and
    distances on a few levels so that most entries tie with many others."""
    rng = np.random.default_rng(seed)
    q_pids = rng.integers(1, 25, num_q)
    g_pids = np.concatenate([rng.integers(1, 30, num_g - 40), np.zeros(40, int)])
    rng.shuffle(g_pids)
    q_cams, g_cams = rng.integers(0, 3, num_q), rng.integers(0, 3, num_g)
    dist = (rng.integers(0, levels, (num_q, num_g)) / levels).astype(np.float32)
    return dist, q_pids, g_pids, q_cams, g_cams


def test_positions_equal_a_stable_argsort_with_ties_zeros_and_infinities():
    rng = np.random.default_rng(1)
    block = rng.integers(0, 5, (9, 300)).astype(np.float32)
    block[0] = 0.0  # one value everywhere
    block[1, ::2] = -0.0  # equal to 0.0
    block[2, :10] = np.inf
    block[3, -10:] = -np.inf
    rows = np.repeat(np.arange(9), 40)
    cols = np.concatenate([np.sort(rng.choice(300, 40, replace=False)) for _ in range(9)])
    ranked = np.sort(block, axis=1)
    got = stable_positions(block, ranked, rows, cols, chunk=7)
    inverse = np.argsort(np.argsort(block, axis=1, kind="stable"), axis=1, kind="stable")
    np.testing.assert_array_equal(got, inverse[rows, cols])


def test_pid_groups_list_every_same_pid_entry_in_gallery_order():
    g_pids = np.array([3, 1, 3, 2, 1, 3])
    rows, cols = PidGroups(g_pids).entries(np.array([3, 5, 1]))
    np.testing.assert_array_equal(rows, [0, 0, 0, 2, 2])
    np.testing.assert_array_equal(cols, [0, 2, 5, 1, 4])


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize(("block_size", "num_threads"), [(1, 1), (16, 2), (1000, 1)])
def test_ranks_and_ap_equal_the_per_query_loop_on_tied_distances(seed, block_size, num_threads):
    problem = tied_problem(seed)
    fast = rank_queries(*problem, block_size=block_size, num_threads=num_threads)
    dist, q_pids, g_pids, q_cams, g_cams = problem
    for i in range(len(q_pids)):  # each query alone through the reference loop
        valid = ((g_pids == q_pids[i]) & (g_cams != q_cams[i])).any()
        if not valid:
            assert fast.first_rank[i] == -1 and np.isnan(fast.ap[i])
            continue
        one = evaluate_rank_loop(
            dist[i : i + 1], q_pids[i : i + 1], g_pids, q_cams[i : i + 1], g_cams, len(g_pids)
        )
        assert fast.ap[i] == pytest.approx(one["mAP"], abs=1e-12)
        assert fast.first_rank[i] == int(np.argmax(one["cmc"] > 0))


def test_summary_equals_the_loop_and_threads_change_nothing():
    problem = tied_problem(7, num_q=130, levels=3)
    slow = evaluate_rank_loop(*problem, max_rank=20)
    before = torch.get_num_threads()
    for threads in (1, 2):
        torch.set_num_threads(threads)  # evaluate_rank's default thread count follows torch's
        try:
            fast = evaluate_rank(*problem, max_rank=20, block_size=32)
        finally:
            torch.set_num_threads(before)
        assert fast["num_valid"] == slow["num_valid"]
        assert fast["mAP"] == pytest.approx(slow["mAP"], abs=1e-12)
        np.testing.assert_allclose(fast["cmc"], slow["cmc"], atol=0)


def test_junk_ahead_of_a_match_is_removed_not_counted():
    # Sorted: g2 junk (pid 1, camera 0 = query's), g0 miss, g1 match, g3 junk at a tie with g1.
    dist = np.array([[0.2, 0.3, 0.1, 0.3]], dtype=np.float32)
    out = rank_queries(dist, [1], [2, 1, 1, 1], [0], [1, 1, 0, 0])
    assert out.first_rank[0] == 1  # g1 after the miss; the junk g2 is gone
    assert out.ap[0] == pytest.approx(0.5)


def test_torch_input_and_float64_give_the_numpy_float32_answer():
    dist, *labels = tied_problem(3)
    want = rank_queries(dist, *labels)
    for other in (torch.from_numpy(dist), dist.astype(np.float64)):
        got = rank_queries(other, *labels)
        np.testing.assert_array_equal(got.first_rank, want.first_rank)
        np.testing.assert_array_equal(got.ap, want.ap)


def test_nan_names_the_first_bad_query_row():
    dist, *labels = tied_problem(0)
    dist[37, 5] = np.nan
    with pytest.raises(ValueError, match="query row 37"):
        rank_queries(dist, *labels, block_size=16, num_threads=2)
    with pytest.raises(ValueError, match="block_size must be at least 1"):
        rank_queries(dist, *labels, block_size=0)
