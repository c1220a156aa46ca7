"""Backbones against SPEC section 2: every builder, Table 2 counts, placement, inflation."""

from __future__ import annotations

import functools
import inspect

import pytest
import torch
import torchvision

from strf_core import STRF, build_model, count_parameters, list_models
from strf_core.models import (
    ReIDModel,
    ReIDOutput,
    load_2d_weights,
    p3dc_resnet_tiny,
    parameter_table,
    strf_layer,
)
from strf_core.models import registry as registry_module
from strf_core.models.resnet3d import Bottleneck3D

RESNET50 = [f"{k}_resnet50" for k in ("c2d", "i3d", "p3da", "p3db", "p3dc")]


def _set_gammas(model, value):
    for unit in model.strf_units().values():
        torch.nn.init.constant_(unit.gamma, value)


@pytest.mark.parametrize("name", list_models())
def test_every_model_forward_backward_with_every_parameter_getting_a_gradient(name):
    torch.manual_seed(0)
    model = build_model(name, num_classes=7, strf=True)
    # Leave the initial state, whose zeros block some gradients exactly: at gamma = 0 the STRF
    # reductions get none, and in P3D-B the STRF feeds the zero-initialised temporal conv.
    _set_gammas(model, 0.5)
    with torch.no_grad():
        for m in model.modules():
            if getattr(m, "conv2_t", None) is not None:
                m.conv2_t.weight.add_(0.01 * torch.randn_like(m.conv2_t.weight))
    tiny_clip = torch.randn(2, 3, 3, 64, 32)
    out = model(tiny_clip)
    assert isinstance(out, ReIDOutput)
    assert out.features.shape == (2, model.feature_dim) and out.logits.shape == (2, 7)
    (
        torch.nn.functional.cross_entropy(out.logits, torch.tensor([1, 4]))
        + out.features.pow(2).mean()
    ).backward()
    for pname, p in model.named_parameters():
        assert p.grad is not None, pname
        assert torch.isfinite(p.grad).all(), pname
        assert p.grad.abs().sum() > 0, f"{pname} received a zero gradient"


def test_feature_map_and_frame_features_shapes():
    model = build_model("p3dc_resnet_tiny", num_classes=5).eval()
    clip = torch.randn(2, 3, 5, 64, 32)
    with torch.no_grad():
        fmap = model.forward_features(clip)
        frames = model.frame_features(clip)
        out = model(clip)
    assert fmap.shape == (2, 512, 5, 4, 2)  # last stride 1: H/16, W/16; T never strided
    assert frames.shape == (2, 5, 512)
    torch.testing.assert_close(frames, fmap.amax(dim=(3, 4)).transpose(1, 2))
    torch.testing.assert_close(model.forward_head(frames).features, out.features)
    with pytest.raises(ValueError, match=r"\(N, 3, T, H, W\)"):
        model(torch.randn(2, 5, 3, 64, 32))


EXPECTED_PARAMS = {
    "c2d_resnet50": 24_792_753,
    "i3d_resnet50": 28_921_521,
    "p3da_resnet50": 25_480_881,
    "p3db_resnet50": 25_480_881,
    "p3dc_resnet50": 25_480_881,
}


@pytest.mark.parametrize("name", RESNET50)
def test_table2_parameter_counts(name):
    base = count_parameters(build_model(name, num_classes=625))
    with_strf = build_model(name, num_classes=625, strf=True)
    units = with_strf.strf_units()
    assert base == EXPECTED_PARAMS[name]
    assert len(units) == 5
    assert count_parameters(with_strf) - base == 57_344 + len(units)  # + one gamma per unit
    paper = {"i3d_resnet50": (28.92, 28.97)}.get(name, (25.48, 25.53))

    def p_m(n):  # Table 2's P(M) column: millions, truncated to two decimals
        return int(n / 1e4) / 100

    if name != "c2d_resnet50":
        assert (p_m(base), p_m(count_parameters(with_strf))) == paper


@pytest.mark.parametrize(
    ("stages", "expected"),
    [
        ((1,), ["layer1.0", "layer1.2"]),
        ((2, 3), ["layer2.0", "layer2.2", "layer3.0", "layer3.2", "layer3.4"]),
        (
            (2, 3, 4),
            ["layer2.0", "layer2.2", "layer3.0", "layer3.2", "layer3.4", "layer4.0", "layer4.2"],
        ),
    ],
)
def test_strf_placement_by_stage(stages, expected):
    model = build_model("p3dc_resnet50", num_classes=10, strf=True, strf_stages=stages)
    units = model.strf_units()
    assert list(units) == [f"{block}.strf" for block in expected]
    widths = {"layer1": 64, "layer2": 128, "layer3": 256, "layer4": 512}
    for name, unit in units.items():
        assert unit.channels == widths[name.split(".")[0]]  # on the bottleneck width


def test_3d_blocks_are_layer2_0_2_and_layer3_0_2_4():
    model = build_model("i3d_resnet50", num_classes=10)
    blocks_3d = [
        n for n, m in model.named_modules() if isinstance(m, Bottleneck3D) and m.temporal != "c2d"
    ]
    assert blocks_3d == ["layer2.0", "layer2.2", "layer3.0", "layer3.2", "layer3.4"]
    for name, m in model.named_modules():
        if isinstance(m, torch.nn.Conv3d) and not name.endswith("strf"):
            is_temporal = m.kernel_size[0] == 3
            assert is_temporal == (
                name.rsplit(".", 1)[0] in blocks_3d and name.endswith("conv2")
            ), name
            assert m.stride[0] == 1, name  # time is never strided


def test_p3d_temporal_convs_start_as_identity_or_zero():
    x = torch.randn(1, 128, 4, 6, 5)
    a = build_model("p3da_resnet50", num_classes=10).layer2[2].conv2_t
    with torch.no_grad():
        torch.testing.assert_close(a(x), x)
    for name in ("p3db_resnet50", "p3dc_resnet50"):
        conv = build_model(name, num_classes=10).layer2[2].conv2_t
        assert conv.weight.abs().sum() == 0
    i3d = build_model("i3d_resnet50", num_classes=10).layer2[0].conv2.weight
    assert i3d[:, :, [0, 2]].abs().sum() == 0 and i3d[:, :, 1].abs().sum() > 0


def _random_2d_resnet50():
    torch.manual_seed(3)
    net = torchvision.models.resnet50(weights=None)
    net.layer4[0].conv2.stride = (1, 1)  # last stride 1, as the 3D networks
    net.layer4[0].downsample[0].stride = (1, 1)
    for m in net.modules():  # non-trivial BN so that copying statistics is tested
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.2, 0.2)
            m.running_var.uniform_(0.5, 1.5)
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.2, 0.2)
    return net.eval()


@pytest.fixture(scope="module")
def net2d_and_reference():
    net = _random_2d_resnet50()
    clip = torch.randn(1, 3, 4, 64, 32, generator=torch.Generator().manual_seed(4))
    frames = clip[0].transpose(0, 1)  # (T, 3, H, W): the 2D network run frame by frame
    with torch.no_grad():
        trunk = torch.nn.Sequential(*list(net.children())[:-2])
        reference = trunk(frames).amax(dim=(2, 3)).unsqueeze(0)  # (1, T, 2048)
    return net, clip, reference


@pytest.mark.parametrize("name", RESNET50)
@pytest.mark.parametrize("strf", [False, True])
def test_inflated_variants_equal_the_2d_network_frame_by_frame(name, strf, net2d_and_reference):
    net, clip, reference = net2d_and_reference
    model = load_2d_weights(build_model(name, num_classes=10, strf=strf), net.state_dict()).eval()
    with torch.no_grad():
        frames = model.frame_features(clip)
    scale = reference.abs().max()
    torch.testing.assert_close(frames / scale, reference / scale, rtol=1e-5, atol=1e-5)
    # The temporal convolutions matter once trained: perturb one and the clip is no longer 2D.
    if name != "c2d_resnet50":
        block = model.layer3[0]
        conv = block.conv2_t if block.conv2_t is not None else block.conv2
        with torch.no_grad():
            conv.weight.add_(0.05 * torch.randn_like(conv.weight))
            assert not torch.allclose(model.frame_features(clip), frames, rtol=1e-3, atol=1e-3)


def test_inflation_rejects_a_state_dict_that_does_not_fit():
    model = build_model("p3dc_resnet_tiny", num_classes=10)
    with pytest.raises(ValueError, match="does not fit"):
        load_2d_weights(model, torchvision.models.resnet50(weights=None).state_dict())


def test_weights_argument_is_checked():
    with pytest.raises(ValueError, match="weights must be"):
        build_model("p3dc_resnet50", num_classes=10, weights="coco")
    with pytest.raises(ValueError, match="ResNet-50 only"):
        build_model("p3dc_resnet_tiny", num_classes=10, weights="imagenet")
    with pytest.raises(ValueError, match="unknown model 'p3dd_resnet50'"):
        build_model("p3dd_resnet50", num_classes=10)


def test_strf_kwargs_reach_every_unit():
    model = build_model(
        "p3dc_resnet_tiny",
        num_classes=10,
        strf=True,
        strf_kwargs={"integration": "parallel", "branches": ("s_fine",)},
    )
    units = list(model.strf_units().values())
    assert len(units) == 3
    assert all(
        isinstance(u, STRF) and u.integration == "parallel" and list(u.branches) == ["s_fine"]
        for u in units
    )


class _ChannelGate(torch.nn.Module):
    """A stand-in attention unit (first argument the channel count, as timm's attn layers)."""

    def __init__(self, channels: int, *, scale: float = 1.0) -> None:
        super().__init__()
        self.channels, self.scale = channels, scale
        self.gate = torch.nn.Parameter(torch.zeros(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * (1 + self.scale * self.gate.view(1, -1, 1, 1, 1))


def test_the_attention_unit_is_a_parameter_of_the_backbone():
    model = build_model("p3dc_resnet_tiny", num_classes=4, attn_layer=_ChannelGate)
    units = model.attention_units()
    assert list(units) == ["layer2.0.strf", "layer3.0.strf", "layer3.2.strf"]
    assert [u.channels for u in units.values()] == [32, 64, 64]  # the bottleneck widths
    assert model.strf_units() == {}  # no STRF in it
    assert model.eval()(torch.randn(1, 3, 2, 64, 32)).features.shape == (1, 512)
    placed = p3dc_resnet_tiny(4, attn_layer=functools.partial(_ChannelGate, scale=2.0))
    assert {u.scale for u in placed.attention_units().values()} == {2.0}
    assert list(p3dc_resnet_tiny(4, attn_layer=STRF, attn_stages=(4,)).strf_units()) == [
        "layer4.0.strf"
    ]
    assert p3dc_resnet_tiny(4).attention_units() == {}
    with pytest.raises(ValueError, match="strf=True or an attn_layer, not both"):
        build_model("p3dc_resnet_tiny", num_classes=4, strf=True, attn_layer=_ChannelGate)


def test_strf_true_is_a_path_to_attn_layer_with_the_same_model():
    kwargs = {"kappa": 2.0, "integration": "s->t"}
    torch.manual_seed(0)
    via_config = build_model(
        "p3dc_resnet_tiny", num_classes=4, strf=True, strf_stages=(2,), strf_kwargs=kwargs
    )
    torch.manual_seed(0)
    direct = p3dc_resnet_tiny(4, attn_layer=strf_layer(**kwargs), attn_stages=(2,))
    assert repr(via_config) == repr(direct)
    for (name, a), b in zip(
        via_config.state_dict().items(), direct.state_dict().values(), strict=True
    ):
        assert torch.equal(a, b), name
    assert strf_layer() is STRF


@pytest.mark.parametrize("name", list_models())
def test_builders_are_plain_functions_that_satisfy_the_model_interface(name):
    builder = getattr(registry_module, name)
    assert inspect.isfunction(builder) and builder.__name__ == name
    assert f"def {name}(" in inspect.getsource(registry_module)  # findable by grep
    params = inspect.signature(builder).parameters
    assert list(params) == ["num_classes", "attn_layer", "attn_stages", "after_layer", "weights"]
    with torch.device("meta"):
        model = builder(3)
    assert isinstance(model, ReIDModel) and model.feature_dim in (512, 2048)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["i3d_resnet50", "p3dc_resnet50"])
def test_resnet50_with_strf_at_paper_clip_size(name):
    """A 4x256x128 clip gives a 16x8 final map and 2048-d features (SPEC section 2)."""
    model = build_model(name, num_classes=625, strf=True)
    _set_gammas(model, 0.1)
    clip = torch.randn(2, 3, 4, 256, 128)
    fmap = model.forward_features(clip)
    assert fmap.shape == (2, 2048, 4, 16, 8)
    out = model.forward_head(fmap.amax(dim=(3, 4)).transpose(1, 2))
    out.logits.logsumexp(dim=1).sum().backward()
    assert torch.isfinite(model.layer2[0].strf.branches["t_dynamic"].reduce.weight.grad).all()


def test_parameter_table_reproduces_table2():
    rows = {row["model"]: row for row in parameter_table()}
    assert rows["c2d_resnet50"]["params"] == 24_792_753
    assert rows["i3d_resnet50"]["params"] == 28_921_521
    for row in rows.values():
        assert row["added"] == 57_344 + 5  # 5 units x 4 branches x c*c/16, and 5 gammas
        for ours, paper in (
            (row["params"], row["paper_m"]),
            (row["params_strf"], row["paper_strf_m"]),
        ):
            if paper is not None:  # the paper truncates to two decimals of a million
                assert ours // 10_000 / 100 == paper
