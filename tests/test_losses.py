"""Loss values on hand-made batches."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from strf_core.losses import BatchHardTripletLoss, ReIDLoss
from strf_core.models import ReIDOutput


def _unit(angle_deg: float) -> list[float]:
    a = math.radians(angle_deg)
    return [math.cos(a), math.sin(a)]


def test_batch_hard_triplet_by_hand():
    # Identity 0 at 0 and 60 degrees, identity 1 at 90 and 180 degrees (cosine distance 1 - cos).
    feats = torch.tensor([_unit(0), _unit(60), _unit(90), _unit(180)]) * 3.0  # scale-invariant
    labels = torch.tensor([0, 0, 1, 1])
    d = lambda a, b: 1 - math.cos(math.radians(a - b))  # noqa: E731
    expected = [
        max(0, d(0, 60) - d(0, 90) + 0.3),  # anchor 0: positive 60, closest negative 90
        max(0, d(60, 0) - d(60, 90) + 0.3),
        max(0, d(90, 180) - d(90, 60) + 0.3),
        max(0, d(180, 90) - d(180, 60) + 0.3),
    ]
    loss = BatchHardTripletLoss(margin=0.3)(feats, labels)
    assert loss.item() == pytest.approx(sum(expected) / 4, rel=1e-6)


def test_the_hardest_of_several_positives_and_the_nearest_of_several_negatives():
    # Three samples of each identity, interleaved on the circle: the farthest positive and the
    # nearest negative are neither the first nor the only candidates (an easiest-positive or a
    # farthest-negative miner gives other numbers).
    angles = [0, 30, 80, 60, 110, 170]
    feats = torch.tensor([_unit(a) for a in angles])
    labels = torch.tensor([0, 0, 0, 1, 1, 1])
    d = lambda a, b: 1 - math.cos(math.radians(a - b))  # noqa: E731
    # (anchor, its farthest positive, its nearest negative), read off the circle by hand.
    chosen = [(0, 80, 60), (30, 80, 60), (80, 0, 60), (60, 170, 80), (110, 170, 80), (170, 60, 80)]
    expected = [max(0.0, d(a, p) - d(a, n) + 0.3) for a, p, n in chosen]
    assert all(e > 0 for e in expected)
    loss = BatchHardTripletLoss(margin=0.3)(feats, labels)
    assert loss.item() == pytest.approx(sum(expected) / 6, rel=1e-6)


def test_anchors_without_a_positive_are_left_out():
    feats = torch.tensor([_unit(0), _unit(10), _unit(90)])
    labels = torch.tensor([0, 0, 1])  # the identity-1 sample has no positive
    d = lambda a, b: 1 - math.cos(math.radians(a - b))  # noqa: E731
    expected = (max(0, d(0, 10) - d(0, 90) + 0.3) + max(0, d(10, 0) - d(10, 90) + 0.3)) / 2
    assert BatchHardTripletLoss()(feats, labels).item() == pytest.approx(expected, rel=1e-6)
    single = torch.tensor([0, 1, 2])
    zero = BatchHardTripletLoss()(feats.requires_grad_(), single)
    assert zero.item() == 0.0
    zero.backward()  # still part of the graph


def test_reid_loss_combines_ce_and_triplet_with_weights():
    torch.manual_seed(0)
    features = torch.randn(8, 16, requires_grad=True)
    logits = torch.randn(8, 5, requires_grad=True)
    labels = torch.tensor([0, 0, 1, 1, 2, 2, 3, 3])
    out = ReIDOutput(features, logits)
    total, parts = ReIDLoss(ce_weight=0.5, triplet_weight=2.0)(out, labels)
    ce = F.cross_entropy(logits, labels)
    tri = BatchHardTripletLoss(0.3)(features, labels)
    assert total.item() == pytest.approx(0.5 * ce.item() + 2.0 * tri.item(), rel=1e-6)
    assert parts["ce"] == pytest.approx(ce.item()) and parts["triplet"] == pytest.approx(tri.item())
    total.backward()
    assert features.grad.abs().sum() > 0 and logits.grad.abs().sum() > 0
