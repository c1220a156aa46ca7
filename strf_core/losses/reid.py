"""The training objective of eq. 9: cross-entropy on logits + batch-hard triplet on features."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from strf_core.models import ReIDOutput


def cosine_distance_matrix(features: Tensor) -> Tensor:
    """``1 - cos`` between every pair of rows, ``(B, D) -> (B, B)``."""
    normed = F.normalize(features.float(), dim=1)
    return (1.0 - normed @ normed.T).clamp(min=0.0)


class BatchHardTripletLoss(nn.Module):
    """Batch-hard triplet loss (Hermans et al., 2017) on cosine distance.

    For every anchor: its farthest positive and its closest negative in the batch,
    ``max(0, d(a, p) - d(a, n) + margin)``, averaged over the anchors that have both a positive
    (another sample of its identity) and a negative.

    Args:
        margin: the margin (0.3 in the paper's recipe).

    Shape:
        features: ``(B, D)``; labels: ``(B,)``. Returns a scalar.
    """

    def __init__(self, margin: float = 0.3) -> None:
        super().__init__()
        self.margin = margin

    def forward(self, features: Tensor, labels: Tensor) -> Tensor:
        dist = cosine_distance_matrix(features)  # (B, B)
        same = labels[:, None] == labels[None, :]
        eye = torch.eye(len(labels), dtype=torch.bool, device=labels.device)
        positive = same & ~eye
        valid = positive.any(dim=1) & (~same).any(dim=1)
        if not valid.any():  # no anchor with both a positive and a negative in this batch
            return features.sum() * 0.0
        hardest_pos = dist.masked_fill(~positive, float("-inf")).amax(dim=1)
        hardest_neg = dist.masked_fill(same, float("inf")).amin(dim=1)
        losses = F.relu(hardest_pos - hardest_neg + self.margin)
        return losses[valid].mean()


class ReIDLoss(nn.Module):
    """``ce_weight * CE(logits) + triplet_weight * triplet(features)`` (eq. 9: both weights 1).

    Args:
        ce_weight: weight of the cross-entropy on the classifier logits.
        triplet_weight: weight of the batch-hard triplet loss on the post-BN features.
        margin: triplet margin.
    """

    def __init__(
        self, *, ce_weight: float = 1.0, triplet_weight: float = 1.0, margin: float = 0.3
    ) -> None:
        super().__init__()
        self.ce_weight = ce_weight
        self.triplet_weight = triplet_weight
        self.triplet = BatchHardTripletLoss(margin)

    def forward(self, output: ReIDOutput, labels: Tensor) -> tuple[Tensor, dict[str, float]]:
        """Returns the total loss and its parts (as floats, for logging)."""
        ce = F.cross_entropy(output.logits.float(), labels)
        triplet = self.triplet(output.features, labels)
        total = self.ce_weight * ce + self.triplet_weight * triplet
        return total, {"loss": total.item(), "ce": ce.item(), "triplet": triplet.item()}
