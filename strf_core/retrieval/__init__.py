"""Ranked retrieval: a cached, batched gallery and top-k search with labelled hits.

``embed_clip`` and ``load_clip`` come from :mod:`strf_core.features`, below this package.
"""

from strf_core.features import embed_clip, load_clip
from strf_core.retrieval.cache import EmbeddingCache
from strf_core.retrieval.gallery import HIT_KINDS, Gallery, Hit, QueryScore, Ranking, hit_kind
from strf_core.retrieval.keys import data_key, model_key, weights_digest
from strf_core.retrieval.search import FaissIndex, faiss_available, topk_cosine

__all__ = [
    "HIT_KINDS",
    "EmbeddingCache",
    "FaissIndex",
    "Gallery",
    "Hit",
    "QueryScore",
    "Ranking",
    "data_key",
    "embed_clip",
    "faiss_available",
    "hit_kind",
    "load_clip",
    "model_key",
    "topk_cosine",
    "weights_digest",
]
