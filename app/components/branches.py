"""The four STRF branch toggles."""

from __future__ import annotations

import streamlit as st

from app import resources as R


def branch_toggles(key: str, *, disabled: bool = False) -> tuple[str, ...] | None:
    """Four toggles, one per STRF branch; returns the branches switched on (``None``: all).

    Args:
        key: prefix of the widgets' keys (one set of toggles per page).
        disabled: show them greyed out (a workspace without an STRF model).
    """
    columns = st.columns(len(R.BRANCH_NAMES))
    on = []
    for column, name in zip(columns, R.BRANCH_NAMES, strict=True):
        with column:
            if st.toggle(R.BRANCH_LABELS[name], value=True, key=f"{key}:{name}", disabled=disabled):
                on.append(name)
    return None if len(on) == len(R.BRANCH_NAMES) else tuple(on)


def describe(branches: tuple[str, ...] | None) -> str:
    """The branch set in words."""
    if branches is None:
        return "all four branches"
    if not branches:
        return "no branch (STRF is the identity: the backbone alone)"
    return ", ".join(R.BRANCH_LABELS[b] for b in branches)
