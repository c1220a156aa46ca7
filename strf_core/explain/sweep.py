"""Occlusion sweeps: draw one occluder into clean queries at a range of sizes or positions and
measure what each model makes of it.

For each query and each value of the swept setting (the other settings held)::

    clean clip (3, T, H, W) uint8, at the ground truth's size (the demo world's frames)
      occlude(kind, size or position = value)       OccludedClip: frames + occluder masks
      resize to the model's input                   (V+1, 3, T, h, w), the clean clip first
    one forward + backward, Grad-CAM at ``layer``   (strf_core.explain.gradcam.FrameGradCam)
      features            (V+1, D)   -> rank of the first true match in the whole gallery
      cos(feature, g*)    (V+1,)     g* = the clean query's nearest true match (held fixed,
                                          so the similarities of one query compare)
      maps                (V+1, T, h', w') -> share of the mass on the occluder's mask over
                                              the frames it is drawn in (strf_core.explain.
                                              evidence); a uniform map scores the occluder's
                                              share of the pixels (``occluder_area``)

The query runs through the model in one piece, as the dense evaluation does for tracklets of up
to ``chunk_len = 32`` frames, so its feature (and rank) is the evaluation's. The gallery's
embeddings must come from the same model under the same STRF branch switches as the sweep:
call both inside one :func:`strf_core.active_branches` block.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from strf_core.data.transforms import ClipTransform, normalize_clips
from strf_core.explain.evidence import REGIONS, evidence_shares
from strf_core.explain.gradcam import FrameGradCam
from strf_core.explain.hooks import get_module
from strf_core.explain.isolation import isolated
from strf_core.metrics import cosine_distance, rank_queries
from strf_core.modules import current_active_branches
from strf_core.synth.ground_truth import FrameMasks
from strf_core.synth.occlude import OccludedClip, occlude

AXES = ("size", "position")
MAX_FRAMES = 32  # the dense evaluation's chunk: longer queries would be embedded differently
METRICS = ("rank", "similarity", "occluder_share", "occluder_area")
_OCCLUDER = REGIONS.index("occluder")


class SweepQuery(NamedTuple):
    """One clean query of a sweep.

    Attributes:
        clip: its frames at the size the occluder is drawn (and measured) at, uint8
            ``(3, T, H, W)``, ``T <= MAX_FRAMES``.
        pid, camid: its labels (it needs a true match in the gallery).
    """

    clip: Tensor
    pid: int
    camid: int


@dataclass(frozen=True)
class SweepStat:
    """One metric over the queries, per swept value.

    Attributes:
        mean, std: over the queries that have a value (sample std; NaN for fewer than 2).
        count: how many queries have a value (Grad-CAM mass can be missing).

    Shape:
        ``(V,)`` each.
    """

    mean: np.ndarray
    std: np.ndarray
    count: np.ndarray


@dataclass(frozen=True)
class SweepResult:
    """A sweep of one model (under the STRF branches that were switched on).

    Attributes:
        axis: ``"size"`` (x the person's height) or ``"position"`` (frame widths from the
            centre).
        values: the swept values.
        rank: 1-based rank of the first true match once junk is removed, as evaluated.
        similarity: cosine similarity to ``matches`` (the clean query's nearest true match).
        occluder_share: share of Grad-CAM mass on the occluder over the frames it is drawn in
            (NaN where those frames carry no mass).
        occluder_area: the occluder's share of those frames' pixels (a uniform map's share).
        clean_rank, clean_similarity: the same for the queries without the occluder.
        matches: the gallery index each query's similarity and maps are taken to.
        branches: the STRF branches switched on (``None``: all, or a model without STRF).

    Shape:
        values: ``(V,)``; rank, similarity, occluder_share, occluder_area: ``(Q, V)``;
        clean_rank, clean_similarity, matches: ``(Q,)``.
    """

    axis: str
    values: np.ndarray
    rank: np.ndarray
    similarity: np.ndarray
    occluder_share: np.ndarray
    occluder_area: np.ndarray
    clean_rank: np.ndarray
    clean_similarity: np.ndarray
    matches: np.ndarray
    branches: tuple[str, ...] | None

    def stat(self, metric: str) -> SweepStat:
        """Mean and spread over the queries of ``"rank"``, ``"similarity"``,
        ``"occluder_share"`` or ``"occluder_area"``, per value."""
        if metric not in METRICS:
            raise ValueError(f"metric must be one of {METRICS}, got {metric!r}")
        values = np.asarray(getattr(self, metric), np.float64)  # (Q, V)
        return _stat(values)

    def clean_stat(self, metric: str) -> tuple[float, float]:
        """Mean and sample std over the queries of ``"rank"`` or ``"similarity"`` without the
        occluder."""
        values = {"rank": self.clean_rank, "similarity": self.clean_similarity}[metric]
        values = np.asarray(values, np.float64)
        std = float(values.std(ddof=1)) if len(values) > 1 else float("nan")
        return float(values.mean()), std


def _stat(values: np.ndarray) -> SweepStat:
    count = (~np.isnan(values)).sum(axis=0)  # (V,)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(count > 0, np.nansum(values, axis=0) / np.maximum(count, 1), np.nan)
        squares = np.nansum((values - mean) ** 2, axis=0)
        std = np.where(count > 1, np.sqrt(squares / np.maximum(count - 1, 1)), np.nan)
    return SweepStat(mean=mean, std=std, count=count)


@dataclass(frozen=True)
class SweepSettings:
    """The occluders of a sweep: one kind, swept in size or in position, the other held.

    Attributes:
        kind: the occluder (:data:`strf_core.synth.OCCLUDER_KINDS`).
        axis: ``"size"`` (``values`` are sizes, x the person's height, at ``position``) or
            ``"position"`` (``values`` are centre x in frame widths from the centre, standing
            still, at ``size``).
        values: the swept values.
        size, position: the setting held while the other is swept.
        seed: the occluder's colours (the same at every value).

    Raises:
        ValueError: an unknown axis, or no value.
    """

    kind: str
    axis: str
    values: tuple[float, ...]
    size: float = 1.2
    position: float = 0.0
    seed: int = 0

    def __post_init__(self) -> None:
        if self.axis not in AXES:
            raise ValueError(f"axis must be one of {AXES}, got {self.axis!r}")
        if not len(self.values):
            raise ValueError("a sweep needs at least one value")

    def draw(self, clip: Tensor) -> list[OccludedClip]:
        """The clip with the occluder in every frame, once per value.

        Shape:
            clip: ``(3, T, H, W)`` uint8.
        """
        out = []
        for value in self.values:
            size, position = (value, self.position) if self.axis == "size" else (self.size, value)
            out.append(
                occlude(clip, self.kind, position=float(position), size=float(size), seed=self.seed)
            )
        return out


def nearest_true_match(
    feature: Tensor,
    gallery_features: Tensor,
    pids: np.ndarray,
    camids: np.ndarray,
    pid: int,
    camid: int,
) -> int | None:
    """The gallery index of the true match (same pid, another camera) most similar to
    ``feature``; ``None`` when the gallery holds none.

    Shape:
        feature: ``(D,)``; gallery_features: ``(G, D)``; pids, camids: ``(G,)``.
    """
    valid = (np.asarray(pids) == pid) & (np.asarray(camids) != camid)
    if not valid.any():
        return None
    similarity = F.cosine_similarity(feature.float()[None], gallery_features.float(), dim=1)
    similarity = similarity.numpy().astype(np.float64)
    similarity[~valid] = -np.inf
    return int(similarity.argmax())


def occlusion_sweep(
    model: nn.Module,
    queries: Sequence[SweepQuery],
    gallery_features: Tensor,
    gallery_pids: Sequence[int] | np.ndarray,
    gallery_camids: Sequence[int] | np.ndarray,
    *,
    input_size: tuple[int, int],
    settings: SweepSettings,
    layer: str = "layer4",
    progress: Callable[[int, int], None] | None = None,
) -> SweepResult:
    """Sweep an occluder's size or position over clean queries with one model.

    Args:
        model: a :class:`~strf_core.models.ResNet3D` in eval mode (shared models are safe: the
            hooks go on a private copy).
        queries: the clean queries (each with a true match in the gallery).
        gallery_features: the gallery's embeddings by the same model and branch switches.
        gallery_pids, gallery_camids: the gallery's labels.
        input_size: the model's input ``(h, w)``; clips are resized to it as the test loader
            resizes them (the occluder is drawn and measured at the clips' own size).
        settings: the occluders.
        layer: the layer Grad-CAM explains.
        progress: called with ``(queries done, queries)`` after each query.

    Returns:
        The sweep, with the STRF branches that were switched on.

    Raises:
        ValueError: an unknown occluder kind, a query longer than ``MAX_FRAMES`` or without a
            true match in the gallery, gallery labels that do not fit its embeddings.

    Shape:
        gallery_features: ``(G, D)``; gallery_pids, gallery_camids: ``(G,)``.
    """
    pids, camids = np.asarray(gallery_pids), np.asarray(gallery_camids)
    if len(pids) != len(gallery_features) or len(camids) != len(gallery_features):
        raise ValueError(
            f"{len(gallery_features)} gallery embeddings but {len(pids)} pids and "
            f"{len(camids)} camera ids"
        )
    resize = ClipTransform(size=input_size, flip_p=0.0, normalize=False)
    q, v = len(queries), len(settings.values)
    rank = np.zeros((q, v), np.int64)
    similarity = np.zeros((q, v))
    share = np.full((q, v), np.nan)
    area = np.zeros((q, v))
    clean_rank, clean_similarity = np.zeros(q, np.int64), np.zeros(q)
    matches = np.zeros(q, np.int64)
    for i, query in enumerate(queries):
        frames = query.clip.shape[1]
        if frames > MAX_FRAMES:
            raise ValueError(
                f"query {i} has {frames} frames; a sweep runs queries of at most {MAX_FRAMES} "
                "in one piece, as the dense evaluation embeds them"
            )
        series = settings.draw(query.clip)
        clips = [query.clip] + [s.clip for s in series]
        batch = torch.stack([resize(c.unbind(1)) for c in clips])  # (V+1, 3, T, h, w) uint8
        with torch.no_grad():
            clean_feature = _features(model, batch[:1])[0]  # (D,)
        match = nearest_true_match(
            clean_feature, gallery_features, pids, camids, query.pid, query.camid
        )
        if match is None:
            raise ValueError(
                f"query {i} (id {query.pid}, camera {query.camid + 1}) has no true match in "
                "the gallery"
            )
        features, scores, maps = _similarity_gradcam_batch(
            model, batch, gallery_features[match], layer
        )
        distances = cosine_distance(features, gallery_features.float())  # (V+1, G)
        ranked = rank_queries(
            distances, [query.pid] * (v + 1), pids, [query.camid] * (v + 1), camids
        )
        first = np.asarray(ranked.first_rank) + 1  # (V+1,)
        matches[i], clean_rank[i], clean_similarity[i] = match, first[0], scores[0]
        rank[i], similarity[i] = first[1:], scores[1:]
        for j, occluded in enumerate(series):
            drawn = occluded.masks.numpy()  # (T, H, W)
            truth = FrameMasks(person=np.zeros_like(drawn), occluder=drawn)
            shares = evidence_shares(maps[j + 1], truth)
            in_frames = drawn.any(axis=(1, 2))
            share[i, j] = shares.total(in_frames)[_OCCLUDER]
            area[i, j] = shares.area_total(in_frames)[_OCCLUDER]
        if progress is not None:
            progress(i + 1, q)
    switched = current_active_branches()
    return SweepResult(
        axis=settings.axis,
        values=np.asarray(settings.values, np.float64),
        rank=rank,
        similarity=similarity,
        occluder_share=share,
        occluder_area=area,
        clean_rank=clean_rank,
        clean_similarity=clean_similarity,
        matches=matches,
        branches=None if switched is None else tuple(sorted(switched)),
    )


def _features(model: nn.Module, clips: Tensor) -> Tensor:
    """Post-BN embeddings of whole clips, ``(N, 3, T, h, w) uint8 -> (N, D)`` float32."""
    return model(normalize_clips(clips).to(next(model.parameters()).device)).features.float().cpu()


def _similarity_gradcam_batch(
    model: nn.Module, clips: Tensor, target: Tensor, layer: str
) -> tuple[Tensor, np.ndarray, Tensor]:
    """One forward and backward pass over a batch of clips of one query.

    Returns:
        ``(features (N, D), cosine similarities to target (N,), Grad-CAM maps (N, T, h', w'))``;
        the maps are non-negative and not normalised.
    """
    target = F.normalize(target.detach().float().reshape(1, -1), dim=1)
    outputs: list[Tensor] = []
    with isolated(model, "copy") as net, torch.inference_mode(False), torch.enable_grad():
        inputs = normalize_clips(clips).to(next(net.parameters()).device)  # (N, 3, T, h, w)

        def similarity(batch: Tensor) -> Tensor:
            features = net(batch).features  # (N, D)
            outputs.append(features.detach())
            return F.cosine_similarity(features, target.to(features.device), dim=1)  # (N,)

        maps = FrameGradCam(similarity, get_module(net, layer)).attribute(inputs)  # (N, T, h', w')
    features = outputs[-1].float().cpu()
    scores = F.cosine_similarity(features, target, dim=1).numpy().astype(np.float64)
    return features, scores, maps.detach().float().cpu()


def pick_clean_queries(
    subsets: dict[str, np.ndarray],
    lengths: Sequence[int],
    has_match: Sequence[bool],
    count: int,
) -> list[int]:
    """The queries a sweep runs on, by a stated rule: ``count`` evenly spaced (by index) over
    the clean queries (no occluder, not misaligned, no look-alike) of at most ``MAX_FRAMES``
    frames that have a true match in the gallery. No model is consulted, so the choice
    favours neither.

    Args:
        subsets: the dataset's query subsets (``ReIDDataset.query_subsets()``; needs
            ``"clean"``).
        lengths: each query's frame count.
        has_match: whether the gallery holds a true match (same pid, another camera) of each.
        count: how many (all of them when fewer qualify).

    Returns:
        Query indices, ascending.

    Raises:
        ValueError: no ``"clean"`` subset (not a synthetic world) or ``count < 1``.
    """
    if "clean" not in subsets:
        raise ValueError("the dataset records no clean queries: not a synthetic world")
    if count < 1:
        raise ValueError(f"count must be >= 1, got {count}")
    clean = np.asarray(subsets["clean"], bool)
    if not len(clean) == len(lengths) == len(has_match):
        raise ValueError(
            f"{len(clean)} subset flags, {len(lengths)} lengths and {len(has_match)} match flags"
        )
    eligible = np.flatnonzero(clean & (np.asarray(lengths) <= MAX_FRAMES) & np.asarray(has_match))
    if len(eligible) <= count:
        return eligible.tolist()
    spots = np.linspace(0, len(eligible) - 1, count).round().astype(int)
    return eligible[spots].tolist()
