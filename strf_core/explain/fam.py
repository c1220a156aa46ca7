"""Factorized attention masks (FAM) of a trained model, read through forward hooks.

Every STRF branch computes its keys from one tensor: the unit's input, or in a cascade the
other factorization's output. A forward pre-hook on the branch's reduction convolution
(``"layer2.0.strf.branches.s_fine.reduce"``) records exactly that tensor, on the fused and the
explicit path alike, and ``branch.mask(recorded)`` gives the mask the model used::

    unit input x ---------------------------------- pre-hook "<unit>"          (N, C, T, h, w)
    t->s: t_dynamic, t_static keys from x  -------- pre-hooks "<unit>.branches.t_*.reduce"
          s_fine, s_coarse keys from temporal(x) -- pre-hooks "<unit>.branches.s_*.reduce"
    M_b = branch.mask(x_b)                                                     (N, hw, hw)

A column ``M[:, j]`` is a distribution over source positions: where output position ``j``
draws its features from. A row ``M[i, :]`` says where position ``i``'s features go. Time is
folded into the features, so one mask serves every frame of the clip. A switched-off branch
(:func:`strf_core.active_branches`) does not run and has no mask.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from strf_core.explain.contributions import BranchContribution, branch_contributions
from strf_core.explain.gradcam import prepare_clip
from strf_core.explain.hooks import capture_inputs, get_module
from strf_core.explain.isolation import isolated
from strf_core.modules import STRF

DIRECTIONS = ("column", "row")


class MaskStats(NamedTuple):
    """How concentrated a mask's columns are, averaged over output positions.

    Attributes:
        entropy: entropy of a column, in nats.
        normalized_entropy: entropy over ``log(hw)``: 0 for one-hot columns, 1 for uniform ones.
        effective_positions: ``exp(entropy)``: how many source positions a column draws from.
        peak: the largest weight of a column (1 for one-hot, ``1/hw`` for uniform).
    """

    entropy: float
    normalized_entropy: float
    effective_positions: float
    peak: float


def mask_stats(mask: Tensor) -> MaskStats:
    """Concentration of a mask whose columns sum to 1.

    Shape:
        mask: ``(L, L)`` or ``(N, L, L)`` (averaged over the batch too).
    """
    m = mask.float().reshape(-1, *mask.shape[-2:])  # (N, L, L)
    length = m.shape[-1]
    plogp = torch.where(m > 0, m * torch.log(m.clamp_min(1e-30)), torch.zeros_like(m))
    entropy = -plogp.sum(dim=1)  # (N, L): one entropy per column
    return MaskStats(
        entropy=float(entropy.mean()),
        normalized_entropy=float(entropy.mean() / math.log(length)) if length > 1 else 0.0,
        effective_positions=float(entropy.exp().mean()),
        peak=float(m.amax(dim=1).mean()),
    )


def mask_view(
    mask: Tensor,
    grid: tuple[int, int],
    cell: tuple[int, int],
    *,
    direction: str = "column",
    size: tuple[int, int] | None = None,
) -> Tensor:
    """One position's mask weights as an image, scaled to a largest value of 1.

    Args:
        mask: one clip's mask, columns summing to 1.
        grid: the feature map's ``(h, w)``.
        cell: ``(row, col)`` of the position in the feature map (see :func:`cell_at`).
        direction: ``"column"``: where this position draws its features from; ``"row"``: where
            its features go.
        size: frame ``(H, W)`` to blow the grid up to (each cell a block of pixels); ``None``
            keeps the grid.

    Returns:
        Non-negative weights over the frame, divided by their maximum (all zero stays zero).

    Shape:
        mask: ``(hw, hw)``. Returns: ``(H, W)`` (or ``(h, w)``).
    """
    weights = _position_weights(mask, grid, cell, direction)
    peak = weights.max()
    weights = weights / peak if peak > 0 else torch.zeros_like(weights)
    if size is not None:
        weights = F.interpolate(weights[None, None], size=size, mode="nearest")[0, 0]
    return weights


def relative_weights(
    mask: Tensor, grid: tuple[int, int], cell: tuple[int, int], *, direction: str = "column"
) -> Tensor:
    """One position's mask weights in units of the uniform weight ``1/hw``, on a scale shared
    by every mask of every unit: 1 where the mask weighs a position as a uniform average
    would, ``hw`` where it puts everything on that one position, 0 where it puts nothing.

    Unlike :func:`mask_view` (scaled to its own maximum, so a near-uniform mask looks as
    structured as a peaked one), masks stay comparable across positions, branches and units.

    Args:
        mask: one clip's mask, columns summing to 1.
        grid: the feature map's ``(h, w)``.
        cell: ``(row, col)`` of the position.
        direction: ``"column"`` (where it draws from) or ``"row"`` (where it sends to).

    Shape:
        mask: ``(hw, hw)``. Returns: ``(h, w)``.
    """
    h, w = grid
    return _position_weights(mask, grid, cell, direction) * (h * w)


def relative_log2(weights: Tensor, *, limit: float = 4.0) -> Tensor:
    """``log2`` of :func:`relative_weights`, clipped to ``[-limit, limit]``: 0 where a mask
    weighs a position as a uniform average does, ``+1`` at twice that, ``-limit`` for
    ``2**-limit`` times it or less (zero included). A scale that shows a near-uniform mask
    as flat and a peaked one as peaked, the same for every unit and grid.

    Shape:
        any; returned the same.
    """
    if limit <= 0:
        raise ValueError(f"limit must be > 0, got {limit}")
    return torch.log2(weights.float().clamp_min(2.0**-limit)).clamp_(-limit, limit)


def _position_weights(
    mask: Tensor, grid: tuple[int, int], cell: tuple[int, int], direction: str
) -> Tensor:
    """The column (or row) of ``mask`` at ``cell`` as an ``(h, w)`` float map, validated."""
    if direction not in DIRECTIONS:
        raise ValueError(f"direction must be one of {DIRECTIONS}, got {direction!r}")
    h, w = grid
    if mask.shape != (h * w, h * w):
        raise ValueError(f"mask {tuple(mask.shape)} does not fit a {h}x{w} grid")
    row, col = cell
    if not (0 <= row < h and 0 <= col < w):
        raise ValueError(f"cell {cell} lies outside the {h}x{w} grid")
    j = row * w + col
    return (mask[:, j] if direction == "column" else mask[j, :]).float().reshape(h, w)


def cell_at(
    pixel: tuple[float, float], frame_size: tuple[int, int], grid: tuple[int, int]
) -> tuple[int, int]:
    """The feature-map cell ``(row, col)`` that covers frame pixel ``(y, x)``."""
    (y, x), (hh, ww), (h, w) = pixel, frame_size, grid
    return min(max(int(y * h // hh), 0), h - 1), min(max(int(x * w // ww), 0), w - 1)


@dataclass(frozen=True)
class UnitInspection:
    """The masks of one STRF unit on one clip, with their statistics and contributions.

    Attributes:
        unit: the unit's module name, e.g. ``"layer2.0.strf"``.
        grid: the unit's feature map ``(h, w)``.
        frame_size: the clip's ``(H, W)``.
        integration: the unit's ``"t->s"``, ``"s->t"`` or ``"parallel"``.
        gamma: its residual scale (``None`` without the residual).
        branches: the branches that ran (built and switched on), in the unit's order.
        masks: each branch's mask ``(hw, hw)``, columns summing to 1.
        stats: each branch's :class:`MaskStats`.
        contributions: each branch's
            :class:`~strf_core.explain.contributions.BranchContribution`.
    """

    unit: str
    grid: tuple[int, int]
    frame_size: tuple[int, int]
    integration: str
    gamma: float | None
    branches: tuple[str, ...]
    masks: dict[str, Tensor]
    stats: dict[str, MaskStats]
    contributions: dict[str, BranchContribution]

    def cell_at(self, y: float, x: float) -> tuple[int, int]:
        """The feature-map cell under frame pixel ``(y, x)``."""
        return cell_at((y, x), self.frame_size, self.grid)

    def view(self, branch: str, cell: tuple[int, int], *, direction: str = "column") -> Tensor:
        """:func:`mask_view` of ``branch`` at ``cell``, at frame size ``(H, W)``.

        Raises:
            KeyError: the branch did not run (not built, or switched off).
        """
        if branch not in self.masks:
            raise KeyError(f"branch {branch!r} did not run in {self.unit} (ran: {self.branches})")
        return mask_view(
            self.masks[branch], self.grid, cell, direction=direction, size=self.frame_size
        )


def strf_unit(model: nn.Module, name: str) -> STRF:
    """The STRF unit called ``name``; anything else raises ``ValueError`` listing the units."""
    module = get_module(model, name)
    if not isinstance(module, STRF):
        units = [n for n, m in model.named_modules() if isinstance(m, STRF)]
        raise ValueError(f"{name!r} is not an STRF unit; the model's units: {units or 'none'}")
    return module


def fam_masks(
    model: nn.Module, clip: Tensor, *, units: list[str] | None = None, isolation: str = "copy"
) -> dict[str, dict[str, Tensor]]:
    """The masks of every branch that runs, for each STRF unit, from one forward pass.

    Args:
        model: a model with STRF units, in eval mode.
        clip: one tracklet, uint8 (or normalised float).
        units: unit names (default: all of the model's).
        isolation: see :mod:`strf_core.explain.isolation`.

    Returns:
        ``{unit: {branch: mask}}``; switched-off branches are absent.

    Shape:
        clip: ``(3, T, H, W)``. Masks: ``(hw, hw)``, columns summing to 1.
    """
    with isolated(model, isolation) as net:
        names = (
            units
            if units is not None
            else [n for n, m in net.named_modules() if isinstance(m, STRF)]
        )
        captured = _run_with_branch_hooks(net, clip, names)
        return {
            unit: {b: m[0] for b, m in _masks(strf_unit(net, unit), unit, captured).items()}
            for unit in names
        }


def inspect_unit(
    model: nn.Module, clip: Tensor, unit: str, *, isolation: str = "copy"
) -> UnitInspection:
    """Masks, their concentration and each branch's contribution for one unit and clip.

    Args:
        model: a model with STRF units, in eval mode; the current
            :func:`~strf_core.active_branches` decide which branches run.
        clip: one tracklet, uint8 (or normalised float).
        unit: the unit's module name (``model.strf_units()`` lists them).
        isolation: see :mod:`strf_core.explain.isolation`.

    Shape:
        clip: ``(3, T, H, W)``.
    """
    with isolated(model, isolation) as net:
        module = strf_unit(net, unit)
        captured = _run_with_branch_hooks(net, clip, [unit])
        masks = _masks(module, unit, captured)
        branch_inputs = {b: captured[_reduce_name(unit, b)] for b in masks}
        contributions = branch_contributions(module, captured[unit], branch_inputs, masks)
        gamma = None if module.gamma is None else float(module.gamma.detach())
    grid = tuple(captured[unit].shape[-2:])
    return UnitInspection(
        unit=unit,
        grid=grid,
        frame_size=(clip.shape[-2], clip.shape[-1]),
        integration=module.integration,
        gamma=gamma,
        branches=tuple(masks),
        masks={b: m[0].cpu() for b, m in masks.items()},
        stats={b: mask_stats(m[0]) for b, m in masks.items()},
        contributions=contributions,
    )


def _reduce_name(unit: str, branch: str) -> str:
    return f"{unit}.branches.{branch}.reduce"


def _run_with_branch_hooks(net: nn.Module, clip: Tensor, units: list[str]) -> dict[str, Tensor]:
    """Run the backbone once, recording each unit's input and each branch's input."""
    names: list[str] = []
    for unit in units:
        names.append(unit)
        names += [_reduce_name(unit, b) for b in strf_unit(net, unit).branches]
    inputs = prepare_clip(clip).to(next(net.parameters()).device)
    with torch.no_grad(), capture_inputs(net, names) as captured:
        net.forward_features(inputs)
    return dict(captured)


def _masks(module: STRF, unit: str, captured: dict[str, Tensor]) -> dict[str, Tensor]:
    """``branch.mask(x_b)`` for the branches whose input was recorded (those that ran)."""
    with torch.no_grad():
        return {
            b: branch.mask(captured[_reduce_name(unit, b)])
            for b, branch in module.branches.items()
            if _reduce_name(unit, b) in captured
        }
