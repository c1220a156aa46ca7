"""A gallery of tracklets that embeds itself once per model and ranks queries against it.

::

    Gallery(tracklets, cache_dir=...)             data key: frame paths, sizes, mtimes
      .features(model)                            model key: weights, architecture, active
        memory (LRU) -> installed -> disk cache     STRF branches, extraction settings
        -> embed
      .install(model, features)                   shipped embeddings (retrieval/bundle.py)
      .rank(model, query, k=10)                   query: Tracklet, uint8 clip or embedding
        -> Ranking(hits=[Hit(rank, index, distance, pid, camid, kind), ...])

Each hit says what it is for the query: ``"match"`` (same pid, another camera: a true match),
``"junk"`` (same pid, same camera, which the evaluation protocol removes; also MARS pid -1),
``"distractor"`` (pid 0) or ``"wrong"`` (another identity); ``"unknown"`` when the query's pid
is not known (a user's upload).

One gallery serves many threads: embeddings depend only on the model key, which includes the
branch switches of the calling thread's context, and a per-key lock makes concurrent requests
for the same key embed once.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import torch
from torch import Tensor

from strf_core.data.tracklet import Tracklet
from strf_core.features import embed_clip, extract_features
from strf_core.metrics import cosine_distance, rank_queries
from strf_core.models.interface import ReIDModel
from strf_core.modules import active_branches, current_active_branches
from strf_core.retrieval.cache import EmbeddingCache
from strf_core.retrieval.keys import data_key, model_key
from strf_core.retrieval.search import INDEXES, BruteForceIndex, FaissIndex

HIT_KINDS = ("match", "junk", "distractor", "wrong", "unknown")


class Hit(NamedTuple):
    """One ranked gallery entry.

    Attributes:
        rank: 1-based position in the ranking.
        index: the entry's index in the gallery's tracklet list.
        distance: cosine distance to the query, in ``[0, 2]``.
        pid: the entry's person id (0: distractor).
        camid: its 0-based camera.
        kind: one of :data:`HIT_KINDS`.
    """

    rank: int
    index: int
    distance: float
    pid: int
    camid: int
    kind: str


@dataclass(frozen=True)
class Ranking:
    """The top of a query's ranking.

    Attributes:
        hits: the ``k`` nearest entries, closest first.
        query_pid, query_camid: the query's labels (``None`` when unknown).
        query_feature: the query's embedding ``(D,)``.
        branches: the STRF branches switched on when it was ranked (``None``: all).
    """

    hits: list[Hit]
    query_pid: int | None
    query_camid: int | None
    query_feature: Tensor
    branches: tuple[str, ...] | None

    def records(self) -> list[dict[str, object]]:
        """The hits as plain dicts (for a table or JSON)."""
        return [hit._asdict() for hit in self.hits]


def all_branch_sets(model: ReIDModel) -> list[tuple[str, ...] | None]:
    """Every set of STRF branches the model can switch on, as :func:`active_branches` takes
    them: all subsets of its units' branches (16 for the four), ``[None]`` (no switch) for a
    model without STRF."""
    built = sorted({b for u in model.strf_units().values() for b in u.branches})
    if not built:
        return [None]
    return [
        tuple(b for i, b in enumerate(built) if mask >> i & 1) for mask in range(2 ** len(built))
    ]


def hit_kind(query_pid: int | None, query_camid: int | None, pid: int, camid: int) -> str:
    """What a gallery entry with ``pid`` and ``camid`` is for a query (see the module doc)."""
    if pid == 0:
        return "distractor"
    if pid == -1:
        return "junk"
    if query_pid is None:
        return "unknown"
    if pid == query_pid:
        return "junk" if camid == query_camid else "match"
    return "wrong"


class QueryScore(NamedTuple):
    """Where a query's true matches lie in the whole gallery (the evaluation protocol's rules).

    Attributes:
        first_match: 1-based rank of the first true match once junk is removed (``None``: the
            gallery holds no true match for it).
        average_precision: the query's AP (``None`` without a true match).
        num_matches: true matches in the gallery.
        best_match: gallery index of the nearest true match (``None`` without one).
        best_match_similarity: its cosine similarity to the query.
    """

    first_match: int | None
    average_precision: float | None
    num_matches: int
    best_match: int | None
    best_match_similarity: float | None


class Gallery:
    """Tracklets embedded in batches, cached per model on disk and in memory, ranked by query.

    Args:
        tracklets: the gallery (e.g. ``build_dataset(...).gallery``).
        cache_dir: folder for the on-disk cache; ``None`` keeps embeddings in memory only.
        size: frame ``(H, W)`` the model sees.
        mode: ``"dense"`` (every frame, the paper's) or ``"clip"`` (``seq_len`` frames).
        chunk_len: frames per forward pass in dense mode.
        seq_len: frames per tracklet in clip mode.
        batch_size: chunks per forward pass.
        workers: DataLoader workers (0: decode in the calling thread, right for a dashboard).
        device: where the model runs.
        index: ``"brute"`` (exact, in blocks) or ``"faiss"`` (needs ``faiss-cpu``).
        memory_slots: embeddings kept in memory (one per model key: model and branch set).

    Raises:
        ValueError: an empty gallery or a bad option.
        ImportError: ``index="faiss"`` without FAISS installed.
    """

    def __init__(
        self,
        tracklets: Sequence[Tracklet],
        *,
        cache_dir: str | os.PathLike[str] | None = None,
        size: tuple[int, int] = (256, 128),
        mode: str = "dense",
        chunk_len: int = 32,
        seq_len: int = 4,
        batch_size: int = 8,
        workers: int = 0,
        device: torch.device | str = "cpu",
        index: str = "brute",
        memory_slots: int = 8,
    ) -> None:
        if len(tracklets) == 0:
            raise ValueError("the gallery is empty")
        if index not in INDEXES:
            raise ValueError(f"index must be one of {INDEXES}, got {index!r}")
        if index == "faiss":
            FaissIndex(torch.zeros(1, 1))  # raises a clear ImportError now rather than later
        self.tracklets = list(tracklets)
        self.pids = np.array([t.pid for t in self.tracklets], dtype=np.int64)
        self.camids = np.array([t.camid for t in self.tracklets], dtype=np.int64)
        self.cache = EmbeddingCache(cache_dir) if cache_dir is not None else None
        self.settings = {
            "size": list(size),
            "mode": mode,
            "chunk_len": chunk_len if mode == "dense" else None,
            "seq_len": seq_len if mode == "clip" else None,
        }
        self._extract = {
            "mode": mode,
            "chunk_len": chunk_len,
            "seq_len": seq_len,
            "size": tuple(size),
            "batch_size": batch_size,
            "workers": workers,
            "device": device,
        }
        self.index, self.memory_slots = index, memory_slots
        self._memory: OrderedDict[str, BruteForceIndex | FaissIndex] = OrderedDict()
        self._installed: dict[str, Tensor] = {}  # by model key + data key; never evicted
        self._lock = threading.Lock()
        self._key_locks: dict[str, threading.Lock] = {}
        self.data_key = data_key(self.tracklets)

    def __len__(self) -> int:
        return len(self.tracklets)

    def refresh(self) -> None:
        """Re-read the frames' sizes and times (after files changed on disk)."""
        new_key = data_key(self.tracklets)
        with self._lock:
            if new_key != self.data_key:
                self.data_key = new_key
                self._memory.clear()
                self._installed.clear()

    def model_key(self, model: ReIDModel) -> str:
        """The key of ``model`` with the calling context's STRF branches and this gallery's
        extraction settings."""
        return model_key(model, self.settings)

    def install(self, model: ReIDModel, features: Tensor) -> None:
        """Serve ``features`` as this gallery's embeddings for ``model`` under the calling
        context's branch switches, without embedding: kept for the gallery's life, in no
        cache. The caller vouches that they are what :meth:`features` would compute
        (:func:`~strf_core.retrieval.bundle.install_bundle` checks a shipped bundle first).

        Shape:
            features: ``(G, D)``, any float dtype; kept as float32.

        Raises:
            ValueError: not one row per gallery tracklet.
        """
        if features.dim() != 2 or len(features) != len(self):
            raise ValueError(
                f"installed embeddings must be ({len(self)}, D), one row per gallery tracklet, "
                f"got {tuple(features.shape)}"
            )
        key = self.model_key(model)
        with self._lock:
            self._installed[key + self.data_key] = features.detach().float().cpu().contiguous()
            self._memory.pop(key + self.data_key, None)

    def features(self, model: ReIDModel, *, progress: bool = False) -> Tensor:
        """The gallery's embeddings for ``model`` under the current branch switches.

        From memory, else installed (:meth:`install`), else from the disk cache, else embedded
        with :func:`~strf_core.features.extract_features` and cached.

        Shape:
            ``(G, D)``, float32 on the CPU.
        """
        return self._entry(model, progress).features()

    def _entry(self, model: ReIDModel, progress: bool) -> BruteForceIndex | FaissIndex:
        """The search index of the gallery's embeddings, the only copy kept in memory."""
        key = self.model_key(model)
        with self._lock:
            data = self.data_key
            key_lock = self._key_locks.setdefault(key + data, threading.Lock())
        with key_lock:  # one thread embeds; the others wait for its result
            with self._lock:
                if key + data in self._memory:
                    self._memory.move_to_end(key + data)
                    return self._memory[key + data]
                features = self._installed.get(key + data)
            if features is None and self.cache is not None:
                features = self.cache.load(key, data, len(self))
            if features is None:
                features = extract_features(
                    model, self.tracklets, progress=progress, **self._extract
                )
                if self.cache is not None:
                    self.cache.save(key, data, features)
            entry = FaissIndex(features) if self.index == "faiss" else BruteForceIndex(features)
            with self._lock:
                self._memory[key + data] = entry
                while len(self._memory) > self.memory_slots:
                    self._memory.popitem(last=False)
            return entry

    def precompute(
        self,
        model: ReIDModel,
        branch_sets: Sequence[Sequence[str]] | None = None,
        *,
        progress: bool = False,
    ) -> int:
        """Embed the gallery for several branch sets ahead of time, so that a later toggle
        ranks from the cache (milliseconds) instead of embedding the gallery again (seconds).

        Args:
            model: the model.
            branch_sets: the sets of switched-on branches; ``None``: every subset of the
                branches the model's STRF units have (16 for the four branches).
            progress: show a progress bar per embedding.

        Returns:
            How many branch sets had to be embedded (the others were cached already).
        """
        missing = self.missing(model, branch_sets)
        for names in missing:
            with active_branches(*names):
                self.features(model, progress=progress)
        return len(missing)

    def missing(
        self, model: ReIDModel, branch_sets: Sequence[Sequence[str]] | None = None
    ) -> list[tuple[str, ...]]:
        """The branch sets (default: all, as :meth:`precompute`) whose embeddings are neither
        in memory, nor installed, nor in the disk cache: those a toggle would wait for."""
        if branch_sets is None:
            branch_sets = [names or () for names in all_branch_sets(model)]
        missing, seen = [], set()
        for names in branch_sets:
            with active_branches(*names):
                model_key = self.model_key(model)
            key = model_key + self.data_key
            with self._lock:
                cached = key in self._memory or key in self._installed or key in seen
            if not cached and self.cache is not None:
                cached = self.cache.path(model_key, self.data_key).is_file()
            if not cached:
                missing.append(tuple(names))
                seen.add(key)  # a set listed twice (or two sets one model treats alike): once
        return missing

    def embed_query(self, model: ReIDModel, query: Tracklet | Tensor) -> Tensor:
        """A query's embedding with this gallery's settings.

        Args:
            model: the model.
            query: a tracklet on disk, or a uint8 clip ``(3, T, H, W)`` already at the
                gallery's frame size (``load_clip``, a user tracklet's ``clip``).

        Shape:
            Returns ``(D,)``.
        """
        if isinstance(query, Tracklet):
            return extract_features(model, [query], **self._extract)[0]
        if tuple(query.shape[-2:]) != self._extract["size"]:
            raise ValueError(
                f"the query clip is {tuple(query.shape[-2:])}, the gallery's frames are "
                f"{self._extract['size']}: resize it first"
            )
        return embed_clip(model, query, chunk_len=self._extract["chunk_len"])

    def score(self, model: ReIDModel, feature: Tensor, pid: int, camid: int) -> QueryScore:
        """Rank of the first true match and AP of a query, over the whole gallery.

        Args:
            model: the model (its branch switches come from the calling context).
            feature: the query's embedding (e.g. ``Ranking.query_feature``).
            pid, camid: the query's labels.

        Shape:
            feature: ``(D,)``.
        """
        features = self._entry(model, progress=False).features()
        distances = cosine_distance(feature.float().reshape(1, -1), features)  # (1, G)
        result = rank_queries(distances, [pid], self.pids, [camid], self.camids)
        matches = np.flatnonzero((self.pids == pid) & (self.camids != camid))
        if not len(matches):
            return QueryScore(None, None, 0, None, None)
        best = int(matches[np.argmin(distances[0, matches].numpy())])
        return QueryScore(
            first_match=int(result.first_rank[0]) + 1,
            average_precision=float(result.ap[0]),
            num_matches=len(matches),
            best_match=best,
            best_match_similarity=1.0 - float(distances[0, best]),
        )

    def rank(
        self,
        model: ReIDModel,
        query: Tracklet | Tensor,
        *,
        k: int = 10,
        pid: int | None = None,
        camid: int | None = None,
        exclude_junk: bool = False,
    ) -> Ranking:
        """The ``k`` gallery entries nearest to ``query``.

        Args:
            model: the model (its branch switches come from the calling context).
            query: a :class:`Tracklet`, a uint8 clip ``(3, T, H, W)`` at the gallery's frame
                size, or an embedding ``(D,)``.
            k: hits to return.
            pid, camid: the query's labels (taken from a :class:`Tracklet` when not given);
                without a pid every hit but distractors is ``"unknown"``.
            exclude_junk: drop same-pid same-camera entries, as the evaluation protocol does.
        """
        if k < 1:
            raise ValueError(f"k must be >= 1, got {k}")
        if isinstance(query, Tracklet):
            pid = query.pid if pid is None else pid
            camid = query.camid if camid is None else camid
        if isinstance(query, Tensor) and query.dim() == 1:
            feature = query.float().cpu()
        else:
            feature = self.embed_query(model, query)
        searcher = self._entry(model, progress=False)
        junk = self.pids == -1
        if pid is not None:
            junk |= (self.pids == pid) & (self.camids == camid)
        extra = int(junk.sum()) if exclude_junk else 0  # fetch enough to fill k without them
        wanted = min(k + extra, len(self))
        distances, indices = searcher.search(feature[None], wanted)
        hits: list[Hit] = []
        for distance, index in zip(distances[0].tolist(), indices[0].tolist(), strict=True):
            kind = hit_kind(pid, camid, int(self.pids[index]), int(self.camids[index]))
            if exclude_junk and kind == "junk":
                continue
            hits.append(
                Hit(
                    len(hits) + 1,
                    index,
                    distance,
                    int(self.pids[index]),
                    int(self.camids[index]),
                    kind,
                )
            )
            if len(hits) == k:
                break
        switched_on = current_active_branches()
        return Ranking(
            hits=hits,
            query_pid=pid,
            query_camid=camid,
            query_feature=feature,
            branches=None if switched_on is None else tuple(sorted(switched_on)),
        )
