"""A straightforward per-query re-ID evaluation: the yardstick for :func:`evaluate_rank`.

Same rules and tie-breaking as :mod:`strf_core.metrics.rank`, one query at a time in NumPy, as
most re-ID code bases write it. Used by the tests and by ``bench/eval_speed.py``; not for use.
"""

from __future__ import annotations

import numpy as np


def evaluate_rank_loop(distmat, q_pids, g_pids, q_camids, g_camids, max_rank=50) -> dict:
    """Per-query loop version of :func:`strf_core.metrics.evaluate_rank`."""
    distmat = np.asarray(distmat)
    q_pids, g_pids = np.asarray(q_pids), np.asarray(g_pids)
    q_camids, g_camids = np.asarray(q_camids), np.asarray(g_camids)
    all_ap, all_cmc = [], []
    for i in range(len(q_pids)):
        order = np.argsort(distmat[i], kind="stable")
        remove = (g_pids[order] == q_pids[i]) & (g_camids[order] == q_camids[i])
        hits = (g_pids[order] == q_pids[i])[~remove]
        if not hits.any():
            continue
        cmc = np.zeros(max_rank)
        first = int(np.flatnonzero(hits)[0])
        cmc[first:] = 1.0
        all_cmc.append(cmc)
        positions = np.flatnonzero(hits)
        precision = np.arange(1, len(positions) + 1) / (positions + 1)
        all_ap.append(precision.mean())
    return {
        "mAP": float(np.mean(all_ap)),
        "cmc": np.mean(all_cmc, axis=0),
        "num_valid": len(all_ap),
    }
