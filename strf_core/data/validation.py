"""A validation split carved from the training identities, for model selection and early stopping.

No choice about a model (its checkpoint, its epoch count) may look at the test split. This
module holds a few training identities out and arranges their tracklets the way the test
split is arranged (query and gallery in different cameras), so the trainer can pick ``best/``
and stop on them::

    train (N identities) --carve_validation(k)--> train (N - k, relabelled 0..N-k-1)
                                                  query   (k identities, 1 per camera but the last)
                                                  gallery (k identities, everything else)
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from strf_core.data.datasets.base import relabel
from strf_core.data.tracklet import Tracklet


class ValidationSplit(NamedTuple):
    """The training tracklets left after carving, and the held-out identities as a re-ID
    query/gallery pair (their original training pids)."""

    train: list[Tracklet]
    query: list[Tracklet]
    gallery: list[Tracklet]


def carve_validation(train: Sequence[Tracklet], num_ids: int, *, seed: int = 0) -> ValidationSplit:
    """Hold ``num_ids`` training identities out as a validation query/gallery split.

    Only identities seen by two or more cameras can be held out (a query needs a match in
    another camera). For each of them, the first tracklet in each camera but the last is a
    query; its other tracklets form the gallery, so every query has a cross-camera match.

    Args:
        train: the training split (pids ``0..N-1``).
        num_ids: identities to hold out; ``0`` returns the split unchanged.
        seed: which identities are drawn (the same seed, the same split).

    Returns:
        The remaining training tracklets, relabelled ``0..N-num_ids-1``, and the validation
        query and gallery.

    Raises:
        ValueError: ``num_ids`` is negative, or more than the eligible identities while leaving
            at least two to train on.
    """
    if num_ids < 0:
        raise ValueError(f"data.val_ids must be >= 0, got {num_ids}")
    if num_ids == 0:
        return ValidationSplit(list(train), [], [])
    cameras: dict[int, set[int]] = defaultdict(set)
    for t in train:
        cameras[t.pid].add(t.camid)
    eligible = sorted(pid for pid, cams in cameras.items() if len(cams) >= 2)
    if num_ids > min(len(eligible), len(cameras) - 2):
        raise ValueError(
            f"data.val_ids={num_ids}: the training split has {len(cameras)} identities, "
            f"{len(eligible)} of them seen by 2+ cameras; at most "
            f"{max(0, min(len(eligible), len(cameras) - 2))} can be held out"
        )
    held = set(np.random.default_rng(seed).choice(eligible, size=num_ids, replace=False).tolist())
    query, gallery = [], []
    by_pid: dict[int, list[Tracklet]] = defaultdict(list)
    for t in train:
        if t.pid in held:
            by_pid[t.pid].append(t)
    for pid in sorted(by_pid):
        last_cam = max(t.camid for t in by_pid[pid])
        seen: set[int] = set()
        for t in by_pid[pid]:
            if t.camid != last_cam and t.camid not in seen:
                seen.add(t.camid)
                query.append(t)
            else:
                gallery.append(t)
    rest = relabel(t for t in train if t.pid not in held)
    return ValidationSplit(rest, query, gallery)
