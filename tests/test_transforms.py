"""Clip transforms: one decision per clip, shapes, normalisation, erasing."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torchvision.transforms.v2.functional as F

from strf_core.data.transforms import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    ClipParams,
    ClipTransform,
    normalize_clips,
)


def _frames(t=5, h=40, w=20, seed=0):
    g = torch.Generator().manual_seed(seed)
    return [torch.randint(0, 256, (3, h, w), dtype=torch.uint8, generator=g) for _ in range(t)]


def test_output_shape_dtype_and_resize_of_frames_of_different_sizes():
    frames = [*_frames(2, 40, 20), *_frames(2, 37, 23, seed=1)]
    clip = ClipTransform(size=(32, 16), flip_p=0.0)(frames)
    assert clip.shape == (3, 4, 32, 16) and clip.dtype == torch.float32
    # each frame is the bicubic, antialiased resize of its own image
    resized = F.resize(frames[3], [32, 16], interpolation=F.InterpolationMode.BICUBIC)
    expected = normalize_clips(resized[:, None])[:, 0]
    torch.testing.assert_close(clip[:, 3], expected)


def test_normalisation_matches_torchvision_per_frame():
    frames = _frames()
    clip = ClipTransform(size=(40, 20), flip_p=0.0)(frames)
    per_frame = F.normalize(
        torch.stack(frames).float() / 255, list(IMAGENET_MEAN), list(IMAGENET_STD)
    )  # (T, 3, H, W)
    torch.testing.assert_close(clip, per_frame.permute(1, 0, 2, 3), rtol=1e-5, atol=1e-5)


def test_normalisation_statistics():
    # A clip whose pixels are spread uniformly over 0..255 gets per-channel mean (0.5 - m) / s
    # and standard deviation sqrt((256^2 - 1) / 12) / 255 / s (the discrete uniform's).
    levels = torch.arange(256, dtype=torch.uint8).repeat(64).view(1, 128, 128)
    clip = ClipTransform(size=(128, 128), flip_p=0.0)([levels.expand(3, -1, -1)] * 2)
    for c in range(3):
        m, s = IMAGENET_MEAN[c], IMAGENET_STD[c]
        assert clip[c].mean().item() == pytest.approx((0.5 - m) / s, abs=1e-4)
        assert clip[c].std().item() == pytest.approx((65535 / 12) ** 0.5 / 255 / s, rel=1e-4)
    mean_colour = torch.tensor([round(255 * m) for m in IMAGENET_MEAN], dtype=torch.uint8)
    grey = ClipTransform(size=(8, 4), flip_p=0.0)([mean_colour.view(3, 1, 1).expand(3, 8, 4)])
    assert grey.abs().max().item() < 0.01  # the mean colour normalises to ~0


def test_flip_is_one_decision_for_the_whole_clip():
    frames = _frames()
    transform = ClipTransform(size=(40, 20))
    flipped = transform.apply(frames, ClipParams(flip=True, erase=None))
    plain = transform.apply(frames, ClipParams(flip=False, erase=None))
    torch.testing.assert_close(flipped, plain.flip(-1))
    # the same as flipping every input frame
    torch.testing.assert_close(
        flipped, transform.apply([f.flip(-1) for f in frames], ClipParams(False, None))
    )


def test_random_draws_give_every_frame_the_same_flip():
    frames = _frames(t=4, h=8, w=6)
    transform = ClipTransform(size=(8, 6), flip_p=0.5)
    plain = transform.apply(frames, ClipParams(False, None))
    rng = np.random.default_rng(0)
    flips = 0
    for _ in range(200):
        clip = transform(frames, rng)
        if torch.equal(clip, plain):
            continue
        torch.testing.assert_close(clip, plain.flip(-1))  # all frames, never some
        flips += 1
    assert 70 < flips < 130


def test_erasing_puts_the_same_rectangle_on_every_frame():
    frames = _frames(t=4, h=64, w=32)
    transform = ClipTransform(size=(64, 32), flip_p=0.0, erase_p=1.0, erase_value=0.0)
    plain = transform.apply(frames, ClipParams(False, None))
    rng = np.random.default_rng(1)
    for _ in range(50):
        params = transform.draw(rng)
        assert params.erase is not None
        top, left, h, w = params.erase
        assert top >= 0 and top + h <= 64 and left >= 0 and left + w <= 32
        assert 0.02 * 64 * 32 * 0.7 <= h * w <= 0.4 * 64 * 32 * 1.3  # area, up to rounding
        clip = transform.apply(frames, params)
        inside = torch.zeros(64, 32, dtype=torch.bool)
        inside[top : top + h, left : left + w] = True
        assert torch.all(clip[:, :, inside] == 0)  # every channel of every frame
        torch.testing.assert_close(clip[:, :, ~inside], plain[:, :, ~inside])


def test_uint8_clips_normalised_later_equal_float_clips():
    frames = _frames(t=3, h=64, w=32)
    params = ClipParams(True, (5, 3, 20, 10))
    as_float = ClipTransform(size=(64, 32), erase_p=1.0).apply(frames, params)
    as_uint8 = ClipTransform(size=(64, 32), erase_p=1.0, normalize=False).apply(frames, params)
    assert as_uint8.dtype == torch.uint8 and as_uint8.shape == (3, 3, 64, 32)
    later = normalize_clips(as_uint8[None])[0]  # as a batch (N, 3, T, H, W)
    outside = torch.ones(64, 32, dtype=torch.bool)
    outside[5:25, 3:13] = False
    torch.testing.assert_close(later[:, :, outside], as_float[:, :, outside])
    # the erased colour normalises to erase_value = 0 up to uint8 rounding
    assert later[:, :, ~outside].abs().max().item() < 0.5 / 255 / min(IMAGENET_STD) + 1e-6


def test_bad_input_says_what_is_wrong():
    with pytest.raises(ValueError, match=r"frame 1: expected a \(3, H, W\) uint8"):
        ClipTransform(flip_p=0.0)([_frames(1)[0], torch.zeros(4, 8, 8, dtype=torch.uint8)])
    with pytest.raises(ValueError, match="at least one frame"):
        ClipTransform(flip_p=0.0)([])
    with pytest.raises(ValueError, match="needs an rng"):
        ClipTransform(flip_p=0.5)(_frames(1))
    with pytest.raises(ValueError, match="flip_p"):
        ClipTransform(flip_p=2.0)
    with pytest.raises(ValueError, match=r"\(\.\.\., 3, T, H, W\)"):
        normalize_clips(torch.zeros(4, 2, 8, 8))
