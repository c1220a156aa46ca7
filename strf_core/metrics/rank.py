"""Re-ID ranking metrics: CMC and mAP with the standard rules, vectorised and blockwise.

For each query, the gallery entries with the same pid *and* the same camera are removed (they
would be trivial matches); a query with no true match left is skipped; AP is non-interpolated (the
mean of the precision at each true match); CMC and mAP are averaged over the valid queries. Ties
in distance are broken by gallery order (a stable sort), so results are deterministic.

Queries are processed in blocks, in parallel on ``torch.get_num_threads()`` threads, and no
block is argsorted: only the positions of each query's same-pid entries are found
(:mod:`strf_core.metrics.positions`), so a 1980 x 11310 MARS problem needs a few tens of MB at
most beyond the distance matrix itself.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import NamedTuple

import numpy as np
import torch
from numpy.typing import ArrayLike

from strf_core.metrics.positions import PidGroups, stable_positions


class QueryResults(NamedTuple):
    """Per-query outcomes of :func:`rank_queries`.

    Attributes:
        ap: average precision of each query, ``NaN`` where the query has no true match.
        first_rank: 0-based rank of the first true match, ``-1`` where there is none.
    """

    ap: np.ndarray
    first_rank: np.ndarray

    @property
    def valid(self) -> np.ndarray:
        """Queries with at least one true match in their gallery."""
        return self.first_rank >= 0


def _as_array(x: ArrayLike, name: str, dtype: type) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().numpy()
    a = np.asarray(x)
    if name != "distmat" and a.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {a.shape}")
    return np.ascontiguousarray(a, dtype=dtype)


def rank_queries(
    distmat: ArrayLike,
    q_pids: ArrayLike,
    g_pids: ArrayLike,
    q_camids: ArrayLike,
    g_camids: ArrayLike,
    *,
    block_size: int = 128,
    num_threads: int | None = None,
) -> QueryResults:
    """Rank every query's gallery and score it.

    Args:
        distmat: query-to-gallery distances (smaller is closer), compared in float32.
        q_pids, g_pids: person ids of queries and gallery entries.
        q_camids, g_camids: camera ids of queries and gallery entries.
        block_size: queries ranked at once; bounds the temporary memory (about
            ``block_size x G`` float32 per thread).
        num_threads: blocks ranked in parallel; ``None`` follows ``torch.get_num_threads()``.

    Returns:
        Per-query average precision and rank of the first true match.

    Shape:
        distmat: ``(Q, G)``; q_*: ``(Q,)``; g_*: ``(G,)``.
    """
    dist = _as_array(distmat, "distmat", np.float32)
    qp, gp = _as_array(q_pids, "q_pids", np.int64), _as_array(g_pids, "g_pids", np.int64)
    qc = _as_array(q_camids, "q_camids", np.int64)
    gc = _as_array(g_camids, "g_camids", np.int64)
    if dist.ndim != 2 or dist.shape != (len(qp), len(gp)):
        raise ValueError(
            f"distmat has shape {dist.shape}, expected (len(q_pids), len(g_pids)) = "
            f"({len(qp)}, {len(gp)})"
        )
    if len(qc) != len(qp) or len(gc) != len(gp):
        raise ValueError("camids must have the same lengths as the matching pids")
    if block_size < 1:
        raise ValueError(f"block_size must be at least 1, got {block_size}")
    groups = PidGroups(gp)
    ap = np.full(len(qp), np.nan)
    first_rank = np.full(len(qp), -1, dtype=np.int64)

    def score_block(start: int) -> None:
        stop = min(start + block_size, len(qp))
        block = dist[start:stop]  # (B, G), a view
        ranked = np.sort(block, axis=1)  # (B, G), values only; NaN sorts last
        if np.isnan(ranked[:, -1]).any():
            bad = start + int(np.flatnonzero(np.isnan(ranked[:, -1]))[0])
            raise ValueError(f"distmat contains NaN (query row {bad})")
        rows, cols = groups.entries(qp[start:stop])  # same-pid pairs, (n,) each
        pos = stable_positions(block, ranked, rows, cols)
        order = np.lexsort((pos, rows))  # by row, then ranked position
        rows, cols, pos = rows[order], cols[order], pos[order]
        junk = gc[cols] == qc[start + rows]
        ap[start:stop], first_rank[start:stop] = _score_ranked_matches(
            rows, pos, junk, stop - start
        )

    starts = range(0, len(qp), block_size)
    workers = max(1, torch.get_num_threads() if num_threads is None else num_threads)
    if workers == 1 or len(starts) == 1:
        for start in starts:
            score_block(start)
    else:  # NumPy's sort releases the GIL; each block writes its own rows
        with ThreadPoolExecutor(min(workers, len(starts))) as pool:
            for done in [pool.submit(score_block, start) for start in starts]:
                done.result()
    return QueryResults(ap, first_rank)


def _score_ranked_matches(
    rows: np.ndarray, pos: np.ndarray, junk: np.ndarray, num_rows: int
) -> tuple[np.ndarray, np.ndarray]:
    """AP and first-match rank from the ranked positions of each query's same-pid entries.

    Args:
        rows, pos: query row and 0-based position in the ranked gallery of every same-pid entry,
            sorted by row then position.
        junk: whether each entry is in the query's camera (removed from its gallery).
        num_rows: queries in the block.
    """
    hit = ~junk
    row_start = np.searchsorted(rows, rows)  # flat index where each entry's row begins

    def count_in_row(flags: np.ndarray) -> np.ndarray:  # inclusive running count per row
        running = np.cumsum(flags)
        return running - (running - flags)[row_start]

    kept_rank = pos - (count_in_row(junk) - junk)  # junk entries ranked ahead are removed
    precision = count_in_row(hit) / (kept_rank + 1)
    num_hits = np.bincount(rows, weights=hit, minlength=num_rows)
    ap_sum = np.bincount(rows, weights=precision * hit, minlength=num_rows)
    ap = np.divide(ap_sum, num_hits, out=np.full(num_rows, np.nan), where=num_hits > 0)
    first = np.full(num_rows, np.iinfo(np.int64).max)
    np.minimum.at(first, rows[hit], kept_rank[hit])
    return ap, np.where(num_hits > 0, first, -1)


def summarize(results: QueryResults, *, max_rank: int = 50, mask: ArrayLike | None = None) -> dict:
    """Average per-query results over the valid queries (of ``mask``, if given).

    Returns:
        ``{"mAP": float, "cmc": (max_rank,) array, "num_valid": int, "num_queries": int}``;
        ``cmc[k]`` is the fraction of valid queries whose first true match has rank ``<= k``.
        With no valid query, ``mAP`` and ``cmc`` are NaN.
    """
    selected = np.ones(len(results.ap), bool) if mask is None else np.asarray(mask, bool)
    valid = results.valid & selected
    num_valid = int(valid.sum())
    if num_valid == 0:
        cmc = np.full(max_rank, np.nan)
        return {"mAP": float("nan"), "cmc": cmc, "num_valid": 0, "num_queries": int(selected.sum())}
    ranks = results.first_rank[valid]
    cmc = (ranks[:, None] <= np.arange(max_rank)[None, :]).mean(axis=0)
    return {
        "mAP": float(results.ap[valid].mean()),
        "cmc": cmc,
        "num_valid": num_valid,
        "num_queries": int(selected.sum()),
    }


def evaluate_rank(
    distmat: ArrayLike,
    q_pids: ArrayLike,
    g_pids: ArrayLike,
    q_camids: ArrayLike,
    g_camids: ArrayLike,
    max_rank: int = 50,
    *,
    block_size: int = 128,
) -> dict:
    """CMC and mAP of a query-gallery distance matrix (standard re-ID rules, module docstring).

    Returns:
        ``{"mAP": float in [0, 1], "cmc": (max_rank,) array, "num_valid": int,
        "num_queries": int}``. The CMC has ``max_rank`` entries even when a query's gallery is
        shorter: past the last entry it stays at its final value.

    Raises:
        ValueError: mismatched shapes, NaN distances, or no query with a true match.

    Shape:
        distmat: ``(Q, G)``; q_*: ``(Q,)``; g_*: ``(G,)``.
    """
    results = rank_queries(distmat, q_pids, g_pids, q_camids, g_camids, block_size=block_size)
    if not results.valid.any():
        raise ValueError(
            "no query has a true match in its gallery (after removing same-camera matches)"
        )
    return summarize(results, max_rank=max_rank)


def evaluate_rank_subsets(
    distmat: ArrayLike,
    q_pids: ArrayLike,
    g_pids: ArrayLike,
    q_camids: ArrayLike,
    g_camids: ArrayLike,
    subsets: Mapping[str, ArrayLike],
    max_rank: int = 50,
) -> dict[str, dict]:
    """:func:`evaluate_rank` over every query (``"all"``) and over each subset of the queries,
    ranking the gallery once.

    Args:
        subsets: boolean masks over the queries by name (e.g. the synthetic look-alike,
            occluded and misaligned queries).

    Returns:
        ``{"all": summary, name: summary, ...}``, each as :func:`summarize` returns it (a
        subset without a valid query has NaN scores).

    Raises:
        ValueError: as :func:`evaluate_rank`.
    """
    results = rank_queries(distmat, q_pids, g_pids, q_camids, g_camids)
    if not results.valid.any():
        raise ValueError(
            "no query has a true match in its gallery (after removing same-camera matches)"
        )
    out = {"all": summarize(results, max_rank=max_rank)}
    for name, mask in subsets.items():
        out[name] = summarize(results, max_rank=max_rank, mask=mask)
    return out


def aggregate_splits(runs: Sequence[dict]) -> dict:
    """Mean and standard deviation over splits (iLIDS-VID and PRID-2011 use 10).

    Returns:
        ``{"mAP", "mAP_std", "cmc", "cmc_std", "num_splits"}``.
    """
    if not runs:
        raise ValueError("no split results to aggregate")
    maps = np.array([r["mAP"] for r in runs])
    cmcs = np.stack([r["cmc"] for r in runs])
    return {
        "mAP": float(maps.mean()),
        "mAP_std": float(maps.std()),
        "cmc": cmcs.mean(axis=0),
        "cmc_std": cmcs.std(axis=0),
        "num_splits": len(runs),
    }
