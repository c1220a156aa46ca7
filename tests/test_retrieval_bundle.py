"""Embedding bundles (strf_core.retrieval.bundle): written for a model and a synthetic world,
installed into a gallery only when weights, architecture, world, settings, tracklets and
bytes all fit; otherwise refused with a reason and the gallery embeds as before."""

from __future__ import annotations

import pytest
import torch
from safetensors.torch import safe_open

from strf_core import active_branches, build_model
from strf_core.data.datasets import build_dataset
from strf_core.demo import world_of
from strf_core.features import extract_features
from strf_core.retrieval import (
    BundleError,
    Gallery,
    all_branch_sets,
    install_bundle,
    write_bundle,
)
from strf_core.retrieval import gallery as gallery_module
from strf_core.synth import generate

SIZE = (128, 64)
SETTINGS = {"size": (64, 32), "mode": "dense", "chunk_len": 8}


def _model(strf: bool, seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    model = build_model("p3dc_resnet_tiny", num_classes=6, strf=strf)
    for unit in model.strf_units().values():
        torch.nn.init.constant_(unit.gamma, 1.0)  # 0 at init would make every branch set equal
    return model.eval()


@pytest.fixture(scope="module")
def worlds(tmp_path_factory) -> dict[int, object]:
    """The tiny world's test split for seeds 0 and 1, as datasets."""
    base = tmp_path_factory.mktemp("bundle")
    out = {}
    for seed in (0, 1):
        root = base / f"tiny-seed{seed}"
        generate(root, preset="tiny", seed=seed, size=SIZE, progress=False, splits=("test",))
        out[seed] = build_dataset("mars", root, protocol="ap3d")
    return out


@pytest.fixture(scope="module")
def strf_bundle(worlds, tmp_path_factory):
    """An STRF model and its bundle over the seed-0 gallery."""
    data = worlds[0]
    model = _model(strf=True)
    path = tmp_path_factory.mktemp("files") / "embeddings.safetensors"
    gallery = Gallery(data.gallery, **SETTINGS)
    write_bundle(path, model, gallery, root=data.root, world=world_of(data.root))
    return model, path


def _fail(*args, **kwargs):
    raise AssertionError("embedded although the bundle was installed")


def test_installed_bundle_serves_every_branch_set_without_embedding(
    worlds, strf_bundle, monkeypatch
):
    data = worlds[0]
    model, path = strf_bundle
    with safe_open(path, framework="pt") as f:
        assert len(list(f.keys())) == 16  # all subsets of the four branches
        assert all(f.get_tensor(k).dtype == torch.float16 for k in f.keys())  # noqa: SIM118
    # A gallery of some of the bundle's tracklets, in another order (the queries, reversed).
    subset = list(reversed(data.query))
    gallery = Gallery(subset, **SETTINGS)
    fresh = {}
    for names in [("t_dynamic", "t_static", "s_fine", "s_coarse"), ("s_fine",), ()]:
        with active_branches(*names):
            fresh[names] = extract_features(model, subset, **SETTINGS)
    check = install_bundle(gallery, model, path, root=data.root, world=world_of(data.root))
    assert check.used and check.branch_sets == 16 and check.reason is None
    monkeypatch.setattr(gallery_module, "extract_features", _fail)
    assert gallery.missing(model) == [] and gallery.precompute(model) == 0
    for names, want in fresh.items():
        with active_branches(*names):
            got = gallery.features(model)
        assert got.dtype == torch.float32
        scale = want.abs().max()
        torch.testing.assert_close(got, want, rtol=2e-3, atol=2e-3 * scale)
    # The sets really differ, so a bundle that mixed them up would fail above.
    all_on, spatial = fresh[("t_dynamic", "t_static", "s_fine", "s_coarse")], fresh[("s_fine",)]
    assert (all_on - spatial).abs().max() > 0.05 * all_on.abs().max()


def _refusal(gallery, model, path, data, world=None) -> str:
    check = install_bundle(gallery, model, path, root=data.root, world=world or world_of(data.root))
    assert not check.used and check.branch_sets == 0
    assert gallery.missing(model)  # nothing installed: the gallery embeds as before
    return check.reason


def test_bundle_for_other_weights_is_refused_and_the_gallery_embeds(worlds, strf_bundle):
    data = worlds[0]
    _, path = strf_bundle
    changed = _model(strf=True)
    with torch.no_grad():
        next(changed.parameters()).add_(1e-3)
    gallery = Gallery(data.gallery, **SETTINGS)
    assert "other weights" in _refusal(gallery, changed, path, data)
    torch.testing.assert_close(
        gallery.features(changed), extract_features(changed, data.gallery, **SETTINGS)
    )


def test_bundle_for_another_world_or_other_tracklets_is_refused(worlds, strf_bundle, caplog):
    model, path = strf_bundle
    other = worlds[1]  # seed 1: the same file names, other frames
    reason = _refusal(Gallery(other.gallery, **SETTINGS), model, path, other)
    assert '"seed": 0' in reason and '"seed": 1' in reason
    assert "not used" in caplog.text and str(path) in caplog.text
    # Seed 1's world claimed to be seed 0's: its tracklets are not the bundle's.
    data = worlds[0]
    disguised = Gallery(other.gallery, **SETTINGS)
    reason = _refusal(disguised, model, path, other, world=world_of(data.root))
    assert "tracklets are not in it" in reason
    # One tracklet a frame shorter.
    tracklets = list(data.gallery)
    tracklets[3] = tracklets[3]._replace(frames=tracklets[3].frames[:-1])
    assert "1 of the gallery's" in _refusal(Gallery(tracklets, **SETTINGS), model, path, data)
    # Other extraction settings.
    clip = Gallery(data.gallery, **{**SETTINGS, "mode": "clip"})
    assert "extraction settings" in _refusal(clip, model, path, data)
    # Another model (a baseline) altogether.
    baseline = _model(strf=False)
    assert "weights" in _refusal(Gallery(data.gallery, **SETTINGS), baseline, path, data)


def test_damaged_or_missing_bundle_is_refused_with_a_reason(worlds, strf_bundle, tmp_path):
    data = worlds[0]
    model, path = strf_bundle
    raw = bytearray(path.read_bytes())
    flipped = tmp_path / "flipped.safetensors"
    raw[-100] ^= 0xFF  # one byte of the embeddings
    flipped.write_bytes(bytes(raw))
    gallery = Gallery(data.gallery, **SETTINGS)
    assert "damaged" in _refusal(gallery, model, flipped, data)
    truncated = tmp_path / "truncated.safetensors"
    truncated.write_bytes(path.read_bytes()[: len(raw) // 2])
    assert "not a readable safetensors file" in _refusal(gallery, model, truncated, data)
    assert "not found" in _refusal(gallery, model, tmp_path / "absent.safetensors", data)


def test_baseline_bundle_and_bad_input(worlds, tmp_path):
    data = worlds[0]
    model = _model(strf=False)
    assert all_branch_sets(model) == [None]
    path = tmp_path / "baseline.safetensors"
    gallery = Gallery(data.gallery, **SETTINGS)
    write_bundle(path, model, gallery, root=data.root, world=world_of(data.root))
    fresh = Gallery(data.gallery, **SETTINGS)
    assert install_bundle(fresh, model, path, root=data.root, world=world_of(data.root)).used
    torch.testing.assert_close(fresh.features(model), gallery.features(model), rtol=1e-3, atol=1e-3)
    with pytest.raises(BundleError, match="cannot key the tracklets"):
        write_bundle(tmp_path / "x.safetensors", model, gallery, root=tmp_path, world={})
    assert not (tmp_path / "x.safetensors").exists()
    with pytest.raises(ValueError, match="one row per gallery tracklet"):
        fresh.install(model, torch.zeros(len(fresh) - 1, 8))
