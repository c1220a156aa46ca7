"""Where each query's same-pid gallery entries land in its ranked gallery, without ranking it.

AP and CMC only need the ranked positions of the few gallery entries that share the query's pid
(true matches, and junk: same pid in the same camera). The position of an entry ``j`` of value
``v`` in a stable sort of the row is ``#{d < v} + #{i < j : d_i == v}``: the first term is a
binary search in the sorted *values* of the row (``np.sort``, a SIMD sort with no index array,
several times faster than an argsort), the second is non-zero only for tied distances and is
counted directly on the row. No ``(Q, G)`` index matrix is ever built.
"""

from __future__ import annotations

import numpy as np
import torch


class PidGroups:
    """Gallery indices grouped by pid, for looking up every query's same-pid entries at once.

    Args:
        g_pids: gallery pids ``(G,)``.
    """

    def __init__(self, g_pids: np.ndarray) -> None:
        self.order = np.argsort(g_pids, kind="stable")  # gallery order within each pid
        self.sorted_pids = g_pids[self.order]

    def entries(self, q_pids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Every (query, gallery entry) pair with the same pid.

        Returns:
            ``(rows, cols)``: query row (ascending) and gallery index (ascending within a row).

        Shape:
            q_pids: ``(B,)``. Returns: ``(n,)`` each, ``n`` the number of same-pid pairs.
        """
        lo = np.searchsorted(self.sorted_pids, q_pids, side="left")
        counts = np.searchsorted(self.sorted_pids, q_pids, side="right") - lo
        rows = np.repeat(np.arange(len(q_pids)), counts)
        row_start = np.repeat(np.cumsum(counts) - counts, counts)
        flat = np.arange(len(rows)) - row_start + np.repeat(lo, counts)
        return rows, self.order[flat]


def stable_positions(
    block: np.ndarray, ranked: np.ndarray, rows: np.ndarray, cols: np.ndarray, *, chunk: int = 128
) -> np.ndarray:
    """0-based position of ``block[rows, cols]`` in a stable ascending sort of its row.

    Args:
        block: distances of a block of queries, float32, without NaN.
        ranked: ``np.sort(block, axis=1)``.
        rows, cols: entries to place, sorted by row.
        chunk: tied entries compared against their whole row at once (bounds the memory).

    Returns:
        Positions, as ``np.argsort(block[r], kind="stable")`` would give them.

    Shape:
        block, ranked: ``(B, G)``; rows, cols: ``(n,)``. Returns: ``(n,)`` int64.
    """
    values = block[rows, cols]  # (n,)
    if len(values) == 0:
        return np.zeros(0, dtype=np.int64)
    slot = np.arange(len(rows)) - np.searchsorted(rows, rows, side="left")
    padded = np.full((len(block), int(slot.max()) + 1), np.inf, dtype=block.dtype)  # (B, m)
    padded[rows, slot] = values
    below = torch.searchsorted(torch.from_numpy(ranked), torch.from_numpy(padded))  # #{d < v}
    positions = below.numpy()[rows, slot]
    # ranked[row, position] is the value itself; the next one equal means a tie in the row.
    following = np.minimum(positions + 1, block.shape[1] - 1)
    tied = np.flatnonzero((ranked[rows, following] == values) & (following > positions))
    for start in range(0, len(tied), chunk):
        pick = tied[start : start + chunk]
        before = np.arange(block.shape[1]) < cols[pick, None]  # (t, G)
        positions[pick] += np.count_nonzero((block[rows[pick]] == values[pick, None]) & before, 1)
    return positions
