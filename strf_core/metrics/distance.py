"""Distances between re-ID embeddings."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def cosine_distance(query: Tensor, gallery: Tensor, *, block_size: int = 4096) -> Tensor:
    """``1 - cos(q, g)`` for every pair, computed in blocks of queries, in float32 on the CPU.

    Shape:
        query: ``(Q, D)``; gallery: ``(G, D)``. Returns: ``(Q, G)`` in ``[0, 2]``.
    """
    if query.dim() != 2 or gallery.dim() != 2 or query.shape[1] != gallery.shape[1]:
        raise ValueError(
            "expected (Q, D) and (G, D) features, got "
            f"{tuple(query.shape)} and {tuple(gallery.shape)}"
        )
    q = F.normalize(query.float().cpu(), dim=1)
    g = F.normalize(gallery.float().cpu(), dim=1)
    out = torch.empty(len(q), len(g))
    for start in range(0, len(q), block_size):
        out[start : start + block_size] = 1.0 - q[start : start + block_size] @ g.T
    return out.clamp_(0.0, 2.0)
