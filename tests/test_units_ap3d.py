"""The non-local block and APM against AP3D's code (guxinqian/AP3D, models/NonLocal.py and
models/AP3D.py): the same weights in ours and in a minimal re-statement of AP3D's forward give
the same outputs (and gradients), unit by unit and in AP3D's blocks.

The ``ap3d_*`` functions below restate AP3D's forward passes step by step as its code writes
them (its views, permutes, index lists and zero padding), in plain torch on a dict of weights;
they share nothing with ``strf_core``.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from strf_core.models import Bottleneck3D, build_model
from strf_core.modules import APM, NonLocalBlock3D

TOL = {"atol": 1e-5, "rtol": 1e-5}


def ap3d_nonlocal(x, w):
    """AP3D's ``NonLocalBlockND.forward`` (dimension 3, sub_sample, bn_layer), BN in eval mode."""
    batch_size, inter = x.size(0), w["theta_w"].shape[0]
    g_x = F.max_pool3d(F.conv3d(x, w["g_w"], w["g_b"]), (1, 2, 2))
    g_x = g_x.view(batch_size, inter, -1).permute(0, 2, 1)
    theta_x = F.conv3d(x, w["theta_w"], w["theta_b"]).view(batch_size, inter, -1)
    theta_x = theta_x.permute(0, 2, 1)
    phi_x = F.max_pool3d(F.conv3d(x, w["phi_w"], w["phi_b"]), (1, 2, 2))
    phi_x = phi_x.view(batch_size, inter, -1)
    f = F.softmax(torch.matmul(theta_x, phi_x), dim=-1)
    y = torch.matmul(f, g_x).permute(0, 2, 1).contiguous()
    y = y.view(batch_size, inter, *x.size()[2:])
    y = F.conv3d(y, w["W_w"], w["W_b"])
    y = F.batch_norm(y, w["bn_mean"], w["bn_var"], w["bn_w"], w["bn_b"], training=False)
    return y + x


def ap3d_apm(x, w, time_dim=3, temperature=4):
    """AP3D's ``APM.forward`` (contrastive attention on)."""
    b, c, t, h, wd = x.size()
    n = time_dim
    neighbor_time_index = (
        torch.cat([(torch.arange(0, t) + i).unsqueeze(0) for i in range(n) if i != n // 2], dim=0)
        .t()
        .flatten()
        .long()
    )
    pad = (0, 0, 0, 0, (n - 1) // 2, (n - 1) // 2)
    semantic = F.conv3d(x, w["semantic"])
    cr = semantic.shape[1]
    x_norm = F.normalize(semantic, p=2, dim=1)
    x_norm_padding = F.pad(x_norm, pad, value=0)
    x_norm_expand = (
        x_norm.unsqueeze(3)
        .expand(-1, -1, -1, n - 1, -1, -1)
        .permute(0, 2, 3, 4, 5, 1)
        .contiguous()
        .view(-1, h * wd, cr)
    )
    neighbor_norm = (
        x_norm_padding[:, :, neighbor_time_index, :, :]
        .permute(0, 2, 1, 3, 4)
        .contiguous()
        .view(-1, cr, h * wd)
    )
    similarity = torch.matmul(x_norm_expand, neighbor_norm) * temperature
    similarity = F.softmax(similarity, dim=-1)
    x_padding = F.pad(x, pad, value=0)
    neighbor = (
        x_padding[:, :, neighbor_time_index, :, :]
        .permute(0, 2, 3, 4, 1)
        .contiguous()
        .view(-1, h * wd, c)
    )
    neighbor_new = (
        torch.matmul(similarity, neighbor).view(b, t * (n - 1), h, wd, c).permute(0, 4, 1, 2, 3)
    )
    x_att = F.conv3d(
        x.unsqueeze(3)
        .expand(-1, -1, -1, n - 1, -1, -1)
        .contiguous()
        .view(b, c, (n - 1) * t, h, wd)
        .detach(),
        w["x_mapping"],
    )
    n_att = F.conv3d(neighbor_new.detach(), w["n_mapping"])
    contrastive_att = torch.sigmoid(F.conv3d(x_att * n_att, w["att"]))
    neighbor_new = neighbor_new * contrastive_att
    x_offset = torch.zeros([b, c, n * t, h, wd], dtype=x.dtype)
    x_index = torch.tensor([i for i in range(t * n) if i % n == n // 2])
    neighbor_index = torch.tensor([i for i in range(t * n) if i % n != n // 2])
    x_offset[:, :, x_index, :, :] += x
    x_offset[:, :, neighbor_index, :, :] += neighbor_new
    return x_offset


def _randomize(module):
    """Random weights everywhere, BN statistics included (AP3D starts its BN at zero, which
    would make any block look right)."""
    torch.manual_seed(1)
    with torch.no_grad():
        for p in module.parameters():
            p.normal_(0, 0.3)
        for m in module.modules():
            if isinstance(m, torch.nn.BatchNorm3d):
                m.running_mean.normal_(0, 0.1)
                m.running_var.uniform_(0.5, 1.5)
    return module.eval()


def _nl_weights(nl):
    return {
        "theta_w": nl.theta.weight,
        "theta_b": nl.theta.bias,
        "phi_w": nl.phi.weight,
        "phi_b": nl.phi.bias,
        "g_w": nl.g.weight,
        "g_b": nl.g.bias,
        "W_w": nl.out_conv.weight,
        "W_b": nl.out_conv.bias,
        "bn_w": nl.out_bn.weight,
        "bn_b": nl.out_bn.bias,
        "bn_mean": nl.out_bn.running_mean,
        "bn_var": nl.out_bn.running_var,
    }


def _apm_weights(apm):
    return {
        "semantic": apm.semantic.weight,
        "x_mapping": apm.x_mapping.weight,
        "n_mapping": apm.n_mapping.weight,
        "att": apm.gate.weight,
    }


@pytest.mark.parametrize("shape", [(2, 16, 4, 6, 4), (1, 8, 3, 4, 2)])
def test_nonlocal_block_equals_ap3d(shape):
    nl = _randomize(NonLocalBlock3D(shape[1]))
    x = torch.randn(shape)
    torch.testing.assert_close(nl(x), ap3d_nonlocal(x, _nl_weights(nl)), **TOL)


def test_nonlocal_block_starts_as_the_identity_with_ap3d_parameter_count():
    nl = NonLocalBlock3D(512)
    x = torch.randn(1, 512, 2, 4, 2)
    assert torch.equal(nl(x), x)  # W's BN weight and bias are 0 (AP3D's init)
    # theta, phi, g: 512 -> 256 with bias; W: 256 -> 512 with bias; BN(512).
    assert sum(p.numel() for p in nl.parameters()) == 3 * (512 * 256 + 256) + 256 * 512 + 512 + 1024


@pytest.mark.parametrize("time_dim", [3, 5])
def test_apm_equals_ap3d_forward_and_backward(time_dim):
    apm = _randomize(APM(32, time_dim=time_dim))
    x = torch.randn(2, 32, 5, 4, 3, requires_grad=True)
    ours = apm(x)
    x_ref = x.detach().clone().requires_grad_(True)
    weights = {k: v.detach().clone().requires_grad_(True) for k, v in _apm_weights(apm).items()}
    ref = ap3d_apm(x_ref, weights, time_dim=time_dim)
    torch.testing.assert_close(ours, ref, **TOL)
    # Gradients too: AP3D detaches the contrastive attention's inputs, which changes them.
    probe = torch.randn_like(ref)
    (ours * probe).sum().backward()
    (ref * probe).sum().backward()
    torch.testing.assert_close(x.grad, x_ref.grad, **TOL)
    for name, param in _apm_weights(apm).items():
        torch.testing.assert_close(param.grad, weights[name].grad, **TOL, msg=name)


def _ap3d_conv2(kind, block, x, apm_weights):
    """AP3D's APP3DA / APP3DB / APP3DC / API3D forward with our block's conv weights."""
    spatial, temporal = block.conv2, block.conv2_t

    def stacked(conv, z):  # AP3D's temporal conv: kernel 3, time stride 3, no time padding
        return F.conv3d(
            ap3d_apm(z, apm_weights), conv.weight, stride=(3, *conv.stride[1:]),
            padding=(0, *conv.padding[1:]),
        )  # fmt: skip

    if kind == "i3d":
        return stacked(spatial, x)
    if kind == "p3da":
        return stacked(temporal, spatial(x))
    if kind == "p3db":
        return spatial(x) + stacked(temporal, x)
    out = spatial(x)
    return out + stacked(temporal, out)


@pytest.mark.parametrize("kind", ["i3d", "p3da", "p3db", "p3dc"])
@pytest.mark.parametrize("stride", [1, 2])
def test_apm_in_our_blocks_equals_ap3d_blocks(kind, stride):
    block = _randomize(Bottleneck3D(32, 16, stride=stride, temporal=kind, attn_layer=APM))
    x = torch.randn(2, 16, 4, 8, 6)
    expected = _ap3d_conv2(kind, block, x, _apm_weights(block.strf))
    torch.testing.assert_close(block._conv2(x), expected, **TOL)


def test_apm_needs_a_temporal_convolution():
    with pytest.raises(ValueError, match="APM aligns neighbour frames"):
        Bottleneck3D(32, 16, temporal="c2d", attn_layer=APM)
    with pytest.raises(ValueError, match="'c2d' block"):  # stage 4 has no 3D block
        build_model("p3dc_resnet_tiny", 4, attn_layer="apm", strf_stages=(4,))


def test_ap3d_nl_model_places_units_where_ap3d_does():
    """AP3DNLResNet50: APM in layer2 {0, 2}, layer3 {0, 2, 4}; non-local after layer2 {1, 3},
    layer3 {1, 3, 5}, on the blocks' outputs (512 and 1024 channels)."""
    with torch.device("meta"):
        model = build_model("p3dc_resnet50", 625, attn_layer="apm_nl")
    units = model.attention_units()
    apm = [n for n, u in units.items() if isinstance(u, APM)]
    nl = {n: u.channels for n, u in units.items() if isinstance(u, NonLocalBlock3D)}
    assert apm == [f"layer2.{i}.strf" for i in (0, 2)] + [f"layer3.{i}.strf" for i in (0, 2, 4)]
    assert nl == {
        **{f"layer2.{i}.after": 512 for i in (1, 3)},
        **{f"layer3.{i}.after": 1024 for i in (1, 3, 5)},
    }


def test_nonlocal_after_a_block_is_ap3ds_block_then_nonlocal():
    block = _randomize(Bottleneck3D(32, 8, temporal="c2d", after_layer=NonLocalBlock3D))
    plain = Bottleneck3D(32, 8, temporal="c2d")
    plain.load_state_dict(
        {k: v for k, v in block.state_dict().items() if not k.startswith("after.")}
    )
    x = torch.randn(1, 32, 3, 4, 4)
    expected = ap3d_nonlocal(plain.eval()(x), _nl_weights(block.after))
    torch.testing.assert_close(block(x), expected, **TOL)
