"""The STRF unit (Aich et al., ICCV 2021, Sec. 3): four factorized attention branches.

::

    x (N, C, T, H, W)
     |-- t_dynamic: reduce C->C/n, max-pool (r_fine, 1, 1)    -> mask over HW -> x_hat @ M
     |-- t_static : reduce C->C/n, max-pool (r_coarse, 1, 1)  -> mask over HW -> x_hat @ M
     |-- s_fine   : reduce C->C/n, max-pool (1, r_fine, r_fine)
     '-- s_coarse : reduce C->C/n, max-pool (1, r_coarse, r_coarse)
    temporal(f) = t_dynamic(f) + t_static(f)           (eq. 5)
    spatial(f)  = s_fine(f) + s_coarse(f)              (eq. 7)
    "t->s": spatial(temporal(x)); "s->t": temporal(spatial(x)); "parallel": temporal(x) + spatial(x)
    out = x + gamma * phi(x)     (residual=True, gamma = 0 at init)   or   out = phi(x)

Every mask relates the H*W spatial positions, with time folded into the feature dimension: the
temporal branches differ from the spatial ones in pooling the keys over time.

On the explicit path the branches of one factorization share a single product with their summed
masks, ``x_hat @ M_1 + x_hat @ M_2 = x_hat @ (M_1 + M_2)``: the same result for half the work.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from strf_core.modules.attention import (
    ATTENTION_PATHS,
    apply_mask,
    attention_mask,
    factorized_attention,
    use_fused,
)
from strf_core.modules.switches import (
    BRANCH_NAMES,
    SPATIAL_BRANCHES,
    TEMPORAL_BRANCHES,
    check_branch_names,
    current_active_branches,
)

INTEGRATIONS = ("t->s", "s->t", "parallel")
POOLS = ("max", "avg")
SIMILARITIES = ("dot", "cosine")


class SameAvgPool3d(nn.Module):
    """Stride-1 average pooling with "same" padding that averages real neighbours only.

    ``nn.AvgPool3d(count_include_pad=False)`` refuses maps smaller than its kernel (a 4x2 map of
    a 64x32 clip at stage 3 with ``r = 3``); padding explicitly and dividing by the number of
    real positions in each window gives the same result at any size.

    Shape:
        ``(N, C, T, H, W) -> (N, C, T, H, W)``
    """

    def __init__(self, kernel_size: tuple[int, int, int]) -> None:
        super().__init__()
        self.kernel_size = kernel_size
        kt, kh, kw = kernel_size
        self.pads = (kw // 2, kw // 2, kh // 2, kh // 2, kt // 2, kt // 2)

    def forward(self, x: Tensor) -> Tensor:
        total = F.avg_pool3d(F.pad(x, self.pads), self.kernel_size, stride=1)
        real = F.avg_pool3d(
            F.pad(torch.ones_like(x[:1, :1]), self.pads), self.kernel_size, stride=1
        )
        return total / real

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}"


class FactorizedBranch(nn.Module):
    """One feature factorization module FFM(d, k) with its factorized attention mask (eq. 1-3).

    Args:
        channels: input channels ``C``.
        reduced_channels: channels ``C/n`` of the reduction ``H_dk``; ``None`` for the unit
            without FAM (Fig. 6a): no reduction and no pooling, the keys are the input itself.
        pool_kernel: kernel ``(kt, kh, kw)`` of the factorizing function ``G_dk`` (odd sizes;
            stride 1, "same" padding).
        pool: ``"max"`` or ``"avg"``.
        kappa: temperature of eq. 3.
        similarity: ``"dot"`` (eq. 3 as written) or ``"cosine"`` (keys L2-normalised per position).
        attention: ``"auto"``, ``"fused"`` or ``"explicit"`` mask product (see
            :mod:`strf_core.modules.attention`).

    Shape:
        ``(N, C, T, H, W) -> (N, C, T, H, W)``
    """

    def __init__(
        self,
        channels: int,
        reduced_channels: int | None,
        pool_kernel: tuple[int, int, int],
        *,
        pool: str = "max",
        kappa: float = 4.0,
        similarity: str = "cosine",
        attention: str = "auto",
    ) -> None:
        super().__init__()
        self.reduce: nn.Module
        self.pool: nn.Module
        padding = tuple(k // 2 for k in pool_kernel)
        if reduced_channels is None:  # without FAM: the keys are the input itself
            self.reduce, self.pool = nn.Identity(), nn.Identity()
        elif pool == "max":
            self.reduce = nn.Conv3d(channels, reduced_channels, kernel_size=1, bias=False)
            self.pool = nn.MaxPool3d(pool_kernel, stride=1, padding=padding)
        else:
            self.reduce = nn.Conv3d(channels, reduced_channels, kernel_size=1, bias=False)
            self.pool = SameAvgPool3d(pool_kernel)
        self.kappa = kappa
        self.similarity = similarity
        self.attention = attention
        # A 1x1x1 pool (r = 1: t_dynamic, s_fine) is the identity: skipped, and kept only so
        # that every branch names its kernel.
        self.pool_is_identity = all(k == 1 for k in pool_kernel)

    def keys(self, x: Tensor) -> Tensor:
        """``T = G(H(x))``, ``(N, C/n*T, HW)``, float32; unit-norm per position for cosine."""
        t = self.reduce(x)  # (N, C/n, T, H, W)
        if not self.pool_is_identity:
            t = self.pool(t)
        t = t.flatten(1, 2).flatten(2).float()  # (N, C/n*T, HW)
        if self.similarity == "cosine":
            t = F.normalize(t, dim=1)
        return t

    def mask(self, x: Tensor) -> Tensor:
        """The attention mask ``M`` of this branch, ``(N, HW, HW)``, columns summing to 1."""
        return attention_mask(self.keys(x), kappa=self.kappa)

    def forward(self, x: Tensor) -> Tensor:
        out = factorized_attention(
            self.keys(x),
            _flatten_values(x),
            kappa=self.kappa,
            fused=use_fused(self.attention, x.device),
            exact_logits=self.similarity == "dot",
        )  # (N, C*T, HW)
        return out.reshape(x.shape)


def _flatten_values(x: Tensor) -> Tensor:
    """``f_hat``, the un-reduced input: ``(N, C, T, H, W) -> (N, C*T, H*W)``."""
    n, c, t, h, w = x.shape
    return x.reshape(n, c * t, h * w)


class STRF(nn.Module):
    """Spatio-Temporal Representation Factorization unit.

    Args:
        channels: input channels ``C``.
        reduction: channel reduction ``n`` of each branch (``C/n`` keys per frame).
        kappa: temperature of the attention masks (eq. 3).
        r_fine: pooling size of the dynamic / fine branches (odd).
        r_coarse: pooling size of the static / coarse branches (odd).
        pool: ``"max"`` (the paper's best, Fig. 4b) or ``"avg"`` for every branch, or
            ``"TEMPORAL/SPATIAL"`` for the temporal and the spatial branches apart (Fig. 4b's
            m/a: ``"max/avg"``).
        integration: ``"t->s"``, ``"s->t"`` or ``"parallel"`` (eq. 8).
        similarity: ``"cosine"`` (keys L2-normalised, as in AP3D) or ``"dot"`` (eq. 3 literally).
        residual: ``x + gamma * STRF(x)`` with ``gamma`` initialised to 0; ``False`` gives the
            literal replacement ``STRF(x)``.
        branches: the branches built (Table 4 trains with subsets); the others do not exist.
        attention: mask product through ``scaled_dot_product_attention`` (``"fused"``), explicitly
            (``"explicit"``), or ``"auto"``: fused on CUDA, explicit on the CPU, where no fused
            kernel takes keys narrower than values (see :mod:`strf_core.modules.attention`).
        fam: ``False`` builds the unit "without FAM" of Fig. 6a (SPEC section 5): every branch
            takes its keys from the input itself, with no reduction ``H`` and no pooling ``G``,
            so all four masks are one; only ``gamma`` is learnt.

    Shape:
        ``(N, C, T, H, W) -> (N, C, T, H, W)``

    Attributes:
        branches: ``nn.ModuleDict`` keyed by ``t_dynamic``, ``t_static``, ``s_fine``, ``s_coarse``;
            each branch has ``.reduce`` (its Conv3d, the only learnable part).
        gamma: the residual scale (``None`` when ``residual=False``).
    """

    def __init__(
        self,
        channels: int,
        *,
        reduction: int = 16,
        kappa: float = 4.0,
        r_fine: int = 1,
        r_coarse: int = 3,
        pool: str = "max",
        integration: str = "t->s",
        similarity: str = "cosine",
        residual: bool = True,
        branches: tuple[str, ...] = BRANCH_NAMES,
        attention: str = "auto",
        fam: bool = True,
    ) -> None:
        super().__init__()
        _check_choice("integration", integration, INTEGRATIONS)
        pools = split_pool(pool)
        _check_choice("similarity", similarity, SIMILARITIES)
        _check_choice("attention", attention, ATTENTION_PATHS)
        for name, r in (("r_fine", r_fine), ("r_coarse", r_coarse)):
            if r < 1 or r % 2 == 0:
                raise ValueError(f"{name} must be a positive odd size for 'same' padding, got {r}")
        if channels < reduction or channels % reduction:
            raise ValueError(f"channels ({channels}) must be a multiple of reduction ({reduction})")
        branches = check_branch_names(branches)
        kernels = {
            "t_dynamic": (r_fine, 1, 1),
            "t_static": (r_coarse, 1, 1),
            "s_fine": (1, r_fine, r_fine),
            "s_coarse": (1, r_coarse, r_coarse),
        }
        self.channels = channels
        self.integration = integration
        self.attention = attention
        self.fam = fam
        self.exact_logits = similarity == "dot"
        self.branches = nn.ModuleDict(
            {
                name: FactorizedBranch(
                    channels,
                    channels // reduction if fam else None,
                    kernels[name],
                    pool=pools[0] if name in TEMPORAL_BRANCHES else pools[1],
                    kappa=kappa,
                    similarity=similarity,
                    attention=attention,
                )
                for name in BRANCH_NAMES
                if name in branches
            }
        )
        self.gamma = nn.Parameter(torch.zeros(())) if residual else None

    def active_branch_names(self) -> tuple[str, ...]:
        """The built branches that the current :func:`active_branches` context leaves on."""
        switched_on = current_active_branches()
        return tuple(n for n in self.branches if switched_on is None or n in switched_on)

    def _factorize(self, x: Tensor, names: tuple[str, ...]) -> Tensor:
        """Sum of the named branches on ``x``; ``x`` itself when none is active (skipped)."""
        if not names:
            return x
        if use_fused(self.attention, x.device):
            out = self.branches[names[0]](x)
            for name in names[1:]:
                out = out + self.branches[name](x)
            return out
        mask = self.branches[names[0]].mask(x)  # (N, HW, HW)
        for name in names[1:]:
            mask = mask + self.branches[name].mask(x)
        return apply_mask(_flatten_values(x), mask, exact_logits=self.exact_logits).reshape(x.shape)

    def forward(self, x: Tensor) -> Tensor:
        if x.dim() != 5 or x.shape[1] != self.channels:
            raise ValueError(
                f"STRF({self.channels}) expects (N, {self.channels}, T, H, W), got {tuple(x.shape)}"
            )
        active = self.active_branch_names()
        if not active:
            return x
        temporal = tuple(n for n in active if n in TEMPORAL_BRANCHES)
        spatial = tuple(n for n in active if n in SPATIAL_BRANCHES)
        if self.integration == "t->s":
            out = self._factorize(self._factorize(x, temporal), spatial)
        elif self.integration == "s->t":
            out = self._factorize(self._factorize(x, spatial), temporal)
        else:
            out = self._factorize(x, active)
        if self.gamma is None:
            return out
        # gamma * out in float32: its gradient sums over the whole tensor, which overflows float16.
        return x + (self.gamma * out.float()).to(x.dtype)

    def extra_repr(self) -> str:
        return (
            f"{self.channels}, integration={self.integration!r}, attention={self.attention!r}, "
            f"residual={self.gamma is not None}" + ("" if self.fam else ", fam=False")
        )


def split_pool(pool: str) -> tuple[str, str]:
    """``pool`` as ``(temporal, spatial)`` pooling: ``"max"`` is ``("max", "max")``,
    ``"max/avg"`` is ``("max", "avg")``.

    Raises:
        ValueError: a part that is not one of :data:`POOLS`, or more than two parts.
    """
    parts = pool.split("/") if isinstance(pool, str) else [pool]
    if len(parts) == 1:
        parts = parts * 2
    if len(parts) != 2 or any(p not in POOLS for p in parts):
        raise ValueError(
            f"pool must be one of {POOLS} or 'TEMPORAL/SPATIAL' of them (e.g. 'max/avg'), "
            f"got {pool!r}"
        )
    return parts[0], parts[1]


def _check_choice(name: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ValueError(f"{name} must be one of {choices}, got {value!r}")
