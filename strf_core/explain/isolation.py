"""Hooks on a model that other threads share: a private copy per call, or the model's lock.

The dashboard keeps one model per checkpoint (``st.cache_resource``) and serves every session
from it, each session in its own thread. Forward hooks live on the module object, so a hook
that one thread registers fires in every other thread's forward pass too: captum's layer hooks
would record another session's activations (and replace its layer outputs with clones), and the
attribution would silently mix two queries. Two ways out:

- ``"copy"`` (the default): run the call on :func:`shared_weight_copy`, new module objects
  (with hook tables of their own) around the *same* parameter and buffer tensors. It costs
  a copy of the module objects and no weight memory, calls run in parallel, and the shared
  model never carries a hook, so plain forward passes elsewhere (ranking, embedding) need no
  coordination.
- ``"lock"``: hold :func:`model_lock` while the hooks exist. Hook-using calls then run one at
  a time, and a forward pass that does not take the lock can still meet a hook: only safe if
  every user of the model takes it.

``bench/explain_latency.py`` measures both under concurrent load (``bench/results/``, the
README): the lock serves more calls per second, by the cost of the copies. ``"copy"`` stays
the default because it is
correct whatever else runs on the model, with no cooperation asked of it. Branch switches
(:func:`strf_core.active_branches`) live in a context variable, not in the model, so every
thread keeps its own whichever way is used.
"""

from __future__ import annotations

import copy
import threading
import weakref
from collections.abc import Iterator
from contextlib import contextmanager

from torch import nn

ISOLATIONS = ("copy", "lock")

_locks: weakref.WeakKeyDictionary[nn.Module, threading.RLock] = weakref.WeakKeyDictionary()
_locks_guard = threading.Lock()


def shared_weight_copy(model: nn.Module) -> nn.Module:
    """New module objects around ``model``'s own parameter and buffer tensors, in eval mode.

    Hooks registered on the copy (and ``.eval()`` on it) leave ``model`` untouched; the weights
    are not copied, so a change to ``model``'s weights shows in the copy too.
    """
    memo: dict[int, object] = {id(t): t for t in model.parameters()}
    memo.update({id(t): t for t in model.buffers()})
    # Under the model's lock: a "lock" call elsewhere cannot add or remove hooks mid-copy (nor
    # leave its hooks in the copy).
    with model_lock(model):
        return copy.deepcopy(model, memo).eval()


def model_lock(model: nn.Module) -> threading.RLock:
    """The one re-entrant lock of ``model`` (created on first use, dropped with the model)."""
    with _locks_guard:
        lock = _locks.get(model)
        if lock is None:
            lock = _locks[model] = threading.RLock()
        return lock


@contextmanager
def isolated(model: nn.Module, isolation: str = "copy") -> Iterator[nn.Module]:
    """The module to register hooks on and run, safe against other threads using ``model``.

    Args:
        model: the shared model (in eval mode for ``"lock"``).
        isolation: ``"copy"`` (a :func:`shared_weight_copy` per call) or ``"lock"`` (``model``
            itself while holding :func:`model_lock`).

    Yields:
        The module to use inside the ``with`` block.
    """
    if isolation == "copy":
        yield shared_weight_copy(model)
    elif isolation == "lock":
        if model.training:
            # Under "copy" the copy is put in eval mode; here that would change the shared model.
            raise ValueError("isolation='lock' needs the shared model in eval mode (model.eval())")
        with model_lock(model):
            yield model
    else:
        raise ValueError(f"isolation must be one of {ISOLATIONS}, got {isolation!r}")
