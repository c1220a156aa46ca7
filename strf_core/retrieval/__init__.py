"""Ranked retrieval: a cached, batched gallery and top-k search with labelled hits.

``embed_clip`` and ``load_clip`` come from :mod:`strf_core.features`, below this package.
"""

from strf_core.features import embed_clip, load_clip
from strf_core.retrieval.bundle import (
    BUNDLE_NAME,
    BundleCheck,
    BundleError,
    install_bundle,
    write_bundle,
)
from strf_core.retrieval.cache import EmbeddingCache
from strf_core.retrieval.gallery import (
    HIT_KINDS,
    Gallery,
    Hit,
    QueryScore,
    Ranking,
    all_branch_sets,
    hit_kind,
)
from strf_core.retrieval.keys import data_key, model_key, weights_digest
from strf_core.retrieval.search import (
    BruteForceIndex,
    FaissIndex,
    faiss_available,
    topk_cosine,
)

__all__ = [
    "BUNDLE_NAME",
    "HIT_KINDS",
    "BruteForceIndex",
    "BundleCheck",
    "BundleError",
    "EmbeddingCache",
    "FaissIndex",
    "Gallery",
    "Hit",
    "QueryScore",
    "Ranking",
    "all_branch_sets",
    "data_key",
    "embed_clip",
    "faiss_available",
    "hit_kind",
    "install_bundle",
    "load_clip",
    "model_key",
    "topk_cosine",
    "weights_digest",
    "write_bundle",
]
