"""Explanations: per-frame Grad-CAM, integrated gradients, FAM masks, contributions, overlays,
branch toggles and concurrent use of one shared model."""

from __future__ import annotations

import copy
import threading
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from captum.attr import LayerGradCam

from strf_core import active_branches, build_model
from strf_core.data.datasets import build_dataset
from strf_core.explain import (
    FrameGradCam,
    as_images,
    branch_contributions,
    capture_inputs,
    cell_at,
    chosen_similarity_gradcam,
    colorize,
    fam_masks,
    identity_gradcam,
    inspect_unit,
    mask_stats,
    mask_view,
    normalize_maps,
    overlay,
    prepare_clip,
    shared_weight_copy,
    similarity_gradcam,
)
from strf_core.retrieval import Gallery, embed_clip, load_clip
from strf_core.synth import generate

SIZE = (128, 64)


def _model(strf: bool, seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    model = build_model("p3dc_resnet_tiny", num_classes=6, strf=strf)
    for unit in model.strf_units().values():
        torch.nn.init.constant_(unit.gamma, 1.0)  # gamma = 0 would hide every branch toggle
    return model.eval()


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("explain") / "tiny"
    generate(root, preset="tiny", seed=0, size=SIZE, workers=1, progress=False)
    return root


@pytest.fixture(scope="module")
def dataset(world):
    return build_dataset("mars", world)


@pytest.fixture(scope="module")
def strf_model():
    return _model(strf=True)


@pytest.fixture(scope="module")
def clip(dataset) -> torch.Tensor:
    return load_clip(dataset.query[0], SIZE)[:, :8]  # (3, 8, 128, 64) uint8


def _gallery_feature(seed: int = 1) -> torch.Tensor:
    return torch.randn(512, generator=torch.Generator().manual_seed(seed))


def _no_hooks(model: torch.nn.Module) -> bool:
    return all(
        not (m._forward_hooks or m._forward_pre_hooks or m._backward_hooks) for m in model.modules()
    )


# --------------------------------------------------------------------------- Grad-CAM


@pytest.mark.parametrize("layer", ["layer4", "layer3", "layer2.0.strf"])
def test_gradcam_shapes_and_ranges(strf_model, clip, layer):
    maps = similarity_gradcam(strf_model, clip, _gallery_feature(), layer=layer)
    assert maps.maps.shape == (8, *SIZE) and maps.maps.dtype == torch.float32
    assert maps.raw.dim() == 3 and maps.raw.shape[0] == 8 and (maps.raw >= 0).all()
    assert torch.isfinite(maps.maps).all()
    assert maps.maps.min() >= 0 and maps.maps.max() == pytest.approx(1.0)
    assert maps.empty.shape == (8,) and not maps.all_empty
    assert -1.0 <= maps.score <= 1.0 and maps.layer == layer and maps.branches is None
    logit = identity_gradcam(strf_model, clip, 2, layer=layer, normalize="frame")
    peaks = logit.maps.amax(dim=(1, 2))
    assert torch.allclose(peaks[~logit.empty], torch.ones(int((~logit.empty).sum())))
    with torch.no_grad():
        expected = strf_model(prepare_clip(clip)).logits[0, 2]
    assert logit.score == pytest.approx(float(expected), abs=1e-5)
    assert logit.target == "identity 2"


def test_frame_gradcam_pools_gradients_over_space_per_frame(strf_model, clip):
    net = shared_weight_copy(strf_model)
    inputs = prepare_clip(clip)
    target = F.normalize(_gallery_feature()[None], dim=1)

    def similarity(clips):
        return F.cosine_similarity(net(clips).features, target, dim=1)

    with capture_inputs(net, ["layer4.0.conv1"]):  # unrelated hook: must not interfere
        cam = FrameGradCam(similarity, net.layer3).attribute(inputs)
    # By hand: gradient of the similarity with respect to layer3's output.
    acts = {}
    handle = net.layer3.register_forward_hook(lambda m, i, o: acts.setdefault("a", o))
    score = similarity(inputs)
    handle.remove()
    (grads,) = torch.autograd.grad(score.sum(), acts["a"])
    weights = grads.mean(dim=(3, 4), keepdim=True)  # (1, C, T, 1, 1)
    expected = F.relu((weights * acts["a"]).sum(dim=1))
    assert torch.allclose(cam, expected.detach(), atol=1e-6, rtol=1e-4)
    # captum's LayerGradCam averages over time as well: on a one-frame clip the two agree.
    one = inputs[:, :, :1]
    ours = FrameGradCam(similarity, net.layer3).attribute(one)
    theirs = LayerGradCam(similarity, net.layer3).attribute(one, relu_attributions=True)
    assert torch.allclose(ours, theirs[:, 0], atol=1e-6, rtol=1e-4)


def test_similarity_score_is_the_rankings(strf_model, dataset):
    gallery = Gallery(dataset.gallery[:4], size=SIZE)
    query = dataset.query[0]
    ranking = gallery.rank(strf_model, query, k=3)
    top = ranking.hits[0]
    maps = similarity_gradcam(
        strf_model, load_clip(query, SIZE), gallery.features(strf_model)[top.index]
    )
    assert maps.score == pytest.approx(1.0 - top.distance, abs=1e-5)


def test_chosen_similarity_gradcam_ranks_and_explains_in_one_forward(strf_model, dataset, clip):
    # The dashboard's toggle: rank with the embedding of Grad-CAM's own forward pass, explain
    # the chosen entry. Embedding, choice and maps must equal the two-pass way.
    gallery = Gallery(dataset.gallery[:6], size=SIZE)
    calls = []

    def choose(feature):
        calls.append(feature)
        return gallery.features(strf_model)[gallery.rank(strf_model, feature, k=3).hits[1].index]

    with active_branches("t_static", "s_coarse"):  # the switches reach both passes
        maps, feature = chosen_similarity_gradcam(strf_model, clip, choose)
        dense = embed_clip(strf_model, clip)
        second = gallery.rank(strf_model, clip, k=3).hits[1].index
        two_pass = similarity_gradcam(strf_model, clip, gallery.features(strf_model)[second])
    assert len(calls) == 1 and not calls[0].requires_grad
    torch.testing.assert_close(feature, dense, atol=1e-5, rtol=1e-5)  # 8 frames: one chunk
    torch.testing.assert_close(maps.raw, two_pass.raw, atol=1e-5, rtol=1e-4)
    assert maps.score == pytest.approx(two_pass.score, abs=1e-6)
    assert maps.branches == ("s_coarse", "t_static")


def test_all_zero_maps_give_zeros_and_a_flag_never_nan(strf_model, clip):
    maps, empty = normalize_maps(torch.zeros(4, 8, 4), SIZE)
    assert maps.shape == (4, *SIZE) and not maps.any() and empty.all()
    raw = torch.zeros(3, 8, 4)
    raw[1, 2, 2] = 5.0
    raw[2, 0, 0] = float("nan")
    for mode in ("tracklet", "frame", "none"):
        maps, empty = normalize_maps(raw, SIZE, mode)
        assert torch.isfinite(maps).all() and empty.tolist() == [True, False, True]
    # A logit that does not depend on the input (a zeroed classifier row): no evidence at all.
    model = copy.deepcopy(strf_model)
    with torch.no_grad():
        model.head.classifier.weight[4] = 0.0
    maps = identity_gradcam(model, clip, 4)
    assert maps.all_empty and not maps.maps.any() and torch.isfinite(maps.maps).all()


def test_integrated_gradients_maps(strf_model, clip):
    maps = similarity_gradcam(
        strf_model, clip[:, :4], _gallery_feature(), method="integrated_gradients", n_steps=4
    )
    assert maps.maps.shape == (4, *SIZE) and maps.raw.shape == (4, *SIZE)
    assert maps.layer == "input" and maps.method == "integrated_gradients"
    assert torch.isfinite(maps.maps).all() and maps.maps.min() >= 0 and maps.maps.max() <= 1
    with pytest.raises(ValueError, match="method"):
        similarity_gradcam(strf_model, clip, _gallery_feature(), method="saliency")


def test_maps_change_with_branch_toggles_only_for_strf(strf_model, clip):
    feature = _gallery_feature()
    every = similarity_gradcam(strf_model, clip, feature)
    with active_branches("s_fine", "s_coarse"):
        spatial = similarity_gradcam(strf_model, clip, feature)
    with active_branches():
        none = similarity_gradcam(strf_model, clip, feature)
    assert spatial.branches == ("s_coarse", "s_fine") and none.branches == ()
    assert not torch.allclose(every.raw, spatial.raw)
    assert not torch.allclose(spatial.raw, none.raw)
    assert every.score != spatial.score
    baseline = _model(strf=False)
    plain = similarity_gradcam(baseline, clip, feature)
    with active_branches("s_fine"):
        toggled = similarity_gradcam(baseline, clip, feature)
    assert torch.equal(plain.raw, toggled.raw)


def test_bad_layer_and_clip(strf_model, clip):
    with pytest.raises(ValueError, match="no module 'layer9'"):
        similarity_gradcam(strf_model, clip, _gallery_feature(), layer="layer9")
    with pytest.raises(ValueError, match=r"\(N, C, T, h, w\)"):
        identity_gradcam(strf_model, clip, 0, layer="head.neck")
    with pytest.raises(ValueError, match="one clip"):
        similarity_gradcam(strf_model, clip[None], _gallery_feature())


# --------------------------------------------------------------------------- overlays


def test_overlay_and_colormaps(clip):
    maps = torch.linspace(0, 1, 8)[:, None, None].expand(8, *SIZE)
    out = overlay(clip, maps, alpha=0.6)
    assert out.shape == (8, *SIZE, 3) and out.dtype == torch.uint8
    frames = clip.permute(1, 2, 3, 0)
    assert torch.equal(out[0], frames[0])  # a zero map leaves the frame as it was
    assert torch.equal(overlay(clip, torch.zeros(SIZE)), frames)  # one map for every frame
    assert not torch.equal(out[-1], frames[-1])
    ends = colorize(torch.tensor([0.0, 1.0]), "jet")
    assert torch.allclose(ends, torch.tensor([[0.0, 0.0, 0.5], [0.5, 0.0, 0.0]]))
    with pytest.raises(ValueError, match="do not fit"):
        overlay(clip, torch.zeros(3, 5, 5))
    # Maps at the model's smaller input size are resized to the frames: a half-hot map stays
    # half-hot, and a constant map stays constant.
    half = torch.zeros(8, SIZE[0] // 2, SIZE[1] // 2)
    half[:, :, : SIZE[1] // 4] = 1.0
    big = overlay(clip, half, alpha=1.0)
    assert big.shape == out.shape
    hot, edge = overlay(clip, torch.ones(SIZE), alpha=1.0), SIZE[1] // 2
    assert torch.equal(big[:, :, : edge - 1], hot[:, :, : edge - 1])
    assert torch.equal(big[:, :, edge + 1 :], frames[:, :, edge + 1 :])


def test_as_images(clip):
    images = as_images(clip)
    assert len(images) == 8 and images[0].shape == (*SIZE, 3) and images[0].dtype == np.uint8
    assert np.array_equal(images[3], clip[:, 3].permute(1, 2, 0).numpy())
    blended = as_images(overlay(clip, torch.zeros(SIZE)))
    assert all(np.array_equal(a, b) for a, b in zip(images, blended, strict=True))
    with pytest.raises(ValueError, match="uint8"):
        as_images(clip.float())


# --------------------------------------------------------------------------- FAM masks


def _strf_input_by_hand(model, clip) -> torch.Tensor:
    """The input of layer2.0.strf, recomputed without hooks: stem, layer1, then layer2.0's
    conv1 -> bn1 -> relu -> conv2 (P3D-C puts the unit between conv2 and the temporal conv)."""
    x = prepare_clip(clip)
    with torch.no_grad():
        x = model.maxpool(model.relu(model.bn1(model.conv1(x))))
        x = model.layer1(x)
        block = model.layer2[0]
        return block.conv2(block.relu(block.bn1(block.conv1(x))))


def test_fam_masks_match_a_direct_recomputation(strf_model, clip):
    unit = strf_model.layer2[0].strf
    assert unit.integration == "t->s"
    x = _strf_input_by_hand(strf_model, clip)
    n, c, t, h, w = x.shape
    with torch.no_grad():
        expected = {b: unit.branches[b].mask(x) for b in ("t_dynamic", "t_static")}
        # In a t->s cascade the spatial keys come from the temporal factorization's output.
        temporal = x.reshape(n, c * t, h * w) @ (expected["t_dynamic"] + expected["t_static"])
        x_s = temporal.reshape(x.shape)
        expected |= {b: unit.branches[b].mask(x_s) for b in ("s_fine", "s_coarse")}
    masks = fam_masks(strf_model, clip)["layer2.0.strf"]
    assert list(masks) == ["t_dynamic", "t_static", "s_fine", "s_coarse"]
    for b, mask in masks.items():
        assert mask.shape == (h * w, h * w)
        assert torch.allclose(mask, expected[b][0], atol=1e-6), b
        assert torch.allclose(mask.sum(dim=0), torch.ones(h * w), atol=1e-5)
    # Only the spatial branches on: the temporal factorization is skipped, keys come from x.
    with active_branches("s_fine"):
        toggled = fam_masks(strf_model, clip, units=["layer2.0.strf"])["layer2.0.strf"]
    assert list(toggled) == ["s_fine"]
    with torch.no_grad():
        assert torch.allclose(toggled["s_fine"], unit.branches["s_fine"].mask(x)[0], atol=1e-6)


def test_inspect_unit_views_stats_and_contributions(strf_model, clip):
    inspection = inspect_unit(strf_model, clip, "layer3.0.strf")
    h, w = inspection.grid
    assert (h, w) == (8, 4) and inspection.frame_size == SIZE
    assert inspection.branches == ("t_dynamic", "t_static", "s_fine", "s_coarse")
    cell = inspection.cell_at(100, 10)
    assert cell == (6, 0)
    view = inspection.view("s_coarse", cell)
    column = inspection.masks["s_coarse"][:, 6 * w + 0].reshape(h, w)
    assert view.shape == SIZE and view.max() == pytest.approx(1.0)
    assert torch.allclose(view[::16, ::16], column / column.max())  # 16x16-pixel cells
    for b in inspection.branches:
        stats = inspection.stats[b]
        assert 0 <= stats.normalized_entropy <= 1 + 1e-6
        assert 1 <= stats.effective_positions <= h * w + 1e-3
        contribution = inspection.contributions[b]
        assert 0 < contribution.relative_norm <= 1 + 1e-5
        assert contribution.residual_share > 0  # gamma = 1 here
    with active_branches("t_static"):
        toggled = inspect_unit(strf_model, clip, "layer3.0.strf")
    assert toggled.branches == ("t_static",)
    with pytest.raises(KeyError, match="did not run"):
        toggled.view("s_fine", (0, 0))
    with pytest.raises(ValueError, match="not an STRF unit"):
        inspect_unit(strf_model, clip, "layer3.1")


def test_mask_stats_views_and_contributions_by_hand():
    length = 6
    uniform, onehot = torch.full((length, length), 1 / length), torch.eye(length)
    stats = mask_stats(uniform)
    assert stats.normalized_entropy == pytest.approx(1.0)
    assert stats.effective_positions == pytest.approx(length)
    assert stats.peak == pytest.approx(1 / length)
    assert mask_stats(onehot) == pytest.approx((0.0, 0.0, 1.0, 1.0))
    mask = torch.zeros(length, length)
    mask[4, 1] = 0.75  # output position 1 draws 3/4 from position 4 and 1/4 from 0
    mask[0, 1] = 0.25
    column = mask_view(mask, (3, 2), (0, 1), direction="column")
    assert torch.equal(column, torch.tensor([[1 / 3, 0.0], [0.0, 0.0], [1.0, 0.0]]))
    row = mask_view(mask, (3, 2), (2, 0), direction="row")  # where position 4's features go
    assert torch.equal(row, torch.tensor([[0.0, 1.0], [0.0, 0.0], [0.0, 0.0]]))
    assert not mask_view(mask, (3, 2), (1, 1), direction="row").any()  # no NaN on all-zero rows
    assert cell_at((127, 63), SIZE, (8, 4)) == (7, 3) and cell_at((0, 0), SIZE, (8, 4)) == (0, 0)
    # Contributions: ||x_hat @ M|| / ||x_hat||, and gamma * that over the unit input's norm.
    unit = build_model("p3dc_resnet_tiny", num_classes=2, strf=True).layer2[0].strf
    torch.nn.init.constant_(unit.gamma, -0.5)
    x = torch.randn(1, 32, 2, 3, 2)
    swap = torch.eye(6)[[1, 0, 2, 3, 4, 5]][None]  # a permutation keeps the norm
    half = torch.full((1, 6, 6), 1 / 6)  # averaging every position
    out = branch_contributions(
        unit, 2 * x, {"s_fine": x, "s_coarse": x}, {"s_fine": swap, "s_coarse": half}
    )
    assert out["s_fine"].relative_norm == pytest.approx(1.0, abs=1e-6)
    assert out["s_fine"].residual_share == pytest.approx(0.25, abs=1e-6)
    mean = x.reshape(1, 64, 6).mean(dim=2, keepdim=True).expand(1, 64, 6)
    assert out["s_coarse"].relative_norm == pytest.approx(float(mean.norm() / x.norm()), rel=1e-5)


# --------------------------------------------------------------------------- isolation, threads


def test_shared_weight_copy_shares_weights_but_not_hooks(strf_model, clip):
    net = shared_weight_copy(strf_model)
    assert net is not strf_model and not net.training
    for a, b in zip(strf_model.state_dict().values(), net.state_dict().values(), strict=True):
        assert a.data_ptr() == b.data_ptr()
    feature = _gallery_feature()
    by_copy = similarity_gradcam(strf_model, clip, feature, isolation="copy")
    by_lock = similarity_gradcam(strf_model, clip, feature, isolation="lock")
    assert torch.allclose(by_copy.raw, by_lock.raw, atol=1e-6)
    inspect_unit(strf_model, clip, "layer2.0.strf", isolation="lock")
    assert _no_hooks(strf_model)
    with pytest.raises(ValueError, match="isolation"):
        similarity_gradcam(strf_model, clip, feature, isolation="none")


@pytest.mark.parametrize("isolation", ["copy", "lock"])
def test_concurrent_calls_on_one_model_match_serial_results(strf_model, dataset, isolation):
    clips = [load_clip(t, SIZE)[:, :4] for t in dataset.query[:3]]
    # Different queries and branch sets at once, one of them twice.
    settings = [(None, 0), (("s_fine",), 1), (("t_dynamic", "t_static"), 2), (None, 0)]
    feature = _gallery_feature()

    def work(branches, q):
        def run():
            maps = similarity_gradcam(strf_model, clips[q], feature, isolation=isolation)
            masks = fam_masks(strf_model, clips[q], isolation=isolation)
            return maps.raw, maps.score, masks

        if branches is None:
            return run()
        with active_branches(*branches):
            return run()

    serial = [work(b, q) for b, q in settings]
    results: list = [None] * len(serial)
    barrier = threading.Barrier(len(serial))

    def thread(i):
        barrier.wait()
        results[i] = work(*settings[i])

    threads = [threading.Thread(target=thread, args=(i,)) for i in range(len(serial))]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    for got, want in zip(results, serial, strict=True):
        assert got is not None
        assert torch.allclose(got[0], want[0], atol=1e-6)
        assert got[1] == pytest.approx(want[1], abs=1e-6)
        assert got[2].keys() == want[2].keys()
        for unit in want[2]:
            assert got[2][unit].keys() == want[2][unit].keys()
            for b in want[2][unit]:
                assert torch.allclose(got[2][unit][b], want[2][unit][b], atol=1e-6)
    assert _no_hooks(strf_model)
