"""Re-ID metrics: CMC, mAP, distances."""

from strf_core.metrics.distance import cosine_distance
from strf_core.metrics.per_query import (
    PairedAP,
    median_difference_query,
    paired_ap,
    query_average_precision,
)
from strf_core.metrics.rank import (
    QueryResults,
    aggregate_splits,
    evaluate_rank,
    evaluate_rank_subsets,
    rank_queries,
    summarize,
)

__all__ = [
    "PairedAP",
    "QueryResults",
    "aggregate_splits",
    "cosine_distance",
    "evaluate_rank",
    "evaluate_rank_subsets",
    "median_difference_query",
    "paired_ap",
    "query_average_precision",
    "rank_queries",
    "summarize",
]
