"""The STRF unit, its attention product and its branch switches."""

from strf_core.modules.attention import attention_mask, factorized_attention
from strf_core.modules.strf import STRF, FactorizedBranch
from strf_core.modules.switches import BRANCH_NAMES, active_branches, current_active_branches

__all__ = [
    "BRANCH_NAMES",
    "STRF",
    "FactorizedBranch",
    "active_branches",
    "attention_mask",
    "current_active_branches",
    "factorized_attention",
]
