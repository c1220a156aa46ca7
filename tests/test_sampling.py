"""P x K identity sampling and the temporal rules of SPEC section 3."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from strf_core.data.datasets import build_dataset
from strf_core.data.samplers import (
    IdentityBatchSampler,
    IdentitySampler,
    LookalikeBatchSampler,
    SampleKey,
    TrackletBatchSampler,
    build_batch_sampler,
)
from strf_core.data.temporal import chunk_indices, evenly_spaced_indices, train_clip_indices
from strf_core.data.writers import write_tiny_mars

# 11 identities (not a multiple of P = 4), some with fewer tracklets than K = 3.
TRACKLETS_PER_ID = [1, 2, 3, 5, 1, 4, 3, 2, 6, 1, 3]
PIDS = [pid for pid, n in enumerate(TRACKLETS_PER_ID) for _ in range(n)]


def _pids_of(batch):
    return [PIDS[i] for i in batch]


def test_every_batch_is_p_distinct_identities_with_k_tracklets_each():
    sampler = IdentityBatchSampler(PIDS, batch_p=4, batch_k=3, seed=0)
    batches = list(sampler)
    assert len(batches) == len(sampler) == 3  # ceil(11 / 4)
    for batch in batches:
        assert len(batch) == 12
        counts = Counter(_pids_of(batch))
        assert len(counts) == 4 and set(counts.values()) == {3}
        # identity by identity: K consecutive slots share a pid
        pids = _pids_of(batch)
        assert all(len(set(pids[i : i + 3])) == 1 for i in range(0, 12, 3))


@pytest.mark.parametrize("seed", range(3))
def test_every_epoch_covers_every_identity(seed):
    sampler = IdentityBatchSampler(PIDS, batch_p=4, batch_k=2, seed=seed)
    for _ in range(5):
        seen = {pid for batch in sampler for pid in _pids_of(batch)}
        assert seen == set(range(len(TRACKLETS_PER_ID)))


def test_tracklets_drawn_with_replacement_only_when_an_identity_has_fewer_than_k():
    sampler = IdentityBatchSampler(PIDS, batch_p=4, batch_k=3, seed=1)
    used: dict[int, set[int]] = {}
    for _ in range(20):  # epochs
        for batch in sampler:
            for start in range(0, len(batch), 3):
                picks = batch[start : start + 3]
                pid = PIDS[picks[0]]
                assert all(PIDS[i] == pid for i in picks)
                if TRACKLETS_PER_ID[pid] >= 3:
                    assert len(set(picks)) == 3
                used.setdefault(pid, set()).update(picks)
    # identities with 1 or 2 tracklets repeat them, and every tracklet gets used
    assert {pid: len(ids) for pid, ids in used.items()} == dict(enumerate(TRACKLETS_PER_ID))


def test_deterministic_given_seed_and_epoch():
    a = IdentityBatchSampler(PIDS, batch_p=4, batch_k=3, seed=7)
    b = IdentityBatchSampler(PIDS, batch_p=4, batch_k=3, seed=7)
    passes_a = [list(a) for _ in range(3)]
    assert passes_a == [list(b) for _ in range(3)]
    assert passes_a[0] != passes_a[1]  # each pass moves on to the next epoch
    b.set_epoch(1)
    assert list(b) == passes_a[1]
    assert a.epoch_batches(2) == passes_a[2]
    other = IdentityBatchSampler(PIDS, batch_p=4, batch_k=3, seed=8)
    assert list(other) != passes_a[0]


def test_set_epoch_with_start_batch_resumes_mid_epoch():
    sampler = IdentityBatchSampler(PIDS, batch_p=2, batch_k=3, seed=4, with_seeds=True)
    full = [list(sampler) for _ in range(2)]
    sampler.set_epoch(0, start_batch=4)
    assert list(sampler) == full[0][4:]
    assert list(sampler) == full[1]  # only the resumed pass is cut short
    with pytest.raises(ValueError, match="start_batch"):
        sampler.set_epoch(0, start_batch=-1)


def test_epoch_advances_only_when_iteration_starts():
    sampler = IdentityBatchSampler(PIDS, batch_p=4, batch_k=3, seed=0)
    iter(sampler)  # dropped unused, as a DataLoader with workers does once
    assert list(sampler) == sampler.epoch_batches(0)


def test_keys_carry_distinct_seeds_and_the_same_indices():
    plain = IdentityBatchSampler(PIDS, batch_p=4, batch_k=3, seed=3)
    keyed = IdentityBatchSampler(PIDS, batch_p=4, batch_k=3, seed=3, with_seeds=True)
    for plain_batch, keyed_batch in zip(plain, keyed, strict=True):
        assert all(isinstance(k, SampleKey) for k in keyed_batch)
        assert [k.index for k in keyed_batch] == plain_batch
    seeds = [k.seed for epoch in range(3) for batch in keyed.epoch_batches(epoch) for k in batch]
    assert len(set(seeds)) == len(seeds)


def test_ranks_split_the_batches_evenly_and_cover_every_identity():
    world = 2
    ranks = [
        IdentityBatchSampler(PIDS, batch_p=4, batch_k=2, seed=5, rank=r, world_size=world)
        for r in range(world)
    ]
    passes = [list(s) for s in ranks]
    assert len(passes[0]) == len(passes[1]) == len(ranks[0]) == 2  # ceil(3 / 2): one top-up
    assert passes[0] != passes[1]
    seen = {pid for batches in passes for batch in batches for pid in _pids_of(batch)}
    assert seen == set(range(len(TRACKLETS_PER_ID)))
    for batches in passes:
        for batch in batches:
            assert set(Counter(_pids_of(batch)).values()) == {2}


def test_flat_sampler_gives_the_batch_samplers_batches_through_a_dataloader():
    flat = IdentitySampler(PIDS, batch_p=4, batch_k=3, seed=2)
    loader = DataLoader(list(range(len(PIDS))), sampler=flat, batch_size=flat.batch_size)
    batches = [batch.tolist() for batch in loader]
    assert batches == IdentityBatchSampler(PIDS, batch_p=4, batch_k=3, seed=2).epoch_batches(0)
    assert len(flat) == 3 * 12


def test_batch_sampler_through_a_dataloader():
    sampler = IdentityBatchSampler(PIDS, batch_p=2, batch_k=4, seed=0)
    loader = DataLoader(torch.tensor(PIDS), batch_sampler=sampler)
    for batch in loader:
        assert batch.shape == (8,) and len(set(batch.tolist())) == 2


def test_too_few_identities_for_p_says_so():
    with pytest.raises(ValueError, match=r"batch_p=12 .* only 11 identities"):
        IdentityBatchSampler(PIDS, batch_p=12, batch_k=4)
    with pytest.raises(ValueError, match="only 0 identities"):
        IdentityBatchSampler([], batch_p=1)
    with pytest.raises(ValueError, match="rank"):
        IdentityBatchSampler(PIDS, batch_p=2, rank=2, world_size=2)


# Temporal sampling.


def test_long_tracklets_take_every_stride_th_frame_from_a_random_start():
    rng = np.random.default_rng(0)
    starts = set()
    for num_frames in (32, 33, 100):
        for _ in range(300):
            clip = train_clip_indices(num_frames, rng, seq_len=4, stride=8)
            assert clip.dtype == np.int64 and clip.shape == (4,)
            assert np.all(np.diff(clip) == 8)
            assert clip[0] >= 0 and clip[-1] < num_frames
            if num_frames == 33:
                starts.add(int(clip[0]))
    assert starts == set(range(33 - 24))  # every start 0..L-(T-1)*stride-1 occurs


def test_short_tracklets_take_sorted_distinct_random_frames():
    rng = np.random.default_rng(1)
    seen = set()
    for num_frames in (4, 10, 31):  # 31 < 4 * 8: below AP3D's threshold for striding
        for _ in range(200):
            clip = train_clip_indices(num_frames, rng, seq_len=4, stride=8)
            assert np.all(np.diff(clip) > 0) and clip[0] >= 0 and clip[-1] < num_frames
            if num_frames == 10:
                seen.update(clip.tolist())
    assert seen == set(range(10))


def test_very_short_tracklets_draw_with_replacement():
    rng = np.random.default_rng(2)
    for num_frames in (1, 2, 3):
        for _ in range(100):
            clip = train_clip_indices(num_frames, rng, seq_len=4)
            assert clip.shape == (4,) and np.all(np.diff(clip) >= 0)
            assert set(clip.tolist()) <= set(range(num_frames))
    assert train_clip_indices(1, rng).tolist() == [0, 0, 0, 0]


def test_train_sampling_is_a_function_of_the_generator():
    a = [train_clip_indices(n, np.random.default_rng(9)) for n in (3, 20, 90)]
    b = [train_clip_indices(n, np.random.default_rng(9)) for n in (3, 20, 90)]
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))


@pytest.mark.parametrize(("num_frames", "chunk_len"), [(1, 32), (32, 32), (70, 32), (5, 2)])
def test_chunks_cover_every_frame_once_in_order(num_frames, chunk_len):
    chunks = chunk_indices(num_frames, chunk_len)
    assert np.array_equal(np.concatenate(chunks), np.arange(num_frames))
    assert len(chunks) == -(-num_frames // chunk_len)
    assert all(len(c) == chunk_len for c in chunks[:-1]) and 1 <= len(chunks[-1]) <= chunk_len


def test_evenly_spaced_frames():
    assert evenly_spaced_indices(100, 4).tolist() == [12, 37, 62, 87]
    assert evenly_spaced_indices(8, 4).tolist() == [1, 3, 5, 7]
    assert evenly_spaced_indices(5, 5).tolist() == [0, 1, 2, 3, 4]
    assert evenly_spaced_indices(1, 3).tolist() == [0, 0, 0]
    for num_frames in range(1, 60):
        picks = evenly_spaced_indices(num_frames, 4)
        assert np.all(np.diff(picks) >= 0) and picks[0] >= 0 and picks[-1] < num_frames
        if num_frames >= 4:
            gaps = np.diff(picks)
            assert gaps.max() - gaps.min() <= 1 and len(set(picks.tolist())) == 4


def test_temporal_errors_name_the_problem():
    with pytest.raises(ValueError, match="at least one frame"):
        train_clip_indices(0, np.random.default_rng())
    with pytest.raises(ValueError, match="chunk_len"):
        chunk_indices(10, 0)
    with pytest.raises(ValueError, match="num_samples"):
        evenly_spaced_indices(10, 0)


# --------------------------------------------------------------------------- look-alike batches

# 14 identities, 2 tracklets each; look-alike groups {0, 1, 2}, {3, 4}, {5, 6, 7}; the rest none.
LA_PIDS = [pid for pid in range(14) for _ in range(2)]
LA_GROUP_OF = {0: 0, 1: 0, 2: 0, 3: 1, 4: 1, 5: 2, 6: 2, 7: 2}
LA_GROUPS = [LA_GROUP_OF.get(pid) for pid in LA_PIDS]


def _la(**kwargs):
    return LookalikeBatchSampler(LA_PIDS, LA_GROUPS, **{"batch_p": 4, "batch_k": 2, **kwargs})


def test_lookalike_batches_hold_whole_groups_and_every_identity():
    for seed in range(5):
        sampler = _la(seed=seed)
        assert sampler.num_groups == 3
        for epoch in range(4):
            batches = sampler.epoch_batches(epoch)
            # The same number of batches as random P x K: ceil(14 / 4).
            assert len(batches) == len(sampler) == len(IdentityBatchSampler(LA_PIDS, batch_p=4))
            ids = [{LA_PIDS[i] for i in batch} for batch in batches]
            for batch in batches:
                counts = Counter(LA_PIDS[i] for i in batch)
                assert len(counts) == 4 and set(counts.values()) == {2}
            assert set().union(*ids) == set(range(14))
            for group in ({0, 1, 2}, {3, 4}, {5, 6, 7}):
                assert any(group <= batch_ids for batch_ids in ids), (seed, epoch, group)


def test_random_batches_rarely_hold_a_whole_group_the_lookalike_sampler_always_does():
    def together(sampler):
        return sum(
            {0, 1, 2} <= {LA_PIDS[i] for i in batch}
            for epoch in range(50)
            for batch in sampler.epoch_batches(epoch)
        )

    assert together(_la(seed=0)) == 50
    assert together(IdentityBatchSampler(LA_PIDS, batch_p=4, batch_k=2, seed=0)) < 25


def test_a_group_larger_than_p_is_split_over_batches_and_still_covered():
    groups = [0 if pid < 6 else None for pid in LA_PIDS]  # one group of 6 identities, P = 4
    sampler = LookalikeBatchSampler(LA_PIDS, groups, batch_p=4, batch_k=2, seed=1)
    for epoch in range(5):
        ids = [{LA_PIDS[i] for i in b} for b in sampler.epoch_batches(epoch)]
        assert set().union(*ids) == set(range(14))
        assert max(len(b & set(range(6))) for b in ids) == 4  # a full batch of the group


def test_lookalike_sampler_is_deterministic_resumable_and_split_over_ranks():
    a, b = _la(seed=7, with_seeds=True), _la(seed=7, with_seeds=True)
    passes = [list(a) for _ in range(3)]
    assert passes == [list(b) for _ in range(3)]
    assert passes[0] != passes[1]
    assert list(_la(seed=8, with_seeds=True)) != passes[0]
    b.set_epoch(1, start_batch=2)
    assert list(b) == passes[1][2:]
    assert list(b) == passes[2]

    ranks = [_la(seed=5, rank=r, world_size=2, with_seeds=True) for r in range(2)]
    whole = _la(seed=5, with_seeds=True).epoch_batches(0)  # 4 batches: 2 per rank
    per_rank = [r.epoch_batches(0) for r in ranks]
    assert len(per_rank[0]) == len(per_rank[1]) == len(ranks[0]) == 2
    assert per_rank[0] == whole[0::2] and per_rank[1] == whole[1::2]


def test_lookalike_sampler_checks_its_groups():
    with pytest.raises(ValueError, match="look-alike groups for"):
        LookalikeBatchSampler(LA_PIDS, LA_GROUPS[:-1], batch_p=4)
    bad = list(LA_GROUPS)
    bad[1] = 2  # identity 0's second tracklet in another group
    with pytest.raises(ValueError, match="identity 0 is in look-alike groups 0 and 2"):
        LookalikeBatchSampler(LA_PIDS, bad, batch_p=4)
    # No groups at all: plain random batches that still cover every identity.
    none = LookalikeBatchSampler(LA_PIDS, [None] * len(LA_PIDS), batch_p=4, batch_k=2)
    assert none.num_groups == 0
    assert {LA_PIDS[i] for b in none for i in b} == set(range(14))


# ------------------------------------------------------------- AP3D's epoch: every tracklet once

# Tracklets per training identity of a tiny MARS tree; with K = 3 AP3D's sampler makes
# max(n, 3) // 3 groups of each: 1 1 1 1 1 1 1 2 3 2 1 2 = 17 groups, so P = 2 gives
# 17 // 2 = 8 batches (the last, short one dropped), where an identity epoch has ceil(12 / 2) = 6.
TINY_TREE_COUNTS = [1, 2, 3, 5, 4, 3, 2, 6, 9, 7, 3, 8]


@pytest.fixture(scope="module")
def tiny_tree_pids(tmp_path_factory):
    train = [(pid + 1, 1 + j % 6, 1) for pid, n in enumerate(TINY_TREE_COUNTS) for j in range(n)]
    root = write_tiny_mars(tmp_path_factory.mktemp("counts") / "mars", train=train)
    return [t.pid for t in build_dataset("mars", root).train]


def test_tracklet_epoch_goes_through_every_tracklet_once_in_groups_of_k(tiny_tree_pids):
    pids = tiny_tree_pids
    assert sorted(Counter(pids).values()) == sorted(TINY_TREE_COUNTS)
    sampler = TrackletBatchSampler(pids, batch_p=2, batch_k=3, seed=0)
    assert len(sampler) == 8
    assert len(IdentityBatchSampler(pids, batch_p=2, batch_k=3)) == 6
    for epoch in range(4):
        batches = sampler.epoch_batches(epoch)
        assert len(batches) == 8
        drawn = Counter(i for batch in batches for i in batch)
        for batch in batches:
            counts = Counter(pids[i] for i in batch)
            assert len(counts) == 2 and set(counts.values()) == {3}
        used = 0  # groups of K drawn, out of 17: one left out by the dropped short batch
        for pid, n in Counter(pids).items():
            mine = {i: c for i, c in drawn.items() if pids[i] == pid}
            if n >= 3:  # no tracklet twice in an epoch; only the remainder (and a group) left
                assert set(mine.values()) <= {1}
                assert len(mine) in {n - n % 3, n - n % 3 - 3}
            groups = sum(mine.values()) // 3  # n < 3: drawn with replacement, one group
            assert groups in {max(n, 3) // 3, max(n, 3) // 3 - 1}
            used += groups
        assert used == 16


def test_one_identity_with_most_tracklets_never_fills_a_batch_twice():
    # 30 tracklets (15 groups of 2) and three identities of one: 18 groups would make 9 batches
    # of P = 2, but identity 0 can be in each batch once, beside one of the 3 others: 3 batches.
    pids = [0] * 30 + [1, 2, 3]
    sampler = TrackletBatchSampler(pids, batch_p=2, batch_k=2, seed=3)
    assert len(sampler) == 3
    for batch in sampler.epoch_batches(0):
        assert sorted(Counter(pids[i] for i in batch).values()) == [2, 2]


def test_tracklet_sampler_is_deterministic_resumable_and_split_over_ranks(tiny_tree_pids):
    def make(**kwargs):
        return TrackletBatchSampler(tiny_tree_pids, batch_p=2, batch_k=3, with_seeds=True, **kwargs)

    a, b = make(seed=7), make(seed=7)
    passes = [list(a) for _ in range(3)]
    assert passes == [list(b) for _ in range(3)] and passes[0] != passes[1]
    assert list(make(seed=8)) != passes[0]
    b.set_epoch(1, start_batch=5)
    assert list(b) == passes[1][5:]
    assert list(b) == passes[2]
    plain = {"batch_p": 2, "batch_k": 3, "seed": 5}
    ranks = [TrackletBatchSampler(tiny_tree_pids, rank=r, world_size=3, **plain) for r in range(3)]
    whole = TrackletBatchSampler(tiny_tree_pids, **plain).epoch_batches(0)
    # 8 batches do not split over 3 ranks: one batch of fresh random identities makes 9.
    assert len(ranks[0]) == 3
    for r, sampler in enumerate(ranks):
        assert sampler.epoch_batches(0)[: len(whole[r::3])] == whole[r::3]
        assert len(sampler.epoch_batches(0)) == 3


def test_the_sampler_is_chosen_by_name():
    pids = [pid for pid, n in enumerate(TRACKLETS_PER_ID) for _ in range(n)]
    assert type(build_batch_sampler("tracklet", pids, batch_p=4)) is TrackletBatchSampler
    assert type(build_batch_sampler("identity", pids, batch_p=4)) is IdentityBatchSampler
    groups = [None] * len(pids)
    lookalike = build_batch_sampler("lookalike", pids, lookalike_groups=groups, batch_p=4)
    assert type(lookalike) is LookalikeBatchSampler
    with pytest.raises(ValueError, match="unknown sampler 'ap3d'"):
        build_batch_sampler("ap3d", pids, batch_p=4)
    with pytest.raises(ValueError, match="'lookalike' sampler only"):
        build_batch_sampler("tracklet", pids, lookalike_groups=groups, batch_p=4)
