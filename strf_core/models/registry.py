"""Named model builders, torchvision style: ``p3dc_resnet50(625, strf=True)``.

``*_resnet50`` are the paper's baselines (ResNet-50, ImageNet inflation available);
``*_resnet_tiny`` are the same design with fewer, narrower blocks for CPU work.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch

from strf_core.models.inflate import imagenet_resnet50_state_dict, load_2d_weights
from strf_core.models.resnet3d import ResNet3D

PRESETS: dict[str, dict[str, Any]] = {
    "resnet50": {"layers": (3, 4, 6, 3), "widths": (64, 128, 256, 512), "stem_width": 64},
    # Same stage layout, a quarter of the width and fewer blocks: the 3D blocks are layer2 {0}
    # and layer3 {0, 2}, so STRF at stages 2-3 gives three units. 512-d features.
    "resnet_tiny": {"layers": (1, 2, 3, 1), "widths": (16, 32, 64, 128), "stem_width": 16},
}

_MODELS: dict[str, Callable[..., ResNet3D]] = {}


def _resnet(
    temporal: str,
    preset: str,
    num_classes: int,
    *,
    strf: bool,
    strf_stages: Sequence[int],
    strf_kwargs: dict[str, Any] | None,
    weights: str | None,
) -> ResNet3D:
    model = ResNet3D(
        num_classes,
        temporal=temporal,
        strf_stages=tuple(strf_stages) if strf else (),
        strf_kwargs=strf_kwargs,
        **PRESETS[preset],
    )
    if weights is None:
        return model
    if weights != "imagenet":
        raise ValueError(f"weights must be None or 'imagenet', got {weights!r}")
    if preset != "resnet50":
        raise ValueError(f"ImageNet weights exist for ResNet-50 only, not for {preset!r}")
    return load_2d_weights(model, imagenet_resnet50_state_dict())


def _register(temporal: str, preset: str) -> Callable[..., ResNet3D]:
    name = f"{temporal}_{preset}"

    def builder(
        num_classes: int,
        *,
        strf: bool = False,
        strf_stages: Sequence[int] = (2, 3),
        strf_kwargs: dict[str, Any] | None = None,
        weights: str | None = None,
    ) -> ResNet3D:
        return _resnet(
            temporal,
            preset,
            num_classes,
            strf=strf,
            strf_stages=strf_stages,
            strf_kwargs=strf_kwargs,
            weights=weights,
        )

    builder.__name__ = builder.__qualname__ = name
    builder.__doc__ = (
        f"{temporal.upper()} {preset} for video re-ID.\n\n"
        "Args:\n"
        "    num_classes: training identities.\n"
        "    strf: add STRF units (blocks 0, 2, ... of ``strf_stages``).\n"
        "    strf_stages: stages 1-4 that get STRF units.\n"
        "    strf_kwargs: keyword arguments of every STRF unit.\n"
        "    weights: ``None`` (random) or ``'imagenet'`` (inflated ResNet-50 weights).\n\n"
        "Shape:\n"
        "    ``(N, 3, T, H, W) -> ReIDOutput((N, D), (N, num_classes))``"
    )
    _MODELS[name] = builder
    return builder


c2d_resnet50 = _register("c2d", "resnet50")
i3d_resnet50 = _register("i3d", "resnet50")
p3da_resnet50 = _register("p3da", "resnet50")
p3db_resnet50 = _register("p3db", "resnet50")
p3dc_resnet50 = _register("p3dc", "resnet50")
c2d_resnet_tiny = _register("c2d", "resnet_tiny")
i3d_resnet_tiny = _register("i3d", "resnet_tiny")
p3da_resnet_tiny = _register("p3da", "resnet_tiny")
p3db_resnet_tiny = _register("p3db", "resnet_tiny")
p3dc_resnet_tiny = _register("p3dc", "resnet_tiny")


def list_models() -> list[str]:
    """Names accepted by :func:`build_model`."""
    return sorted(_MODELS)


def build_model(name: str, **kwargs: Any) -> ResNet3D:
    """Build a registered model by name; ``kwargs`` go to its builder."""
    if name not in _MODELS:
        raise ValueError(f"unknown model {name!r}; available: {', '.join(list_models())}")
    return _MODELS[name](**kwargs)


def count_parameters(model: ResNet3D) -> int:
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
