"""P x K identity batches for the batch-hard triplet loss (SPEC section 3: 8 ids x 4 tracklets).

Two definitions of an epoch, one sampler each (``data.sampler``):

``"tracklet"`` (:class:`TrackletBatchSampler`, the default): AP3D's, which the paper's 240 epochs
and lr steps at 60/120/180 assume. Every training tracklet once, in groups of K of one identity::

    each identity's tracklets, shuffled (an identity with fewer than K: K drawn with replacement)
    cut into groups of K, a remainder shorter than K dropped    id 3: [t7 t2 t9 t4 | t1 t8 t5 t0]
    B = floor(groups / P) batches (AP3D's DataLoader drops the last, short batch)
    groups laid out identity by identity in a random identity order, dealt to the B batches
    round-robin (group j to batch j mod B), so a batch never holds one identity twice
    the batches shuffled

``"identity"`` (:class:`IdentityBatchSampler`): every identity once per epoch (AP3D's older,
deprecated sampler; about 3x fewer steps on MARS)::

    identities in a random order      [17, 3, 42, 8, | 25, 1, 30, 11, | 5, 9]
    cut into groups of P              ^ batch 0       ^ batch 1       ^ batch 2 (short)
    the last group is topped up with identities it does not hold yet: [5, 9, 33, 12]
    each identity brings K of its tracklets, drawn without replacement when it has K or more,
    with replacement otherwise

Either way a batch is P * K tracklet indices, identity by identity: ``[a0 a1 a2 a3 b0 b1 ...]``,
with P distinct identities (AP3D shuffles its groups freely, so its batches may hold one
identity twice; batch-hard mining wants P distinct ones).

Epoch ``e`` draws from ``numpy.random.default_rng([seed, e])`` alone, so it is the same batches
on every rank, in every process and after a restart; each rank then takes every
``world_size``-th batch (more batches of fresh random identities are added until the count
divides ``world_size``, so every rank runs the same number of steps).

With ``with_seeds=True`` every index comes with a seed for the random draws of that clip (frames,
flip, erasing) as a :class:`SampleKey`; ``ClipDataset`` takes those, which is what makes a
seeded run give the same batches with any number of DataLoader workers.

:class:`LookalikeBatchSampler` (``"lookalike"``) packs identities of one look-alike group into
one batch of an identity epoch, with the same guarantees; it needs look-alike labels, which only
the synthetic generator has (knowledge real data would not give).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from typing import Any, NamedTuple

import numpy as np
from torch.utils.data import Sampler

_SEED_BOUND = 2**63


class SampleKey(NamedTuple):
    """A dataset index with the seed of its clip's random draws.

    Attributes:
        index: position in the dataset (the tracklet list).
        seed: seed of the ``numpy.random.Generator`` for this one sample.
    """

    index: int
    seed: int


class IdentityBatchSampler(Sampler[list]):
    """Batches of ``batch_p`` distinct identities with ``batch_k`` tracklets each, every
    identity once per epoch (``data.sampler="identity"``).

    Use it as a DataLoader's ``batch_sampler``; :class:`IdentitySampler` yields the same indices
    one by one for ``sampler=`` with ``batch_size = batch_p * batch_k``.

    Args:
        pids: identity of each dataset item, e.g. ``[t.pid for t in tracklets]``.
        batch_p: identities per batch (P).
        batch_k: tracklets per identity (K).
        seed: seed of every epoch's draws.
        rank: this process's rank in distributed training.
        world_size: number of processes; each takes every ``world_size``-th batch.
        with_seeds: yield :class:`SampleKey` (index and clip seed) instead of plain indices.

    Raises:
        ValueError: ``batch_p`` is more than the number of identities, or an argument is out of
            range.

    Example::

        sampler = IdentityBatchSampler([t.pid for t in train], batch_p=8, batch_k=4, seed=1)
        loader = DataLoader(dataset, batch_sampler=sampler, num_workers=2)
        for epoch in range(240):
            sampler.set_epoch(epoch)  # optional: each pass otherwise moves on to the next epoch
            for clips, pids, camids in loader: ...
    """

    def __init__(
        self,
        pids: Sequence[int],
        *,
        batch_p: int = 8,
        batch_k: int = 4,
        seed: int = 0,
        rank: int = 0,
        world_size: int = 1,
        with_seeds: bool = False,
    ) -> None:
        super().__init__()
        if batch_p < 1 or batch_k < 1:
            raise ValueError(f"batch_p and batch_k must be >= 1, got {batch_p} and {batch_k}")
        if world_size < 1 or not 0 <= rank < world_size:
            raise ValueError(f"need 0 <= rank < world_size, got rank={rank} of {world_size}")
        by_pid: dict[int, list[int]] = {}
        for index, pid in enumerate(pids):
            by_pid.setdefault(int(pid), []).append(index)
        if len(by_pid) < batch_p:
            raise ValueError(
                f"batch_p={batch_p} distinct identities per batch (P x K = {batch_p} x {batch_k}) "
                f"but the data has only {len(by_pid)} identities ({len(pids)} tracklets): "
                f"lower batch_p or use more identities"
            )
        self.identities = sorted(by_pid)
        self._members = [np.asarray(by_pid[pid], dtype=np.int64) for pid in self.identities]
        self.batch_p, self.batch_k = batch_p, batch_k
        self.seed, self.rank, self.world_size = seed, rank, world_size
        self.with_seeds = with_seeds
        self.epoch = 0
        self._start_batch = 0

    @property
    def batch_size(self) -> int:
        return self.batch_p * self.batch_k

    @property
    def num_identities(self) -> int:
        return len(self.identities)

    def set_epoch(self, epoch: int, start_batch: int = 0) -> None:
        """Make the next pass draw epoch ``epoch`` (the DistributedSampler convention).

        Args:
            epoch: the epoch to draw.
            start_batch: skip the epoch's first ``start_batch`` batches of this rank in the next
                pass only, to resume a run mid-epoch with exactly the batches (and, with
                ``with_seeds``, the clips) it would have seen.
        """
        if start_batch < 0:
            raise ValueError(f"start_batch must be >= 0, got {start_batch}")
        self.epoch, self._start_batch = epoch, start_batch

    def __len__(self) -> int:
        """Batches per epoch on this rank: ``ceil(ceil(identities / P) / world_size)``.

        The whole epoch's count, also for a pass resumed with ``start_batch``.
        """
        return math.ceil(math.ceil(self.num_identities / self.batch_p) / self.world_size)

    def epoch_batches(self, epoch: int) -> list[list[int]] | list[list[SampleKey]]:
        """The batches of ``epoch`` on this rank; a pure function of the seed and ``epoch``."""
        rng = np.random.default_rng([self.seed, epoch])
        batches = self._batches(rng)
        if self.with_seeds:
            # Drawn for every batch of every rank, so a clip's seed does not depend on the rank.
            seeds = rng.integers(_SEED_BOUND, size=(len(batches), self.batch_size))
            keyed = [
                [SampleKey(int(i), int(s)) for i, s in zip(batch, row, strict=True)]
                for batch, row in zip(batches, seeds, strict=True)
            ]
            return keyed[self.rank :: self.world_size]
        return [[int(i) for i in batch] for batch in batches[self.rank :: self.world_size]]

    def __iter__(self) -> Iterator[list[int]] | Iterator[list[SampleKey]]:
        # Advance by itself so that forgetting set_epoch still gives a fresh epoch each pass. A
        # generator, so that the epoch advances on the first batch taken, not on iter(): a
        # DataLoader with workers calls iter() twice on its first pass and drops one iterator.
        epoch, start = self.epoch, self._start_batch
        self.epoch, self._start_batch = epoch + 1, 0
        yield from self.epoch_batches(epoch)[start:]

    def _batches(self, rng: np.random.Generator) -> list[np.ndarray]:
        """The epoch's batches of all ranks, ``(P * K,)`` tracklet indices each."""
        return [self._tracklets(group, rng) for group in self._identity_groups(rng)]

    def _identity_groups(self, rng: np.random.Generator) -> list[np.ndarray]:
        """Groups of P distinct identity positions covering every identity once, plus top-ups."""
        n, p = self.num_identities, self.batch_p
        order = rng.permutation(n)
        groups = [order[i : i + p] for i in range(0, n, p)]
        if len(groups[-1]) < p:
            missing = p - len(groups[-1])
            others = np.setdiff1d(np.arange(n), groups[-1])
            groups[-1] = np.concatenate([groups[-1], rng.choice(others, missing, replace=False)])
        while len(groups) % self.world_size:
            groups.append(rng.choice(n, p, replace=False))
        return groups

    def _tracklets(self, group: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """K tracklets of each identity in ``group``, without replacement where there are K."""
        k = self.batch_k
        picks = [rng.choice(self._members[g], k, replace=len(self._members[g]) < k) for g in group]
        return np.concatenate(picks)  # (P * K,), identity by identity


class TrackletBatchSampler(IdentityBatchSampler):
    """AP3D's epoch: every training tracklet once, in groups of ``batch_k`` of one identity
    (``data.sampler="tracklet"``, the default), batches of ``batch_p`` distinct identities.

    AP3D's ``RandomIdentitySampler`` (``tools/samplers.py``): each identity's tracklets are
    shuffled (an identity with fewer than K is given K drawn with replacement) and cut into
    groups of K, a remainder shorter than K is dropped, and the epoch is every group once, in
    batches of P groups with the last short batch dropped. So an epoch has
    ``floor(sum_i max(n_i, K) // K / P)`` batches for identities with ``n_i`` tracklets.
    Unlike AP3D, the groups are dealt so that a batch never holds one identity twice (see the
    module docstring). An identity with more groups than the epoch has batches (never at MARS
    scale) keeps only one group per batch, and the count is taken over the groups kept.

    Args:
        pids: identity of each dataset item.
        **kwargs: the keyword arguments of :class:`IdentityBatchSampler`.
    """

    def __init__(self, pids: Sequence[int], **kwargs: Any) -> None:
        super().__init__(pids, **kwargs)
        k = self.batch_k
        groups = np.array([max(len(m), k) // k for m in self._members])
        batches = int(groups.sum()) // self.batch_p
        while True:  # cap each identity at one group per batch; fewer groups, fewer batches
            fewer = int(np.minimum(groups, batches).sum()) // self.batch_p
            if fewer == batches:
                break
            batches = fewer
        self._groups_kept = np.minimum(groups, batches)
        self._num_batches = batches

    def __len__(self) -> int:
        """Batches per epoch on this rank: ``ceil(floor(groups / P) / world_size)``."""
        return math.ceil(self._num_batches / self.world_size)

    def _batches(self, rng: np.random.Generator) -> list[np.ndarray]:
        k, p, num = self.batch_k, self.batch_p, self._num_batches
        chunks = []  # (groups, K) tracklet indices of one identity, in a random identity order
        for i in rng.permutation(self.num_identities):
            members = self._members[i]
            if len(members) < k:
                members = rng.choice(members, k, replace=True)
            members = rng.permutation(members)
            kept = self._groups_kept[i]
            chunks.append(members[: kept * k].reshape(kept, k))
        groups = np.concatenate(chunks)[: num * p]  # (B * P, K)
        # Group j to batch j mod B: one identity's groups are consecutive and at most B, so
        # they land in distinct batches.
        batches = [groups[b::num].reshape(-1) for b in range(num)]  # (P * K,) each
        batches = [batches[b] for b in rng.permutation(num)]
        while len(batches) % self.world_size:
            batches.append(self._tracklets(rng.choice(self.num_identities, p, replace=False), rng))
        return batches


class LookalikeBatchSampler(IdentityBatchSampler):
    """P x K batches that put identities of one look-alike group together.

    The batch-hard triplet loss only learns to tell two look-alikes apart (by gait, on the
    synthetic data) when both are in the same batch; random P x K batches rarely do that. This
    sampler packs whole groups into the batches of an epoch, then fills the rest with the other
    identities:

    ::

        look-alike groups, shuffled       {4, 9, 12} {7, 30} {2, 21, 40} ...
        each into the batch with the most free places (ties: a random batch); a group larger
        than the free places left fills the batch and the rest goes on to the next one
        batches so far                    [4 9 12 . . . . .] [7 30 . . . . . .] [2 21 40 . ...]
        the other identities, shuffled, fill the free places batch by batch; a last batch with
        free places is topped up with identities it does not hold yet, as IdentityBatchSampler
        then the batches are shuffled; each identity brings K tracklets as before

    An epoch has exactly the batches of :class:`IdentityBatchSampler` (``ceil(identities / P)``),
    every identity at least once, and keeps its guarantees: the batches are a pure function of
    ``(seed, epoch)``, each rank takes every ``world_size``-th batch, ``set_epoch(e,
    start_batch)`` resumes mid-epoch, ``with_seeds`` gives per-clip seeds.

    **It uses knowledge that real data does not give**: which identities look alike. The
    synthetic generator knows it (``strf_core.synth.lookalike_groups``); on a real
    dataset no such labels exist (mining them from a model's own confusions would be the
    real-data analogue, not implemented).

    Args:
        pids: identity of each dataset item.
        groups: look-alike group of each dataset item (``None`` or a negative number: in no
            group); every item of one identity must have the same group.
        **kwargs: the keyword arguments of :class:`IdentityBatchSampler`.

    Raises:
        ValueError: ``groups`` does not match ``pids`` in length, or an identity has items in
            two groups.
    """

    def __init__(self, pids: Sequence[int], groups: Sequence[int | None], **kwargs: Any) -> None:
        super().__init__(pids, **kwargs)
        if len(groups) != len(pids):
            raise ValueError(f"{len(groups)} look-alike groups for {len(pids)} items")
        group_of: dict[int, int | None] = {}
        for pid, group in zip(pids, groups, strict=True):
            group = None if group is None or group < 0 else int(group)
            if group_of.setdefault(int(pid), group) != group:
                raise ValueError(
                    f"identity {pid} is in look-alike groups {group_of[int(pid)]} and {group}"
                )
        members: dict[int, list[int]] = {}
        for position, pid in enumerate(self.identities):
            if group_of[pid] is not None:
                members.setdefault(group_of[pid], []).append(position)
        # Identity positions (into self.identities) of each group of 2 or more, and of the rest.
        self._groups = [np.asarray(m) for _, m in sorted(members.items()) if len(m) > 1]
        grouped = {int(i) for m in self._groups for i in m}
        self._singles = np.asarray(
            [i for i in range(self.num_identities) if i not in grouped], dtype=np.int64
        )

    @property
    def num_groups(self) -> int:
        """Look-alike groups of two or more identities."""
        return len(self._groups)

    def _identity_groups(self, rng: np.random.Generator) -> list[np.ndarray]:
        n, p = self.num_identities, self.batch_p
        batches: list[list[int]] = [[] for _ in range(math.ceil(n / p))]
        for g in rng.permutation(len(self._groups)):
            left = list(rng.permutation(self._groups[g]))
            while left:
                # The batch with the most free places; ties broken at random.
                free = np.array([p - len(b) for b in batches])
                best = rng.choice(np.flatnonzero(free == free.max()))
                take, left = left[: free[best]], left[free[best] :]
                batches[best] += take
        singles = iter(rng.permutation(self._singles).tolist())
        for batch in batches:
            batch += [i for _, i in zip(range(p - len(batch)), singles, strict=False)]
        groups = []
        for batch in batches:
            if len(batch) < p:
                others = np.setdiff1d(np.arange(n), batch)
                batch = batch + rng.choice(others, p - len(batch), replace=False).tolist()
            groups.append(np.asarray(batch, dtype=np.int64))
        groups = [groups[i] for i in rng.permutation(len(groups))]
        while len(groups) % self.world_size:
            groups.append(rng.choice(n, p, replace=False))
        return groups


class IdentitySampler(Sampler[int]):
    """The indices of :class:`IdentityBatchSampler`, one at a time, for ``sampler=``.

    Pair it with ``batch_size = batch_p * batch_k`` (and any ``drop_last``: every epoch is a
    whole number of batches) to get exactly the batches of the batch sampler.

    Args:
        pids: identity of each dataset item.
        **kwargs: the keyword arguments of :class:`IdentityBatchSampler`.
    """

    def __init__(self, pids: Sequence[int], **kwargs: Any) -> None:
        super().__init__()
        self.batches = IdentityBatchSampler(pids, **kwargs)

    @property
    def batch_size(self) -> int:
        return self.batches.batch_size

    def set_epoch(self, epoch: int, start_batch: int = 0) -> None:
        """See :meth:`IdentityBatchSampler.set_epoch`; ``start_batch`` counts whole batches."""
        self.batches.set_epoch(epoch, start_batch)

    def __len__(self) -> int:
        return len(self.batches) * self.batches.batch_size

    def __iter__(self) -> Iterator[int] | Iterator[SampleKey]:
        for batch in self.batches:
            yield from batch


BATCH_SAMPLERS: dict[str, type[IdentityBatchSampler]] = {
    "tracklet": TrackletBatchSampler,
    "identity": IdentityBatchSampler,
    "lookalike": LookalikeBatchSampler,
}


def build_batch_sampler(
    name: str,
    pids: Sequence[int],
    *,
    lookalike_groups: Sequence[int | None] | None = None,
    **kwargs: Any,
) -> IdentityBatchSampler:
    """The batch sampler ``data.sampler`` names.

    Args:
        name: ``"tracklet"`` (AP3D's epoch, the default), ``"identity"`` or ``"lookalike"``.
        pids: identity of each dataset item.
        lookalike_groups: each item's look-alike group; ``"lookalike"`` only, and required there.
        **kwargs: the keyword arguments of :class:`IdentityBatchSampler`.

    Raises:
        ValueError: an unknown name, or look-alike groups missing for (or given to a sampler
            other than) ``"lookalike"``.
    """
    if name not in BATCH_SAMPLERS:
        raise ValueError(f"unknown sampler {name!r}; expected one of {', '.join(BATCH_SAMPLERS)}")
    if (name == "lookalike") != (lookalike_groups is not None):
        raise ValueError(
            f"look-alike groups are for the 'lookalike' sampler only, and it needs them "
            f"(sampler {name!r}, groups {'given' if lookalike_groups is not None else 'none'})"
        )
    if name == "lookalike":
        return LookalikeBatchSampler(pids, lookalike_groups, **kwargs)
    return BATCH_SAMPLERS[name](pids, **kwargs)
