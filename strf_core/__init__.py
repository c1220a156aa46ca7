"""STRF Explorer: Spatio-Temporal Representation Factorization for video person re-ID.

The names below are imported on first use (PEP 562), so that ``import strf_core.cli`` (and
``strf --help``) does not load PyTorch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_LAZY = {
    "BRANCH_NAMES": "strf_core.modules",
    "STRF": "strf_core.modules",
    "ReIDOutput": "strf_core.models",
    "active_branches": "strf_core.modules",
    "build_model": "strf_core.models",
    "count_parameters": "strf_core.models",
    "list_models": "strf_core.models",
}

if TYPE_CHECKING:
    from strf_core.models import ReIDOutput, build_model, count_parameters, list_models
    from strf_core.modules import BRANCH_NAMES, STRF, active_branches


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value  # found directly from now on
        return value
    raise AttributeError(f"module 'strf_core' has no attribute {name!r}")


__all__ = [
    "BRANCH_NAMES",
    "STRF",
    "ReIDOutput",
    "active_branches",
    "build_model",
    "count_parameters",
    "list_models",
]
