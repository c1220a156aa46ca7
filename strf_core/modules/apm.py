"""AP3D's appearance-preserving module (APM; Gu et al., ECCV 2020, ``models/AP3D.py``).

Before a temporal convolution mixes frame ``t`` with its neighbours ``t - 1`` and ``t + 1``, APM
re-arranges each neighbour's feature map so that it lines up with frame ``t`` (feature-level
registration), and down-weights neighbour features that still disagree (contrastive attention)::

    x (N, C, T, h, w)
      s   = normalize(conv1x1(x))                      (N, C/16, T, h, w), unit norm per position
      M_o = softmax(temperature * s_{t+o}^T s_t)       (hw, hw) per frame t and offset o = -1, +1,
                                                        columns (positions of t) summing to 1
      a_o = x_{t+o} @ M_o                              neighbour t+o aligned to frame t
      a_o = a_o * sigmoid(conv(conv1x1(x_t) * conv1x1(a_o)))   contrastive attention (inputs
                                                        detached, as AP3D)
      out = [a_-1, x_t, a_+1] for every t              (N, C, 3T, h, w)

The output stacks, for every frame, its aligned neighbours around itself; the block's temporal
convolution (kernel 3) reads it with stride 3 and no padding, so it sees aligned neighbours
where it saw raw ones (:class:`~strf_core.models.Bottleneck3D`). Frames beyond the clip's ends
are zeros, as AP3D pads them. AP3D's ``APP3DC`` block puts APM on the spatial convolution's
output, before the temporal one (``APP3DA`` likewise; ``APP3DB`` and ``API3D`` on the block's
``conv2`` input).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class APM(nn.Module):
    """Appearance-preserving module: neighbour frames aligned to each frame.

    Args:
        channels: input channels ``C``.
        reduction: channels of the alignment features are ``C // reduction`` (AP3D: 16).
        time_dim: frames a temporal kernel spans (odd; AP3D: 3): each frame gets its
            ``time_dim - 1`` nearest neighbours aligned.
        temperature: scale of the cosine similarities before the softmax (AP3D: 4).
        contrastive: AP3D's contrastive attention on the aligned neighbours (AP3D: on).

    Shape:
        ``(N, C, T, H, W) -> (N, C, time_dim * T, H, W)``: for frame ``t``, the frames
        ``time_dim * t + k`` hold its neighbour ``t + k - time_dim // 2`` aligned to it
        (``k = time_dim // 2``: frame ``t`` itself).

    Attributes:
        stacked_frames: ``time_dim``, the frames the output holds per input frame; the block's
            temporal convolution reads the output with this stride.
    """

    def __init__(
        self,
        channels: int,
        *,
        reduction: int = 16,
        time_dim: int = 3,
        temperature: float = 4.0,
        contrastive: bool = True,
    ) -> None:
        super().__init__()
        if time_dim < 3 or time_dim % 2 == 0:
            raise ValueError(f"time_dim must be an odd size of at least 3, got {time_dim}")
        if channels < reduction or channels % reduction:
            raise ValueError(f"channels ({channels}) must be a multiple of reduction ({reduction})")
        reduced = channels // reduction
        self.channels = channels
        self.time_dim = time_dim
        self.stacked_frames = time_dim
        self.temperature = temperature
        self.semantic = nn.Conv3d(channels, reduced, 1, bias=False)
        self.contrastive = contrastive
        if contrastive:
            self.x_mapping = nn.Conv3d(channels, reduced, 1, bias=False)
            self.n_mapping = nn.Conv3d(channels, reduced, 1, bias=False)
            self.gate = nn.Conv3d(reduced, 1, 1, bias=False)

    @property
    def offsets(self) -> tuple[int, ...]:
        """The neighbours' frame offsets, in output order: ``(-1, 1)`` for ``time_dim = 3``."""
        r = self.time_dim // 2
        return tuple(o for o in range(-r, r + 1) if o != 0)

    def _neighbours(self, x: Tensor) -> Tensor:
        """Each frame's neighbours, zeros beyond the clip: ``(N, C, T, H, W) ->
        (N, len(offsets), T, C, H*W)``."""
        r = self.time_dim // 2
        t = x.shape[2]
        padded = F.pad(x, (0, 0, 0, 0, r, r))  # (N, C, T + 2r, H, W)
        frames = [padded[:, :, r + o : r + o + t] for o in self.offsets]  # each (N, C, T, H, W)
        return torch.stack(frames, 1).transpose(2, 3).flatten(4)  # (N, O, T, C, HW)

    def attention(self, x: Tensor) -> Tensor:
        """The alignment weights: ``(N, C, T, H, W) -> (N, O, T, HW, HW)``, float32.

        ``[n, o, t, i, j]`` is how much position ``i`` of frame ``t + offsets[o]`` (source)
        gives to position ``j`` of frame ``t`` (target); each column is a distribution over
        sources, as STRF's masks, except at the clip's ends, where a frame without a neighbour
        on that side has zero columns (AP3D's weights there multiply zero padding).
        """
        s = F.normalize(self.semantic(x).float(), dim=1)  # (N, C', T, H, W)
        centre = s.transpose(1, 2).flatten(3).unsqueeze(1)  # (N, 1, T, C', HW)
        neighbours = self._neighbours(s)  # (N, O, T, C', HW)
        with torch.autocast(x.device.type, enabled=False):
            logits = self.temperature * neighbours.transpose(-1, -2) @ centre  # (N, O, T, HW, HW)
            weights = torch.softmax(logits, dim=-2)
        t = x.shape[2]
        inside = torch.tensor(
            [[0 <= i + o < t for i in range(t)] for o in self.offsets], device=x.device
        )  # (O, T): the neighbour exists
        return weights * inside[None, :, :, None, None]

    def forward(self, x: Tensor) -> Tensor:
        if x.dim() != 5 or x.shape[1] != self.channels:
            raise ValueError(
                f"APM({self.channels}) expects (N, {self.channels}, T, H, W), got {tuple(x.shape)}"
            )
        n, c, t, h, w = x.shape
        values = self._neighbours(x)  # (N, O, T, C, HW)
        aligned = values @ self.attention(x).to(values.dtype)  # (N, O, T, C, HW)
        aligned = aligned.reshape(n, -1, t, c, h, w).permute(0, 3, 1, 2, 4, 5)  # (N, C, O, T, H, W)
        if self.contrastive:
            o = aligned.shape[2]
            centre = x.detach().unsqueeze(2).expand(-1, -1, o, -1, -1, -1).flatten(2, 3)
            gate = self.x_mapping(centre) * self.n_mapping(aligned.detach().flatten(2, 3))
            gate = torch.sigmoid(self.gate(gate))  # (N, 1, O*T, H, W)
            aligned = aligned * gate.view(n, 1, o, t, h, w)
        half = len(self.offsets) // 2
        stacked = [*aligned[:, :, :half].unbind(2), x, *aligned[:, :, half:].unbind(2)]
        return torch.stack(stacked, 3).flatten(2, 3)  # (N, C, T * time_dim, H, W)

    def extra_repr(self) -> str:
        return (
            f"{self.channels}, time_dim={self.time_dim}, temperature={self.temperature}, "
            f"contrastive={self.contrastive}"
        )
