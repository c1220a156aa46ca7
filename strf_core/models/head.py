"""The re-ID head shared by every backbone: temporal mean, BatchNorm neck, classifier."""

from __future__ import annotations

from torch import Tensor, nn

from strf_core.models.interface import ReIDOutput


class ReIDHead(nn.Module):
    """Mean over frames -> BatchNorm1d neck -> Linear classifier (AP3D's head).

    Args:
        in_features: per-frame feature size ``D``.
        num_classes: training identities.

    Shape:
        ``(N, T, D) -> ReIDOutput((N, D), (N, num_classes))``
    """

    def __init__(self, in_features: int, num_classes: int) -> None:
        super().__init__()
        self.neck = nn.BatchNorm1d(in_features)
        self.classifier = nn.Linear(in_features, num_classes)
        # AP3D's initialisation of the neck and the classifier.
        nn.init.normal_(self.neck.weight, 1.0, 0.02)
        nn.init.zeros_(self.neck.bias)
        nn.init.normal_(self.classifier.weight, std=0.001)
        nn.init.zeros_(self.classifier.bias)

    def forward(self, frame_features: Tensor) -> ReIDOutput:
        if frame_features.dim() != 3:
            raise ValueError(
                f"expected per-frame features (N, T, D), got {tuple(frame_features.shape)}"
            )
        features = self.neck(frame_features.mean(dim=1))  # (N, D)
        return ReIDOutput(features, self.classifier(features))
