"""STRF Explorer: Spatio-Temporal Representation Factorization for video person re-ID."""

from strf_core.models import ReIDOutput, build_model, count_parameters, list_models
from strf_core.modules import BRANCH_NAMES, STRF, active_branches

__version__ = "0.1.0"

__all__ = [
    "BRANCH_NAMES",
    "STRF",
    "ReIDOutput",
    "active_branches",
    "build_model",
    "count_parameters",
    "list_models",
]
