"""The factorized attention mask (FAM) step by step, with every intermediate kept (eq. 1-3).

A branch computes its mask in one call (:meth:`~strf_core.modules.FactorizedBranch.mask`); the
tutorials and the dashboard show the steps in between, with the branch's own weights::

    f (N, C, T, H, W)
      reduced = H(f)                 1x1x1 conv C -> C/n        (N, C/n, T, H, W)
      pooled  = G(reduced)           max/avg pool, stride 1     (N, C/n, T, H, W)
      keys    = T                    reshape (cosine: L2 norm)  (N, C/n*T, HW)
      logits  = kappa T^T T                                     (N, HW, HW)
      frame_logits                   each frame's share         (N, T, HW, HW), sum over T = logits
      mask    = softmax(logits, dim=-2)  columns sum to 1       (N, HW, HW)
      values  = f_hat                f reshaped                 (N, C*T, HW)
      output  = f_hat @ M            reshaped back              (N, C, T, H, W)

:func:`fam_steps` accepts other ``kappa``, ``similarity`` and pooling sizes than the branch was
built with (the notebooks' sliders); :func:`unit_steps` runs a whole STRF unit from these steps,
so that its result can be checked against the unit's own forward pass.

A unit built "without FAM" (``STRF(fam=False)``, Fig. 6a; SPEC section 5) has no reduction
``H`` and no pooling ``G``: its keys are the input itself, so ``reduced`` and ``pooled`` are the
input, ``pool_kernel`` is ``(1, 1, 1)`` and ``FamSteps.fam`` is ``False``; a pooling kernel
other than ``(1, 1, 1)`` is refused, since that unit has no pooling to resize.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from strf_core.modules import STRF, FactorizedBranch
from strf_core.modules.strf import SIMILARITIES, SameAvgPool3d
from strf_core.modules.switches import SPATIAL_BRANCHES, TEMPORAL_BRANCHES


class FamSteps(NamedTuple):
    """Every intermediate of one branch on one input (module docstring for the shapes).

    Attributes:
        reduced: ``H(f)``, the 1x1x1 channel reduction.
        pooled: ``G(H(f))``, after the stride-1 pooling.
        keys: ``T``, pooled features with time folded into channels (unit norm per position for
            cosine similarity).
        logits: ``C = kappa T^T T``.
        frame_logits: frame ``t``'s share of the logits (its channels' part of the dot product);
            they sum over ``T`` to ``logits``.
        mask: ``M = softmax(C, dim=-2)``: column ``j`` is where position ``j`` draws from.
        values: ``f_hat``, the un-reduced input.
        output: ``f_hat @ M``, in the input's shape.
        kappa: the temperature used.
        similarity: ``"dot"`` or ``"cosine"``.
        pool_kernel: the pooling kernel ``(kt, kh, kw)`` used (``(1, 1, 1)``: none).
        fam: ``False`` for a branch of a unit without FAM (Fig. 6a): no reduction, no pooling,
            the keys are the input itself.
    """

    reduced: Tensor
    pooled: Tensor
    keys: Tensor
    logits: Tensor
    frame_logits: Tensor
    mask: Tensor
    values: Tensor
    output: Tensor
    kappa: float
    similarity: str
    pool_kernel: tuple[int, int, int]
    fam: bool = True


def _has_fam(branch: FactorizedBranch) -> bool:
    """Whether the branch has its reduction ``H`` and pooling ``G`` (not ``fam=False``)."""
    return not isinstance(branch.reduce, nn.Identity)


def _kernel(pool: nn.Module) -> tuple[int, int, int]:
    if isinstance(pool, nn.Identity):  # without FAM: no pooling, as a 1x1x1 kernel would do
        return (1, 1, 1)
    size = pool.kernel_size
    return tuple(size) if isinstance(size, tuple | list) else (size, size, size)


def _pool(branch: FactorizedBranch, x: Tensor, kernel: tuple[int, int, int] | None) -> Tensor:
    """The branch's pooling ``G``, or the same kind of pooling with another kernel."""
    if kernel is None or tuple(kernel) == _kernel(branch.pool):
        return branch.pool(x)
    if not _has_fam(branch):
        raise ValueError(
            f"pool_kernel {tuple(kernel)}: this branch is built without FAM (fam=False, Fig. 6a) "
            "and has no pooling G to resize; only (1, 1, 1) (the default) applies"
        )
    if any(k < 1 or k % 2 == 0 for k in kernel):
        raise ValueError(f"pool_kernel sizes must be positive and odd, got {tuple(kernel)}")
    if isinstance(branch.pool, SameAvgPool3d):
        return SameAvgPool3d(tuple(kernel))(x)
    return F.max_pool3d(x, kernel, stride=1, padding=tuple(k // 2 for k in kernel))


@torch.no_grad()
def fam_steps(
    branch: FactorizedBranch,
    x: Tensor,
    *,
    kappa: float | None = None,
    similarity: str | None = None,
    pool_kernel: tuple[int, int, int] | None = None,
) -> FamSteps:
    """One branch's factorized attention, step by step, in float32.

    With the defaults, ``output`` equals ``branch(x)`` (to float32 rounding).

    Args:
        branch: a branch of an STRF unit (``unit.branches["s_coarse"]``); its reduction weights
            are used.
        x: the branch's input (the unit's input, or in a cascade the other factorization's
            output).
        kappa: temperature (default: the branch's).
        similarity: ``"dot"`` or ``"cosine"`` (default: the branch's).
        pool_kernel: pooling kernel ``(kt, kh, kw)``, odd sizes (default: the branch's);
            ``(r, 1, 1)`` pools over time, ``(1, r, r)`` over space.

    Raises:
        ValueError: an unknown similarity, an even kernel size, or a kernel other than
            ``(1, 1, 1)`` for a branch without FAM (it has no pooling).

    Shape:
        x: ``(N, C, T, H, W)``; see :class:`FamSteps` for the rest.
    """
    similarity = branch.similarity if similarity is None else similarity
    if similarity not in SIMILARITIES:
        raise ValueError(f"similarity must be one of {SIMILARITIES}, got {similarity!r}")
    kappa = branch.kappa if kappa is None else float(kappa)
    n, c, t, h, w = x.shape
    reduced = branch.reduce(x).float()  # (N, C/n, T, H, W); without FAM: x, (N, C, T, H, W)
    pooled = _pool(branch, reduced, pool_kernel)  # (N, C/n, T, H, W)
    keys = pooled.flatten(1, 2).flatten(2)  # (N, C/n*T, HW)
    if similarity == "cosine":
        keys = F.normalize(keys, dim=1)
    per_frame = keys.reshape(n, -1, t, h * w)  # (N, C/n, T, HW)
    frame_logits = kappa * torch.einsum("ncti,nctj->ntij", per_frame, per_frame)  # (N, T, HW, HW)
    logits = kappa * keys.transpose(1, 2) @ keys  # (N, HW, HW)
    mask = torch.softmax(logits, dim=-2)  # columns sum to 1
    values = x.reshape(n, c * t, h * w).float()  # (N, C*T, HW)
    output = (values @ mask).reshape(n, c, t, h, w)
    return FamSteps(
        reduced=reduced,
        pooled=pooled,
        keys=keys,
        logits=logits,
        frame_logits=frame_logits,
        mask=mask,
        values=values,
        output=output,
        kappa=kappa,
        similarity=similarity,
        pool_kernel=_kernel(branch.pool) if pool_kernel is None else tuple(pool_kernel),
        fam=_has_fam(branch),
    )


class UnitSteps(NamedTuple):
    """A whole STRF unit computed from :func:`fam_steps` (eq. 1, 5, 7, 8).

    Attributes:
        branches: each active branch's steps, on the input it attends over.
        temporal: ``temporal(.) = t_dynamic + t_static`` on its input, ``None`` when no temporal
            branch ran.
        spatial: ``spatial(.) = s_fine + s_coarse`` on its input, ``None`` when no spatial branch
            ran.
        combined: ``phi(f)``, the integration of the two factorizations.
        output: the unit's output, ``f + gamma * phi(f)`` (``phi(f)`` without the residual).
    """

    branches: dict[str, FamSteps]
    temporal: Tensor | None
    spatial: Tensor | None
    combined: Tensor
    output: Tensor


@torch.no_grad()
def unit_steps(unit: STRF, x: Tensor) -> UnitSteps:
    """The unit's forward pass rebuilt from its branches' steps, honouring its integration
    order, its residual and the current :func:`~strf_core.active_branches`.

    ``output`` equals ``unit(x)`` (to float32 rounding): the notebooks check it.

    Shape:
        x: ``(N, C, T, H, W)``; every tensor of the result has that shape.
    """
    active = unit.active_branch_names()
    x = x.float()
    branches: dict[str, FamSteps] = {}

    def factorize(inp: Tensor, names: tuple[str, ...]) -> Tensor | None:
        for name in names:
            branches[name] = fam_steps(unit.branches[name], inp)
        outputs = [branches[name].output for name in names]
        return torch.stack(outputs).sum(dim=0) if outputs else None

    temporal_names = tuple(n for n in active if n in TEMPORAL_BRANCHES)
    spatial_names = tuple(n for n in active if n in SPATIAL_BRANCHES)
    if unit.integration == "t->s":
        temporal = factorize(x, temporal_names)
        spatial = factorize(x if temporal is None else temporal, spatial_names)
        combined = spatial if spatial is not None else temporal
    elif unit.integration == "s->t":
        spatial = factorize(x, spatial_names)
        temporal = factorize(x if spatial is None else spatial, temporal_names)
        combined = temporal if temporal is not None else spatial
    else:
        temporal = factorize(x, temporal_names)
        spatial = factorize(x, spatial_names)
        parts = [p for p in (temporal, spatial) if p is not None]
        combined = torch.stack(parts).sum(dim=0) if parts else None
    if combined is None:  # no branch active: the unit is the identity
        return UnitSteps(branches, None, None, x, x)
    output = combined if unit.gamma is None else x + unit.gamma.float() * combined
    return UnitSteps(branches, temporal, spatial, combined, output)
