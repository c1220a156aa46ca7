"""Nearest gallery entries by cosine distance: exact brute force in blocks, or FAISS.

Brute force keeps at most ``Q x (k + block_size)`` similarities at a time, so a gallery of
millions needs no ``Q x G`` matrix. Ties are broken by gallery order (stable sorts), as in
:func:`strf_core.metrics.rank_queries`. FAISS (``pip install faiss-cpu``), when installed, gives
the same exact answer with an inner-product index over L2-normalised features (ties in any
order); it pays off for large galleries and many queries.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

INDEXES = ("brute", "faiss")


def faiss_available() -> bool:
    """Whether the optional FAISS package can be imported."""
    try:
        import faiss  # noqa: F401
    except ImportError:
        return False
    return True


def topk_cosine(
    query: Tensor, gallery: Tensor, k: int, *, block_size: int = 4096
) -> tuple[Tensor, Tensor]:
    """The ``k`` closest gallery entries of each query, by cosine distance, in gallery blocks.

    Args:
        query: query embeddings.
        gallery: gallery embeddings.
        k: neighbours per query (at most ``G``).
        block_size: gallery entries compared at once.

    Returns:
        ``(distances, indices)``: ``1 - cos`` in ``[0, 2]`` ascending, and gallery indices.

    Shape:
        query: ``(Q, D)``; gallery: ``(G, D)``. Returns: ``(Q, k)`` each.
    """
    _check(query, gallery)
    k = min(k, len(gallery))
    q = F.normalize(query.float().cpu(), dim=1)
    best_sim = torch.empty(len(q), 0)
    best_idx = torch.empty(len(q), 0, dtype=torch.int64)
    for start in range(0, len(gallery), block_size):
        g = F.normalize(gallery[start : start + block_size].float().cpu(), dim=1)
        sim = q @ g.T  # (Q, B)
        idx = torch.arange(start, start + len(g)).expand(len(q), -1)
        # Earlier blocks first, so the stable sort keeps ties in gallery order.
        sim = torch.cat([best_sim, sim], dim=1)
        idx = torch.cat([best_idx, idx], dim=1)
        order = torch.sort(sim, dim=1, descending=True, stable=True).indices[:, :k]
        best_sim, best_idx = sim.gather(1, order), idx.gather(1, order)
    return (1.0 - best_sim).clamp_(0.0, 2.0), best_idx


class FaissIndex:
    """An exact FAISS inner-product index over L2-normalised gallery embeddings.

    Args:
        gallery: gallery embeddings ``(G, D)``.

    Raises:
        ImportError: FAISS is not installed (the message says how to get it).
    """

    def __init__(self, gallery: Tensor) -> None:
        try:
            import faiss
        except ImportError as err:
            raise ImportError(
                "index='faiss' needs FAISS: pip install faiss-cpu (or use index='brute')"
            ) from err
        g = F.normalize(gallery.float().cpu(), dim=1).contiguous()
        self.size = len(g)
        self.index = faiss.IndexFlatIP(g.shape[1])
        self.index.add(g.numpy())

    def search(self, query: Tensor, k: int) -> tuple[Tensor, Tensor]:
        """Like :func:`topk_cosine`: ``(distances, indices)``, ``(Q, k)`` each."""
        k = min(k, self.size)
        q = F.normalize(query.float().cpu(), dim=1).contiguous()
        sim, idx = self.index.search(q.numpy(), k)
        return (1.0 - torch.from_numpy(sim)).clamp_(0.0, 2.0), torch.from_numpy(idx).long()


def _check(query: Tensor, gallery: Tensor) -> None:
    if query.dim() != 2 or gallery.dim() != 2 or query.shape[1] != gallery.shape[1]:
        raise ValueError(
            "expected (Q, D) and (G, D) features, got "
            f"{tuple(query.shape)} and {tuple(gallery.shape)}"
        )
    if len(gallery) == 0:
        raise ValueError("the gallery is empty")
