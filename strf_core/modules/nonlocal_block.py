"""The non-local block (Wang et al., CVPR 2018) as AP3D builds it (``models/NonLocal.py``).

Embedded Gaussian, with the key and value maps max-pooled 2x2 in space (``sub_sample``)::

    x (N, C, T, h, w)
      theta = conv1x1(x)              queries      (N, C', T*h*w)          C' = C / reduction
      phi   = pool(conv1x1(x))        keys         (N, C', T*h/2*w/2)
      g     = pool(conv1x1(x))        values       (N, C', T*h/2*w/2)
      M     = softmax(phi^T theta, over keys)      (N, Lk, Lq), columns summing to 1
      y     = g @ M                                (N, C', T*h*w)
      out   = x + BN(conv1x1(y))      BN's weight and bias start at 0: the block starts as identity

Every position of the clip (all frames) attends to every pooled position of the clip. AP3D puts
one after the residual blocks 1, 3, 5, ... of stages 2 and 3 (``AP3DNLResNet50``); in
:class:`~strf_core.models.ResNet3D` that is ``after_layer``.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn


class NonLocalBlock3D(nn.Module):
    """Non-local block on a 5-D feature map, with its own residual connection.

    Args:
        channels: input channels ``C`` (a residual block's output channels).
        reduction: inner channels are ``C // reduction`` (AP3D: 2).
        sub_sample: max-pool keys and values ``(1, 2, 2)`` (AP3D: on).

    Shape:
        ``(N, C, T, H, W) -> (N, C, T, H, W)``

    Attributes:
        theta, phi, g: the 1x1x1 query, key and value convolutions (with bias, as AP3D).
        out_conv, out_bn: the output projection back to ``C`` and its zero-initialised BN.
    """

    def __init__(self, channels: int, *, reduction: int = 2, sub_sample: bool = True) -> None:
        super().__init__()
        if channels < 1 or reduction < 1:
            raise ValueError(
                f"channels and reduction must be positive, got {channels}, {reduction}"
            )
        inner = max(1, channels // reduction)
        self.channels = channels
        self.inner_channels = inner
        self.theta = nn.Conv3d(channels, inner, 1)
        self.phi = nn.Conv3d(channels, inner, 1)
        self.g = nn.Conv3d(channels, inner, 1)
        self.pool = nn.MaxPool3d((1, 2, 2)) if sub_sample else nn.Identity()
        self.out_conv = nn.Conv3d(inner, channels, 1)
        self.out_bn = nn.BatchNorm3d(channels)
        for conv in (self.theta, self.phi, self.g, self.out_conv):
            # AP3D's init: normal(0, sqrt(2 / fan_out)) for the 1x1x1 convs (biases stay torch's).
            nn.init.normal_(conv.weight, 0.0, math.sqrt(2.0 / conv.out_channels))
        nn.init.zeros_(self.out_bn.weight)
        nn.init.zeros_(self.out_bn.bias)

    def attention(self, x: Tensor) -> Tensor:
        """Where each position draws from: ``(N, C, T, H, W) -> (N, Lk, Lq)``, float32.

        ``Lq = T*H*W`` positions of ``x`` (targets), ``Lk = T*H'*W'`` pooled positions (sources,
        ``H' = H // 2`` with ``sub_sample``); each column is a distribution over sources,
        as STRF's masks (:func:`~strf_core.modules.attention_mask`).
        """
        queries = self.theta(x).flatten(2).float()  # (N, C', Lq)
        keys = self.pool(self.phi(x)).flatten(2).float()  # (N, C', Lk)
        with torch.autocast(x.device.type, enabled=False):
            return torch.softmax(keys.transpose(1, 2) @ queries, dim=1)  # (N, Lk, Lq)

    def forward(self, x: Tensor) -> Tensor:
        if x.dim() != 5 or x.shape[1] != self.channels:
            raise ValueError(
                f"NonLocalBlock3D({self.channels}) expects (N, {self.channels}, T, H, W), "
                f"got {tuple(x.shape)}"
            )
        values = self.pool(self.g(x)).flatten(2)  # (N, C', Lk)
        y = values @ self.attention(x).to(values.dtype)  # (N, C', Lq)
        y = y.reshape(x.shape[0], self.inner_channels, *x.shape[2:])  # (N, C', T, H, W)
        return x + self.out_bn(self.out_conv(y))

    def extra_repr(self) -> str:
        return f"{self.channels}, inner_channels={self.inner_channels}"
