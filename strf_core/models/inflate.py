"""Inflate a 2D torchvision ResNet state dict into a :class:`ResNet3D`.

Each 2D convolution weight ``(O, I, kh, kw)`` becomes ``(O, I, kt, kh, kw)`` with the 2D weight in
the centre time slice and zeros elsewhere (``kt = 1`` everywhere but I3D's ``conv2``). BatchNorm
parameters and running statistics are copied. The P3D temporal convolutions keep their
identity (P3D-A) or zero (P3D-B/C) initialisation, STRF units keep ``gamma = 0`` and the re-ID head
is new, so every inflated variant starts out computing the 2D network frame by frame.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import Tensor

from strf_core.models.resnet3d import ResNet3D

_NEW_PARTS = (".conv2_t.", ".strf.", "head.")


def inflate_state_dict(model: ResNet3D, state_dict_2d: Mapping[str, Tensor]) -> dict[str, Tensor]:
    """Map a 2D ResNet state dict onto ``model``'s parameter names and shapes.

    Args:
        model: the 3D network to fill.
        state_dict_2d: a torchvision ResNet state dict of the same depth and widths
            (its ``fc`` is ignored).

    Returns:
        A state dict for ``model.load_state_dict(..., strict=False)`` holding every backbone
        tensor of ``model``.

    Raises:
        ValueError: the 2D state dict lacks a backbone tensor of ``model`` or has the wrong shape.
    """
    target = model.state_dict()
    inflated: dict[str, Tensor] = {}
    problems: list[str] = []
    for name, dst in target.items():
        if any(part in name for part in _NEW_PARTS):
            continue
        src = state_dict_2d.get(name)
        if src is None:
            problems.append(f"missing {name}")
            continue
        inflating = dst.dim() == 5 and src.dim() == 4
        expected = dst.shape[:2] + dst.shape[3:] if inflating else dst.shape
        if src.shape != expected:
            problems.append(f"{name}: 2D {tuple(src.shape)} does not fit 3D {tuple(dst.shape)}")
            continue
        if inflating:
            weight = torch.zeros(dst.shape, dtype=src.dtype)
            weight[:, :, dst.shape[2] // 2] = src  # centre time slice
            src = weight
        inflated[name] = src.to(dst.dtype)
    if problems:
        raise ValueError(
            "the 2D state dict does not fit this network "
            f"({len(problems)} problem(s)): " + "; ".join(problems[:5])
        )
    return inflated


def load_2d_weights(model: ResNet3D, state_dict_2d: Mapping[str, Tensor]) -> ResNet3D:
    """Inflate ``state_dict_2d`` into ``model`` in place and return it."""
    missing, unexpected = model.load_state_dict(
        inflate_state_dict(model, state_dict_2d), strict=False
    )
    assert not unexpected, unexpected  # inflate_state_dict only produces model keys
    leftover = [k for k in missing if not any(part in k for part in _NEW_PARTS)]
    assert not leftover, leftover
    return model


def imagenet_resnet50_state_dict() -> dict[str, Tensor]:
    """torchvision's ``ResNet50_Weights.IMAGENET1K_V1``, from its cache or downloaded.

    Raises:
        RuntimeError: the weights are neither cached nor downloadable (no network).
    """
    from torchvision.models import ResNet50_Weights

    weights = ResNet50_Weights.IMAGENET1K_V1
    try:
        return weights.get_state_dict(progress=True)
    except Exception as err:  # urllib raises several types; all mean "not available here"
        raise RuntimeError(
            f"could not load the ImageNet ResNet-50 weights ({weights.url}): {err}. Without "
            "network access, copy the file into $TORCH_HOME/hub/checkpoints/ or use weights=None."
        ) from err
