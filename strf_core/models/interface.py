"""What the engine, retrieval and explanations rely on in a model, declared in one place.

Any network that satisfies :class:`ReIDModel` can be trained, evaluated, searched and explained;
:class:`~strf_core.models.ResNet3D` is the one this package builds. Attention units plug into a
backbone as :data:`AttnLayer` factories, as timm's blocks take ``attn_layer``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple, Protocol, runtime_checkable

from torch import Tensor, nn

from strf_core.modules import STRF

AttnLayer = Callable[[int], nn.Module]
"""Builds an attention unit for a block's channel count, shape-preserving on
``(N, C, T, H, W)``: :class:`~strf_core.STRF` itself, ``functools.partial(STRF, kappa=2.0)``, or
any other unit whose first argument is the channel count (a non-local block, AP3D's APM)."""


class ReIDOutput(NamedTuple):
    """What every model returns.

    Attributes:
        features: post-BN embedding used for retrieval (L2-normalise, cosine distance), ``(N, D)``.
        logits: identity logits for the cross-entropy loss, ``(N, num_classes)``.
    """

    features: Tensor
    logits: Tensor


@runtime_checkable
class ReIDModel(Protocol):
    """A video re-ID network as the rest of the package uses it.

    Attributes:
        feature_dim: per-frame feature size ``D``.

    Shape:
        ``(N, 3, T, H, W) -> ReIDOutput((N, D), (N, num_classes))``, computed as
        ``forward_head(frame_features(clip))``.
    """

    feature_dim: int

    def __call__(self, clip: Tensor) -> ReIDOutput: ...

    def frame_features(self, clip: Tensor) -> Tensor:
        """Per-frame features before the neck, ``(N, 3, T, H, W) -> (N, T, D)``: evaluators run
        long tracklets through it in chunks and average over every frame."""
        ...

    def forward_head(self, frame_features: Tensor) -> ReIDOutput:
        """``(N, T, D) -> ReIDOutput``: mean over frames, neck, classifier."""
        ...

    def strf_units(self) -> dict[str, STRF]:
        """The STRF units by module name (``"layer2.0.strf"``), for branch switches, cache keys
        and explanations; empty for a model without them."""
        ...
