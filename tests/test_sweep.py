"""Occlusion sweeps (strf_core.explain.sweep): ranks as the evaluation ranks, similarities and
Grad-CAM shares as the single-clip explanation gives them, the query rule, the statistics."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from strf_core import active_branches, build_model
from strf_core.data.datasets import build_dataset
from strf_core.data.transforms import ClipTransform
from strf_core.explain import similarity_gradcam
from strf_core.explain.evidence import evidence_shares
from strf_core.explain.sweep import (
    MAX_FRAMES,
    SweepQuery,
    SweepResult,
    SweepSettings,
    occlusion_sweep,
    pick_clean_queries,
)
from strf_core.retrieval import Gallery, load_clip
from strf_core.synth import generate
from strf_core.synth.ground_truth import FrameMasks
from strf_core.synth.occlude import occlude

CLIP_SIZE = (128, 64)  # the world's frames: where occluders are drawn and measured
INPUT_SIZE = (64, 32)  # the model's input: half, so a mix-up of the two sizes shows


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("sweep") / "tiny"
    generate(root, preset="tiny", seed=2, size=CLIP_SIZE, workers=1, progress=False)
    return root


@pytest.fixture(scope="module")
def dataset(world):
    return build_dataset("mars", world)


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    net = build_model("p3dc_resnet_tiny", num_classes=6, strf=True)
    for unit in net.strf_units().values():
        torch.nn.init.constant_(unit.gamma, 1.0)  # gamma = 0 would hide the branch switches
    return net.eval()


@pytest.fixture(scope="module")
def gallery(dataset):
    return Gallery(dataset.gallery, size=INPUT_SIZE)


def _has_match(dataset) -> list[bool]:
    pids = np.array([t.pid for t in dataset.gallery])
    cams = np.array([t.camid for t in dataset.gallery])
    return [bool(((pids == t.pid) & (cams != t.camid)).any()) for t in dataset.query]


@pytest.fixture(scope="module")
def queries(dataset) -> list[SweepQuery]:
    lengths = [len(t.frames) for t in dataset.query]
    chosen = pick_clean_queries(dataset.query_subsets(), lengths, _has_match(dataset), 2)
    assert chosen  # the tiny world may hold a single eligible clean query
    out = []
    for i in chosen:
        t = dataset.query[i]
        out.append(SweepQuery(load_clip(t, CLIP_SIZE)[:, :6], t.pid, t.camid))
    return out


def _sweep(model, gallery, queries, **kwargs) -> SweepResult:
    options = {"kind": "car", "axis": "size", "values": (0.6, 1.4)} | kwargs
    return occlusion_sweep(
        model,
        queries,
        gallery.features(model),
        gallery.pids,
        gallery.camids,
        input_size=INPUT_SIZE,
        settings=SweepSettings(**options),
    )


def test_ranks_and_matches_are_the_evaluations(model, gallery, queries):
    """The clean and occluded queries are ranked as Gallery.score ranks them (dense embedding,
    junk removed): a sweep that embedded them another way would show other ranks than Explore."""
    result = _sweep(model, gallery, queries)
    series = [SweepSettings("car", "size", (0.6, 1.4)).draw(q.clip) for q in queries]
    for i, query in enumerate(queries):
        clips = [query.clip] + [s.clip for s in series[i]]
        expected = []
        for clip in clips:
            feature = gallery.embed_query(model, _at_input_size(clip))
            score = gallery.score(model, feature, query.pid, query.camid)
            expected.append(score.first_match)
            if clip is query.clip:
                assert result.matches[i] == score.best_match
        assert [result.clean_rank[i], *result.rank[i]] == expected


def _at_input_size(clip: torch.Tensor) -> torch.Tensor:
    """A clip at the gallery's size, resized as the test loader resizes."""
    return ClipTransform(size=INPUT_SIZE, flip_p=0.0, normalize=False)(clip.unbind(1))


def test_batched_similarity_and_shares_equal_one_clip_at_a_time(model, gallery, queries):
    """One forward and backward pass over all the values gives what similarity_gradcam gives
    each clip alone (no gradient of one clip leaks into another's map), and the occluder's
    share is measured at the clip's size."""
    values = (0.8, 1.6)
    query = queries[0]
    with active_branches("t_static", "s_coarse"):  # the sweep honours the branch switches
        result = _sweep(model, gallery, [query], values=values, kind="pole", size=1.0)
        target = gallery.features(model)[result.matches[0]]
        for j, value in enumerate(values):
            drawn = occlude(query.clip, "pole", position=0.0, size=value)
            maps = similarity_gradcam(model, _at_input_size(drawn.clip), target, normalize="none")
            assert result.similarity[0, j] == pytest.approx(maps.score, abs=1e-5)
            truth = FrameMasks(np.zeros_like(drawn.masks.numpy()), drawn.masks.numpy())
            in_frames = drawn.masks.numpy().any(axis=(1, 2))
            share = evidence_shares(maps.raw, truth).total(in_frames)[1]
            assert result.occluder_share[0, j] == pytest.approx(share, abs=1e-4)
    assert result.branches == ("s_coarse", "t_static")


def test_a_bigger_occluder_covers_more_and_a_position_sweep_moves_it(queries):
    """Size sweeps grow the occluder at the held position; position sweeps move it at the held
    size (a swap of the two would grow a still occluder, or move one of changing size)."""
    clip = queries[0].clip
    sizes = SweepSettings("car", "size", (0.5, 1.0, 1.5), position=0.25).draw(clip)
    areas = [float(s.masks.float().mean()) for s in sizes]
    assert areas[0] < areas[1] < areas[2]
    moves = SweepSettings("pole", "position", (-0.3, 0.0, 0.3), size=1.0).draw(clip)
    width = clip.shape[-1]
    centres = [float(s.masks.nonzero()[:, 2].float().mean()) / width for s in moves]
    assert centres[0] < 0.5 - 0.2 and abs(centres[1] - 0.5) < 0.05 and centres[2] > 0.5 + 0.2
    pixels = [int(s.masks.sum()) for s in moves]
    assert max(pixels) - min(pixels) <= 0.1 * max(pixels)  # the same size everywhere


def test_clean_query_rule():
    """Clean, at most MAX_FRAMES frames, with a true match; evenly spaced by index."""
    clean = np.array([1, 1, 0, 1, 1, 1, 1, 0, 1, 1], bool)
    lengths = [10] * 10
    lengths[3] = MAX_FRAMES + 1  # too long to run in one piece
    has_match = [True] * 10
    has_match[5] = False  # nothing to rank
    subsets = {"clean": clean, "occluded": ~clean}
    # eligible: 0, 1, 4, 6, 8, 9; 4 evenly spaced: positions 0, 1.67, 3.33, 5 -> 0, 2, 3, 5
    assert pick_clean_queries(subsets, lengths, has_match, 4) == [0, 4, 6, 9]
    assert pick_clean_queries(subsets, lengths, has_match, 6) == [0, 1, 4, 6, 8, 9]
    assert pick_clean_queries(subsets, lengths, has_match, 50) == [0, 1, 4, 6, 8, 9]
    with pytest.raises(ValueError, match="no clean queries"):
        pick_clean_queries({"occluded": clean}, lengths, has_match, 3)


def test_statistics_skip_queries_without_a_value():
    """A query whose occluded frames carry no Grad-CAM mass (NaN) is left out of that value's
    mean and spread, not counted as 0 nor turning the mean into NaN."""
    share = np.array([[0.2, np.nan], [0.4, 0.5], [0.6, 0.7]])
    result = SweepResult(
        axis="size",
        values=np.array([1.0, 2.0]),
        rank=np.array([[1, 4], [3, 8], [2, 3]]),
        similarity=np.zeros((3, 2)),
        occluder_share=share,
        occluder_area=np.zeros((3, 2)),
        clean_rank=np.array([1, 1, 2]),
        clean_similarity=np.array([0.5, 0.7, 0.9]),
        matches=np.zeros(3, np.int64),
        branches=None,
    )
    stat = result.stat("occluder_share")
    np.testing.assert_allclose(stat.mean, [0.4, 0.6])
    np.testing.assert_allclose(stat.std, [0.2, np.sqrt(0.02)])  # (0.1^2 + 0.1^2) / (2 - 1)
    assert stat.count.tolist() == [3, 2]
    ranks = result.stat("rank")
    np.testing.assert_allclose(ranks.mean, [2.0, 5.0])
    np.testing.assert_allclose(ranks.std, [1.0, np.sqrt(7.0)])
    mean, std = result.clean_stat("similarity")
    assert mean == pytest.approx(0.7) and std == pytest.approx(0.2)


def test_bad_queries_are_refused_by_name(model, gallery, queries):
    long = queries[0]._replace(clip=queries[0].clip[:, [0] * (MAX_FRAMES + 1)])
    with pytest.raises(ValueError, match=f"{MAX_FRAMES + 1} frames"):
        _sweep(model, gallery, [long])
    lost = queries[0]._replace(pid=987654)
    with pytest.raises(ValueError, match=r"id 987654.*no true match"):
        _sweep(model, gallery, [lost])
    with pytest.raises(ValueError, match="axis must be one of"):
        _sweep(model, gallery, queries[:1], axis="angle")
