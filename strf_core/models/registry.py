"""Named model builders, torchvision style: ``p3dc_resnet50(625, attn_layer=STRF)``.

``*_resnet50`` are the paper's baselines (ResNet-50, ImageNet inflation available);
``*_resnet_tiny`` are the same design with fewer, narrower blocks for CPU work. Every builder
takes the same arguments:

Args:
    num_classes: training identities.
    attn_layer: the attention unit of the blocks 0, 2, ... of ``attn_stages`` (see
        :data:`~strf_core.models.interface.AttnLayer`): :class:`~strf_core.STRF`,
        ``functools.partial(STRF, ...)`` or another unit; ``None`` for the plain baseline.
    attn_stages: stages 1-4 that get attention units (the paper's STRF: 2 and 3).
    after_layer: a unit after the blocks 1, 3, ... of ``attn_stages`` (AP3D's non-local
        block), or ``None``.
    weights: ``None`` (random) or ``"imagenet"`` (inflated ResNet-50 weights).

Shape:
    ``(N, 3, T, H, W) -> ReIDOutput((N, D), (N, num_classes))``

:func:`build_model` also speaks the configs' vocabulary (``attn_layer`` by name, ``strf``,
``strf_stages``, ``strf_kwargs``, see :class:`~strf_core.engine.config.ModelConfig` and
:mod:`strf_core.models.units`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

import torch

from strf_core.models.inflate import imagenet_resnet50_state_dict, load_2d_weights
from strf_core.models.interface import AttnLayer
from strf_core.models.resnet3d import ResNet3D
from strf_core.models.units import UNIT_NAMES, unit_layers, unit_name

RESNET50: dict[str, Any] = {"layers": (3, 4, 6, 3), "widths": (64, 128, 256, 512), "stem_width": 64}
# Same stage layout, a quarter of the width and fewer blocks: the 3D blocks are layer2 {0} and
# layer3 {0, 2}, so STRF at stages 2-3 gives three units. 512-d features.
RESNET_TINY: dict[str, Any] = {
    "layers": (1, 2, 3, 1),
    "widths": (16, 32, 64, 128),
    "stem_width": 16,
}

PAPER_STAGES = (2, 3)


def _resnet(
    temporal: str,
    depth: Mapping[str, Any],
    num_classes: int,
    attn_layer: AttnLayer | None,
    attn_stages: Sequence[int],
    after_layer: AttnLayer | None,
    weights: str | None,
) -> ResNet3D:
    model = ResNet3D(
        num_classes,
        temporal=temporal,
        attn_layer=attn_layer,
        attn_stages=attn_stages,
        after_layer=after_layer,
        **depth,
    )
    if weights is None:
        return model
    if weights != "imagenet":
        raise ValueError(f"weights must be None or 'imagenet', got {weights!r}")
    if depth is not RESNET50:
        raise ValueError("ImageNet weights exist for ResNet-50 only, not for 'resnet_tiny'")
    return load_2d_weights(model, imagenet_resnet50_state_dict())


def c2d_resnet50(
    num_classes: int,
    *,
    attn_layer: AttnLayer | None = None,
    attn_stages: Sequence[int] = PAPER_STAGES,
    after_layer: AttnLayer | None = None,
    weights: str | None = None,
) -> ResNet3D:
    """C2D ResNet-50: the 2D network on every frame (no temporal kernel)."""
    return _resnet("c2d", RESNET50, num_classes, attn_layer, attn_stages, after_layer, weights)


def i3d_resnet50(
    num_classes: int,
    *,
    attn_layer: AttnLayer | None = None,
    attn_stages: Sequence[int] = PAPER_STAGES,
    after_layer: AttnLayer | None = None,
    weights: str | None = None,
) -> ResNet3D:
    """I3D ResNet-50: ``conv2`` 3x3x3 in the 3D blocks."""
    return _resnet("i3d", RESNET50, num_classes, attn_layer, attn_stages, after_layer, weights)


def p3da_resnet50(
    num_classes: int,
    *,
    attn_layer: AttnLayer | None = None,
    attn_stages: Sequence[int] = PAPER_STAGES,
    after_layer: AttnLayer | None = None,
    weights: str | None = None,
) -> ResNet3D:
    """P3D-A ResNet-50: 1x3x3 then 3x1x1 in series in the 3D blocks."""
    return _resnet("p3da", RESNET50, num_classes, attn_layer, attn_stages, after_layer, weights)


def p3db_resnet50(
    num_classes: int,
    *,
    attn_layer: AttnLayer | None = None,
    attn_stages: Sequence[int] = PAPER_STAGES,
    after_layer: AttnLayer | None = None,
    weights: str | None = None,
) -> ResNet3D:
    """P3D-B ResNet-50: 1x3x3 and 3x1x1 in parallel in the 3D blocks."""
    return _resnet("p3db", RESNET50, num_classes, attn_layer, attn_stages, after_layer, weights)


def p3dc_resnet50(
    num_classes: int,
    *,
    attn_layer: AttnLayer | None = None,
    attn_stages: Sequence[int] = PAPER_STAGES,
    after_layer: AttnLayer | None = None,
    weights: str | None = None,
) -> ResNet3D:
    """P3D-C ResNet-50: 1x3x3, then a residual 3x1x1, in the 3D blocks."""
    return _resnet("p3dc", RESNET50, num_classes, attn_layer, attn_stages, after_layer, weights)


def c2d_resnet_tiny(
    num_classes: int,
    *,
    attn_layer: AttnLayer | None = None,
    attn_stages: Sequence[int] = PAPER_STAGES,
    after_layer: AttnLayer | None = None,
    weights: str | None = None,
) -> ResNet3D:
    """C2D on the tiny ResNet (layers 1-2-3-1, a quarter of the width)."""
    return _resnet("c2d", RESNET_TINY, num_classes, attn_layer, attn_stages, after_layer, weights)


def i3d_resnet_tiny(
    num_classes: int,
    *,
    attn_layer: AttnLayer | None = None,
    attn_stages: Sequence[int] = PAPER_STAGES,
    after_layer: AttnLayer | None = None,
    weights: str | None = None,
) -> ResNet3D:
    """I3D on the tiny ResNet (layers 1-2-3-1, a quarter of the width)."""
    return _resnet("i3d", RESNET_TINY, num_classes, attn_layer, attn_stages, after_layer, weights)


def p3da_resnet_tiny(
    num_classes: int,
    *,
    attn_layer: AttnLayer | None = None,
    attn_stages: Sequence[int] = PAPER_STAGES,
    after_layer: AttnLayer | None = None,
    weights: str | None = None,
) -> ResNet3D:
    """P3D-A on the tiny ResNet (layers 1-2-3-1, a quarter of the width)."""
    return _resnet("p3da", RESNET_TINY, num_classes, attn_layer, attn_stages, after_layer, weights)


def p3db_resnet_tiny(
    num_classes: int,
    *,
    attn_layer: AttnLayer | None = None,
    attn_stages: Sequence[int] = PAPER_STAGES,
    after_layer: AttnLayer | None = None,
    weights: str | None = None,
) -> ResNet3D:
    """P3D-B on the tiny ResNet (layers 1-2-3-1, a quarter of the width)."""
    return _resnet("p3db", RESNET_TINY, num_classes, attn_layer, attn_stages, after_layer, weights)


def p3dc_resnet_tiny(
    num_classes: int,
    *,
    attn_layer: AttnLayer | None = None,
    attn_stages: Sequence[int] = PAPER_STAGES,
    after_layer: AttnLayer | None = None,
    weights: str | None = None,
) -> ResNet3D:
    """P3D-C on the tiny ResNet (layers 1-2-3-1, a quarter of the width)."""
    return _resnet("p3dc", RESNET_TINY, num_classes, attn_layer, attn_stages, after_layer, weights)


_MODELS: dict[str, Callable[..., ResNet3D]] = {
    builder.__name__: builder
    for builder in (
        c2d_resnet50,
        i3d_resnet50,
        p3da_resnet50,
        p3db_resnet50,
        p3dc_resnet50,
        c2d_resnet_tiny,
        i3d_resnet_tiny,
        p3da_resnet_tiny,
        p3db_resnet_tiny,
        p3dc_resnet_tiny,
    )
}


def list_models() -> list[str]:
    """Names accepted by :func:`build_model`."""
    return sorted(_MODELS)


def build_model(
    name: str,
    num_classes: int,
    *,
    strf: bool = False,
    strf_stages: Sequence[int] = PAPER_STAGES,
    strf_kwargs: Mapping[str, Any] | None = None,
    attn_layer: str | AttnLayer | None = None,
    **kwargs: Any,
) -> ResNet3D:
    """Build a registered model by name.

    Args:
        name: one of :func:`list_models`.
        num_classes: training identities.
        strf: the old spelling of ``attn_layer="strf"``.
        strf_stages: stages 1-4 that get the named unit (the name predates the other units).
        strf_kwargs: keyword arguments of every STRF unit (``strf`` only).
        attn_layer: a unit by name (one of :data:`~strf_core.models.units.UNIT_NAMES`, placed
            as :mod:`strf_core.models.units` says, in ``strf_stages``), or a factory passed to
            the builder as it is (with its own ``attn_stages``, ``after_layer``).
        **kwargs: the builder's own arguments (``attn_stages``, ``after_layer``, ``weights``).

    Raises:
        ValueError: an unknown model or unit name (the message lists the available ones),
            ``strf`` together with a factory, or ``strf_kwargs`` for a unit that is not STRF.
    """
    if name not in _MODELS:
        raise ValueError(f"unknown model {name!r}; available: {', '.join(list_models())}")
    if attn_layer is not None and not isinstance(attn_layer, str):
        if strf:
            raise ValueError("give strf=True or an attn_layer, not both")
        return _MODELS[name](num_classes, attn_layer=attn_layer, **kwargs)
    unit = unit_name(strf, attn_layer)
    if unit != "none":
        kwargs.update(unit_layers(unit, strf_kwargs)._asdict(), attn_stages=strf_stages)
    return _MODELS[name](num_classes, **kwargs)


def count_parameters(model: torch.nn.Module) -> int:
    """Number of parameters (trainable or not), as the paper's P(M) column counts them."""
    return sum(p.numel() for p in model.parameters())


def parameter_table(num_classes: int = 625) -> list[dict[str, Any]]:
    """Table 2 reproduced: each baseline's parameters with and without STRF (stages 2-3).

    The models are built on the meta device (no memory, no initialisation), so this is fast.

    Returns:
        One row per ResNet-50 baseline: ``{"model", "params", "params_strf", "added",
        "paper_m", "paper_strf_m"}`` (counts exact; the paper's in millions, from
        :data:`strf_core.paper.TABLE2`, ``None`` where it gives none).
    """
    from strf_core.paper import TABLE2

    rows = []
    for name in ("c2d_resnet50", "i3d_resnet50", "p3da_resnet50", "p3db_resnet50", "p3dc_resnet50"):
        paper, paper_strf = (TABLE2.get((name, s)) for s in (False, True))
        with torch.device("meta"):
            plain = count_parameters(build_model(name, num_classes=num_classes))
            with_strf = count_parameters(build_model(name, num_classes=num_classes, strf=True))
        rows.append(
            {
                "model": name,
                "params": plain,
                "params_strf": with_strf,
                "added": with_strf - plain,
                "paper_m": paper.params_m if paper else None,
                "paper_strf_m": paper_strf.params_m if paper_strf else None,
            }
        )
    return rows


class UnitCount(NamedTuple):
    """Parameters of one ResNet-50 variant with one kind of unit (stages 2-3).

    Attributes:
        model: the builder's name (``"p3dc_resnet50"``).
        unit: one of :data:`~strf_core.models.units.UNIT_NAMES`.
        params: exact count, 625 classes unless asked otherwise.
        added: ``params`` minus the same variant without units.
        ap3d_name: AP3D's own name for this configuration, where it builds it.
        paper: what the STRF paper says of it, where it says something.
    """

    model: str
    unit: str
    params: int
    added: int
    ap3d_name: str | None
    paper: str | None


# AP3D's models/ResNet.py builds the P3D-C variant with APM (APP3DC blocks), alone and with
# non-local blocks; its APP3DA/APP3DB/API3D blocks are the other variants.
AP3D_NAMES = {
    ("p3dc_resnet50", "apm"): "AP3DResNet50",
    ("p3dc_resnet50", "apm_nl"): "AP3DNLResNet50",
    ("p3da_resnet50", "apm"): "APP3DA blocks",
    ("p3db_resnet50", "apm"): "APP3DB blocks",
    ("i3d_resnet50", "apm"): "API3D blocks",
}


def unit_parameter_table(
    num_classes: int = 625,
    models: Sequence[str] = ("i3d_resnet50", "p3da_resnet50", "p3db_resnet50", "p3dc_resnet50"),
) -> list[UnitCount]:
    """Every ResNet-50 3D variant (``models``) with every unit in stages 2-3 (AP3D's
    configurations among them), built on the meta device, with the paper's statements beside
    P3D-C's rows."""
    from strf_core.paper import AP3D_MARS, AP3D_MORE_THAN_STRF_M, NL_ADDED_M, NL_P3DC

    paper = {
        ("p3dc_resnet50", "nonlocal"): f"~{NL_ADDED_M:g} M added (Sec. 3.3); MARS "
        f"{NL_P3DC.mAP} mAP / {NL_P3DC.rank1} R@1",
        ("p3dc_resnet50", "apm_nl"): f"~{AP3D_MORE_THAN_STRF_M:g} M more than STRF (Fig. 6b); "
        f"MARS {AP3D_MARS.mAP} / {AP3D_MARS.rank1} (Table 3)",
    }
    rows = []
    for name in models:
        with torch.device("meta"):
            counts = {
                unit: count_parameters(build_model(name, num_classes, attn_layer=unit))
                for unit in UNIT_NAMES
            }
        rows += [
            UnitCount(
                name,
                unit,
                counts[unit],
                counts[unit] - counts["none"],
                AP3D_NAMES.get((name, unit)),
                paper.get((name, unit)),
            )
            for unit in UNIT_NAMES
        ]
    return rows
