"""Per-query average precision of two models, compared query by query.

A model's mAP hides where it wins and where it loses; laying one model's per-query AP against
another's (a point per query, the diagonal where they tie) shows both, and the queries worth
looking at. Everything here follows the evaluation protocol of :mod:`strf_core.metrics.rank`
(same-id same-camera gallery entries removed, queries without a true match left out)::

    query_average_precision(q_feats, g_feats, ...)   -> (Q,) AP, NaN without a true match
    paired_ap(ap_a, ap_b)                            -> PairedAP: counts above / below / on
    median_difference_query(ap_a, ap_b, mask)        -> the query at the median of b - a
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike
from torch import Tensor

from strf_core.metrics.distance import cosine_distance
from strf_core.metrics.rank import rank_queries

TIE_TOLERANCE = 1e-6  # APs closer than this count as equal (float32 distances, ties in rank)


def query_average_precision(
    query_features: Tensor,
    gallery_features: Tensor,
    q_pids: ArrayLike,
    g_pids: ArrayLike,
    q_camids: ArrayLike,
    g_camids: ArrayLike,
) -> np.ndarray:
    """Each query's average precision over the whole gallery, by cosine distance.

    Returns:
        AP in ``[0, 1]`` per query, ``NaN`` where the gallery holds no true match for it
        (other cameras); the mean of the finite values is the mAP of
        :func:`~strf_core.metrics.evaluate_rank` on the same distances.

    Shape:
        query_features: ``(Q, D)``; gallery_features: ``(G, D)``; q_*: ``(Q,)``; g_*:
        ``(G,)``. Returns: ``(Q,)``.
    """
    distances = cosine_distance(query_features, gallery_features)  # (Q, G)
    return rank_queries(distances, q_pids, g_pids, q_camids, g_camids).ap


@dataclass(frozen=True)
class PairedAP:
    """Two models' AP on the same queries, and on which side of the diagonal each query lies.

    Attributes:
        ap_a, ap_b: per-query AP of model a (the x axis) and model b (the y axis), ``NaN``
            where a query has no true match.
        valid: queries scored by both (finite AP for both).
        b_better: valid queries where b's AP exceeds a's (above the diagonal).
        a_better: valid queries where a's AP exceeds b's (below it).
        equal: valid queries where they tie (on it, within :data:`TIE_TOLERANCE`).

    Shape:
        every array ``(Q,)``.
    """

    ap_a: np.ndarray
    ap_b: np.ndarray
    valid: np.ndarray
    b_better: np.ndarray
    a_better: np.ndarray
    equal: np.ndarray

    def counts(self, mask: ArrayLike | None = None) -> tuple[int, int, int]:
        """``(b better, a better, equal)`` over the valid queries of ``mask`` (default all)."""
        selected = np.ones(len(self.valid), bool) if mask is None else np.asarray(mask, bool)
        sides = (self.b_better, self.a_better, self.equal)
        b_better, a_better, equal = (int((side & selected).sum()) for side in sides)
        return b_better, a_better, equal


def paired_ap(ap_a: ArrayLike, ap_b: ArrayLike, *, tolerance: float = TIE_TOLERANCE) -> PairedAP:
    """Compare two models' per-query AP (:func:`query_average_precision`) query by query.

    Raises:
        ValueError: the two arrays are not over the same queries (lengths differ).

    Shape:
        ap_a, ap_b: ``(Q,)``.
    """
    a, b = np.asarray(ap_a, float), np.asarray(ap_b, float)
    if a.ndim != 1 or a.shape != b.shape:
        raise ValueError(f"expected two (Q,) AP arrays, got {a.shape} and {b.shape}")
    valid = np.isfinite(a) & np.isfinite(b)
    difference = np.where(valid, b - a, 0.0)
    return PairedAP(
        ap_a=a,
        ap_b=b,
        valid=valid,
        b_better=valid & (difference > tolerance),
        a_better=valid & (difference < -tolerance),
        equal=valid & (np.abs(difference) <= tolerance),
    )


def median_difference_query(
    ap_a: ArrayLike,
    ap_b: ArrayLike,
    mask: ArrayLike,
    *,
    ties: bool = True,
    tolerance: float = TIE_TOLERANCE,
) -> int | None:
    """The query of ``mask`` at the median of ``ap_b - ap_a``: a typical query of that kind,
    chosen without looking at which model it favours.

    Queries are ordered by the difference, ties by index; with an even count the lower of the
    two middle queries is taken. Queries without a finite AP for both are left out, and with
    ``ties=False`` those where the two models' AP are equal (within ``tolerance``): the typical
    query among those where the models disagree.

    Returns:
        The query's index, ``None`` when ``mask`` holds no valid query.

    Shape:
        ap_a, ap_b, mask: ``(Q,)``.
    """
    a, b = np.asarray(ap_a, float), np.asarray(ap_b, float)
    selected = np.asarray(mask, bool)
    if not (a.shape == b.shape == selected.shape) or a.ndim != 1:
        raise ValueError(f"expected (Q,) arrays, got {a.shape}, {b.shape} and {selected.shape}")
    keep = selected & np.isfinite(a) & np.isfinite(b)
    if not ties:
        keep &= np.abs(np.where(keep, b - a, 0.0)) > tolerance
    candidates = np.flatnonzero(keep)
    if not len(candidates):
        return None
    order = candidates[np.argsort(b[candidates] - a[candidates], kind="stable")]
    return int(order[(len(order) - 1) // 2])
