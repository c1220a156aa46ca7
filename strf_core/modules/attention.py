"""The factorized attention mask (FAM) product of eq. 1 and 3, fused or explicit.

Given the reduced, pooled features ``T`` of one branch and the un-reduced input ``f_hat``::

    C   = kappa * T^T T                  (N, L, L)   L = H*W positions, symmetric
    M   = softmax(C, dim=-2)             columns sum to 1 (softmax over source positions)
    out = f_hat @ M                      (N, Dv, L)  out[:, :, j] = sum_i f_hat[:, :, i] M[i, j]

Because ``C`` is symmetric, ``out^T = softmax(kappa * Q K^T, dim=-1) V`` with ``Q = K = T^T`` and
``V = f_hat^T``: exactly scaled-dot-product attention with ``scale = kappa``. The fused path calls
:func:`torch.nn.functional.scaled_dot_product_attention`; the explicit path materialises ``M``.

Which path runs (``attention=``): ``"fused"`` always calls SDPA; ``"explicit"`` never does;
``"auto"`` (the default) calls SDPA on CUDA, whose memory-efficient kernel accepts keys narrower
than values and keeps no ``L x L`` matrix, and the explicit product elsewhere: on the CPU no fused
SDPA kernel accepts ``Dk != Dv``, so SDPA runs its math kernel, which is slower and saves more than
the explicit product (``bench/strf_overhead.py`` measures both).

The explicit path softmaxes the rows of ``C`` and applies the result as ``(M^T f_hat^T)^T``:
``C`` being symmetric, ``softmax(C, dim=-1)`` is ``M^T``, laid out so that the softmax, its
backward and the product's backward all run along contiguous rows (a softmax over ``dim=-2``
reduces across rows, 1.3-1.5x slower, and its backward needs a transposed copy of the gradient;
``bench/strf_overhead.py`` measures the unit).

Numerics: the logits are formed in float32 (explicit path) or inside the attention kernel. In
float16 the dot-product logits of large activations overflow (65504 is the largest half), so a
float16 product with un-normalised keys is run in float32; bfloat16 has float32's range.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

ATTENTION_PATHS = ("auto", "fused", "explicit")


def use_fused(attention: str, device: torch.device) -> bool:
    """Whether the ``attention`` setting runs SDPA on ``device``."""
    if attention not in ATTENTION_PATHS:
        raise ValueError(f"attention must be one of {ATTENTION_PATHS}, got {attention!r}")
    return attention == "fused" or (attention == "auto" and device.type == "cuda")


def attention_mask(keys: Tensor, *, kappa: float) -> Tensor:
    """The mask ``M = softmax(kappa * T^T T, dim=-2)``, in float32.

    Args:
        keys: ``T``, the reduced and pooled features of a branch.
        kappa: temperature of eq. 3.

    Returns:
        The mask; each column ``M[:, :, j]`` is a distribution over source positions ``i``.
        A transposed view of a contiguous tensor (``.contiguous()`` gives ``M``'s own layout).

    Shape:
        keys: ``(N, Dk, L)``. Returns: ``(N, L, L)``.
    """
    keys = keys.float()
    with torch.autocast(keys.device.type, enabled=False):
        logits = kappa * keys.transpose(1, 2) @ keys  # (N, L, L), symmetric
        # Row j of softmax(C, dim=-1) is column j of M (C = C^T): a contiguous M^T, returned
        # as its transposed view (see the module docstring).
        return torch.softmax(logits, dim=-1).transpose(1, 2)


def apply_mask(values: Tensor, mask: Tensor, *, exact_logits: bool = False) -> Tensor:
    """``values @ mask`` in the dtype of ``values`` (float32 for float16 with ``exact_logits``).

    Computed as ``(mask^T @ values^T)^T``: for a mask from :func:`attention_mask` (a transposed
    view of a contiguous ``M^T``) the backward pass then writes ``M^T``'s gradient contiguously,
    as the softmax's backward reads it. The result is made contiguous (one copy of the values'
    size), so that the layers after the unit see the layout they were given.

    Shape:
        values: ``(N, Dv, L)``; mask: ``(N, L, L)``. Returns: ``(N, Dv, L)``.
    """
    work_dtype = _work_dtype(values.dtype, exact_logits)
    with torch.autocast(values.device.type, enabled=False):
        out_t = mask.to(work_dtype).mT @ values.to(work_dtype).mT  # (N, L, Dv)
    return out_t.mT.to(values.dtype).contiguous()  # (N, Dv, L)


def _work_dtype(dtype: torch.dtype, exact_logits: bool) -> torch.dtype:
    return torch.float32 if dtype == torch.float16 and exact_logits else dtype


def factorized_attention(
    keys: Tensor,
    values: Tensor,
    *,
    kappa: float,
    fused: bool = True,
    exact_logits: bool = False,
) -> Tensor:
    """Apply the factorized attention mask of ``keys`` to ``values`` (eq. 1).

    Args:
        keys: ``T``, the reduced and pooled features (already L2-normalised for cosine similarity).
        values: ``f_hat``, the un-reduced input reshaped to ``(N, C*T, H*W)``.
        kappa: temperature of eq. 3.
        fused: use ``scaled_dot_product_attention`` (default) instead of materialising the mask.
        exact_logits: the keys are not normalised (dot similarity); a float16 product then runs in
            float32 so that the logits cannot overflow.

    Returns:
        ``values @ M``, in the dtype of ``values``.

    Shape:
        keys: ``(N, Dk, L)``; values: ``(N, Dv, L)``. Returns: ``(N, Dv, L)``.
    """
    if keys.shape[0] != values.shape[0] or keys.shape[-1] != values.shape[-1]:
        raise ValueError(
            f"keys {tuple(keys.shape)} and values {tuple(values.shape)} must share batch and "
            "position dimensions"
        )
    if not fused:
        return apply_mask(values, attention_mask(keys, kappa=kappa), exact_logits=exact_logits)
    work_dtype = _work_dtype(values.dtype, exact_logits)
    with torch.autocast(values.device.type, enabled=False):
        q = keys.to(work_dtype).transpose(1, 2).unsqueeze(1)  # (N, 1, L, Dk)
        v = values.to(work_dtype).transpose(1, 2).unsqueeze(1)  # (N, 1, L, Dv)
        out = F.scaled_dot_product_attention(q, q, v, scale=kappa)  # (N, 1, L, Dv)
    return out.squeeze(1).transpose(1, 2).to(values.dtype)  # (N, Dv, L)
