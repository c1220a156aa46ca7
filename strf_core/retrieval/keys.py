"""Cache keys: what a gallery's embeddings depend on, as hex digests.

- **Model**: the weights (every parameter and buffer, by value), the architecture (the module
  tree's ``repr`` plus each STRF branch's ``kappa`` and ``similarity``, which the ``repr`` does
  not show), the STRF branches switched on in the calling context (per unit, so toggling a
  branch of a model without that branch keeps the key) and the extraction settings.
- **Data**: every frame's path, size and modification time, in order.

Hashing the weights of a ResNet-50 (100 MB) takes a noticeable fraction of a second, so the
digest is kept per model object and reused while no tensor of it has changed: the tensors'
version counters (bumped by every in-place update, optimizer steps and ``load_state_dict``
included) and storage pointers stand for their values.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import weakref
from collections.abc import Mapping, Sequence

import torch
from torch import nn

from strf_core.data.tracklet import Tracklet
from strf_core.modules import STRF

_digests: weakref.WeakKeyDictionary[nn.Module, tuple[tuple, str]] = weakref.WeakKeyDictionary()
_digests_lock = threading.Lock()


def _state_fingerprint(model: nn.Module) -> tuple:
    return tuple(
        (name, t._version, t.data_ptr(), t.dtype, tuple(t.shape))
        for name, t in model.state_dict(keep_vars=True).items()
    )


def weights_digest(model: nn.Module) -> str:
    """SHA-256 of every parameter and buffer (name, dtype, shape, bytes), memoised per model."""
    fingerprint = _state_fingerprint(model)
    with _digests_lock:
        known = _digests.get(model)
    if known is not None and known[0] == fingerprint:
        return known[1]
    h = hashlib.sha256()
    for name, tensor in model.state_dict().items():
        t = tensor.detach().cpu().contiguous()
        h.update(f"{name}|{t.dtype}|{tuple(t.shape)}|".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    digest = h.hexdigest()
    with _digests_lock:
        _digests[model] = (fingerprint, digest)
    return digest


def architecture(model: nn.Module) -> dict[str, object]:
    """What decides the model's function besides the weights, including the live switches."""
    units = {
        name: {
            "active": list(unit.active_branch_names()),
            "branches": {
                b: {"kappa": branch.kappa, "similarity": branch.similarity}
                for b, branch in unit.branches.items()
            },
        }
        for name, unit in model.named_modules()
        if isinstance(unit, STRF)
    }
    return {"class": type(model).__name__, "repr": repr(model), "strf": units}


def model_key(model: nn.Module, settings: Mapping[str, object] | None = None) -> str:
    """Digest of the weights, architecture, active STRF branches and extraction ``settings``."""
    payload = {
        "weights": weights_digest(model),
        "architecture": architecture(model),
        "settings": dict(settings or {}),
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


def data_key(tracklets: Sequence[Tracklet]) -> str:
    """Digest of every frame's path, size and modification time (a missing file raises)."""
    h = hashlib.sha256()
    for tracklet in tracklets:
        h.update(f"[{len(tracklet.frames)}]".encode())
        for path in tracklet.frames:
            st = os.stat(path)
            h.update(f"{os.fspath(path)}|{st.st_size}|{st.st_mtime_ns}\n".encode())
    return h.hexdigest()
