"""strf_core.explain.attention.position_attention: one target's column of the non-local and APM
maps, against the weights recomputed by hand from each unit's own parameters."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from strf_core import build_model
from strf_core.explain import attention_units, position_attention, unit_attention


@pytest.fixture(scope="module")
def apm_nl():
    """A tiny AP3D-NL (APM in the blocks, non-local after layer2.1 and layer3.1), a clip and
    each unit's input, recorded by a hook of this test's own."""
    torch.manual_seed(0)
    model = build_model("p3dc_resnet_tiny", 4, attn_layer="apm_nl").eval()
    clip = torch.randint(0, 256, (3, 5, 64, 32), dtype=torch.uint8)
    inputs = {}
    handles = [
        unit.register_forward_pre_hook(lambda m, a, name=name: inputs.setdefault(name, a[0]))
        for name, unit in attention_units(model).items()
    ]
    maps = unit_attention(model, clip, isolation="lock")
    for handle in handles:
        handle.remove()
    return model, maps, inputs


def _conv1x1(conv, x):
    """A 1x1x1 convolution as a sum over channels: (1, C, T, H, W) -> (1, C', T, H, W)."""
    out = torch.einsum("oc,ncthw->nothw", conv.weight[:, :, 0, 0, 0], x)
    return out if conv.bias is None else out + conv.bias.view(1, -1, 1, 1, 1)


def test_non_local_column_is_the_softmax_over_every_pooled_position_of_the_clip(apm_nl):
    model, maps, inputs = apm_nl
    unit, x = attention_units(model)["layer2.1.after"], inputs["layer2.1.after"]
    (amap,) = maps["layer2.1.after"]
    _, _, t, h, w = x.shape  # 5 frames of 8 x 4
    target = (3, 5, 2)
    got = position_attention(amap, target)
    with torch.no_grad():
        query = _conv1x1(unit.theta, x)[0, :, 3, 5, 2]  # (C',)
        keys = _conv1x1(unit.phi, x)[0]  # (C', T, H, W), then max over each 2x2 block
        keys = keys.reshape(-1, t, h // 2, 2, w // 2, 2).amax(dim=(3, 5))  # (C', T, H/2, W/2)
        expected = torch.softmax(torch.einsum("cthw,c->thw", keys, query).flatten(), 0)
    assert got.weights.shape == (t, h // 2, w // 2) and got.cell == (2, 2)
    torch.testing.assert_close(got.weights.flatten(), expected, atol=1e-5, rtol=1e-4)
    # Every pooled position of every frame is a source: uniform is 1 / (T h/2 w/2).
    assert got.frames == tuple(range(t)) and got.candidates == t * (h // 2) * (w // 2)
    torch.testing.assert_close(got.relative, expected.reshape(got.weights.shape) * got.candidates)
    assert float(got.relative.mean()) == pytest.approx(1.0, abs=1e-5)
    torch.testing.assert_close(got.frame_share, expected.reshape(t, -1).sum(1))
    entropy = -(expected * expected.log()).sum()
    assert got.effective_positions == pytest.approx(math.exp(float(entropy)), rel=1e-4)
    assert got.peak == pytest.approx(float(expected.max()), rel=1e-5)


def test_apm_column_matches_one_neighbour_frame_by_cosine_similarity(apm_nl):
    model, maps, inputs = apm_nl
    unit, x = attention_units(model)["layer2.0.strf"], inputs["layer2.0.strf"]
    previous, following = maps["layer2.0.strf"]
    _, _, t, h, w = x.shape
    with torch.no_grad():
        s = F.normalize(_conv1x1(unit.semantic, x)[0], dim=0)  # (C', T, H, W), unit per position
    for amap, offset in ((previous, -1), (following, 1)):
        target = (2, 3, 1)
        got = position_attention(amap, target)
        source = 2 + offset
        logits = 4.0 * torch.einsum("chw,c->hw", s[:, source], s[:, 2, 3, 1])
        expected = torch.softmax(logits.flatten(), 0).reshape(h, w)
        torch.testing.assert_close(got.weights[source], expected, atol=1e-5, rtol=1e-4)
        others = [f for f in range(t) if f != source]
        assert got.weights[others].abs().sum() == 0  # only the neighbour frame is a source
        # Uniform is 1/hw over that frame alone, not 1/(T hw) over the clip.
        assert got.frames == (source,) and got.candidates == h * w and got.cell == (1, 1)
        assert float(got.relative[source].mean()) == pytest.approx(1.0, abs=1e-5)
        torch.testing.assert_close(got.relative[source], expected * h * w)
    # The clip's ends have no neighbour on that side: no sources, nothing drawn, no scale.
    for amap, frame in ((previous, 0), (following, t - 1)):
        end = position_attention(amap, (frame, 0, 0))
        assert end.frames == () and end.candidates == 0 and end.effective_positions == 0
        assert end.relative.abs().sum() == 0 and end.frame_share.sum() == 0


def test_strf_column_is_relative_to_its_hw_positions_and_bad_targets_are_named():
    torch.manual_seed(0)
    model = build_model("p3dc_resnet_tiny", 4, attn_layer="strf").eval()
    clip = torch.randint(0, 256, (3, 4, 64, 32), dtype=torch.uint8)
    amap = unit_attention(model, clip, units=["layer2.0.strf"])["layer2.0.strf"][0]
    got = position_attention(amap, (0, 1, 2))
    _, h, w = amap.source_grid
    torch.testing.assert_close(got.relative[0], amap.weights[:, 1 * w + 2].reshape(h, w) * h * w)
    assert got.frames == (0,) and got.candidates == h * w
    with pytest.raises(ValueError, match="outside the 1x8x4 grid"):
        position_attention(amap, (1, 0, 0))  # time is folded: STRF's maps have one frame
