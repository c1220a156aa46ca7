"""Feature extraction and re-ID evaluation (SPEC section 3).

Two modes, named beside every number they produce:

- ``"dense"`` (the paper's): every frame of a tracklet, in consecutive chunks of ``chunk_len``
  frames; per-frame features averaged over all frames, then the BN neck.
- ``"clip"``: ``seq_len`` evenly spaced frames of each tracklet (cheaper, lower numbers).

Features are L2-normalised and compared by cosine distance; metrics follow
:func:`strf_core.metrics.evaluate_rank`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor, nn

from strf_core.data.pipeline import build_test_loader
from strf_core.data.tracklet import Tracklet
from strf_core.data.transforms import normalize_clips
from strf_core.metrics import cosine_distance, rank_queries, summarize
from strf_core.synth import META_NAME, subset_masks

MODES = ("dense", "clip")


def _unwrap(model: nn.Module) -> nn.Module:
    """The model inside DistributedDataParallel or torch.compile wrappers."""
    model = getattr(model, "module", model)
    return getattr(model, "_orig_mod", model)


@torch.no_grad()
def extract_features(
    model: nn.Module,
    tracklets: Sequence[Tracklet],
    *,
    mode: str = "dense",
    chunk_len: int = 32,
    seq_len: int = 4,
    size: tuple[int, int] = (256, 128),
    batch_size: int = 8,
    workers: int | None = None,
    device: torch.device | str = "cpu",
    autocast: bool = False,
    progress: bool = False,
) -> Tensor:
    """Embed every tracklet: per-frame features averaged, then the BN neck.

    Args:
        model: a :class:`~strf_core.models.ResNet3D` (or a wrapper of one); put in eval mode.
        tracklets: the query or gallery split.
        mode: ``"dense"`` (every frame, chunks of ``chunk_len``) or ``"clip"`` (``seq_len``
            evenly spaced frames).
        batch_size: chunks per forward pass.
        device: where the model runs; features are accumulated on the CPU.
        autocast: bf16 autocast (CUDA).
        progress: show a progress bar.

    Returns:
        Post-BN embeddings, float32 on the CPU, ``(len(tracklets), D)``.
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    net = _unwrap(model)
    net.eval()
    device = torch.device(device)
    loader = build_test_loader(
        tracklets,
        sampling="chunks" if mode == "dense" else "even",
        chunk_len=chunk_len,
        seq_len=seq_len,
        size=size,
        batch_size=batch_size,
        normalize=False,  # uint8 out of the workers, normalised on the device
        workers=workers,
    )
    sums = torch.zeros(len(tracklets), net.feature_dim)
    counts = torch.zeros(len(tracklets))
    if progress:
        from tqdm.auto import tqdm

        loader = tqdm(loader, desc=f"features ({mode})", unit="batch", leave=False)
    for batch in loader:
        clips = normalize_clips(batch.clip.to(device, non_blocking=True))
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=autocast):
            frames = net.frame_features(clips).float().cpu()  # (B, T, D)
        sums.index_add_(0, batch.tracklet, frames.sum(dim=1))
        counts.index_add_(0, batch.tracklet, torch.full((len(frames),), float(frames.shape[1])))
    mean = sums / counts[:, None]  # every frame of a tracklet weighs the same
    features = [
        net.forward_head(part.to(device)[:, None]).features.float().cpu()
        for part in mean.split(1024)
    ]
    return torch.cat(features)


def evaluate(
    model: nn.Module,
    query: Sequence[Tracklet],
    gallery: Sequence[Tracklet],
    *,
    max_rank: int = 50,
    query_subsets: dict[str, np.ndarray] | None = None,
    **extract_kwargs,
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


def synthetic_query_subsets(dataset) -> dict[str, np.ndarray]:
    """Look-alike / occluded / misaligned / clean query masks when ``dataset`` is a synthetic
    world (its root holds the generator's metadata); ``{}`` otherwise."""
    from pathlib import Path

    if not (Path(dataset.root) / META_NAME).is_file():
        return {}
    return subset_masks(dataset.root, dataset.query)


def evaluate_dataset(
    model: nn.Module,
    dataset,
    data,
    *,
    device: torch.device | str = "cpu",
    autocast: bool = False,
    progress: bool = False,
    query_subsets: dict[str, np.ndarray] | None = None,
) -> dict:
    """:func:`evaluate` on ``dataset``'s query and gallery with the settings of a
    :class:`~strf_core.engine.config.DataConfig` (mode, chunk length, clip size, workers).

    Args:
        query_subsets: per-subset query masks; by default :func:`synthetic_query_subsets`.
    """
    if query_subsets is None:
        query_subsets = synthetic_query_subsets(dataset)
    return evaluate(
        model,
        dataset.query,
        dataset.gallery,
        query_subsets=query_subsets,
        mode=data.test_mode,
        chunk_len=data.chunk_len,
        seq_len=data.seq_len,
        size=(data.height, data.width),
        workers=data.workers,
        device=device,
        autocast=autocast,
        progress=progress,
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
