"""Re-ID evaluation (SPEC section 3): embed query and gallery, rank by cosine distance, score.

The embeddings come from :func:`strf_core.features.extract_features` (``"dense"`` or ``"clip"``
mode, named beside every number); metrics follow :func:`strf_core.metrics.evaluate_rank`. The
hard-case query subsets come from the dataset itself (``dataset.query_subsets()``), so this
module does not know where a dataset came from.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from strf_core.data.datasets import ReIDDataset
from strf_core.data.tracklet import Tracklet
from strf_core.engine.config import DataConfig
from strf_core.features import MODES, extract_features
from strf_core.metrics import cosine_distance, rank_queries, summarize

__all__ = ["MODES", "evaluate", "evaluate_dataset", "extract_features", "extraction_settings"]


def extraction_settings(data: DataConfig) -> dict[str, Any]:
    """The :func:`~strf_core.features.extract_features` arguments a run's data config sets:
    mode, chunk and clip length, frame size, workers."""
    return {
        "mode": data.test_mode,
        "chunk_len": data.chunk_len,
        "seq_len": data.seq_len,
        "size": (data.height, data.width),
        "workers": data.workers,
    }


def evaluate(
    model: nn.Module,
    query: Sequence[Tracklet],
    gallery: Sequence[Tracklet],
    *,
    max_rank: int = 50,
    query_subsets: Mapping[str, np.ndarray] | None = None,
    **extract_kwargs: Any,
) -> dict:
    """Embed query and gallery, rank by cosine distance and score.

    Args:
        model: the model to evaluate.
        query, gallery: the test splits.
        max_rank: CMC length.
        query_subsets: optional boolean masks over the queries (e.g. synthetic look-alike,
            occluded, misaligned queries) scored separately.
        **extract_kwargs: passed to :func:`extract_features` (``mode``, ``device``, ...).

    Returns:
        ``{"mAP", "rank1", "rank5", "rank10", "rank20", "cmc", "num_valid", "num_queries",
        "mode", "subsets": {name: {...}}}``; fractions in ``[0, 1]``.
    """
    qf = extract_features(model, query, **extract_kwargs)
    gf = extract_features(model, gallery, **extract_kwargs)
    results = rank_queries(
        cosine_distance(qf, gf),
        [t.pid for t in query],
        [t.pid for t in gallery],
        [t.camid for t in query],
        [t.camid for t in gallery],
    )
    if not results.valid.any():
        raise ValueError("no query has a true match in the gallery: check the splits")
    out = _report(summarize(results, max_rank=max_rank))
    out["mode"] = extract_kwargs.get("mode", "dense")
    out["subsets"] = {
        name: _report(summarize(results, max_rank=max_rank, mask=mask))
        for name, mask in (query_subsets or {}).items()
    }
    return out


def evaluate_dataset(
    model: nn.Module,
    dataset: ReIDDataset,
    data: DataConfig,
    *,
    device: torch.device | str = "cpu",
    autocast: bool = False,
    progress: bool = False,
    query_subsets: Mapping[str, np.ndarray] | None = None,
) -> dict:
    """:func:`evaluate` on ``dataset``'s query and gallery with the settings of a
    :class:`~strf_core.engine.config.DataConfig` (mode, chunk length, clip size, workers).

    Args:
        query_subsets: per-subset query masks; by default ``dataset.query_subsets()``.
    """
    if query_subsets is None:
        query_subsets = dataset.query_subsets()
    return evaluate(
        model,
        dataset.query,
        dataset.gallery,
        query_subsets=query_subsets,
        device=device,
        autocast=autocast,
        progress=progress,
        **extraction_settings(data),
    )


def _report(summary: dict) -> dict:
    cmc = summary["cmc"]
    report = {"mAP": summary["mAP"]}
    for k in (1, 5, 10, 20):
        report[f"rank{k}"] = float(cmc[k - 1]) if len(cmc) >= k else float("nan")
    report["cmc"] = [float(v) for v in cmc]
    report["num_valid"] = summary["num_valid"]
    report["num_queries"] = summary["num_queries"]
    return report
