"""Branch switches at inference: ``with active_branches("s_fine", "s_coarse"): model(clip)``.

The switch lives in a :class:`contextvars.ContextVar`, not in the model, so one shared model object
can serve several threads (dashboard sessions) at once, each with its own set of branches, and the
model's state is never touched. A thread started with :class:`threading.Thread` begins with an
empty context: switches set in one thread are invisible to the others.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

BRANCH_NAMES: tuple[str, ...] = ("t_dynamic", "t_static", "s_fine", "s_coarse")
"""The four factorization branches: FFM(t, tau), FFM(t, varsigma), FFM(s, tau), FFM(s, varsigma)."""

TEMPORAL_BRANCHES: tuple[str, ...] = ("t_dynamic", "t_static")
SPATIAL_BRANCHES: tuple[str, ...] = ("s_fine", "s_coarse")

_active: ContextVar[frozenset[str] | None] = ContextVar("strf_active_branches", default=None)


def check_branch_names(names: Iterable[str]) -> tuple[str, ...]:
    """Return ``names`` as a tuple, or raise ``ValueError`` naming the unknown ones."""
    names = tuple(names)
    unknown = [n for n in names if n not in BRANCH_NAMES]
    if unknown:
        raise ValueError(f"unknown STRF branch(es) {unknown}; expected names from {BRANCH_NAMES}")
    return names


@contextmanager
def active_branches(*names: str) -> Iterator[None]:
    """Run every STRF unit in this context with only the named branches.

    A switched-off branch contributes nothing; a cascaded factorization with no active branch
    passes its input through; with no branch active a unit is the identity. An inner
    ``active_branches`` replaces the outer one until it exits.

    Args:
        *names: branch names from :data:`BRANCH_NAMES`; none at all switches every branch off.

    Raises:
        ValueError: an unknown branch name.
    """
    token = _active.set(frozenset(check_branch_names(names)))
    try:
        yield
    finally:
        _active.reset(token)


def current_active_branches() -> frozenset[str] | None:
    """The branches switched on in this context, or ``None`` when no switch is set (all on)."""
    return _active.get()
