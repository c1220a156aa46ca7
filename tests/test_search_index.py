"""Brute-force and FAISS search indexes against a full stable sort: ties, blocks, no copies."""

from __future__ import annotations

import pytest
import torch

from strf_core.metrics import cosine_distance
from strf_core.retrieval import BruteForceIndex, FaissIndex, faiss_available
from strf_core.retrieval.search import stable_topk


def reference_topk(sim: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    ranked = torch.sort(sim, dim=1, descending=True, stable=True)
    return ranked.values[:, :k], ranked.indices[:, :k]


@pytest.mark.parametrize("k", [1, 3, 7, 40])
def test_stable_topk_keeps_the_earliest_ties_at_the_boundary(k):
    g = torch.Generator().manual_seed(k)
    sim = torch.randint(0, 4, (6, 40), generator=g).float()  # every value tied many times
    sim[0] = 1.0
    values, indices = stable_topk(sim.clone(), k)
    want_values, want_indices = reference_topk(sim, k)
    assert torch.equal(indices, want_indices)
    assert torch.equal(values, want_values)


@pytest.mark.parametrize("k", [1, 5, 39, 40])
def test_stable_topk_with_distinct_values_and_one_tie_at_the_boundary(k):
    # Distinct values take the short way (topk's own answer); a single pair tied exactly at the
    # k-th place must still keep the earlier entry of the two, whichever one topk returns.
    g = torch.Generator().manual_seed(k)
    sim = torch.stack([torch.randperm(40, generator=g) for _ in range(3)]).float() / 7.0
    for rows in (sim[:1], sim):  # one query (the dashboard's), a block
        values, indices = stable_topk(rows.clone(), k)
        want_values, want_indices = reference_topk(rows, k)
        assert torch.equal(indices, want_indices) and torch.equal(values, want_values)
    tied = sim.clone()
    order = torch.argsort(tied[1], descending=True)
    kth, late = order[k - 1], order[min(k, 39)]  # the k-th best and the next one
    early, later = sorted((int(kth), int(late)))
    tied[1, early] = tied[1, later] = tied[1, kth]  # one exact tie at the boundary
    values, indices = stable_topk(tied.clone(), k)
    want_values, want_indices = reference_topk(tied, k)
    assert torch.equal(indices, want_indices) and torch.equal(values, want_values)
    assert early in indices[1].tolist()


def test_brute_force_index_equals_a_full_sort_with_duplicates_and_blocks():
    g = torch.Generator().manual_seed(0)
    gallery = torch.randn(120, 16, generator=g)
    gallery[50:60] = gallery[3]  # duplicates of entry 3: exact ties
    gallery[70] = 4.0 * gallery[3]  # same direction, another length
    query = torch.cat([gallery[3:4], torch.randn(4, 16, generator=g)])
    expected = torch.sort(cosine_distance(query, gallery), dim=1, stable=True)
    for elements in (1, 240, 1 << 24):  # one query a block, two, all
        distances, indices = BruteForceIndex(gallery, max_elements=elements).search(query, 15)
        assert torch.equal(indices[:, :11], expected.indices[:, :11])
        assert indices[0, :11].tolist() == [3, *range(50, 60)]
        torch.testing.assert_close(distances, expected.values[:, :15], atol=1e-6, rtol=0)


def test_brute_force_index_keeps_the_callers_gallery_without_a_copy():
    gallery = torch.randn(30, 8)
    index = BruteForceIndex(gallery)
    assert index.features().data_ptr() == gallery.data_ptr()
    with pytest.raises(ValueError, match="expected"):
        index.search(torch.randn(2, 9), 3)
    with pytest.raises(ValueError, match="empty"):
        BruteForceIndex(torch.zeros(0, 8))


@pytest.mark.skipif(not faiss_available(), reason="faiss-cpu is not installed")
def test_faiss_index_is_the_store_and_agrees_with_brute_force():
    g = torch.Generator().manual_seed(1)
    gallery = torch.randn(200, 32, generator=g) * torch.rand(200, 1, generator=g) * 5
    query = torch.randn(4, 32, generator=g)
    index = FaissIndex(gallery)
    torch.testing.assert_close(index.features(), gallery, rtol=1e-6, atol=1e-6)
    torch.testing.assert_close(index.vectors.norm(dim=1), torch.ones(200))
    distances, indices = index.search(query, 8)
    want = BruteForceIndex(gallery).search(query, 8)
    assert torch.equal(indices, want[1])
    torch.testing.assert_close(distances, want[0], atol=1e-5, rtol=0)
