"""A non-learned colour-histogram matcher: how hard a synthetic world is before any learning.

Each frame's central half (where the person is; the sides are mostly background) is colour
normalised (grey world: each channel divided by its mean, which cancels a camera's gain and colour
cast), then described by HSV histograms of four horizontal stripes (8 hue x 4 saturation x 4
value bins each). A tracklet is the mean over up to 16 evenly spaced frames, square-rooted
(Hellinger) and L2-normalised; tracklets are ranked by Euclidean distance. The test split is read
from the MARS files themselves (``info/*.mat``, ``test_name.txt``), the subsets from
``synthetic_meta.json``.

Scoring follows the torchreid MARS protocol (SPEC section 3): query = ``query_IDX`` rows, gallery =
the other test rows without junk (pid -1), distractors (pid 0) kept; a query's gallery loses the
entries with its pid and camera; queries without a true match are skipped; AP is the mean
precision at each true match. Chance levels are the expectations under a random ranking of the
same galleries. ``within_group`` ranks a look-alike query against its own group's tracklets in
the other cameras only: the look-alikes share every appearance parameter, so a colour matcher
should sit at chance there. (With the query's own camera in, it drops below chance: a group-mate
seen by the same camera shares background and light with the query, the true match never does.)

Private to the data issue; the engine issue brings ``strf_core.metrics``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import scipy.io
from PIL import Image

from strf_core.data.mars_format import frame_path
from strf_core.data.synthetic import load_metadata

_STRIPES, _BINS = 4, 8 * 4 * 4


def tracklet_histogram(paths: list[Path], *, max_frames: int = 16) -> np.ndarray:
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


def read_test_split(root: str | Path) -> tuple[list[list[Path]], np.ndarray, np.ndarray]:
    """The test tracklets of a MARS tree: frame paths per info row, the ``(M, 4)`` info, and the
    0-based query rows."""
    root = Path(root)
    names = (root / "info" / "test_name.txt").read_text().split()
    info = scipy.io.loadmat(root / "info" / "tracks_test_info.mat")["track_test_info"]
    query = scipy.io.loadmat(root / "info" / "query_IDX.mat")["query_IDX"].ravel() - 1
    paths = [[frame_path(root, "test", n) for n in names[s - 1 : e]] for s, e, _, _ in info]
    return paths, info, query


def _average_precision(matches: np.ndarray) -> float:
    hits = np.flatnonzero(matches)
    return float(np.mean(np.arange(1, len(hits) + 1) / (hits + 1)))


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

    Shape:
        ``dist`` is ``(Q, G)``; the id and camera arrays are ``(Q,)`` and ``(G,)``.
    """
    aps, r1, r5, chance_ap, chance_r1 = [], [], [], [], []
    for q in range(len(q_pids)):
        keep = ~((g_pids == q_pids[q]) & (g_cams == q_cams[q]))
        order = np.argsort(dist[q, keep], kind="stable")
        matches = g_pids[keep][order] == q_pids[q]
        if not matches.any():
            continue
        aps.append(_average_precision(matches))
        r1.append(float(matches[0]))
        r5.append(float(matches[:5].any()))
        chance_ap.append(_chance_ap(int(matches.sum()), len(matches)))
        chance_r1.append(matches.sum() / len(matches))
    if not aps:
        return {"queries": 0}
    return {
        "queries": len(aps),
        "mAP": float(np.mean(aps)),
        "rank1": float(np.mean(r1)),
        "rank5": float(np.mean(r5)),
        "chance_mAP": float(np.mean(chance_ap)),
        "chance_rank1": float(np.mean(chance_r1)),
    }


def evaluate(root: str | Path, *, max_frames: int = 16) -> dict[str, dict[str, float]]:
    """Score the colour-histogram matcher on a synthetic MARS tree.

    Returns:
        ``{"overall" | "lookalike" | "occluded" | "misaligned" | "clean" | "within_group":
        {"queries", "mAP", "rank1", "rank5", "chance_mAP", "chance_rank1"}}``.
    """
    paths, info, query = read_test_split(root)
    meta = {t["row"] - 1: t for t in load_metadata(root)["tracklets"] if t["split"] == "test"}
    pids, cams = info[:, 2], info[:, 3]
    is_query = set(query.tolist())
    gallery = np.array([r for r in range(len(info)) if r not in is_query and pids[r] != -1])
    rows = np.concatenate([query, gallery])
    features = np.stack([tracklet_histogram(paths[r], max_frames=max_frames) for r in rows])
    qf, gf = features[: len(query)], features[len(query) :]
    dist = np.sqrt(np.maximum(2 - 2 * qf @ gf.T, 0))  # unit vectors: |a - b|^2 = 2 - 2 a.b

    def score(select: np.ndarray, columns: np.ndarray | None = None) -> dict[str, float]:
        g = gallery if columns is None else gallery[columns]
        d = dist[select] if columns is None else dist[np.ix_(select, columns)]
        return rank_scores(d, pids[query[select]], cams[query[select]], pids[g], cams[g])

    subsets = [set(meta[r]["subsets"]) for r in query]
    results = {"overall": score(np.arange(len(query)))}
    for name in ("lookalike", "occluded", "misaligned"):
        results[name] = score(np.array([i for i, s in enumerate(subsets) if name in s], dtype=int))
    results["clean"] = score(np.array([i for i, s in enumerate(subsets) if not s], dtype=int))
    # Each look-alike query against its group's gallery tracklets in the other cameras.
    groups = np.array([_group(meta[r]) for r in gallery])
    within = []
    for i, r in enumerate(query):
        group = _group(meta[r])
        if group >= 0:
            columns = np.flatnonzero((groups == group) & (cams[gallery] != cams[r]))
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


def _group(record: dict) -> int:
    group = record["lookalike_group"]
    return -1 if group is None else int(group)
