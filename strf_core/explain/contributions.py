"""How much each STRF branch adds: the norm of its output against its input.

A branch ``b`` of a unit with input ``x`` attends over the tensor it is given, ``x_b`` (``x``
itself, or in a cascade the other factorization's output), and produces
``out_b = x_b_hat @ M_b``. Two ratios say how much it matters:

- ``relative_norm = ||out_b|| / ||x_b||``: how much of its input the mask keeps. Each output
  position is a convex combination of input positions, so this is at most about 1: near 1 for a
  mask that copies positions (one-hot), lower for one that averages unlike positions.
- ``residual_share = ||gamma * out_b|| / ||x||``: what the branch's output, at the residual scale
  ``gamma`` learned by the unit, adds to the unit's input (``gamma = 1`` without the residual).
  Exact for the branches of the last factorization of a cascade and for parallel units; for the
  first factorization of a cascade it is what the branch would add on its own.
"""

from __future__ import annotations

from typing import NamedTuple

from torch import Tensor

from strf_core.modules import STRF


class BranchContribution(NamedTuple):
    """The two ratios of the module docstring, for one branch and one clip."""

    relative_norm: float
    residual_share: float


def branch_output(branch_input: Tensor, mask: Tensor) -> Tensor:
    """``x_b_hat @ M_b``, the branch's output (eq. 1), without the residual scale.

    Shape:
        branch_input: ``(N, C, T, H, W)``; mask: ``(N, HW, HW)``. Returns: like branch_input.
    """
    n, c, t, h, w = branch_input.shape
    values = branch_input.reshape(n, c * t, h * w).float()  # (N, C*T, HW)
    return (values @ mask.float()).reshape(n, c, t, h, w)


def branch_contributions(
    unit: STRF,
    unit_input: Tensor,
    branch_inputs: dict[str, Tensor],
    masks: dict[str, Tensor],
) -> dict[str, BranchContribution]:
    """The contribution of every branch that ran, for the first clip of the batch.

    Args:
        unit: the STRF unit (for its ``gamma``).
        unit_input: the unit's input ``x``.
        branch_inputs: each branch's input ``x_b``, by branch name.
        masks: each branch's mask ``M_b``, by branch name.

    Shape:
        unit_input and branch_inputs: ``(N, C, T, H, W)``; masks: ``(N, HW, HW)``.
    """
    gamma = 1.0 if unit.gamma is None else abs(float(unit.gamma.detach()))
    x_norm = float(unit_input[0].float().norm())
    out: dict[str, BranchContribution] = {}
    for name, mask in masks.items():
        x_b = branch_inputs[name][:1]
        y_norm = float(branch_output(x_b, mask[:1]).norm())
        out[name] = BranchContribution(
            relative_norm=_ratio(y_norm, float(x_b.float().norm())),
            residual_share=_ratio(gamma * y_norm, x_norm),
        )
    return out


def _ratio(a: float, b: float) -> float:
    return a / b if b > 0 else 0.0
