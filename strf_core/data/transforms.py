"""Clip transforms: one random draw per tracklet, applied alike to every frame (SPEC section 3).

::

    frames T x (3, h_t, w_t) uint8     (sizes may differ from frame to frame, as in DukeMTMC)
      resize to size, bicubic          T x (3, H, W) uint8     (PIL-like: antialiased, rounded)
      stack along time                 (3, T, H, W) uint8
      flip                             every frame or none     (train: p = 0.5)
      to float, ImageNet normalisation (3, T, H, W) float32
      random erasing                   one rectangle, the same on every frame (optional)

``normalize=False`` skips the float conversion and returns uint8 clips (erased with the colour
that normalises to ``erase_value``); :func:`normalize_clips` then finishes on the training
device. A float32 clip is 4x the bytes of a uint8 one, and moving clips out of the DataLoader
workers and collating them is a large part of the loader's cost on a small CPU
(``bench/loader_speed.py`` measures both).

torchreid applies its image transforms frame by frame, so each frame of a clip gets its own flip
and its own erased patch: the clip then shows a person jumping left and right, which a temporal
model cannot learn from. Here :meth:`ClipTransform.draw` makes the decisions once and
:meth:`ClipTransform.apply` applies them to every frame.

torchvision is imported when a clip first needs it (a frame to resize, a flip, an erased patch):
importing it imports ``torch._dynamo`` (about 3 s of CPU here), which a clip already at its size
(the dashboard's demo frames) does without; torchvision's resize returns such a frame unchanged.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
import torch
from torch import Tensor


def _tv():
    """torchvision's ``transforms.v2.functional``, imported on first use (module docstring)."""
    import torchvision.transforms.v2.functional as F

    return F


IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def normalize_clips(
    clips: Tensor, mean: Sequence[float] = IMAGENET_MEAN, std: Sequence[float] = IMAGENET_STD
) -> Tensor:
    """Scale uint8 clips to [0, 1] and normalise each channel: ``(x / 255 - mean) / std``.

    Args:
        clips: one clip or a batch, channels at dim -4, uint8 (or float in [0, 255]), on any
            device.
        mean: per-channel mean.
        std: per-channel standard deviation.

    Shape:
        ``(..., 3, T, H, W) -> (..., 3, T, H, W)``, float32.
    """
    if clips.dim() < 4 or clips.shape[-4] != 3:
        raise ValueError(f"expected clips (..., 3, T, H, W), got {tuple(clips.shape)}")
    # x * (1 / (255 std)) - mean / std, in place on a fresh copy (2.5x faster than addcmul's
    # broadcasting on the CPU). torchvision's F.normalize would take dim -3, which is T in this
    # layout, for the channels.
    scale = torch.tensor([1.0 / (255.0 * s) for s in std], device=clips.device)
    shift = torch.tensor([-m / s for m, s in zip(mean, std, strict=True)], device=clips.device)
    out = clips.to(torch.float32, copy=True)
    return out.mul_(scale.view(3, 1, 1, 1)).add_(shift.view(3, 1, 1, 1))


class ClipParams(NamedTuple):
    """The random decisions for one clip.

    Attributes:
        flip: mirror every frame left-right.
        erase: ``(top, left, height, width)`` of the erased rectangle in output pixels, or
            ``None``.
    """

    flip: bool
    erase: tuple[int, int, int, int] | None


class ClipTransform:
    """Resize, flip, normalise and erase a clip, with one set of random decisions per clip.

    Args:
        size: output ``(H, W)``; 256x128 is the paper's input, 128x64 suits tiny models.
        flip_p: probability of mirroring the clip (0.5 for training, 0 for testing).
        erase_p: probability of random erasing (Zhong et al., 2020); 0 turns it off.
        erase_scale: range of the erased area as a fraction of ``H * W``.
        erase_ratio: range of the rectangle's aspect ratio ``height / width`` (drawn log-uniform).
        erase_value: value written into the rectangle after normalisation (0 is the mean colour).
        mean: per-channel mean of the normalisation (ImageNet's by default).
        std: per-channel standard deviation of the normalisation.
        normalize: return normalised float32 clips; ``False`` returns uint8 clips for
            :func:`normalize_clips` on the device.

    Shape:
        ``T x (3, h, w) uint8 -> (3, T, H, W)``, float32 (uint8 if ``normalize=False``).
    """

    def __init__(
        self,
        *,
        size: tuple[int, int] = (256, 128),
        flip_p: float = 0.5,
        erase_p: float = 0.0,
        erase_scale: tuple[float, float] = (0.02, 0.4),
        erase_ratio: tuple[float, float] = (0.3, 3.3),
        erase_value: float = 0.0,
        mean: Sequence[float] = IMAGENET_MEAN,
        std: Sequence[float] = IMAGENET_STD,
        normalize: bool = True,
    ) -> None:
        if len(size) != 2 or min(size) < 1:
            raise ValueError(f"size must be (height, width) of positive ints, got {size}")
        for name, p in (("flip_p", flip_p), ("erase_p", erase_p)):
            if not 0.0 <= p <= 1.0:
                raise ValueError(f"{name} must be a probability in [0, 1], got {p}")
        if not 0.0 < erase_scale[0] <= erase_scale[1] <= 1.0:
            raise ValueError(f"erase_scale must satisfy 0 < low <= high <= 1, got {erase_scale}")
        if not 0.0 < erase_ratio[0] <= erase_ratio[1]:
            raise ValueError(f"erase_ratio must satisfy 0 < low <= high, got {erase_ratio}")
        if len(mean) != 3 or len(std) != 3 or min(std) <= 0:
            raise ValueError(f"mean and std need 3 channels, std > 0; got {mean}, {std}")
        self.size = (int(size[0]), int(size[1]))
        self.flip_p, self.erase_p = flip_p, erase_p
        self.erase_scale, self.erase_ratio, self.erase_value = erase_scale, erase_ratio, erase_value
        self.mean, self.std = tuple(mean), tuple(std)
        self.normalize = normalize
        # The uint8 colour that normalises to erase_value (up to rounding), for normalize=False.
        self._erase_uint8 = torch.tensor(
            [
                min(255, max(0, round(255 * (m + erase_value * s))))
                for m, s in zip(mean, std, strict=True)
            ],
            dtype=torch.uint8,
        ).view(3, 1, 1, 1)

    @property
    def is_random(self) -> bool:
        return self.flip_p > 0 or self.erase_p > 0

    def draw(self, rng: np.random.Generator) -> ClipParams:
        """The random decisions for one clip.

        Erasing follows Zhong et al.: up to 10 tries of an area ``U(erase_scale) * H * W`` and an
        aspect ratio ``exp(U(log erase_ratio))``, rounded to a ``height x width`` rectangle; the
        first that fits inside the frame is placed uniformly at random. If none fits (a very
        elongated draw on a small frame), the clip is not erased.
        """
        flip = bool(rng.random() < self.flip_p)
        if not rng.random() < self.erase_p:
            return ClipParams(flip, None)
        height, width = self.size
        log_ratio = (math.log(self.erase_ratio[0]), math.log(self.erase_ratio[1]))
        for _ in range(10):
            area = height * width * rng.uniform(*self.erase_scale)
            ratio = math.exp(rng.uniform(*log_ratio))
            h = round(math.sqrt(area * ratio))
            w = round(math.sqrt(area / ratio))
            if 0 < h < height and 0 < w < width:
                top = int(rng.integers(0, height - h + 1))
                left = int(rng.integers(0, width - w + 1))
                return ClipParams(flip, (top, left, h, w))
        return ClipParams(flip, None)

    def apply(self, frames: Sequence[Tensor] | Tensor, params: ClipParams) -> Tensor:
        """Transform every frame with the same decisions.

        Args:
            frames: ``T`` images ``(3, h, w)`` uint8 (a list, or a ``(T, 3, h, w)`` tensor);
                frames may differ in size.
            params: the decisions from :meth:`draw`.

        Returns:
            The clip, normalised unless ``normalize=False``.

        Shape:
            ``T x (3, h, w) -> (3, T, H, W)``, float32 (uint8 if ``normalize=False``).
        """
        if len(frames) == 0:
            raise ValueError("a clip needs at least one frame, got none")
        resized = []
        for t, frame in enumerate(frames):
            if frame.dim() != 3 or frame.shape[0] != 3 or frame.dtype != torch.uint8:
                raise ValueError(
                    f"frame {t}: expected a (3, H, W) uint8 image, "
                    f"got {tuple(frame.shape)} {frame.dtype}"
                )
            if tuple(frame.shape[1:]) != self.size:
                tv = _tv()
                frame = tv.resize(
                    frame, list(self.size), interpolation=tv.InterpolationMode.BICUBIC
                )
            resized.append(frame)
        clip = torch.stack(resized, dim=1)  # (3, T, H, W) uint8
        if params.flip:
            clip = _tv().horizontal_flip(clip)  # mirrors the last dim of every frame
        if self.normalize:
            clip = normalize_clips(clip, self.mean, self.std)
        if params.erase is not None:
            top, left, h, w = params.erase
            value = torch.tensor(self.erase_value) if self.normalize else self._erase_uint8
            clip = _tv().erase(clip, top, left, h, w, value, inplace=True)
        return clip

    def __call__(
        self, frames: Sequence[Tensor] | Tensor, rng: np.random.Generator | None = None
    ) -> Tensor:
        """Draw the decisions with ``rng`` (needed only if the transform is random) and apply.

        Shape:
            ``T x (3, h, w) uint8 -> (3, T, H, W)``, float32 (uint8 if ``normalize=False``).
        """
        if rng is None:
            if self.is_random:
                raise ValueError("a random transform (flip_p or erase_p > 0) needs an rng")
            return self.apply(frames, ClipParams(False, None))
        return self.apply(frames, self.draw(rng))

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(size={self.size}, flip_p={self.flip_p}, "
            f"erase_p={self.erase_p}, erase_scale={self.erase_scale}, "
            f"erase_ratio={self.erase_ratio}, normalize={self.normalize})"
        )
