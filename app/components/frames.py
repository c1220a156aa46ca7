"""Rows of frames (a tracklet, its attention overlays) and rows of retrieved tracklets."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import streamlit as st

from app import resources as R

KIND_MARKS = {  # what a hit is for the query (plain symbols: no emoji font needed)
    "match": "✓ TRUE MATCH",
    "wrong": "✗ wrong",
    "junk": "junk",
    "distractor": "distractor",
    "unknown": "?",
}
FRAME_WIDTH = 56  # pixels a 128x64 frame is shown at in a strip


def frame_strip(
    images: Sequence[np.ndarray], *, captions: Sequence[str] | None = None, max_frames: int = 16
) -> None:
    """Show frames in a row, evenly thinned to ``max_frames``."""
    if len(images) > max_frames:
        keep = np.linspace(0, len(images) - 1, max_frames).round().astype(int)
        images = [images[i] for i in keep]
        captions = [captions[i] for i in keep] if captions else [f"t={i}" for i in keep]
    st.image(list(images), caption=list(captions) if captions else None, width=FRAME_WIDTH)


def ranking_strip(ws: R.Workspace, analysis: R.Analysis) -> None:
    """The top-k retrievals: thumbnail, rank, distance and what each hit is."""
    hits = analysis.ranking.hits
    images = [R.gallery_thumbnail(ws, h.index) for h in hits]
    captions = [
        f"{h.rank}. {KIND_MARKS[h.kind]} · d={h.distance:.3f} · id {h.pid}, cam {h.camid + 1}"
        for h in hits
    ]
    st.image(images, caption=captions, width=FRAME_WIDTH + 24)


def match_summary(analysis: R.Analysis) -> str:
    """One line: where the first true match ranks in the whole gallery, and the query's AP."""
    score = analysis.score
    if score is None:
        return "Query identity unknown: hits cannot be marked true or wrong."
    if score.first_match is None:
        return "The gallery holds no true match for this query (other cameras)."
    return (
        f"First true match at **rank {score.first_match}** of the whole gallery "
        f"({score.num_matches} true matches; AP {score.average_precision:.3f})"
    )
