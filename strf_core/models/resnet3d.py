"""Inflated 3D ResNets: C2D, I3D and P3D-A/B/C as presets of one network (AP3D's baselines).

::

    clip (N, 3, T, H, W)
      stem      conv 1x7x7 /2, BN, ReLU, max-pool 1x3x3 /2     (N, 64, T, H/4, W/4)
      layer1-4  bottlenecks; layer4 has stride 1 ("last stride") (N, 2048, T, H/16, W/16)
                 -> forward_features
      per-frame global max-pool                                (N, T, 2048)  -> frame_features
      mean over T, BN neck, classifier                         ReIDOutput    -> forward_head

Time is never strided or pooled. Temporal kernels appear only in ``conv2`` of the "3D blocks":
every other block (0, 2, 4, ...) of the stages in ``temporal_stages`` (layer2 {0, 2} and layer3
{0, 2, 4} for ResNet-50). Attention units (``attn_layer``: STRF, AP3D's APM) go in the same
block positions of ``attn_stages``, on the bottleneck width, between the spatial and the temporal
convolution; units after a whole block (``after_layer``: AP3D's non-local block) follow the
blocks 1, 3, 5, ... of ``attn_stages``, on the block's output, where AP3D puts them.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from strf_core.models.head import ReIDHead
from strf_core.models.interface import AttnLayer, ReIDOutput
from strf_core.modules import STRF

TEMPORAL_KINDS = ("c2d", "i3d", "p3da", "p3db", "p3dc")


class Bottleneck3D(nn.Module):
    """ResNet bottleneck (stride on the 3x3 conv, as torchvision) with an optional attention unit.

    ``conv2`` by ``temporal`` kind, with the attention unit written ``A``::

        c2d   A(conv2(x))                       conv2 1x3x3
        i3d   A(conv2(x))                       conv2 3x3x3
        p3da  conv2_t(A(conv2(x)))              conv2 1x3x3, conv2_t 3x1x1 (identity at init)
        p3db  conv2(x) + conv2_t(A(x))          conv2_t 3x1x1, conv2's spatial stride (0 at init)
        p3dc  y = A(conv2(x)); y + conv2_t(y)   conv2_t 3x1x1 (0 at init)

    A unit with ``stacked_frames = k > 1`` (AP3D's :class:`~strf_core.modules.APM`) returns
    ``k`` frames per frame, its aligned neighbours around itself; the temporal convolution then
    reads ``A``'s output with time stride ``k`` and no time padding, as AP3D's blocks do::

        i3d   conv2(A(x))                       (AP3D's API3D)
        p3da  conv2_t(A(conv2(x)))              (APP3DA)
        p3db  conv2(x) + conv2_t(A(x))          (APP3DB)
        p3dc  y = conv2(x); y + conv2_t(A(y))   (APP3DC, AP3D's model)

    Args:
        in_channels: input channels.
        width: bottleneck width; the block outputs ``4 * width`` channels.
        stride: spatial stride of the block.
        temporal: one of :data:`TEMPORAL_KINDS`.
        attn_layer: builds the attention unit on the bottleneck width (e.g. :class:`STRF`), or
            ``None`` for none. The unit is the ``strf`` submodule whatever its kind, so STRF
            checkpoints keep their ``layerS.B.strf.*`` keys.
        after_layer: builds a unit applied to the block's output (``4 * width`` channels; AP3D's
            non-local block), the ``after`` submodule, or ``None``.

    Shape:
        ``(N, in_channels, T, H, W) -> (N, 4 * width, T, H / stride, W / stride)``
    """

    expansion = 4

    def __init__(
        self,
        in_channels: int,
        width: int,
        *,
        stride: int = 1,
        temporal: str = "c2d",
        attn_layer: AttnLayer | None = None,
        after_layer: AttnLayer | None = None,
    ) -> None:
        super().__init__()
        if temporal not in TEMPORAL_KINDS:
            raise ValueError(f"temporal must be one of {TEMPORAL_KINDS}, got {temporal!r}")
        out_channels = width * self.expansion
        self.temporal = temporal
        kt = 3 if temporal == "i3d" else 1
        self.conv1 = nn.Conv3d(in_channels, width, 1, bias=False)
        self.bn1 = nn.BatchNorm3d(width)
        self.conv2 = nn.Conv3d(
            width,
            width,
            (kt, 3, 3),
            stride=(1, stride, stride),
            padding=(kt // 2, 1, 1),
            bias=False,
        )
        self.conv2_t: nn.Conv3d | None = None
        if temporal.startswith("p3d"):
            t_stride = stride if temporal == "p3db" else 1
            self.conv2_t = nn.Conv3d(
                width,
                width,
                (3, 1, 1),
                stride=(1, t_stride, t_stride),
                padding=(1, 0, 0),
                bias=False,
            )
        self.strf: nn.Module | None = attn_layer(width) if attn_layer is not None else None
        self.stacked_frames = int(getattr(self.strf, "stacked_frames", 1))
        if self.stacked_frames > 1 and temporal not in ("i3d", "p3da", "p3db", "p3dc"):
            raise ValueError(
                f"{type(self.strf).__name__} aligns neighbour frames for a temporal convolution; "
                f"a {temporal!r} block has none (put it in a 3D block: attn_stages within "
                "temporal_stages, a temporal kind other than c2d)"
            )
        self.bn2 = nn.BatchNorm3d(width)
        self.conv3 = nn.Conv3d(width, out_channels, 1, bias=False)
        self.bn3 = nn.BatchNorm3d(out_channels)
        self.relu = nn.ReLU(inplace=True)
        self.downsample: nn.Sequential | None = None
        if stride != 1 or in_channels != out_channels:
            self.downsample = nn.Sequential(
                nn.Conv3d(in_channels, out_channels, 1, stride=(1, stride, stride), bias=False),
                nn.BatchNorm3d(out_channels),
            )
        self.after: nn.Module | None = (
            after_layer(out_channels) if after_layer is not None else None
        )
        self._init_weights()

    def _init_weights(self) -> None:
        """Kaiming init (torchvision's), then the temporal rules that make the block start 2D."""
        convs = [self.conv1, self.conv2, self.conv3]
        if self.downsample is not None:
            convs.append(self.downsample[0])
        for conv in convs:
            nn.init.kaiming_normal_(conv.weight, mode="fan_out", nonlinearity="relu")
        if self.temporal == "i3d":
            with torch.no_grad():  # only the centre time slice is non-zero
                self.conv2.weight[:, :, [0, 2]] = 0.0
        if self.conv2_t is not None:
            init_temporal_conv(self.conv2_t, identity=self.temporal == "p3da")

    def _attend(self, x: Tensor) -> Tensor:
        return x if self.strf is None else self.strf(x)

    def _over_stacked(self, conv: nn.Conv3d, x: Tensor) -> Tensor:
        """``conv`` over the unit's stacked frames: time stride ``stacked_frames``, no time
        padding (the unit has put each frame's aligned neighbours around it)."""
        return F.conv3d(
            self.strf(x),
            conv.weight,
            conv.bias,
            stride=(self.stacked_frames, *conv.stride[1:]),
            padding=(0, *conv.padding[1:]),
        )

    def _conv2_stacked(self, x: Tensor) -> Tensor:
        if self.temporal == "i3d":
            return self._over_stacked(self.conv2, x)
        if self.temporal == "p3da":
            return self._over_stacked(self.conv2_t, self.conv2(x))
        if self.temporal == "p3db":
            return self.conv2(x) + self._over_stacked(self.conv2_t, x)
        y = self.conv2(x)  # p3dc
        return y + self._over_stacked(self.conv2_t, y)

    def _conv2(self, x: Tensor) -> Tensor:
        if self.stacked_frames > 1:
            return self._conv2_stacked(x)
        if self.temporal == "p3da":
            return self.conv2_t(self._attend(self.conv2(x)))
        if self.temporal == "p3db":
            return self.conv2(x) + self.conv2_t(self._attend(x))
        if self.temporal == "p3dc":
            y = self._attend(self.conv2(x))
            return y + self.conv2_t(y)
        return self._attend(self.conv2(x))  # c2d, i3d

    def forward(self, x: Tensor) -> Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self._conv2(out)))
        out = self.relu(self.bn3(self.conv3(out)) + identity)
        return out if self.after is None else self.after(out)


def init_temporal_conv(conv: nn.Conv3d, *, identity: bool) -> None:
    """Initialise a ``3x1x1`` conv as the identity in time (P3D-A) or as zero (P3D-B, P3D-C)."""
    with torch.no_grad():
        conv.weight.zero_()
        if identity:
            eye = torch.eye(conv.out_channels, conv.in_channels, dtype=conv.weight.dtype)
            conv.weight[:, :, conv.kernel_size[0] // 2, 0, 0] = eye


class ResNet3D(nn.Module):
    """An inflated 3D ResNet for video re-ID with optional attention units (STRF).

    Args:
        num_classes: training identities of the classifier.
        layers: bottleneck blocks per stage (ResNet-50: ``(3, 4, 6, 3)``).
        widths: bottleneck width per stage (ResNet-50: ``(64, 128, 256, 512)``).
        stem_width: channels of the stem convolution.
        temporal: the 3D block kind, one of :data:`TEMPORAL_KINDS`.
        temporal_stages: stages (1-4) whose blocks 0, 2, 4, ... are 3D blocks.
        attn_layer: builds the attention unit of a block from its bottleneck width (e.g.
            :class:`~strf_core.STRF`, or ``functools.partial(STRF, kappa=2.0)``); ``None`` for
            a network without units.
        attn_stages: stages (1-4) whose blocks 0, 2, 4, ... get an attention unit, and whose
            blocks 1, 3, 5, ... are followed by an ``after_layer`` unit.
        after_layer: builds a unit that follows a whole block, on its output channels (AP3D's
            non-local block, at AP3D's positions: layer2 {1, 3}, layer3 {1, 3, 5}); ``None``
            for none.
        last_stride: spatial stride of the last stage (1 for re-ID).

    Shape:
        ``(N, 3, T, H, W) -> ReIDOutput((N, D), (N, num_classes))`` with ``D = 4 * widths[-1]``.
    """

    def __init__(
        self,
        num_classes: int,
        *,
        layers: Sequence[int] = (3, 4, 6, 3),
        widths: Sequence[int] = (64, 128, 256, 512),
        stem_width: int = 64,
        temporal: str = "c2d",
        temporal_stages: Sequence[int] = (2, 3),
        attn_layer: AttnLayer | None = None,
        attn_stages: Sequence[int] = (2, 3),
        after_layer: AttnLayer | None = None,
        last_stride: int = 1,
    ) -> None:
        super().__init__()
        if len(layers) != 4 or len(widths) != 4:
            raise ValueError("layers and widths need one entry per stage (4 stages)")
        for name, stages in (("temporal_stages", temporal_stages), ("attn_stages", attn_stages)):
            if any(s not in (1, 2, 3, 4) for s in stages):
                raise ValueError(f"{name} must be stages in 1-4, got {tuple(stages)}")
        self.temporal = temporal
        has_units = attn_layer is not None or after_layer is not None
        self.attn_stages = tuple(sorted(attn_stages)) if has_units else ()
        self.conv1 = nn.Conv3d(
            3, stem_width, (1, 7, 7), stride=(1, 2, 2), padding=(0, 3, 3), bias=False
        )
        self.bn1 = nn.BatchNorm3d(stem_width)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool3d((1, 3, 3), stride=(1, 2, 2), padding=(0, 1, 1))
        nn.init.kaiming_normal_(self.conv1.weight, mode="fan_out", nonlinearity="relu")

        in_channels = stem_width
        strides = (1, 2, 2, last_stride)
        for stage, (blocks, width, stride) in enumerate(
            zip(layers, widths, strides, strict=True), start=1
        ):
            stage_blocks = []
            for i in range(blocks):
                is_3d = stage in temporal_stages and i % 2 == 0
                has_attn = stage in self.attn_stages and i % 2 == 0
                has_after = stage in self.attn_stages and i % 2 == 1
                stage_blocks.append(
                    Bottleneck3D(
                        in_channels,
                        width,
                        stride=stride if i == 0 else 1,
                        temporal=temporal if is_3d else "c2d",
                        attn_layer=attn_layer if has_attn else None,
                        after_layer=after_layer if has_after else None,
                    )
                )
                in_channels = width * Bottleneck3D.expansion
            self.add_module(f"layer{stage}", nn.Sequential(*stage_blocks))
        self.feature_dim = in_channels
        self.head = ReIDHead(in_channels, num_classes)

    def forward_features(self, clip: Tensor) -> Tensor:
        """The last feature map, ``(N, 3, T, H, W) -> (N, D, T, H/16, W/16)``."""
        if clip.dim() != 5 or clip.shape[1] != 3:
            raise ValueError(f"expected a clip batch (N, 3, T, H, W), got {tuple(clip.shape)}")
        x = self.maxpool(self.relu(self.bn1(self.conv1(clip))))
        x = self.layer1(x)
        x = self.layer2(x)
        x = self.layer3(x)
        return self.layer4(x)

    def frame_features(self, clip: Tensor) -> Tensor:
        """Per-frame features before the neck, ``(N, 3, T, H, W) -> (N, T, D)`` (global max-pool).

        An evaluator runs long tracklets through this in chunks, concatenates along ``T`` and
        calls :meth:`forward_head` once, which averages over every frame.
        """
        fmap = self.forward_features(clip)  # (N, D, T, h, w)
        return fmap.amax(dim=(3, 4)).transpose(1, 2)  # (N, T, D)

    def forward_head(self, frame_features: Tensor) -> ReIDOutput:
        """``(N, T, D) -> ReIDOutput``: mean over frames, BN neck, classifier."""
        return self.head(frame_features)

    def forward(self, clip: Tensor) -> ReIDOutput:
        return self.forward_head(self.frame_features(clip))

    def attention_units(self) -> dict[str, nn.Module]:
        """Every attention unit by module name, of any kind: in a block (``"layer2.0.strf"``)
        or after one (``"layer2.1.after"``), in forward order."""
        units = {}
        for name, m in self.named_modules():
            if isinstance(m, Bottleneck3D):
                units.update({f"{name}.{part}": getattr(m, part) for part in ("strf", "after")})
        return {name: unit for name, unit in units.items() if unit is not None}

    def strf_units(self) -> dict[str, STRF]:
        """The STRF units by module name (``"layer2.0.strf"``, ...), for hooks and inspection."""
        return {name: m for name, m in self.named_modules() if isinstance(m, STRF)}
