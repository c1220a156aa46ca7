"""Every frame of a clip, in rows of equal cells: no frame left out, each labelled ``t=`` its
index in the clip (:func:`app.components.frames.frame_strip` thins long clips to one row)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import streamlit as st

from app.components.frames import COLUMN_SLOTS, STRIP_SLOTS

__all__ = ["COLUMN_SLOTS", "STRIP_SLOTS", "all_frames"]


def all_frames(images: Sequence[np.ndarray], *, per_row: int = STRIP_SLOTS) -> int:
    """All ``images`` in rows of ``per_row`` cells (the last row left short, so frames keep
    their size); returns how many rows were drawn."""
    rows = 0
    for start in range(0, len(images), per_row):
        cells = st.columns(per_row, gap="xxsmall")
        for cell, t in zip(cells, range(start, min(start + per_row, len(images))), strict=False):
            cell.image(images[t], caption=f"t={t}", width="stretch")
        rows += 1
    return rows
