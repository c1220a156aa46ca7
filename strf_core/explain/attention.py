"""Position-to-position weights of every attention unit, STRF's and the others', in one form.

STRF's masks, the non-local block's attention and APM's alignment weights all say how much a
source position gives to a target position. :func:`unit_attention` reads them the way
:mod:`strf_core.explain.fam` reads STRF's masks: a forward pre-hook records each unit's input
(and each STRF branch's), and the unit's own ``attention`` / ``mask`` method recomputes the
weights from it, so ``forward`` carries no flag::

    unit      maps (name)                  weights (S, L)         grids (t, h, w)
    STRF      one per branch that ran      (hw, hw)               source = target = (1, h, w):
                                                                  time is folded into features
    non-local "nonlocal"                   (T h' w', T h w)       source pooled 2x2 in space
    APM       "t-1", "t+1" (neighbours)    (T h w, T h w)         column (t, j) over frame
                                                                  t -/+ 1 only; zero at the ends

Every column (a target position) is a distribution over source positions (APM's at the clip's
ends: zero, no neighbour there). Positions are flattened frame by frame, row by row.

:func:`position_attention` reads one target's column on the scale the dashboard shows every
unit's masks on: each weight over the weight a uniform choice among the target's own sources
would give (non-local: every pooled position of every frame; APM: the positions of frame
``t + offset`` only; STRF: the ``hw`` positions).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from strf_core.explain.fam import _masks, _reduce_name
from strf_core.explain.gradcam import prepare_clip
from strf_core.explain.hooks import capture_inputs
from strf_core.explain.isolation import isolated
from strf_core.modules import APM, STRF, NonLocalBlock3D

UNIT_KINDS: dict[type[nn.Module], str] = {STRF: "strf", NonLocalBlock3D: "nonlocal", APM: "apm"}


@dataclass(frozen=True)
class AttentionMap:
    """One unit's weights from source to target positions on one clip.

    Attributes:
        unit: the unit's module name (``"layer2.0.strf"``, ``"layer2.1.after"``).
        kind: ``"strf"``, ``"nonlocal"`` or ``"apm"``.
        name: the map within the unit: an STRF branch, ``"nonlocal"``, or APM's neighbour
            (``"t-1"``, ``"t+1"``).
        weights: ``(S, L)``, column ``j`` the weights target ``j`` draws from the sources.
        source_grid: ``(t, h, w)`` of the ``S`` source positions.
        target_grid: ``(t, h, w)`` of the ``L`` target positions.
        offset: APM's source frame relative to the target's (``-1``: target frame ``t`` draws
            from frame ``t - 1`` only); ``None``: a target may draw from every source frame.
    """

    unit: str
    kind: str
    name: str
    weights: Tensor
    source_grid: tuple[int, int, int]
    target_grid: tuple[int, int, int]
    offset: int | None = None

    def view(self, target: tuple[int, int, int]) -> Tensor:
        """Where target position ``(t, row, col)`` draws from: ``(t_s, h_s, w_s)`` weights."""
        t, h, w = self.target_grid
        frame, row, col = target
        if not (0 <= frame < t and 0 <= row < h and 0 <= col < w):
            raise ValueError(f"target {target} lies outside the {t}x{h}x{w} grid")
        return self.weights[:, (frame * h + row) * w + col].reshape(self.source_grid)


def attention_units(model: nn.Module) -> dict[str, nn.Module]:
    """The model's STRF, non-local and APM units by module name, in forward order."""
    return {n: m for n, m in model.named_modules() if type(m) in UNIT_KINDS}


def unit_attention(
    model: nn.Module, clip: Tensor, *, units: list[str] | None = None, isolation: str = "copy"
) -> dict[str, list[AttentionMap]]:
    """Every attention map of the named units (default: all) from one forward pass.

    Args:
        model: a model in eval mode with any of STRF, non-local or APM units.
        clip: one tracklet, uint8 (or normalised float).
        units: module names (:func:`attention_units` lists them).
        isolation: see :mod:`strf_core.explain.isolation`.

    Returns:
        ``{unit: [AttentionMap, ...]}``; switched-off STRF branches have no map.

    Raises:
        ValueError: a name that is not such a unit (the message lists the model's).

    Shape:
        clip: ``(3, T, H, W)``.
    """
    with isolated(model, isolation) as net:
        found = attention_units(net)
        names = list(found) if units is None else units
        unknown = [n for n in names if n not in found]
        if unknown:
            raise ValueError(f"{unknown} are not attention units; the model's: {list(found)}")
        hooked = list(names)
        for name in names:
            if isinstance(found[name], STRF):
                hooked += [_reduce_name(name, b) for b in found[name].branches]
        inputs = prepare_clip(clip).to(next(net.parameters()).device)
        with torch.no_grad(), capture_inputs(net, hooked) as captured:
            net.forward_features(inputs)
            return {name: _maps(name, found[name], captured) for name in names}


def _maps(name: str, unit: nn.Module, captured: dict[str, Tensor]) -> list[AttentionMap]:
    x = captured[name][:1]  # (1, C, T, H, W)
    t, h, w = x.shape[2:]
    kind = UNIT_KINDS[type(unit)]
    if isinstance(unit, STRF):
        grid = (1, h, w)
        masks = _masks(unit, name, captured)
        return [AttentionMap(name, kind, b, m[0].cpu(), grid, grid) for b, m in masks.items()]
    if isinstance(unit, NonLocalBlock3D):
        weights = unit.attention(x)[0].cpu()  # (Lk, Lq)
        pooled = unit.pool(x[:, :1])  # the keys' grid
        return [AttentionMap(name, kind, "nonlocal", weights, tuple(pooled.shape[2:]), (t, h, w))]
    weights = unit.attention(x)[0].cpu()  # (O, T, hw, hw)
    maps = []
    for o, offset in enumerate(unit.offsets):
        full = torch.zeros(t * h * w, t * h * w)
        for frame in range(t):
            source = frame + offset
            if 0 <= source < t:
                full[source * h * w : (source + 1) * h * w, frame * h * w : (frame + 1) * h * w] = (
                    weights[o, frame]
                )
        grid = (t, h, w)
        maps.append(AttentionMap(name, kind, f"t{offset:+d}", full, grid, grid, offset=offset))
    return maps


@dataclass(frozen=True)
class PositionAttention:
    """Where one target position draws from, relative to a uniform choice among its sources.

    Attributes:
        target: ``(t, row, col)`` of the target position.
        frames: the source frames it may draw from: every frame (non-local, STRF), frame
            ``t + offset`` (APM), or none (APM at the clip's ends: no neighbour there).
        candidates: how many source positions those frames hold.
        weights: ``(t_s, h_s, w_s)``, the map's column; sums to 1 (0 without candidates).
        relative: ``weights * candidates``: 1 where the target weighs a position as a uniform
            average over its sources would, ``candidates`` where it takes one position only.
        frame_share: ``(t_s,)``, the weights summed per source frame.
        effective_positions: ``exp`` of the column's entropy: how many positions it draws from
            (0 without candidates).
        peak: its largest weight.
        cell: target-grid ``(rows, cols)`` that one source position covers (``(2, 2)`` for
            the non-local block's pooled keys, ``(1, 1)`` otherwise).
    """

    target: tuple[int, int, int]
    frames: tuple[int, ...]
    candidates: int
    weights: Tensor
    relative: Tensor
    frame_share: Tensor
    effective_positions: float
    peak: float
    cell: tuple[int, int]


def position_attention(amap: AttentionMap, target: tuple[int, int, int]) -> PositionAttention:
    """One target position's column of ``amap``, relative to uniform over its own sources.

    Args:
        amap: a map of :func:`unit_attention`.
        target: ``(t, row, col)`` in ``amap.target_grid`` (STRF's: ``t = 0``, time is folded).

    Returns:
        The column with its scale, per-frame shares and concentration.

    Raises:
        ValueError: a target outside the target grid.

    Shape:
        weights, relative: ``amap.source_grid``; frame_share: ``(t_s,)``.
    """
    weights = amap.view(target).float()  # (t_s, h_s, w_s)
    t_s, h_s, w_s = amap.source_grid
    if amap.offset is None:
        frames = tuple(range(t_s))
    else:
        source = target[0] + amap.offset
        frames = (source,) if 0 <= source < t_s else ()
    candidates = len(frames) * h_s * w_s
    probabilities = weights[weights > 0]
    entropy = float(-(probabilities * probabilities.log()).sum()) if candidates else 0.0
    _, h, w = amap.target_grid
    return PositionAttention(
        target=target,
        frames=frames,
        candidates=candidates,
        weights=weights,
        relative=weights * candidates,
        frame_share=weights.sum(dim=(1, 2)),
        effective_positions=math.exp(entropy) if candidates else 0.0,
        peak=float(weights.max()),
        cell=(max(1, h // h_s), max(1, w // w_s)),
    )
