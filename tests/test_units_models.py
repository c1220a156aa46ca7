"""Attention units by name (``model.attn_layer``) beside the old ``model.strf``; STRF's pooling
per factorization and the unit without FAM; every unit's attention through one explain call."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from strf_core import STRF, build_model, count_parameters
from strf_core.engine.checkpoint import load_trained_model, load_weights
from strf_core.engine.config import build_model_for, config_from_dict, load_config
from strf_core.explain import attention_units, fam_masks, unit_attention
from strf_core.models import UNIT_NAMES, unit_parameter_table
from strf_core.modules import APM, NonLocalBlock3D

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ROOT / "sample_data" / "models"
CELLS = sorted((ROOT / "docs" / "results" / "cells").glob("*.json"))


def _kinds(model) -> list[str]:
    return [type(u).__name__ for u in model.attention_units().values()]


def test_attn_layer_names_each_unit_and_strf_is_its_old_spelling():
    built = {u: build_model("p3dc_resnet_tiny", 4, attn_layer=u) for u in UNIT_NAMES}
    assert _kinds(built["strf"]) == ["STRF"] * 3
    assert _kinds(built["nonlocal"]) == ["NonLocalBlock3D"] * 2  # after layer2.1, layer3.1
    assert _kinds(built["apm"]) == ["APM"] * 3
    assert sorted(_kinds(built["apm_nl"])) == ["APM"] * 3 + ["NonLocalBlock3D"] * 2
    assert _kinds(built["none"]) == []
    # The old spelling builds the same network, through the one mapping.
    torch.manual_seed(0)
    old = build_model("p3dc_resnet_tiny", 4, strf=True, strf_kwargs={"kappa": 2.0})
    torch.manual_seed(0)
    new = build_model("p3dc_resnet_tiny", 4, attn_layer="strf", strf_kwargs={"kappa": 2.0})
    assert repr(old) == repr(new)
    assert all(torch.equal(a, b) for a, b in zip(old.parameters(), new.parameters(), strict=True))


def test_config_key_attn_layer_and_the_old_strf_key():
    def kinds(*overrides):
        return _kinds(build_model_for(load_config(None, list(overrides)), 4))

    assert kinds() == ["STRF"] * 3  # the default config: strf true
    assert kinds("model.strf=false") == []
    assert kinds("model.attn_layer=nonlocal") == ["NonLocalBlock3D"] * 2  # attn_layer decides
    assert kinds("model.strf=false", "model.attn_layer=apm") == ["APM"] * 3
    assert kinds("model.attn_layer=none") == []
    assert kinds("model.attn_layer=apm", "model.strf_stages=[3]") == ["APM"] * 2
    with pytest.raises(ValueError, match="attn_layer must be one of"):
        kinds("model.attn_layer=se")
    with pytest.raises(ValueError, match=r"strf_kwargs .* for attn_layer 'nonlocal'"):
        kinds("model.attn_layer=nonlocal", "model.strf_kwargs={kappa: 2.0}")


@pytest.mark.parametrize("name", ["baseline", "strf"])
def test_shipped_models_load_the_same_through_either_spelling(name, tmp_path):
    """The shipped checkpoints (``model.strf``) load strictly, and ``model.attn_layer`` naming
    the same unit gives the same outputs with their weights."""
    model, config = load_trained_model(SHIPPED / name)
    assert config.model.attn_layer is None and _kinds(model) == ["STRF"] * 3 * (name == "strf")
    unit = "strf" if config.model.strf else "none"
    renamed = load_config(SHIPPED / name / "config.yaml", [f"model.attn_layer={unit}"])
    num_classes = model.head.classifier.out_features
    twin = load_weights(build_model_for(renamed, num_classes, pretrained=False), SHIPPED / name)
    clip = torch.randn(2, 3, 4, 64, 32, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        assert torch.equal(model(clip).features, twin.eval()(clip).features)


def test_stored_cells_configs_build_the_model_their_overrides_name():
    """Every stored benchmark cell's recorded config still loads, asks for the model its
    overrides ask for, and builds it: STRF units exactly where ``model.strf`` says, and the
    units ``model.attn_layer`` names where it names one (the ``units`` ablation group)."""
    assert len(CELLS) >= 99
    named = {"nonlocal": {"NonLocalBlock3D"}, "apm": {"APM"}, "apm_nl": {"APM", "NonLocalBlock3D"}}
    distinct = {}
    for path in CELLS:
        record = json.loads(path.read_text())
        stored = config_from_dict(record["config"])
        assert stored.model == load_config(None, record["overrides"]).model, path.name
        distinct[repr(stored.model)] = stored
    assert {c.model.attn_layer for c in distinct.values()} >= {None, *named}
    for config in distinct.values():
        kinds = _kinds(build_model_for(config, 5))
        unit = config.model.attn_layer
        if unit in named:
            assert kinds and set(kinds) == named[unit] and not config.model.strf, unit
        else:
            assert kinds == ["STRF"] * len(kinds) and bool(kinds) == config.model.strf


def test_unit_parameter_table_has_ap3ds_models_and_strf_is_lightest():
    rows = {(r.model, r.unit): r for r in unit_parameter_table(models=("p3dc_resnet50",))}
    ap3d, ap3d_nl = rows[("p3dc_resnet50", "apm")], rows[("p3dc_resnet50", "apm_nl")]
    assert (ap3d.ap3d_name, ap3d_nl.ap3d_name) == ("AP3DResNet50", "AP3DNLResNet50")
    # By hand: APM 3 c^2/16 + c/16 at widths 128 (x2) and 256 (x3); non-local 2 C^2 + 4.5 C at
    # outputs 512 (x2) and 1024 (x3).
    apm = sum(3 * c * c // 16 + c // 16 for c in (128, 128, 256, 256, 256))
    nl = sum(2 * c * c + 9 * c // 2 for c in (512, 512, 1024, 1024, 1024))
    assert (ap3d.added, ap3d_nl.added) == (apm, apm + nl)
    assert rows[("p3dc_resnet50", "nonlocal")].added == nl
    assert rows[("p3dc_resnet50", "none")].params == 25_480_881
    assert "Sec. 3.3" in rows[("p3dc_resnet50", "nonlocal")].paper


@pytest.mark.parametrize(
    ("pool", "temporal", "spatial"),
    [("max", "max", "max"), ("max/avg", "max", "avg"), ("avg/max", "avg", "max")],
)
def test_pool_per_factorization(pool, temporal, spatial):
    unit = STRF(32, pool=pool)
    kinds = {
        n: "max" if isinstance(b.pool, torch.nn.MaxPool3d) else "avg"
        for n, b in unit.branches.items()
    }
    assert kinds == {
        "t_dynamic": temporal,
        "t_static": temporal,
        "s_fine": spatial,
        "s_coarse": spatial,
    }


@pytest.mark.parametrize("pool", ["max/", "max/avg/max", "avg/min"])
def test_bad_split_pool_is_named(pool):
    with pytest.raises(ValueError, match="TEMPORAL/SPATIAL"):
        STRF(32, pool=pool)


def test_without_fam_every_mask_is_the_inputs_own_cosine_softmax():
    """SPEC section 5: no reduction, no pooling; M = softmax(kappa * cos(f_hat_i, f_hat_j)) over
    sources, the same for all four branches; only gamma is learnt."""
    torch.manual_seed(0)
    unit = STRF(16, fam=False, kappa=3.0, integration="parallel").eval()
    assert [n for n, _ in unit.named_parameters()] == ["gamma"]
    x = torch.randn(1, 16, 3, 4, 2)
    f_hat = torch.nn.functional.normalize(x.reshape(1, 48, 8), dim=1)[0]  # (C*T, HW)
    expected = torch.softmax(3.0 * f_hat.T @ f_hat, dim=0)
    for branch in unit.branches.values():
        torch.testing.assert_close(branch.mask(x)[0], expected)
    torch.nn.init.constant_(unit.gamma, 1.0)
    torch.testing.assert_close(unit(x), x + (4 * x.reshape(1, 48, 8) @ expected).reshape(x.shape))


def test_unit_attention_reads_every_kind_of_unit():
    torch.manual_seed(0)
    clip = torch.randint(0, 256, (3, 4, 64, 32), dtype=torch.uint8)
    strf_model = build_model("p3dc_resnet_tiny", 4, attn_layer="strf").eval()
    maps = unit_attention(strf_model, clip)
    fam = fam_masks(strf_model, clip)
    assert {u: [m.name for m in ms] for u, ms in maps.items()} == {
        u: list(b) for u, b in fam.items()
    }
    for unit, unit_maps in maps.items():
        for m in unit_maps:
            assert torch.equal(m.weights, fam[unit][m.name])

    model = build_model("p3dc_resnet_tiny", 4, attn_layer="apm_nl").eval()
    units = attention_units(model)
    maps = unit_attention(model, clip)
    assert list(maps) == list(units)
    nl = maps["layer2.1.after"][0]
    assert (nl.kind, nl.source_grid, nl.target_grid) == ("nonlocal", (4, 4, 2), (4, 8, 4))
    torch.testing.assert_close(nl.weights.sum(0), torch.ones(4 * 8 * 4))
    # APM: frame t's positions draw from frame t - 1 only (none for the first frame).
    previous, following = maps["layer2.0.strf"]
    assert (previous.name, following.name) == ("t-1", "t+1")
    view = previous.view((2, 3, 1))  # target: frame 2, row 3, col 1
    assert view.shape == (4, 8, 4) and view[1].sum() == pytest.approx(1.0)
    assert view[[0, 2, 3]].abs().sum() == 0
    assert previous.view((0, 0, 0)).abs().sum() == 0 and following.view((3, 0, 0)).sum() == 0
    assert isinstance(units["layer2.0.strf"], APM)
    assert isinstance(units["layer2.1.after"], NonLocalBlock3D)
    with pytest.raises(ValueError, match="not attention units"):
        unit_attention(model, clip, units=["layer4"])


def test_other_units_train_every_parameter():
    torch.manual_seed(0)
    model = build_model("p3dc_resnet_tiny", 4, attn_layer="apm_nl")
    with torch.no_grad():  # leave the zero inits, which block some gradients exactly
        for m in model.modules():
            if isinstance(m, NonLocalBlock3D):
                m.out_bn.weight.fill_(1.0)
            if getattr(m, "conv2_t", None) is not None:
                m.conv2_t.weight.normal_(0, 0.1)
    out = model(torch.randn(2, 3, 4, 64, 32))
    (out.logits.sum() + out.features.sum()).backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None or not p.grad.any()]
    assert missing == []
    assert count_parameters(model) > count_parameters(build_model("p3dc_resnet_tiny", 4))


def test_strf_models_units_prints_ap3ds_configurations(capsys):
    from strf_core import cli

    assert cli.main(["models", "--units", "--json"]) == 0
    rows = {(r["model"], r["unit"]): r for r in json.loads(capsys.readouterr().out)}
    assert rows[("p3dc_resnet50", "apm_nl")]["ap3d_name"] == "AP3DNLResNet50"
    assert rows[("p3dc_resnet50", "apm_nl")]["params"] == 25_480_881 + 7_401_536
    assert cli.main(["models", "--units"]) == 0
    assert "AP3DResNet50" in capsys.readouterr().out
