"""The dashboard's one door to ``strf_core``: models, data, embeddings and explanations, cached.

Pages and components call only this module. Heavy things are built once per process
(``st.cache_resource``: models, datasets, galleries) and shared by every session; results are
cached by value (``st.cache_data``: rankings, maps, tables). The shared models are never changed
per session: a session's branch toggles reach STRF through :func:`strf_core.active_branches`,
a context variable of the thread that serves it.

::

    Workspace (models by label, dataset, one Gallery per model)
      demo_workspace()                the shipped models on the regenerated demo world
      custom_workspace(...)           checkpoints of ``strf train`` on a dataset root
    analyse(ws, label, clip, ...)     ranking + where the true match ranks + Grad-CAM overlays
    occlusion / inspect / tables      what the other pages show
"""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import json
import os
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import streamlit as st
import torch

from strf_core import BRANCH_NAMES, active_branches
from strf_core.data.datasets import DatasetError, ReIDDataset, build_dataset, dataset_options
from strf_core.data.transforms import ClipTransform
from strf_core.data.user import (
    DEFAULT_LIMITS,
    GalleryFrames,
    NameLabels,
    UserTracklet,
    against_gallery,
    name_labels,
    read_uploads,
)
from strf_core.demo import (
    MODELS_DIR,
    DemoModel,
    demo_dataset,
    demo_models,
    demo_world,
    example_tracklets,
    load_model,
    model_gallery,
)
from strf_core.experiments import (
    CellRecord,
    Report,
    Row,
    Stat,
    difference,
    read_reports,
    records_by_row,
)
from strf_core.experiments.evidence import EvidenceGroup, EvidenceSummary, group_runs
from strf_core.explain import (
    AttentionMap,
    PositionAttention,
    as_images,
    chosen_similarity_gradcam,
    evidence_frames,
    frame_evidence,
    inspect_unit,
    mask_view,
    overlay,
    position_attention,
    relative_log2,
    relative_weights,
    similarity_gradcam,
    unit_attention,
)
from strf_core.explain.attention import UNIT_KINDS
from strf_core.explain.sweep import METRICS as SWEEP_METRICS
from strf_core.explain.sweep import (
    SweepQuery,
    SweepResult,
    SweepSettings,
    occlusion_sweep,
    pick_clean_queries,
)
from strf_core.metrics import (
    PairedAP,
    cosine_distance,
    evaluate_rank_subsets,
    median_difference_query,
    paired_ap,
    query_average_precision,
)
from strf_core.models import count_parameters, parameter_table
from strf_core.package_data import results_dir
from strf_core.retrieval import Gallery, QueryScore, Ranking, load_clip
from strf_core.synth import OCCLUDER_KINDS, SUBSETS
from strf_core.synth.occlude import occlude

RESULTS_DIR = results_dir()  # docs/results/, the checkout's or an installed wheel's copy
DISPLAY_SIZE = (128, 64)  # (H, W) frames are shown at (the demo world's size)
# The page decodes a few clips, with PIL: importing torchvision's decoder would import
# torch._dynamo (about 3 s of CPU) before the first page. Both decode JPEG with libjpeg-turbo, to
# the same pixels (tests/test_synth.py checks the generator's frames), so the clips equal the
# test loader's.
DECODER = "pil"
BRANCH_LABELS = {
    "t_dynamic": "temporal dynamic",
    "t_static": "temporal static",
    "s_fine": "spatial fine",
    "s_coarse": "spatial coarse",
}
SUBSET_WORDS = {"lookalike": "look-alike", "occluded": "occluded", "misaligned": "misaligned"}

if os.environ.get("STRF_TORCH_THREADS"):
    torch.set_num_threads(int(os.environ["STRF_TORCH_THREADS"]))


# --------------------------------------------------------------------------- workspaces


@dataclass(frozen=True)
class Workspace:
    """Models and the data they are explored on.

    Attributes:
        key: identity of the workspace for the caches.
        title: what the page calls it.
        models: the models by label (``"baseline"``, ``"strf"``, or checkpoint names).
        dataset: the split (query and gallery tracklets).
        root: the dataset folder.
        subsets: per-query masks of the synthetic hard cases (``{}`` for real datasets).
        galleries: one :class:`~strf_core.retrieval.Gallery` per model label.
    """

    key: str
    title: str
    models: dict[str, DemoModel]
    dataset: ReIDDataset
    root: Path
    subsets: dict[str, np.ndarray]
    galleries: dict[str, Gallery] = field(repr=False)


def _hash_workspace(ws: Workspace) -> str:
    return ws.key


HASH = {Workspace: _hash_workspace}


def _workspace(key: str, title: str, models: dict[str, DemoModel], data, root: Path) -> Workspace:
    # A model folder's shipped embeddings, where they fit this world, spare the embedding.
    galleries = {
        label: model_gallery(data.gallery, m, world_root=root) for label, m in models.items()
    }
    subsets = data.query_subsets()
    return Workspace(key, title, models, data, root, subsets, galleries)


@st.cache_resource(show_spinner=False)
def demo_workspace() -> Workspace:
    """The shipped demo models on the demo world's test split (generated once into the cache
    unless ``strf demo`` did it), their galleries served from the shipped embeddings."""
    root = demo_world()
    title = "demo models on the synthetic demo world"
    return _workspace("demo", title, demo_models(), demo_dataset(root), root)


@st.cache_resource(show_spinner=False, max_entries=4)
def custom_workspace(
    checkpoints: tuple[str, ...], dataset: str, root: str, split_id: int, protocol: str
) -> Workspace:
    """Checkpoints of ``strf train`` on a dataset the loaders read.

    Raises:
        CheckpointError, DatasetError, TrackletInputError: named in their messages.
    """
    models: dict[str, DemoModel] = {}
    for path in checkpoints:
        model = load_model(path)
        label = model.name if model.name not in models else f"{model.name} ({len(models)})"
        models[label] = model
    options = dataset_options(dataset, split_id=split_id, protocol=protocol)
    data = build_dataset(dataset, root, **options)
    key = f"custom:{'|'.join(checkpoints)}:{dataset}:{root}:{split_id}:{protocol}"
    title = f"{', '.join(models)} on {dataset} ({root})"
    return _workspace(key, title, models, data, Path(root).expanduser())


def warm_up(ws: Workspace) -> None:
    """Embed each model's gallery with all branches on (disk-cached: slow only the first time;
    nothing to do where the shipped embeddings were installed)."""
    for label, model in ws.models.items():
        ws.galleries[label].features(model.model)


class _StopRequestedError(Exception):
    """Raised inside the background embedding when the server stops."""


@st.cache_resource(show_spinner=False, hash_funcs=HASH)
def start_precompute(ws: Workspace) -> threading.Thread | None:
    """Embed the gallery for every branch set of the STRF models in the background, once per
    process, so toggles find their embeddings ready (``STRF_APP_PRECOMPUTE=0`` turns it off).
    ``None`` when there is nothing to embed (the shipped embeddings cover every branch set).

    The work stops cleanly with the server: at exit the thread is told to stop and its next
    layer call (a hook on the model's top modules, acting in this thread only) ends it, so no
    PyTorch computation is running when the interpreter tears down. A daemon thread still in
    PyTorch then aborted the process ("terminate called without an active exception"). What
    it finished is in the disk cache (written atomically); the rest is embedded on demand.
    """
    if os.environ.get("STRF_APP_PRECOMPUTE", "1") == "0":
        return None
    todo = [
        label
        for label, model in ws.models.items()
        if model.has_strf and ws.galleries[label].missing(model.model)
    ]
    if not todo:
        return None
    return run_stoppable(
        lambda: [ws.galleries[label].precompute(ws.models[label].model) for label in todo],
        [ws.models[label].model for label in todo],
        name="strf-precompute",
    )


def run_stoppable(
    work, models: Sequence[torch.nn.Module], *, name: str, join_seconds: float = 60.0
) -> threading.Thread:
    """Run ``work()`` in a low-priority daemon thread that the interpreter's exit stops between
    two layer calls of ``models`` (see :func:`start_precompute`), and waits for."""
    stop = threading.Event()
    holder: list[threading.Thread] = []

    def check(module, inputs) -> None:
        if stop.is_set() and threading.current_thread() is holder[0]:
            raise _StopRequestedError

    hooks = [
        child.register_forward_pre_hook(check) for model in models for child in model.children()
    ]

    def run() -> None:
        with contextlib.suppress(OSError, AttributeError):  # lower priority, Linux only
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 10)
        try:
            work()
        except _StopRequestedError:
            pass
        finally:
            for hook in hooks:
                hook.remove()

    def shutdown() -> None:
        stop.set()
        holder[0].join(join_seconds)

    holder.append(threading.Thread(target=run, name=name, daemon=True))
    atexit.register(shutdown)
    holder[0].start()
    return holder[0]


# --------------------------------------------------------------------------- queries


@dataclass(frozen=True)
class QueryInfo:
    """One query tracklet of a workspace, for pickers."""

    index: int
    pid: int
    camid: int
    num_frames: int
    subsets: tuple[str, ...]

    @property
    def label(self) -> str:
        """``#0: id 207, camera 2, 16 frames (look-alike, occluded)``."""
        where = f"id {self.pid}, camera {self.camid + 1}, {self.num_frames} frames"
        return f"#{self.index}: {where} ({self.kinds})"

    @property
    def short_label(self) -> str:
        """``#0 · id 207 · camera 2``: what fits in a sidebar selectbox."""
        return f"#{self.index} · id {self.pid} · camera {self.camid + 1}"

    @property
    def details(self) -> str:
        """``16 frames · look-alike, occluded``: the rest of :attr:`label`."""
        return f"{self.num_frames} frames · {self.kinds}"

    @property
    def kinds(self) -> str:
        """The hard cases it belongs to, in words."""
        return ", ".join(SUBSET_WORDS[s] for s in self.subsets) or "no hard case"


@st.cache_data(hash_funcs=HASH, show_spinner=False)
def queries(ws: Workspace) -> list[QueryInfo]:
    """Every query, with the synthetic subsets it belongs to."""
    out = []
    for i, t in enumerate(ws.dataset.query):
        kinds = tuple(s for s in SUBSETS if s in ws.subsets and bool(ws.subsets[s][i]))
        out.append(QueryInfo(i, t.pid, t.camid, len(t.frames), kinds))
    return out


@st.cache_data(hash_funcs=HASH, show_spinner=False, max_entries=64)
def query_clip(ws: Workspace, index: int, max_frames: int = 32) -> torch.Tensor:
    """A query's frames at display size (at most ``max_frames``, evenly spaced).

    Shape:
        ``(3, T, H, W)``, uint8.
    """
    tracklet = ws.dataset.query[index]
    if len(tracklet.frames) > max_frames:
        keep = np.linspace(0, len(tracklet.frames) - 1, max_frames).round().astype(int)
        tracklet = tracklet._replace(frames=tuple(tracklet.frames[i] for i in keep))
    return load_clip(tracklet, DISPLAY_SIZE, decoder=DECODER)


@st.cache_data(hash_funcs=HASH, show_spinner=False, max_entries=2048)
def gallery_thumbnail(ws: Workspace, index: int) -> np.ndarray:
    """The middle frame of a gallery tracklet at display size, ``(H, W, 3)`` uint8."""
    tracklet = ws.dataset.gallery[index]
    middle = tracklet._replace(frames=(tracklet.frames[len(tracklet.frames) // 2],))
    return as_images(load_clip(middle, DISPLAY_SIZE, decoder=DECODER))[0]


# --------------------------------------------------------------------------- uploads


@dataclass(frozen=True)
class Upload:
    """A user's tracklet: its frames at display size and the labels its names give, if any.

    Attributes:
        warnings: what the page must say about the labels: why names that look like MARS
            names label nothing, or that the frames are a gallery tracklet's (a self-match).
    """

    key: str
    clip: torch.Tensor
    source: str
    pid: int | None
    camid: int | None
    notes: tuple[str, ...]
    warnings: tuple[str, ...] = ()


@st.cache_resource(show_spinner=False, hash_funcs=HASH, max_entries=4)
def _gallery_frames(ws: Workspace) -> GalleryFrames:
    return GalleryFrames(ws.dataset.gallery)


def read_upload(files: Sequence[tuple[str, bytes]], ws: Workspace | None = None) -> Upload:
    """Read uploaded files (a zip, a video, a GIF or images) into a tracklet, labelled as the
    evaluation would label it.

    MARS names label it when they name one identity of ``ws``'s gallery seen by one camera;
    names that look like MARS names but cannot label it say why (``warnings``), and it is
    ranked unlabelled. An upload whose frames are a gallery tracklet's (byte for byte, or by
    its MARS tracklet name, as the shipped examples are) is flagged: labelled, that tracklet
    is same-id same-camera junk and left out of the ranking, as in evaluation; unlabelled, it
    ranks first as the upload's own copy. Plain names with a gallery tracklet's bytes take its
    labels.

    Raises:
        TrackletInputError: what is wrong, naming the file.
    """
    user: UserTracklet = read_uploads(list(files), limits=DEFAULT_LIMITS)
    digest = hashlib.sha1()
    for name, data in files:
        digest.update(name.encode() + hashlib.sha1(data).digest())
    labels, warnings = name_labels(user.sources), []
    if ws is not None:
        labels = against_gallery(labels, [t.pid for t in ws.dataset.gallery])
    if labels.problem:
        warnings.append(f"Ranked unlabelled: {labels.problem}.")
    if ws is not None:
        labels, self_match = _self_match(ws, user, labels)
        warnings += self_match
    return Upload(
        key=f"upload:{digest.hexdigest()[:16]}",
        clip=user.resized(DISPLAY_SIZE),
        source=user.source,
        pid=labels.pid,
        camid=labels.camid,
        notes=user.warnings + user.notes,
        warnings=tuple(warnings),
    )


def _self_match(ws: Workspace, user: UserTracklet, labels: NameLabels):
    """The labels to rank with and what to say when the upload is a gallery tracklet."""
    frames = _gallery_frames(ws)
    index, how = frames.by_bytes(user.digests), "byte for byte"
    if index is None:
        index, how = frames.by_name(labels.tracklet), "by its MARS name"
    if index is None:
        return labels, []
    entry = ws.dataset.gallery[index]
    which = f"gallery tracklet #{index} (id {entry.pid}, camera {entry.camid + 1})"
    if labels.labelled and (labels.pid, labels.camid) != (entry.pid, entry.camid):
        labels = NameLabels(
            problem=f"the names say id {labels.pid} camera {labels.camid + 1}, the frames are "
            f"{which}"
        )
        return labels, [
            f"Ranked unlabelled: {labels.problem}.",
            f"Self-match: this upload is {which} {how}; it ranks first as its own copy.",
        ]
    if not labels.labelled and labels.problem is None and entry.pid > 0:
        labels = NameLabels(entry.pid, entry.camid, labels.tracklet)
    if labels.labelled:
        return labels, [
            f"Self-match: this upload is {which} {how}. As in evaluation, the gallery's "
            "tracklets of the same id and camera, this one included, are junk and left out "
            "of the ranking."
        ]
    return labels, [
        f"Self-match: this upload is {which} {how}; unlabelled, it ranks first as its own "
        "copy (distance about 0)."
    ]


def examples() -> dict[str, Path]:
    """The example tracklets shipped in ``sample_data/examples/``."""
    return example_tracklets()


def read_example(name: str, ws: Workspace | None = None) -> Upload:
    """An example tracklet, read like an upload (folders as their image files)."""
    path = examples()[name]
    files = sorted(path.iterdir()) if path.is_dir() else [path]
    return read_upload([(f.name, f.read_bytes()) for f in files if not f.name.startswith(".")], ws)


# --------------------------------------------------------------------------- analysis


@dataclass(frozen=True)
class Analysis:
    """What one model makes of one query, with the branches a session switched on.

    Attributes:
        ranking: the top-k gallery hits.
        score: where the true matches lie in the whole gallery (``None``: query labels unknown).
        overlays: per-frame Grad-CAM of the similarity to ``explained`` over the frames.
        explained: the gallery index the maps explain (the top hit, or the best true match).
        similarity: the cosine similarity the maps explain.
        empty_frames: frames with no evidence at all.
        evidence: each frame's share of the maps' mass (:func:`strf_core.explain.frame_evidence`).
    """

    ranking: Ranking
    score: QueryScore | None
    overlays: list[np.ndarray]
    explained: int
    similarity: float
    empty_frames: tuple[int, ...]
    evidence: tuple[float, ...] = ()


def _switch(model: DemoModel, branches: tuple[str, ...] | None):
    """The branch switch for ``model``: ``branches`` for STRF models, nothing otherwise."""
    if branches is None or not model.has_strf:
        return contextlib.nullcontext()
    return active_branches(*branches)


@st.cache_data(hash_funcs=HASH, show_spinner=False, max_entries=256)
def analyse(
    ws: Workspace,
    label: str,
    clip_key: str,
    _clip: torch.Tensor,
    branches: tuple[str, ...] | None,
    *,
    k: int = 10,
    pid: int | None = None,
    camid: int | None = None,
    explain: str = "top",
    target: int | None = None,
) -> Analysis:
    """Rank the gallery for a query and explain the similarity behind it.

    Args:
        ws: the workspace.
        label: which model.
        clip_key: identity of ``_clip`` for the cache (``"query:12"``, an upload's digest...).
        _clip: the query's frames at display size, uint8 ``(3, T, H, W)``.
        branches: STRF branches switched on (``None``: all); ignored by baselines.
        k: hits to return.
        pid, camid: the query's labels, when known.
        explain: ``"top"`` (the maps explain the top hit) or ``"match"`` (the nearest true
            match, when there is one).
        target: a gallery index to explain instead (to compare two clips against one entry).
    """
    model = ws.models[label]
    gallery = ws.galleries[label]
    clip = resize_for(model, _clip)  # (3, T, h, w): the model's input size
    found = {}

    def choose(query: torch.Tensor) -> torch.Tensor:
        """Rank with the query's embedding (or clip); the gallery embedding to explain."""
        ranking = gallery.rank(model.model, query, k=k, pid=pid, camid=camid, exclude_junk=True)
        score = None
        if pid is not None and camid is not None:
            score = gallery.score(model.model, ranking.query_feature, pid, camid)
        explained = ranking.hits[0].index
        if explain == "match" and score is not None and score.best_match is not None:
            explained = score.best_match
        if target is not None:
            explained = target
        found.update(ranking=ranking, score=score, explained=explained)
        return gallery.features(model.model)[explained]

    with _switch(model, branches):
        if clip.shape[1] <= (gallery.settings["chunk_len"] or 0):
            # One chunk: the embedding of Grad-CAM's forward pass is the dense one (to float32
            # rounding), so the clip is run through the model once, not twice.
            maps, _ = chosen_similarity_gradcam(model.model, clip, choose)
        else:  # longer clips are embedded chunk by chunk, as the gallery was
            maps = similarity_gradcam(model.model, clip, choose(clip))
    ranking, score, explained = found["ranking"], found["score"], found["explained"]
    return Analysis(
        ranking=ranking,
        score=score,
        overlays=as_images(overlay(_clip, maps.maps, alpha=0.55)),
        explained=explained,
        similarity=maps.score,
        empty_frames=tuple(int(i) for i in torch.nonzero(maps.empty).flatten()),
        evidence=tuple(frame_evidence(maps.maps).tolist()),
    )


def resize_for(model: DemoModel, clip: torch.Tensor) -> torch.Tensor:
    """A display-size clip at the model's input size, resized as the test loader resizes.

    Shape:
        ``(3, T, H, W) -> (3, T, h, w)``, uint8.
    """
    return ClipTransform(size=model.input_size, flip_p=0.0, normalize=False)(clip.unbind(1))


@st.cache_data(show_spinner=False, max_entries=32)
def occluded(
    clip_key: str,
    _clip: torch.Tensor,
    kind: str,
    position: tuple[float, float],
    size: float,
    frames: tuple[int, int],
    seed: int,
) -> tuple[str, torch.Tensor, float]:
    """The clip with an occluder drawn in: ``(its key, frames, mean occluded fraction)``."""
    result = occlude(_clip, kind, position=position, size=size, frames=frames, seed=seed)
    key = f"{clip_key}|occ:{kind}:{position}:{size}:{frames}:{seed}"
    return key, result.clip, float(result.masks.float().mean())


@st.cache_data(hash_funcs=HASH, show_spinner=False, max_entries=64)
def inspect(
    ws: Workspace, label: str, clip_key: str, _clip: torch.Tensor, unit: str, branches
) -> object:
    """:func:`strf_core.explain.inspect_unit` of one unit on a clip (at the model's size)."""
    model = ws.models[label]
    with _switch(model, branches):
        return inspect_unit(model.model, resize_for(model, _clip), unit)


def strf_units(ws: Workspace, label: str) -> dict[str, object]:
    """The STRF units of a model by module name."""
    return ws.models[label].model.strf_units()


def unit_table(ws: Workspace, label: str) -> list[dict]:
    """One row per STRF unit: where it is, its width, branches, gamma and parameters."""
    rows = []
    for name, unit in strf_units(ws, label).items():
        rows.append(
            {
                "unit": name,
                "channels": unit.channels,
                "branches": ", ".join(unit.branches),
                "integration": unit.integration,
                "gamma": None if unit.gamma is None else round(float(unit.gamma.detach()), 4),
                "parameters": sum(p.numel() for p in unit.parameters()),
            }
        )
    return rows


def model_parameters(ws: Workspace, label: str) -> int:
    """A model's parameter count (as Table 2 counts them)."""
    return count_parameters(ws.models[label].model)


def mask_overlay(
    inspection, branch: str, cell: tuple[int, int], clip: torch.Tensor, direction: str
) -> list[np.ndarray]:
    """One position's FAM weights (one mask for the whole clip) over every frame.

    Shape:
        clip: ``(3, T, H, W)`` uint8 at display size.
    """
    view = mask_view(
        inspection.masks[branch], inspection.grid, cell, direction=direction, size=DISPLAY_SIZE
    )
    return as_images(overlay(clip, view, alpha=0.6, colormap="heat"))


# --------------------------------------------------------------------------- tables


@st.cache_data(show_spinner=False)
def table2() -> list[dict]:
    """Table 2: the baselines' parameters with and without STRF, ours beside the paper's."""
    return parameter_table()


@st.cache_data(show_spinner=False)
def results(clip_size: str = "64x32") -> dict[str, Report]:
    """The benchmark, ablation and recipe reports of ``docs/results/`` by name (absent ones
    left out): those of the tiny benchmark's 64x32 clips, or of another clip size's folder
    (``"128x64"``: ``docs/results/clips128/``)."""
    return read_reports(_results_folder(clip_size))


def _results_folder(clip_size: str) -> Path:
    """``docs/results/`` for the tiny benchmark's 64x32 clips, ``clips128/`` for 128x64."""
    return RESULTS_DIR if clip_size == "64x32" else RESULTS_DIR / f"clips{clip_size.split('x')[0]}"


@st.cache_data(hash_funcs=HASH, show_spinner=False)
def cmc(ws: Workspace, label: str, max_rank: int = 20) -> dict:
    """CMC and mAP of one model over the workspace's whole query set (embeddings cached).

    Returns:
        ``{"all": {"cmc": list of max_rank floats, "mAP": float}, subset: {...}, ...}`` for
        every query and each synthetic hard case.
    """
    model = ws.models[label]
    gallery = ws.galleries[label]
    distances = cosine_distance(query_features(ws, label), gallery.features(model.model))
    subsets = {s: ws.subsets[s] for s in SUBSETS if s in ws.subsets}
    q_pids, q_camids = _query_labels(ws)
    scores = evaluate_rank_subsets(
        distances.numpy(), q_pids, gallery.pids, q_camids, gallery.camids, subsets, max_rank
    )
    return {
        name: {"cmc": [float(x) for x in r["cmc"]], "mAP": float(r["mAP"])}
        for name, r in scores.items()
    }


@st.cache_data(show_spinner=False)
def seed_results(group: str = "benchmark", clip_size: str = "64x32") -> dict[str, list[CellRecord]]:
    """The per-seed records of one table group's rows (``"benchmark"`` or an ablation group),
    read from ``docs/results/cells/`` (they keep rank-5 and rank-10, which the tables leave
    out), by row label; seeds not run are absent."""
    report = results(clip_size).get("benchmark" if group == "benchmark" else "ablations")
    return records_by_row(_results_folder(clip_size), report, group) if report else {}


__all__ = [
    "BRANCH_LABELS",
    "BRANCH_NAMES",
    "DISPLAY_SIZE",
    "OCCLUDER_KINDS",
    "SUBSETS",
    "SUBSET_WORDS",
    "Analysis",
    "CellRecord",
    "QueryInfo",
    "Report",
    "Row",
    "Stat",
    "Upload",
    "Workspace",
    "analyse",
    "as_images",
    "cmc",
    "custom_workspace",
    "demo_workspace",
    "difference",
    "examples",
    "gallery_thumbnail",
    "inspect",
    "mask_overlay",
    "model_parameters",
    "occluded",
    "queries",
    "query_clip",
    "read_example",
    "read_upload",
    "resize_for",
    "results",
    "run_stoppable",
    "seed_results",
    "start_precompute",
    "strf_units",
    "table2",
    "unit_table",
    "warm_up",
]


# --- Occlusion lab / Benchmarks / Your model ---

CLIP_SIZES = ("64x32", "128x64")  # the benchmarks of docs/results/ by their clips' size
CHECKPOINT_FILES = ("model.safetensors", "config.yaml")  # what makes a folder a checkpoint
SEARCH_DEPTH = 4  # folder levels searched below the folder the user gives
SEARCH_LIMIT = 200  # checkpoints listed at most
SWEEP_SLOTS = 48  # sweeps kept in memory (each a few kB)


@dataclass(frozen=True)
class SweepVariant:
    """One model of a sweep: a workspace model under a branch set (``None``: all)."""

    name: str
    label: str
    branches: tuple[str, ...] | None


def sweep_variants(ws: Workspace) -> dict[str, SweepVariant]:
    """Each model, and each STRF model with its temporal or its spatial branches off."""
    out = {}
    for label, model in ws.models.items():
        out[label] = SweepVariant(label, label, None)
        if model.has_strf:
            for off, on in (
                ("temporal", ("s_coarse", "s_fine")),
                ("spatial", ("t_dynamic", "t_static")),
            ):
                name = f"{label}, {off} branches off"
                out[name] = SweepVariant(name, label, on)
    return out


@st.cache_data(hash_funcs=HASH, show_spinner=False)
def clean_queries(ws: Workspace, count: int) -> list[int]:
    """:func:`strf_core.explain.sweep.pick_clean_queries` over the workspace's queries."""
    pids = np.array([t.pid for t in ws.dataset.gallery])
    cams = np.array([t.camid for t in ws.dataset.gallery])
    has_match = [bool(((pids == t.pid) & (cams != t.camid)).any()) for t in ws.dataset.query]
    lengths = [len(t.frames) for t in ws.dataset.query]
    return pick_clean_queries(ws.subsets, lengths, has_match, count)


@st.cache_resource(show_spinner=False)
def _sweeps() -> dict[tuple, tuple[SweepResult, float]]:
    return {}


def _sweep_key(
    ws: Workspace, variant: SweepVariant, indices: Sequence[int], settings: SweepSettings
) -> tuple:
    return (ws.key, variant.label, variant.branches, tuple(indices), settings)


def cached_sweep(
    ws: Workspace, variant: SweepVariant, indices: Sequence[int], settings: SweepSettings
) -> tuple[SweepResult, float] | None:
    """A sweep computed before in this process and how many seconds it took, else ``None``."""
    return _sweeps().get(_sweep_key(ws, variant, indices, settings))


def sweep(
    ws: Workspace,
    variant: SweepVariant,
    indices: Sequence[int],
    settings: SweepSettings,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[SweepResult, float]:
    """One model's occlusion sweep over the queries ``indices`` (cached per process), and the
    seconds it took.

    Args:
        settings: the occluders.
        progress: called with ``(queries done, queries)``.
    """
    key = _sweep_key(ws, variant, indices, settings)
    found = _sweeps().get(key)
    if found is not None:
        return found
    model = ws.models[variant.label]
    gallery = ws.galleries[variant.label]
    queries = []
    for i in indices:
        tracklet = ws.dataset.query[i]
        queries.append(SweepQuery(query_clip(ws, i), tracklet.pid, tracklet.camid))
    started = time.perf_counter()
    with _switch(model, variant.branches):
        result = occlusion_sweep(
            model.model,
            queries,
            gallery.features(model.model),
            gallery.pids,
            gallery.camids,
            input_size=model.input_size,
            settings=settings,
            progress=progress,
        )
    found = (result, time.perf_counter() - started)
    store = _sweeps()
    store[key] = found
    while len(store) > SWEEP_SLOTS:
        store.pop(next(iter(store)))
    return found


@dataclass(frozen=True)
class EvidenceTable:
    """One ``docs/results/evidence_*.json``: the Fig. 5 measurement, one row per model.

    Attributes:
        name: the file's stem without ``evidence_`` (``"tiny"``).
        groups: per model, mean (and std over seeds, where several) of each share.
        queries: the occluded queries of the world.
        world: the world line of the Markdown report beside it, if there is one.
    """

    name: str
    path: Path
    groups: list[EvidenceGroup]
    queries: int
    world: str | None


def _evidence_groups(data: dict, path: Path) -> list[EvidenceGroup]:
    """Rows per model: the file's ``groups`` (newer files), else its per-run ``rows`` pooled by
    label (older files, one run per row)."""
    if "groups" in data:
        return [
            EvidenceGroup(
                label=g["label"],
                runs=int(g["runs"]),
                queries=int(g["queries"]),
                total=int(g["total"]),
                occluded={r: (v[0], v[1]) for r, v in g["occluded"].items()},
                all_frames={r: (v[0], v[1]) for r, v in g["all_frames"].items()},
                area=dict(g["area"]),
            )
            for g in data["groups"]
        ]
    if "rows" not in data:
        raise ValueError(f"{path} has neither 'groups' nor 'rows'")
    summaries = [
        EvidenceSummary(
            label=r["label"],
            queries=int(r["queries"]),
            total=int(r["total"]),
            occluded=dict(r["occluded"]),
            all_frames=dict(r["all_frames"]),
            area=dict(r["area"]),
        )
        for r in data["rows"]
    ]
    return group_runs(summaries)


@st.cache_data(show_spinner=False)
def evidence_tables() -> list[EvidenceTable]:
    """Every ``docs/results/evidence_*.json``, by name.

    Raises:
        ValueError: a file that is not an evidence report (named).
    """
    out = []
    for path in sorted(RESULTS_DIR.glob("evidence_*.json")):
        data = json.loads(path.read_text())
        markdown = path.with_suffix(".md")
        world = None
        if markdown.is_file():
            world = next(
                (line for line in markdown.read_text().splitlines() if line.startswith("World:")),
                None,
            )
        out.append(
            EvidenceTable(
                name=path.stem.removeprefix("evidence_"),
                path=path,
                groups=_evidence_groups(data, path),
                queries=int(data.get("queries", 0)),
                world=world,
            )
        )
    return out


@dataclass(frozen=True)
class CheckpointSearch:
    """Checkpoint folders found under a folder.

    Attributes:
        found: folders holding every file of :data:`CHECKPOINT_FILES`.
        incomplete: folders holding some of them, with the names missing.
        truncated: more than :data:`SEARCH_LIMIT` were found; the rest are not listed.
    """

    root: Path
    found: list[Path]
    incomplete: dict[Path, list[str]]
    truncated: bool = False


def demo_world_root() -> Path:
    """The demo world's folder (generated into the cache first if absent: about a minute)."""
    return demo_world()


def missing_checkpoint_files(folder: Path) -> list[str]:
    """The files of :data:`CHECKPOINT_FILES` that ``folder`` lacks."""
    return [name for name in CHECKPOINT_FILES if not (folder / name).is_file()]


def shipped_checkpoints() -> dict[str, Path]:
    """The models shipped in ``sample_data/models/`` by a short name (``strf``, ``tiny/strf``)."""
    found = find_checkpoints(str(MODELS_DIR)).found
    return {path.relative_to(MODELS_DIR).as_posix(): path for path in found}


def find_checkpoints(folder: str) -> CheckpointSearch:
    """Checkpoint folders at or under ``folder`` (``~`` expanded), up to :data:`SEARCH_DEPTH`
    levels down, hidden folders skipped, in name order.

    Raises:
        FileNotFoundError: ``folder`` does not exist (named).
        NotADirectoryError: ``folder`` is a file (named).
    """
    root = Path(folder).expanduser()
    if not root.exists():
        raise FileNotFoundError(f"there is no folder {root}")
    if not root.is_dir():
        raise NotADirectoryError(f"{root} is a file, not a folder")
    found: list[Path] = []
    incomplete: dict[Path, list[str]] = {}
    truncated = False
    for current, dirs, files in os.walk(root):
        here = Path(current)
        depth = len(here.relative_to(root).parts)
        dirs[:] = sorted(d for d in dirs if not d.startswith(".")) if depth < SEARCH_DEPTH else []
        present = [name for name in CHECKPOINT_FILES if name in files]
        if len(present) == len(CHECKPOINT_FILES):
            if len(found) == SEARCH_LIMIT:
                truncated = True
                break
            found.append(here)
        elif present:
            incomplete[here] = missing_checkpoint_files(here)
    return CheckpointSearch(root, sorted(found), incomplete, truncated)


__all__ += [
    "CHECKPOINT_FILES",
    "CLIP_SIZES",
    "SWEEP_METRICS",
    "CheckpointSearch",
    "EvidenceTable",
    "SweepResult",
    "SweepSettings",
    "SweepVariant",
    "cached_sweep",
    "clean_queries",
    "demo_world_root",
    "evidence_tables",
    "find_checkpoints",
    "missing_checkpoint_files",
    "shipped_checkpoints",
    "sweep",
    "sweep_variants",
]


# --- Explore / Inside STRF ---


@dataclass(frozen=True)
class GallerySide:
    """The gallery tracklet a query's maps explain, with its own Grad-CAM: where in *its*
    frames the similarity to the query comes from.

    Attributes:
        index: the gallery tracklet.
        overlays: its frames (at most ``max_frames``, evenly spaced) with the maps blended in.
        evidence: each frame's share of the maps' mass.
        empty_frames: frames without evidence.
        similarity: the cosine similarity the maps explain.
    """

    index: int
    overlays: list[np.ndarray]
    evidence: tuple[float, ...]
    empty_frames: tuple[int, ...]
    similarity: float


@st.cache_data(hash_funcs=HASH, show_spinner=False, max_entries=64)
def gallery_clip(ws: Workspace, index: int, max_frames: int = 32) -> torch.Tensor:
    """A gallery tracklet's frames at display size (at most ``max_frames``, evenly spaced).

    Shape:
        ``(3, T, H, W)``, uint8.
    """
    tracklet = ws.dataset.gallery[index]
    keep = np.linspace(0, len(tracklet.frames) - 1, min(max_frames, len(tracklet.frames)))
    frames = tuple(tracklet.frames[i] for i in np.unique(keep.round().astype(int)))
    return load_clip(tracklet._replace(frames=frames), DISPLAY_SIZE, decoder=DECODER)


@st.cache_data(hash_funcs=HASH, show_spinner=False, max_entries=256)
def explain_gallery_side(
    ws: Workspace,
    label: str,
    clip_key: str,
    _query_feature: torch.Tensor,
    branches: tuple[str, ...] | None,
    index: int,
) -> GallerySide:
    """Grad-CAM of gallery tracklet ``index`` for its cosine similarity to the query.

    Args:
        clip_key: identity of the query (its feature, ``_query_feature``, is not hashed).
        _query_feature: the query's embedding under ``branches`` (``Ranking.query_feature``).

    Shape:
        _query_feature: ``(D,)``.
    """
    model = ws.models[label]
    clip = gallery_clip(ws, index)
    with _switch(model, branches):
        maps = similarity_gradcam(model.model, resize_for(model, clip), _query_feature)
    return GallerySide(
        index=index,
        overlays=as_images(overlay(clip, maps.maps, alpha=0.55)),
        evidence=tuple(frame_evidence(maps.maps).tolist()),
        empty_frames=tuple(int(i) for i in torch.nonzero(maps.empty).flatten()),
        similarity=maps.score,
    )


@dataclass(frozen=True)
class Lookalikes:
    """The synthetic world's look-alike groups (generator knowledge; real data has none).

    Attributes:
        groups: each identity's group, for identities in one.
        shown: one gallery tracklet of each grouped identity, to show it by.
    """

    groups: dict[int, int]
    shown: dict[int, int]

    def group(self, pid: int | None) -> int | None:
        """The group of identity ``pid`` (``None``: in none, or unknown)."""
        return None if pid is None else self.groups.get(pid)

    def is_lookalike(self, pid: int, query_pid: int | None) -> bool:
        """Whether ``pid`` is another identity of the query's group."""
        group = self.group(query_pid)
        return group is not None and pid != query_pid and self.groups.get(pid) == group

    def members(self, group: int) -> dict[int, int]:
        """The identities of ``group``, each with a gallery tracklet: ``{pid: index}``."""
        return {p: self.shown[p] for p in sorted(self.groups) if self.groups[p] == group}


@st.cache_data(hash_funcs=HASH, show_spinner=False)
def lookalikes(ws: Workspace) -> Lookalikes | None:
    """The look-alike groups of the workspace's identities; ``None`` for data without them."""
    try:
        groups = ws.dataset.lookalike_groups(ws.dataset.gallery)
    except DatasetError:
        return None
    by_pid: dict[int, int] = {}
    shown: dict[int, int] = {}
    for index, (entry, group) in enumerate(zip(ws.dataset.gallery, groups, strict=True)):
        if group is not None:
            by_pid[entry.pid] = group
            shown.setdefault(entry.pid, index)
    return Lookalikes(by_pid, shown)


def compared_labels(ws: Workspace) -> tuple[str, str] | None:
    """The ``(baseline, STRF)`` model labels the query-by-query comparison puts on x and y;
    ``None`` unless the workspace has one model without STRF and one with."""
    plain = [label for label, m in ws.models.items() if not m.has_strf]
    strf = [label for label, m in ws.models.items() if m.has_strf]
    return (plain[0], strf[0]) if plain and strf else None


@st.cache_data(hash_funcs=HASH, show_spinner=False)
def query_comparison(ws: Workspace) -> PairedAP | None:
    """Every query's AP under the baseline (``ap_a``) and under STRF with all its branches
    (``ap_b``), from the gallery and query embeddings (shipped with the demo models: no
    embedding); ``None`` without such a pair of models."""
    labels = compared_labels(ws)
    if labels is None:
        return None
    aps = []
    q_pids, q_camids = _query_labels(ws)
    for label in labels:
        gallery = ws.galleries[label]
        aps.append(
            query_average_precision(
                query_features(ws, label),
                gallery.features(ws.models[label].model),
                q_pids,
                gallery.pids,
                q_camids,
                gallery.camids,
            )
        )
    return paired_ap(*aps)


def _query_labels(ws: Workspace) -> tuple[np.ndarray, np.ndarray]:
    """The queries' pids and camids, ``(Q,)`` each."""
    pids = np.array([t.pid for t in ws.dataset.query], dtype=np.int64)
    return pids, np.array([t.camid for t in ws.dataset.query], dtype=np.int64)


@st.cache_resource(show_spinner=False, hash_funcs=HASH)
def _query_rows(ws: Workspace) -> torch.Tensor | None:
    """Each query's row in the gallery, ``(Q,)``, when every query is a gallery tracklet (the
    AP3D protocol); ``None`` otherwise."""
    rows = {tracklet: i for i, tracklet in enumerate(ws.dataset.gallery)}
    found = [rows.get(tracklet) for tracklet in ws.dataset.query]
    return None if None in found else torch.tensor(found, dtype=torch.long)


def query_features(ws: Workspace, label: str) -> torch.Tensor:
    """Every query's embedding under ``label``'s model with all its branches on.

    Where every query is a gallery tracklet (the AP3D protocol, the demo's), these are the
    gallery's own rows: the same embedding of the same frames, with no second read of the
    shipped embeddings (or second embedding) at start. Otherwise the queries are a gallery of
    their own (shipped embeddings where they fit, else embedded once and cached on disk).

    Shape:
        ``(Q, D)``, float32.
    """
    model = ws.models[label]
    rows = _query_rows(ws)
    if rows is not None:
        return ws.galleries[label].features(model.model)[rows]
    return model_gallery(ws.dataset.query, model, world_root=ws.root).features(model.model)


OPENING_SUBSET = "occluded"  # the hard case STRF is claimed to help most (the paper's Fig. 5)


def opening_query(ws: Workspace) -> int | None:
    """The query the Explore page opens on: of the occluded queries where the two models' AP
    differ, the one at the median of the difference (STRF minus baseline); ``None`` without a
    model pair or such queries. See :func:`strf_core.metrics.median_difference_query`."""
    paired = query_comparison(ws)
    if paired is None or OPENING_SUBSET not in ws.subsets:
        return None
    mask = ws.subsets[OPENING_SUBSET]
    return median_difference_query(paired.ap_a, paired.ap_b, mask, ties=False)


MASK_LOG2_LIMIT = 4.0  # the masks' colour scale: 1/16 to 16 times the uniform weight


@dataclass(frozen=True)
class PositionMask:
    """One position's FAM weights relative to uniform (1: the weight ``1/hw`` of a uniform
    average; :func:`strf_core.explain.relative_weights`), as ``h`` rows of ``w`` values.

    Attributes:
        grid: the unit's ``(h, w)``.
        relative: the weights in units of ``1/hw``.
        log2: their ``log2``, clipped to ``±MASK_LOG2_LIMIT`` (the colour scale).
    """

    grid: tuple[int, int]
    relative: list[list[float]]
    log2: list[list[float]]


def _relative_mask(weights: torch.Tensor) -> PositionMask:
    """A :class:`PositionMask` of ``(h, w)`` weights relative to uniform."""
    log2 = relative_log2(weights, limit=MASK_LOG2_LIMIT)
    return PositionMask(tuple(weights.shape), weights.tolist(), log2.tolist())


def position_mask(inspection, branch: str, cell: tuple[int, int], direction: str) -> PositionMask:
    """The weights of one branch's mask at ``cell`` of an :func:`inspect` result."""
    return _relative_mask(
        relative_weights(inspection.masks[branch], inspection.grid, cell, direction=direction)
    )


__all__ += [
    "MASK_LOG2_LIMIT",
    "OPENING_SUBSET",
    "GallerySide",
    "Lookalikes",
    "PairedAP",
    "PositionMask",
    "compared_labels",
    "evidence_frames",
    "explain_gallery_side",
    "gallery_clip",
    "lookalikes",
    "opening_query",
    "position_mask",
    "query_comparison",
    "query_features",
]


# --- Inside STRF: the other attention units (non-local, APM) of the tiny 64x32 models ---

# Shipped models with other units than STRF: folder under sample_data/models/tiny/ -> name.
UNIT_MODELS = {"nonlocal": "P3D-C + non-local", "apm_nl": "AP3D-NL (P3D-C + APM + non-local)"}
UNIT_KIND_WORDS = {"strf": "STRF", "nonlocal": "non-local", "apm": "APM"}


@st.cache_resource(show_spinner=False)
def unit_models() -> dict[str, DemoModel]:
    """The shipped tiny models of :data:`UNIT_MODELS` that are present, by folder name."""
    folders = {name: MODELS_DIR / "tiny" / name for name in UNIT_MODELS}
    return {n: load_model(f, n) for n, f in folders.items() if (f / "model.safetensors").is_file()}


def attention_unit_kinds(name: str) -> dict[str, str]:
    """A unit model's attention units by module name, with their kind (``"nonlocal"``,
    ``"apm"``)."""
    units = unit_models()[name].model.attention_units()
    return {unit: UNIT_KINDS[type(module)] for unit, module in units.items()}


@st.cache_data(show_spinner=False, max_entries=32)
def unit_maps(name: str, clip_key: str, _clip: torch.Tensor, unit: str) -> list[AttentionMap]:
    """:func:`strf_core.explain.unit_attention` of one unit of a unit model on a clip (resized
    to the model's input)."""
    model = unit_models()[name]
    return unit_attention(model.model, resize_for(model, _clip), units=[unit])[unit]


@dataclass(frozen=True)
class AttentionPanel:
    """One source frame of where a target position draws from.

    Attributes:
        frame: the source frame.
        title: what the panel shows, in words.
        mask: the weights relative to uniform over the target's sources (``None``: the frame
            is no source of this map, ``note`` says why).
        note: why there is no mask.
    """

    frame: int
    title: str
    mask: PositionMask | None
    note: str = ""


def _frame_mask(attention: PositionAttention, frame: int) -> PositionMask:
    return _relative_mask(attention.relative[frame])  # (h_s, w_s)


def attention_panels(
    maps: list[AttentionMap], target: tuple[int, int, int]
) -> tuple[list[AttentionPanel], dict[str, PositionAttention]]:
    """Frames ``t - 1``, ``t``, ``t + 1`` of where target ``(t, row, col)`` draws from, and
    each map's :func:`~strf_core.explain.position_attention` by map name.

    Non-local (one map over every frame): its weights on the three frames. APM (a map per
    neighbour): frame ``t - 1`` from its ``"t-1"`` map, ``t + 1`` from ``"t+1"``; frame ``t``
    itself is passed on as it is, not re-arranged."""
    attention = {m.name: position_attention(m, target) for m in maps}
    frames, t = maps[0].target_grid[0], target[0]
    panels = []
    for frame in (t - 1, t, t + 1):
        if not 0 <= frame < frames:
            continue
        offset = frame - t
        where = "t" if offset == 0 else f"t{offset:+d}"
        title = f"frame {frame} ({where})"
        if maps[0].kind == "apm":
            name = f"t{offset:+d}"
            if name not in attention:
                panels.append(AttentionPanel(frame, title, None, "itself: not re-arranged"))
                continue
            panels.append(AttentionPanel(frame, title, _frame_mask(attention[name], frame)))
        else:
            panels.append(AttentionPanel(frame, title, _frame_mask(attention[maps[0].name], frame)))
    return panels, attention


def units_rows() -> list[Row]:
    """The ablation's ``units`` group (baseline, STRF, non-local, APM, AP3D-NL on 64x32
    clips), its rows as ``docs/results/ablations.json`` has them; ``[]`` before it is run."""
    report = results().get("ablations")
    return report.groups().get("units", []) if report else []


__all__ += [
    "UNIT_KIND_WORDS",
    "UNIT_MODELS",
    "AttentionPanel",
    "attention_panels",
    "attention_unit_kinds",
    "unit_maps",
    "unit_models",
    "units_rows",
]
