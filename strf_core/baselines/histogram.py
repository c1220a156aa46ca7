"""A non-learned colour-histogram matcher: how hard a synthetic world is before any learning.

Each frame's central half (where the person is; the sides are mostly background) is colour
normalised (grey world: each channel divided by its mean, which cancels a camera's gain and colour
cast), then described by HSV histograms of four horizontal stripes (8 hue x 4 saturation x 4
value bins each). A tracklet is the mean over up to 16 evenly spaced frames, square-rooted
(Hellinger) and L2-normalised; tracklets are ranked by Euclidean distance. The test split is read
by the MARS loader (:class:`~strf_core.data.datasets.Mars`, torchreid protocol), the subsets and
look-alike groups from the world's metadata (:mod:`strf_core.synth.metadata`).

Scoring is :func:`strf_core.metrics.rank_queries` (SPEC section 3): query = ``query_IDX`` rows,
gallery = the other test rows without junk (pid -1), distractors (pid 0) kept; a query's gallery
loses the entries with its pid and camera; queries without a true match are skipped; AP is the
mean precision at each true match. Chance levels are the expectations under a random ranking of
the same galleries. ``within_group`` ranks a look-alike query against its own group's tracklets
in the other cameras only: the look-alikes share every appearance parameter, so a colour matcher
should sit at chance there. (With the query's own camera in, it drops below chance: a group-mate
seen by the same camera shares background and light with the query, the true match never does.)
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image

from strf_core.data.datasets.mars import Mars
from strf_core.metrics import rank_queries
from strf_core.synth.metadata import lookalike_groups, subset_masks

_STRIPES, _BINS = 4, 8 * 4 * 4
SUBSET_NAMES = ("lookalike", "occluded", "misaligned", "clean")


def tracklet_histogram(paths: Sequence[str | Path], *, max_frames: int = 16) -> np.ndarray:
    """Stripe HSV histogram of a tracklet.

    Args:
        paths: frame files in order.
        max_frames: frames used, evenly spaced.

    Returns:
        ``(4 * 128,)`` float64, square-rooted and L2-normalised.
    """
    pick = np.unique(
        np.linspace(0, len(paths) - 1, min(max_frames, len(paths))).round().astype(int)
    )
    total = np.zeros(_STRIPES * _BINS)
    for i in pick:
        rgb = np.asarray(Image.open(paths[i]).convert("RGB"), dtype=np.float64)
        w = rgb.shape[1]
        rgb = rgb[:, w // 4 : w - w // 4]
        rgb = np.clip(rgb * (110.0 / (rgb.reshape(-1, 3).mean(0) + 1.0)), 0, 255)
        hsv = np.asarray(Image.fromarray(rgb.astype(np.uint8)).convert("HSV"), dtype=np.int64)
        h = hsv.shape[0]
        bins = (hsv[..., 0] >> 5) * 16 + (hsv[..., 1] >> 6) * 4 + (hsv[..., 2] >> 6)
        stripe = (np.arange(h) * _STRIPES // h)[:, None]
        total += np.bincount((stripe * _BINS + bins).ravel(), minlength=_STRIPES * _BINS)
    feature = np.sqrt(total / total.sum())
    return feature / np.linalg.norm(feature)


def _chance_ap(positives: int, total: int) -> float:
    """Expected AP of a random ranking of ``total`` items, ``positives`` of them true:
    ``(H_N + (R - 1) (N - H_N) / (N - 1)) / N`` with ``H_N`` the N-th harmonic number."""
    if total == 1:
        return 1.0
    harmonic = float(np.sum(1.0 / np.arange(1, total + 1)))
    return (harmonic + (positives - 1) * (total - harmonic) / (total - 1)) / total


def rank_scores(
    dist: np.ndarray,
    q_pids: np.ndarray,
    q_cams: np.ndarray,
    g_pids: np.ndarray,
    g_cams: np.ndarray,
) -> dict[str, float]:
    """mAP and rank-1/5 of a query x gallery distance matrix, with their chance levels.

    Returns:
        ``{"queries": 0}`` when no query has a true match, else ``{"queries", "mAP", "rank1",
        "rank5", "chance_mAP", "chance_rank1"}`` over the queries that have one.

    Shape:
        ``dist`` is ``(Q, G)``; the id and camera arrays are ``(Q,)`` and ``(G,)``.
    """
    q_pids, q_cams = np.asarray(q_pids), np.asarray(q_cams)
    g_pids, g_cams = np.asarray(g_pids), np.asarray(g_cams)
    ranked = rank_queries(dist, q_pids, g_pids, q_cams, g_cams)
    valid = ranked.valid
    if not valid.any():
        return {"queries": 0}
    same_pid = q_pids[:, None] == g_pids[None, :]  # (Q, G)
    kept = ~(same_pid & (q_cams[:, None] == g_cams[None, :]))  # the gallery each query ranks
    positives = (same_pid & kept).sum(1)[valid]
    totals = kept.sum(1)[valid]
    first = ranked.first_rank[valid]
    return {
        "queries": int(valid.sum()),
        "mAP": float(np.mean(ranked.ap[valid])),
        "rank1": float(np.mean(first == 0)),
        "rank5": float(np.mean(first < 5)),
        "chance_mAP": float(
            np.mean([_chance_ap(int(p), int(n)) for p, n in zip(positives, totals, strict=True)])
        ),
        "chance_rank1": float(np.mean(positives / totals)),
    }


def evaluate(root: str | Path, *, max_frames: int = 16) -> dict[str, dict[str, float]]:
    """Score the colour-histogram matcher on a synthetic MARS tree.

    Returns:
        ``{"overall" | "lookalike" | "occluded" | "misaligned" | "clean" | "within_group":
        {"queries", "mAP", "rank1", "rank5", "chance_mAP", "chance_rank1"}}``.
    """
    data = Mars(root)  # torchreid protocol: junk dropped, distractors kept
    query, gallery = data.query, data.gallery
    features = np.stack(
        [tracklet_histogram(t.frames, max_frames=max_frames) for t in query + gallery]
    )
    qf, gf = features[: len(query)], features[len(query) :]
    dist = np.sqrt(np.maximum(2 - 2 * qf @ gf.T, 0))  # unit vectors: |a - b|^2 = 2 - 2 a.b
    q_pids, q_cams = np.array([t.pid for t in query]), np.array([t.camid for t in query])
    g_pids, g_cams = np.array([t.pid for t in gallery]), np.array([t.camid for t in gallery])

    def score(select: np.ndarray, columns: np.ndarray | None = None) -> dict[str, float]:
        columns = np.arange(len(gallery)) if columns is None else columns
        d = dist[np.ix_(select, columns)]
        return rank_scores(d, q_pids[select], q_cams[select], g_pids[columns], g_cams[columns])

    masks = subset_masks(root, query)
    results = {"overall": score(np.arange(len(query)))}
    for name in SUBSET_NAMES:
        results[name] = score(np.flatnonzero(masks[name]))
    # Each look-alike query against its group's gallery tracklets in the other cameras.
    groups = np.array([-1 if g is None else g for g in lookalike_groups(root, gallery)])
    within = []
    for i, group in enumerate(lookalike_groups(root, query)):
        if group is not None:
            columns = np.flatnonzero((groups == group) & (g_cams != q_cams[i]))
            within.append(score(np.array([i]), columns))
    within = [w for w in within if w["queries"]]
    results["within_group"] = {
        "queries": len(within),
        **{
            k: float(np.mean([w[k] for w in within]))
            for k in ("mAP", "rank1", "rank5", "chance_mAP", "chance_rank1")
        },
    }
    return results
