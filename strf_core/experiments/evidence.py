"""The paper's Fig. 5, measured: where each model's evidence lies on occluded queries.

For every occluded query of a synthetic world written with ground-truth masks::

    gallery embeddings (dense)                     with the branch set under test
    nearest true match g*  (same pid, other camera: the match the ranking is about)
    per-frame Grad-CAM of cos(query, g*) at layer4 (no normalisation)
    mass shares on person / occluder / background  (strf_core.explain.evidence)
      over the frames where the occluder is drawn, and over all frames

A model that "focuses on the person" (the paper's reading of Fig. 5) puts more of its mass on
the person and less on the occluder than the baseline. ``area`` is the share of pixels in each
region, what a uniform map would score.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from contextlib import nullcontext
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from strf_core.atomic import write_text_atomic
from strf_core.data.datasets import ReIDDataset
from strf_core.data.tracklet import Tracklet
from strf_core.explain import similarity_gradcam
from strf_core.explain.evidence import REGIONS, evidence_shares
from strf_core.explain.sweep import nearest_true_match
from strf_core.features import extract_features, load_clip
from strf_core.modules import active_branches
from strf_core.retrieval.keys import weights_digest
from strf_core.synth.ground_truth import load_masks


@dataclass(frozen=True)
class QueryEvidence:
    """One occluded query's evidence shares (person, occluder, background).

    Attributes:
        query: index in ``dataset.query``.
        match: index in ``dataset.gallery`` of the nearest true match that was explained.
        occluded: shares over the frames where the occluder is drawn.
        all_frames: shares over every frame.
        area: pixel shares of the occluded frames (a uniform map's shares).
    """

    query: int
    match: int
    occluded: tuple[float, float, float]
    all_frames: tuple[float, float, float]
    area: tuple[float, float, float]


@dataclass(frozen=True)
class EvidenceSummary:
    """Mean shares over the queries that carry evidence (``queries`` of ``total``)."""

    label: str
    queries: int
    total: int
    occluded: dict[str, float]
    all_frames: dict[str, float]
    area: dict[str, float]

    def to_dict(self) -> dict:
        return asdict(self)


def occluded_queries(dataset: ReIDDataset) -> list[int]:
    """Indices of the occluded queries of a synthetic world."""
    subsets = dataset.query_subsets()
    if "occluded" not in subsets:
        raise ValueError(f"{dataset.root} has no occluded query subset: not a synthetic world")
    return [int(i) for i in np.flatnonzero(subsets["occluded"])]


def nearest_true_matches(
    query_features: torch.Tensor,
    gallery_features: torch.Tensor,
    query: Sequence[Tracklet],
    gallery: Sequence[Tracklet],
) -> list[int | None]:
    """For each query, the gallery index of its most similar true match (same pid, another
    camera), ``None`` when the gallery holds none.

    Shape:
        query_features: ``(Q, D)``; gallery_features: ``(G, D)``, both L2-normalised.
    """
    g_pids = np.array([t.pid for t in gallery])
    g_cams = np.array([t.camid for t in gallery])
    return [
        nearest_true_match(query_features[i], gallery_features, g_pids, g_cams, t.pid, t.camid)
        for i, t in enumerate(query)
    ]


def query_evidence(
    model: nn.Module,
    dataset: ReIDDataset,
    *,
    size: tuple[int, int],
    branches: Sequence[str] | None = None,
    layer: str = "layer4",
    queries: Sequence[int] | None = None,
) -> list[QueryEvidence]:
    """Evidence shares of ``model`` on the occluded queries of ``dataset`` (or ``queries``).

    Args:
        model: a trained model in eval mode.
        dataset: a synthetic world written with ground-truth masks.
        size: the model's input ``(height, width)``.
        branches: STRF branches switched on (``None``: all; ignored by models without STRF).
        layer: the layer Grad-CAM explains.
        queries: indices into ``dataset.query`` (default: :func:`occluded_queries`).

    Raises:
        GroundTruthError: the world has no masks.
    """
    chosen = occluded_queries(dataset) if queries is None else list(queries)
    switched = active_branches(*branches) if branches is not None else nullcontext()
    with switched:
        tracklets = [dataset.query[i] for i in chosen]
        # Only true matches can be the nearest true match: embed those gallery tracklets alone
        # (the same answer as ranking the whole gallery, at a fraction of the cost).
        wanted = {(t.pid, t.camid) for t in tracklets}
        candidates = [
            g
            for g, t in enumerate(dataset.gallery)
            if any(t.pid == pid and t.camid != camid for pid, camid in wanted)
        ]
        subset = [dataset.gallery[g] for g in candidates]
        gallery = extract_features(model, subset, size=size, workers=0)  # (len(subset), D)
        query = extract_features(model, tracklets, size=size, workers=0)
        found = nearest_true_matches(
            F.normalize(query, dim=1), F.normalize(gallery, dim=1), tracklets, subset
        )
        results = []
        for index, local in zip(chosen, found, strict=True):
            if local is None:
                continue
            match = candidates[local]
            tracklet = dataset.query[index]
            clip = load_clip(tracklet, size)
            maps = similarity_gradcam(model, clip, gallery[local], layer=layer, normalize="none")
            masks = load_masks(dataset.root, tracklet)
            shares = evidence_shares(maps.raw, masks)
            drawn = masks.occluder.any(axis=(1, 2))
            results.append(
                QueryEvidence(
                    query=index,
                    match=match,
                    occluded=_triple(shares.total(drawn)),
                    all_frames=_triple(shares.total()),
                    area=_triple(shares.area_total(drawn)),
                )
            )
    return results


def cached_query_evidence(
    model: nn.Module,
    dataset: ReIDDataset,
    cache: Path,
    *,
    size: tuple[int, int],
    branches: Sequence[str] | None = None,
    queries: Sequence[int] | None = None,
) -> list[QueryEvidence]:
    """:func:`query_evidence`, stored under ``cache`` once measured, keyed by the weights, the
    branch set, the input size, the world (its generator record) and the queries; so a long
    measurement resumes model by model and runs can be measured in separate processes and
    pooled later."""
    from strf_core.synth import load_metadata

    chosen = occluded_queries(dataset) if queries is None else [int(i) for i in queries]
    key = {
        "weights": weights_digest(model),
        "branches": None if branches is None else sorted(branches),
        "size": list(size),
        "world": load_metadata(dataset.root)["generator"],
        "queries": chosen,
    }
    name = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:24]
    path = Path(cache) / f"{name}.json"
    if path.is_file():
        stored = json.loads(path.read_text())
        if stored.get("key") == key:
            return [QueryEvidence(**{**e, **_tuples(e)}) for e in stored["evidence"]]
    found = query_evidence(model, dataset, size=size, branches=branches, queries=chosen)
    payload = {"key": key, "evidence": [asdict(e) for e in found]}
    write_text_atomic(path, json.dumps(payload))
    return found


def _tuples(record: dict) -> dict:
    return {f: tuple(record[f]) for f in ("occluded", "all_frames", "area")}


def summarize(label: str, evidence: Sequence[QueryEvidence], total: int) -> EvidenceSummary:
    """Mean shares over the queries whose explained frames carry mass."""

    def mean(field: str) -> dict[str, float]:
        rows = np.array([getattr(e, field) for e in evidence], float)
        keep = ~np.isnan(rows).any(axis=1)
        values = rows[keep].mean(axis=0) if keep.any() else np.full(3, np.nan)
        return {r: float(v) for r, v in zip(REGIONS, values, strict=True)}

    counted = sum(not np.isnan(e.occluded).any() for e in evidence)
    return EvidenceSummary(
        label=label,
        queries=counted,
        total=total,
        occluded=mean("occluded"),
        all_frames=mean("all_frames"),
        area=mean("area"),
    )


@dataclass(frozen=True)
class EvidenceGroup:
    """The summaries of one model over its runs (seeds): the mean of each share and its sample
    standard deviation over runs (``None`` for a single run).

    Attributes:
        label: the model's label, shared by its runs.
        runs: how many runs (seeds) were summarized.
        queries, total: the queries counted (the same in every run) and the occluded queries.
        occluded, all_frames: ``{region: (mean, std)}``.
        area: the pixel shares of the counted queries (a uniform map's shares).
    """

    label: str
    runs: int
    queries: int
    total: int
    occluded: dict[str, tuple[float, float | None]]
    all_frames: dict[str, tuple[float, float | None]]
    area: dict[str, float]

    def to_dict(self) -> dict:
        return asdict(self)


def group_runs(summaries: Sequence[EvidenceSummary]) -> list[EvidenceGroup]:
    """Pool the summaries that share a label (one per seed) into one row each, in the order
    their labels first appear. The summaries should come from :func:`summarize_common`, so that
    every run counts the same queries."""
    labels = list(dict.fromkeys(s.label for s in summaries))
    groups = []
    for label in labels:
        runs = [s for s in summaries if s.label == label]

        def spread(field: str, runs: list[EvidenceSummary] = runs) -> dict:
            out = {}
            for region in REGIONS:
                values = np.array([getattr(r, field)[region] for r in runs], float)
                std = float(values.std(ddof=1)) if len(values) > 1 else None
                out[region] = (float(values.mean()), std)
            return out

        groups.append(
            EvidenceGroup(
                label=label,
                runs=len(runs),
                queries=runs[0].queries,
                total=runs[0].total,
                occluded=spread("occluded"),
                all_frames=spread("all_frames"),
                area=runs[0].area,
            )
        )
    return groups


def _triple(values: np.ndarray) -> tuple[float, float, float]:
    a, b, c = (float(v) for v in values)
    return a, b, c


def summarize_common(
    runs: Sequence[tuple[str, Sequence[QueryEvidence]]], total: int
) -> list[EvidenceSummary]:
    """:func:`summarize` each ``(label, evidence)`` over the same queries: those whose explained
    frames carry mass in every run, so that rows differ by their models, not by their queries."""
    common: set[int] | None = None
    for _, evidence in runs:
        ids = {e.query for e in evidence if not np.isnan(e.occluded).any()}
        common = ids if common is None else common & ids
    keep = common or set()
    return [summarize(label, [e for e in ev if e.query in keep], total) for label, ev in runs]


def _share(value: tuple[float, float | None]) -> str:
    mean, std = value
    return f"{mean:.3f}" if std is None else f"{mean:.3f} ± {std:.3f}"


def evidence_markdown(groups: Sequence[EvidenceGroup], *, world: str, command: str) -> str:
    """A Markdown table of :func:`group_runs` rows, with the pixel shares as the reference."""
    seeds = any(g.runs > 1 for g in groups)
    lines = [
        "# Where the evidence falls on occluded queries (the paper's Fig. 5, measured)",
        "",
        f"World: {world}. Command: `{command}`.",
        "",
        "Share of each model's per-frame Grad-CAM mass (layer4, similarity to the nearest true "
        "match) on the person, the occluder and the background, over the frames where the "
        "occluder is drawn; 'all frames' is the person's share over every frame. Means over the "
        "n occluded queries whose explained frames carry mass for every model (the same "
        "queries in every row)"
        + (
            "; with several runs (seeds) of a model, the mean over runs ± the sample standard "
            "deviation over runs."
            if seeds
            else "."
        ),
        "",
        "| model | runs | n | person | occluder | background | person, all frames |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for g in groups:
        occ = g.occluded
        lines.append(
            f"| {g.label} | {g.runs} | {g.queries}/{g.total} | {_share(occ['person'])} | "
            f"{_share(occ['occluder'])} | {_share(occ['background'])} | "
            f"{_share(g.all_frames['person'])} |"
        )
    if groups:
        area = groups[0].area
        lines.append(
            f"| pixel shares (a uniform map) | | | {area['person']:.3f} | "
            f"{area['occluder']:.3f} | {area['background']:.3f} | |"
        )
    return "\n".join(lines) + "\n"
