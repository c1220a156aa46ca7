"""Nearest gallery entries by cosine distance: exact brute force, or FAISS.

:class:`BruteForceIndex` keeps the gallery as it is given (no normalised copy) and its norms,
computed once: a search is one matrix product over the gallery, a division by the norms and a
``topk``, the floor of an exact search (``bench/retrieval_speed.py``). Queries go in blocks of at
most ``max_elements`` similarities. Ties are broken by gallery order, as in
:func:`strf_core.metrics.rank_queries`.

:class:`FaissIndex` (``pip install faiss-cpu``) gives the same exact answer (ties in any order)
from an inner-product index over L2-normalised features: FAISS needs its own normalised copy, and
that copy is the store: the raw features are given back as ``vectors * norms``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

INDEXES = ("brute", "faiss")
NORM_EPS = 1e-12  # as F.normalize


def faiss_available() -> bool:
    """Whether the optional FAISS package can be imported."""
    try:
        import faiss  # noqa: F401
    except ImportError:
        return False
    return True


class BruteForceIndex:
    """Exact cosine search over a gallery kept as given, with its norms computed once.

    Args:
        gallery: gallery embeddings; kept without a copy when float32, contiguous, on the CPU.
        max_elements: similarities held at once (a block of queries times the gallery).

    Shape:
        gallery: ``(G, D)``.
    """

    def __init__(self, gallery: Tensor, *, max_elements: int = 1 << 24) -> None:
        _check_gallery(gallery)
        self.gallery = gallery.detach().float().cpu().contiguous()
        self.norms = torch.linalg.vector_norm(self.gallery, dim=1).clamp_min_(NORM_EPS)  # (G,)
        self.max_elements = max_elements

    def __len__(self) -> int:
        return len(self.gallery)

    def features(self) -> Tensor:
        """The gallery as given (the stored tensor itself): ``(G, D)``."""
        return self.gallery

    def search(self, query: Tensor, k: int) -> tuple[Tensor, Tensor]:
        """The ``k`` closest gallery entries of each query.

        Returns:
            ``(distances, indices)``: ``1 - cos`` in ``[0, 2]`` ascending (ties in gallery
            order), and gallery indices.

        Shape:
            query: ``(Q, D)``. Returns: ``(Q, min(k, G))`` each.
        """
        _check_query(query, self.gallery)
        k = min(k, len(self.gallery))
        q = query.detach().float().cpu()
        q_norms = torch.linalg.vector_norm(q, dim=1, keepdim=True).clamp_min_(NORM_EPS)  # (Q, 1)
        rows = max(1, self.max_elements // len(self.gallery))
        sims, indices = [], []
        for start in range(0, len(q), rows):
            # q . g / |g|, the cosine times |q|: it orders each row as the cosine does, and only
            # the k kept are divided by |q| (a few small operations less: bench/retrieval_speed).
            sim = torch.mm(q[start : start + rows], self.gallery.T).div_(self.norms)  # (B, G)
            best_sim, best_idx = stable_topk(sim, k)
            sims.append(best_sim)
            indices.append(best_idx)
        cos = (sims[0] if len(sims) == 1 else torch.cat(sims)).div(q_norms)  # (Q, k)
        best = indices[0] if len(indices) == 1 else torch.cat(indices)
        return cos.neg_().add_(1.0).clamp_(0.0, 2.0), best


def stable_topk(sim: Tensor, k: int) -> tuple[Tensor, Tensor]:
    """The ``k`` largest entries of each row, ties in index order (``torch.topk`` promises no
    order among equal values, nor which of them it keeps at the boundary).

    Shape:
        sim: ``(B, G)``. Returns: ``(B, k)`` values descending and their indices.
    """
    extra = int(k < sim.shape[1])  # the (k+1)-th entry, where there is one, shows boundary ties
    values, indices = torch.topk(sim, k + extra, dim=1)  # (B, k + extra), descending
    if not bool((values[:, 1:] == values[:, :-1]).any()):
        # No two of the k + 1 best are equal: the top k are distinct, and every entry left out
        # is below the k-th. So topk's answer is already the tie-ordered one (the usual case).
        return values[:, :k], indices[:, :k]
    values, indices = values[:, :k], indices[:, :k]
    boundary = values[:, -1:]  # (B, 1)
    # Rows where more entries equal the k-th value than topk kept: keep the earliest ones.
    short = (sim == boundary).sum(1) > (values == boundary).sum(1)
    for row in torch.nonzero(short).flatten().tolist():
        above = torch.nonzero(sim[row] > boundary[row]).flatten()
        level = torch.nonzero(sim[row] == boundary[row]).flatten()[: k - len(above)]
        indices[row] = torch.cat([above, level])
        values[row] = sim[row, indices[row]]
    indices, order = indices.sort(dim=1)  # gallery order, then a stable sort by value
    values = values.gather(1, order)
    values, order = values.sort(dim=1, descending=True, stable=True)
    return values, indices.gather(1, order)


def topk_cosine(
    query: Tensor, gallery: Tensor, k: int, *, max_elements: int = 1 << 24
) -> tuple[Tensor, Tensor]:
    """:meth:`BruteForceIndex.search` for a gallery searched once.

    Shape:
        query: ``(Q, D)``; gallery: ``(G, D)``. Returns: ``(Q, min(k, G))`` each.
    """
    return BruteForceIndex(gallery, max_elements=max_elements).search(query, k)


class FaissIndex:
    """An exact FAISS inner-product index over L2-normalised gallery embeddings; it holds the
    only copy of the gallery (normalised, with the norms beside it).

    Args:
        gallery: gallery embeddings ``(G, D)``; not kept.

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
        _check_gallery(gallery)
        g = gallery.detach().float().cpu().contiguous()
        self.index = faiss.IndexFlatIP(g.shape[1])
        self.index.add(g.numpy())  # the one copy; normalised in place below
        self.norms = torch.linalg.vector_norm(g, dim=1).clamp_min_(NORM_EPS)  # (G,)
        self.vectors.div_(self.norms[:, None])

    def __len__(self) -> int:
        return self.index.ntotal

    @property
    def vectors(self) -> Tensor:
        """The normalised gallery, a view of the index's own storage ``(G, D)``."""
        import faiss

        flat = faiss.rev_swig_ptr(self.index.get_xb(), self.index.ntotal * self.index.d)
        return torch.from_numpy(flat).view(self.index.ntotal, self.index.d)

    def features(self) -> Tensor:
        """The gallery as given (up to float32 rounding, ~1e-7 relative), rebuilt from the
        normalised store: ``(G, D)``, a new tensor."""
        return self.vectors * self.norms[:, None]

    def search(self, query: Tensor, k: int) -> tuple[Tensor, Tensor]:
        """Like :meth:`BruteForceIndex.search`: ``(distances, indices)``, ``(Q, k)`` each."""
        _check_query(query, self.vectors)
        k = min(k, len(self))
        q = F.normalize(query.detach().float().cpu(), dim=1).contiguous()
        sim, idx = self.index.search(q.numpy(), k)
        return (1.0 - torch.from_numpy(sim)).clamp_(0.0, 2.0), torch.from_numpy(idx).long()


def _check_gallery(gallery: Tensor) -> None:
    if gallery.dim() != 2:
        raise ValueError(f"expected (G, D) gallery features, got {tuple(gallery.shape)}")
    if len(gallery) == 0:
        raise ValueError("the gallery is empty")


def _check_query(query: Tensor, gallery: Tensor) -> None:
    if query.dim() != 2 or query.shape[1] != gallery.shape[1]:
        raise ValueError(
            "expected (Q, D) and (G, D) features, got "
            f"{tuple(query.shape)} and {tuple(gallery.shape)}"
        )
