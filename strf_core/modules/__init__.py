"""The STRF unit, its attention product and its branch switches; the units compared with it
(AP3D's non-local block and APM)."""

from strf_core.modules.apm import APM
from strf_core.modules.attention import attention_mask, factorized_attention
from strf_core.modules.nonlocal_block import NonLocalBlock3D
from strf_core.modules.strf import STRF, FactorizedBranch
from strf_core.modules.switches import BRANCH_NAMES, active_branches, current_active_branches

__all__ = [
    "APM",
    "BRANCH_NAMES",
    "STRF",
    "FactorizedBranch",
    "NonLocalBlock3D",
    "active_branches",
    "attention_mask",
    "current_active_branches",
    "factorized_attention",
]
