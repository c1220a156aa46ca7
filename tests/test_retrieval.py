"""Retrieval: block-wise top-k, FAISS, cache keys, the on-disk cache, hit labels on a
hand-built gallery, query embeddings, branch toggles and concurrent ranking."""

from __future__ import annotations

import math
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import torch

from strf_core import active_branches, build_model
from strf_core.data.datasets import build_dataset
from strf_core.data.tracklet import Tracklet
from strf_core.data.writers import write_image
from strf_core.features import extract_features
from strf_core.metrics import cosine_distance
from strf_core.retrieval import (
    EmbeddingCache,
    FaissIndex,
    Gallery,
    data_key,
    embed_clip,
    faiss_available,
    hit_kind,
    load_clip,
    model_key,
    topk_cosine,
    weights_digest,
)
from strf_core.retrieval import gallery as gallery_module
from strf_core.synth import generate

SIZE = (128, 64)


def _model(strf: bool, seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    model = build_model("p3dc_resnet_tiny", num_classes=6, strf=strf)
    for unit in model.strf_units().values():
        torch.nn.init.constant_(unit.gamma, 1.0)
    return model.eval()


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    root = tmp_path_factory.mktemp("retrieval") / "tiny"
    generate(root, preset="tiny", seed=0, size=SIZE, workers=1, progress=False)
    return build_dataset("mars", root)


@pytest.fixture(scope="module")
def strf_model():
    return _model(strf=True)


def test_importing_retrieval_loads_neither_the_engine_nor_the_generator():
    code = (
        "import sys, strf_core.retrieval; "
        "print(sorted(m for m in sys.modules if m.startswith(('strf_core.engine', "
        "'strf_core.synth'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# --------------------------------------------------------------------------- search


def test_topk_in_blocks_equals_a_full_sort():
    g = torch.Generator().manual_seed(0)
    query, gallery = torch.randn(5, 16, generator=g), torch.randn(103, 16, generator=g)
    full = cosine_distance(query, gallery)
    expected = torch.sort(full, dim=1, stable=True)
    for elements in (1, 250, 1 << 24):  # 1, 2 and all queries a block
        distances, indices = topk_cosine(query, gallery, 10, max_elements=elements)
        assert torch.equal(indices, expected.indices[:, :10])
        assert torch.allclose(distances, expected.values[:, :10], atol=1e-6)
    assert topk_cosine(query, gallery, 500)[1].shape == (5, 103)  # k capped at G


def test_ties_keep_gallery_order_across_blocks():
    gallery = torch.tensor([[0.0, 1.0], [1.0, 0.0], [2.0, 0.0], [0.0, 3.0], [5.0, 0.0]])
    distances, indices = topk_cosine(torch.tensor([[1.0, 0.0]]), gallery, 5, max_elements=2)
    assert indices[0].tolist() == [1, 2, 4, 0, 3]
    assert distances[0].tolist() == pytest.approx([0, 0, 0, 1, 1])


@pytest.mark.skipif(not faiss_available(), reason="faiss-cpu is not installed")
def test_faiss_index_agrees_with_brute_force():
    g = torch.Generator().manual_seed(1)
    query, gallery = torch.randn(4, 32, generator=g), torch.randn(200, 32, generator=g)
    brute = topk_cosine(query, gallery, 8)
    fast = FaissIndex(gallery).search(query, 8)
    assert torch.equal(fast[1], brute[1])
    assert torch.allclose(fast[0], brute[0], atol=1e-5)


def test_hit_kinds():
    assert hit_kind(7, 0, 7, 1) == "match"
    assert hit_kind(7, 0, 7, 0) == "junk"
    assert hit_kind(7, 0, 0, 1) == "distractor"
    assert hit_kind(7, 0, -1, 3) == "junk"
    assert hit_kind(7, 0, 9, 1) == "wrong"
    assert hit_kind(None, None, 9, 1) == "unknown"
    assert hit_kind(None, None, 0, 1) == "distractor"


# --------------------------------------------------------------------------- hand-built gallery


def _hand_built(tmp_path: Path) -> tuple[list[Tracklet], torch.Tensor]:
    """Five tracklets on disk and embeddings at known angles from the query direction e0."""
    entries = [  # (pid, camid, angle in degrees from the query)
        (7, 0, 10),  # same pid, same camera as the query: junk
        (7, 1, 40),  # a true match
        (0, 2, 20),  # a distractor
        (9, 1, 30),  # another identity
        (7, 2, 80),  # a second true match
    ]
    tracklets, features = [], torch.zeros(len(entries), 512)
    for i, (pid, camid, angle) in enumerate(entries):
        path = tmp_path / f"g{i}" / "0001.jpg"
        write_image(path, (10 * i, 0, 0))
        tracklets.append(Tracklet((str(path),), pid, camid))
        features[i, 0] = math.cos(math.radians(angle))
        features[i, 1] = math.sin(math.radians(angle))
    return tracklets, features


def test_ranking_against_a_hand_built_gallery(tmp_path, monkeypatch):
    model = _model(strf=False)
    tracklets, features = _hand_built(tmp_path)
    gallery = Gallery(tracklets, cache_dir=tmp_path / "cache", size=SIZE)
    # The embeddings come from the disk cache under the model's key: nothing is embedded.
    EmbeddingCache(tmp_path / "cache").save(gallery.model_key(model), gallery.data_key, features)
    monkeypatch.setattr(gallery_module, "extract_features", _must_not_embed)
    query = torch.zeros(512)
    query[0] = 1.0
    ranking = gallery.rank(model, query, k=4, pid=7, camid=0)
    assert [(h.rank, h.index, h.kind) for h in ranking.hits] == [
        (1, 0, "junk"),
        (2, 2, "distractor"),
        (3, 3, "wrong"),
        (4, 1, "match"),
    ]
    expected = [1 - math.cos(math.radians(a)) for a in (10, 20, 30, 40)]
    assert [h.distance for h in ranking.hits] == pytest.approx(expected, abs=1e-6)
    assert [(h.pid, h.camid) for h in ranking.hits] == [(7, 0), (0, 2), (9, 1), (7, 1)]
    protocol = gallery.rank(model, query, k=4, pid=7, camid=0, exclude_junk=True)
    assert [h.index for h in protocol.hits] == [2, 3, 1, 4]
    assert [h.rank for h in protocol.hits] == [1, 2, 3, 4]
    unknown = gallery.rank(model, query, k=2)
    assert [h.kind for h in unknown.hits] == ["unknown", "distractor"]
    # Over the whole gallery, junk removed: distractor, wrong, match (rank 3), match (rank 4).
    score = gallery.score(model, query, pid=7, camid=0)
    assert score.first_match == 3 and score.num_matches == 2 and score.best_match == 1
    assert score.average_precision == pytest.approx((1 / 3 + 2 / 4) / 2)
    assert score.best_match_similarity == pytest.approx(math.cos(math.radians(40)), abs=1e-6)
    assert gallery.score(model, query, pid=9, camid=0).first_match == 3  # nothing removed
    assert gallery.score(model, query, pid=5, camid=0) == (None, None, 0, None, None)
    assert ranking.records()[0] == {
        "rank": 1,
        "index": 0,
        "distance": pytest.approx(expected[0], abs=1e-6),
        "pid": 7,
        "camid": 0,
        "kind": "junk",
    }


def _must_not_embed(*args, **kwargs):
    raise AssertionError("the gallery should have come from the cache")


# --------------------------------------------------------------------------- keys and cache


def test_model_key_follows_weights_branches_and_settings(strf_model):
    key = model_key(strf_model, {"size": [128, 64]})
    assert key == model_key(strf_model, {"size": [128, 64]})
    assert key != model_key(strf_model, {"size": [256, 128]})
    with active_branches("s_fine"):
        toggled = model_key(strf_model, {"size": [128, 64]})
    assert toggled != key
    baseline = _model(strf=False)
    plain = model_key(baseline)
    with active_branches("s_fine"):
        assert model_key(baseline) == plain  # a model without STRF units ignores the switches
    assert model_key(_model(strf=False, seed=1)) != plain
    digest = weights_digest(baseline)
    assert weights_digest(baseline) == digest  # memoised, same answer
    with torch.no_grad():
        baseline.head.classifier.bias += 1.0  # an in-place update bumps the version counter
    assert weights_digest(baseline) != digest and model_key(baseline) != plain


def test_data_key_follows_files(tmp_path):
    tracklets, _ = _hand_built(tmp_path)
    key = data_key(tracklets)
    assert key == data_key(list(tracklets))
    assert data_key(tracklets[:-1]) != key
    path = Path(tracklets[0].frames[0])
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    assert data_key(tracklets) != key


def test_cache_round_trip_and_stale_files(tmp_path):
    cache = EmbeddingCache(tmp_path)
    features = torch.randn(3, 8)
    path = cache.save("m" * 64, "d" * 64, features)
    assert path.is_file() and not list(tmp_path.glob("*.tmp"))
    assert torch.equal(cache.load("m" * 64, "d" * 64, 3), features)
    assert cache.load("m" * 64, "d" * 64, 4) is None  # wrong count
    assert cache.load("m" * 64, "e" * 64, 3) is None  # another data key
    path.write_bytes(b"damaged")
    assert cache.load("m" * 64, "d" * 64, 3) is None


# --------------------------------------------------------------------------- real embeddings


def test_gallery_embeds_caches_and_ranks(dataset, strf_model, tmp_path, monkeypatch):
    gallery = Gallery(dataset.gallery, cache_dir=tmp_path, size=SIZE, batch_size=4)
    features = gallery.features(strf_model)
    assert features.shape == (len(dataset.gallery), 512)
    direct = extract_features(strf_model, dataset.gallery, size=SIZE, workers=0)
    assert torch.allclose(features, direct, atol=1e-5)
    assert len(list(tmp_path.glob("*.safetensors"))) == 1
    query = dataset.query[0]
    ranking = gallery.rank(strf_model, query, k=len(gallery))
    assert (ranking.query_pid, ranking.query_camid) == (query.pid, query.camid)
    distances = cosine_distance(ranking.query_feature[None], features)[0]
    assert [h.index for h in ranking.hits] == torch.sort(distances, stable=True).indices.tolist()
    for hit in ranking.hits:
        entry = dataset.gallery[hit.index]
        assert hit.kind == hit_kind(query.pid, query.camid, entry.pid, entry.camid)
    # A user's clip of the same frames ranks the same; its pid is unknown.
    clip = load_clip(query, SIZE)
    assert torch.allclose(embed_clip(strf_model, clip), ranking.query_feature, atol=1e-5)
    as_clip = gallery.rank(strf_model, clip, k=3)
    assert [h.index for h in as_clip.hits] == [h.index for h in ranking.hits[:3]]
    assert {h.kind for h in as_clip.hits} <= {"unknown", "distractor"}
    with pytest.raises(ValueError, match="resize"):
        gallery.rank(strf_model, load_clip(query, (64, 32)))
    # A second gallery object (a new session) reads the disk cache; a toggle embeds anew.
    again = Gallery(dataset.gallery, cache_dir=tmp_path, size=SIZE)
    monkeypatch.setattr(gallery_module, "extract_features", _must_not_embed)
    assert torch.equal(again.features(strf_model), features)
    with active_branches("s_fine"), pytest.raises(AssertionError, match="cache"):
        again.features(strf_model)


def test_branch_toggles_change_rankings_and_come_back(dataset, strf_model):
    gallery = Gallery(dataset.gallery[:5], size=SIZE)
    every = gallery.features(strf_model)
    with active_branches("t_dynamic"):
        temporal = gallery.features(strf_model)
        ranked = gallery.rank(strf_model, dataset.query[1], k=3)
    assert ranked.branches == ("t_dynamic",)
    assert not torch.allclose(every, temporal)
    assert gallery.features(strf_model) is every  # from memory, not recomputed


def test_concurrent_ranking_matches_serial(dataset, strf_model):
    gallery = Gallery(dataset.gallery[:5], size=SIZE)
    jobs = [(None, 0), (("s_fine", "s_coarse"), 1), (("t_static",), 2), (None, 1)]

    def work(branches, q):
        if branches is None:
            return gallery.rank(strf_model, dataset.query[q], k=5)
        with active_branches(*branches):
            return gallery.rank(strf_model, dataset.query[q], k=5)

    fresh = Gallery(dataset.gallery[:5], size=SIZE)
    serial = [work(*job) for job in jobs]
    gallery = fresh  # the threads start from an empty cache and race to fill it
    results: list = [None] * len(jobs)
    barrier = threading.Barrier(len(jobs))

    def thread(i):
        barrier.wait()
        results[i] = work(*jobs[i])

    threads = [threading.Thread(target=thread, args=(i,)) for i in range(len(jobs))]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    for got, want in zip(results, serial, strict=True):
        assert [h.index for h in got.hits] == [h.index for h in want.hits]
        assert [h.distance for h in got.hits] == pytest.approx([h.distance for h in want.hits])
        assert got.branches == want.branches


def test_gallery_rejects_bad_options(dataset):
    with pytest.raises(ValueError, match="empty"):
        Gallery([])
    with pytest.raises(ValueError, match="index"):
        Gallery(dataset.gallery, index="annoy")


def test_precompute_fills_the_cache_for_later_toggles(dataset, strf_model, tmp_path, monkeypatch):
    gallery = Gallery(dataset.gallery[:3], size=SIZE, cache_dir=tmp_path, memory_slots=1)
    assert gallery.precompute(strf_model, [["s_fine"], [], ["s_fine"]]) == 2
    assert gallery.precompute(strf_model, [["s_fine"], []]) == 0
    monkeypatch.setattr(gallery_module, "extract_features", _must_not_embed)
    with active_branches():
        assert gallery.features(strf_model).shape == (3, 512)  # served from the disk cache


def test_refresh_notices_changed_files(tmp_path):
    tracklets, _ = _hand_built(tmp_path)
    gallery = Gallery(tracklets, size=SIZE)
    key = gallery.data_key
    path = Path(tracklets[2].frames[0])
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    gallery.refresh()
    assert gallery.data_key != key
