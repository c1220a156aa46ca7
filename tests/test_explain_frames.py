"""Frames with evidence chosen for a strip; masks on the uniform-relative scale."""

from __future__ import annotations

import pytest
import torch

from strf_core.explain import (
    evidence_frames,
    frame_evidence,
    mask_view,
    relative_log2,
    relative_weights,
)


def test_frame_evidence_is_each_frames_share():
    maps = torch.zeros(4, 2, 3)
    maps[1, 0, 0] = 3.0
    maps[3] = 0.5  # 6 cells: 3.0
    assert frame_evidence(maps).tolist() == [0.0, 0.5, 0.0, 0.5]
    assert frame_evidence(torch.zeros(3, 2, 2)).tolist() == [0.0, 0.0, 0.0]
    with pytest.raises(ValueError, match="T, h, w"):
        frame_evidence(torch.zeros(2, 2))


def test_evidence_frames_keep_every_frame_with_evidence():
    # 16 frames, evidence only in t=1, 3, 5, 7, 9, 11, 13, 15: an even thinning to 8 slots
    # (0, 2, 4, 6, 9, 11, 13, 15) would leave out half of them.
    evidence = [0.125 if t % 2 else 0.0 for t in range(16)]
    assert evidence_frames(evidence, 8) == [1, 3, 5, 7, 9, 11, 13, 15]


def test_evidence_frames_take_the_strongest_then_spread_the_rest():
    evidence = [0.0] * 20
    evidence[4], evidence[17], evidence[9] = 0.5, 0.3, 0.2
    assert evidence_frames(evidence, 2) == [4, 17]  # the two strongest, in time order
    shown = evidence_frames(evidence, 6)
    assert len(shown) == 6 and {4, 9, 17} <= set(shown)
    assert shown[0] == 0 and shown[-1] == 19  # the other cells span the clip
    assert evidence_frames([0.0] * 5, 8) == [0, 1, 2, 3, 4]  # short clips: all
    assert evidence_frames([0.0] * 9, 3) == [0, 4, 8]  # no evidence at all: evenly spaced


def test_relative_weights_are_on_the_uniform_scale():
    h, w = 2, 3
    uniform = torch.full((h * w, h * w), 1 / (h * w))
    assert torch.allclose(relative_weights(uniform, (h, w), (1, 2)), torch.ones(h, w))
    # mask_view stretches the uniform mask to its own maximum: it looks as peaked as a one-hot
    assert torch.equal(mask_view(uniform, (h, w), (1, 2)), torch.ones(h, w))
    one_hot = torch.eye(h * w)
    weights = relative_weights(one_hot, (h, w), (0, 1))
    assert weights[0, 1] == pytest.approx(h * w) and weights.sum() == pytest.approx(h * w)
    # Column: where position j draws from; row: where its features go.
    mask = torch.zeros(h * w, h * w)
    mask[5, 0] = 1.0  # position 0 draws everything from position 5
    mask[0, 1:] = 1.0  # every other position draws from position 0
    assert relative_weights(mask, (h, w), (0, 0))[1, 2] == pytest.approx(6.0)
    row = relative_weights(mask, (h, w), (0, 0), direction="row")
    assert row.flatten().tolist() == [0.0] + [6.0] * 5
    with pytest.raises(ValueError, match="outside"):
        relative_weights(uniform, (h, w), (2, 0))


def test_relative_log2_is_zero_at_uniform_and_clipped():
    weights = torch.tensor([1.0, 2.0, 0.5, 0.0, 1000.0])
    assert relative_log2(weights).tolist() == [0.0, 1.0, -1.0, -4.0, 4.0]
    assert relative_log2(weights, limit=2.0).tolist() == [0.0, 1.0, -1.0, -2.0, 2.0]
    with pytest.raises(ValueError, match="limit"):
        relative_log2(weights, limit=0.0)
