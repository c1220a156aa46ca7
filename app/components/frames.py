"""Rows of frames (a tracklet, its attention overlays), rows of retrieved tracklets, and the
numbers that sum up one ranking."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import streamlit as st

from app import resources as R

KIND_MARKS = {  # what a hit is for the query (plain symbols: no emoji font needed)
    "match": ":green[**✓ match**]",
    "wrong": ":red[✗ wrong]",
    "junk": ":gray[junk]",
    "distractor": ":gray[distractor]",
    "unknown": "?",
}
KIND_WORDS = {  # the same in plain words, for tables
    "match": "true match",
    "wrong": "wrong identity",
    "junk": "junk",
    "distractor": "distractor",
    "unknown": "unknown",
}
STRIP_SLOTS = 16  # frames in a full-width strip
COLUMN_SLOTS = 8  # frames in a strip inside one of two side-by-side columns
HITS_PER_ROW = 5


def shown_frames(num_frames: int, slots: int) -> list[int]:
    """The frame indices a strip of ``slots`` cells shows: all, or ``slots`` evenly spaced."""
    if num_frames <= slots:
        return list(range(num_frames))
    return np.linspace(0, num_frames - 1, slots).round().astype(int).tolist()


def frame_strip(images: Sequence[np.ndarray], *, slots: int = STRIP_SLOTS) -> list[int]:
    """Frames in one row of ``slots`` equal cells, each labelled ``t=`` its index in the clip.

    Longer clips are evenly thinned to ``slots`` frames; shorter ones leave cells empty, so
    frames keep their size from clip to clip. Returns the indices shown.
    """
    shown = shown_frames(len(images), slots)
    for cell, t in zip(st.columns(slots, gap="xxsmall"), shown, strict=False):
        cell.image(images[t], caption=f"t={t}", width="stretch")
    return shown


def frames_in_words(frames: Sequence[int], num_frames: int) -> str:
    """``"frames t=3, 7 of 16"`` or ``"frame t=3 of 16"``."""
    noun = "frame" if len(frames) == 1 else "frames"
    return f"{noun} t={', '.join(str(t) for t in frames)} of {num_frames}"


def evidence_note(empty_frames: Sequence[int], num_frames: int) -> str:
    """The frames where Grad-CAM finds nothing, in words (``""`` when it finds something in
    every frame); when most frames are empty, the few with evidence are named instead."""
    if not empty_frames:
        return ""
    if len(empty_frames) == num_frames:
        return f"Grad-CAM finds no evidence in any of the {num_frames} frames."
    if 2 * len(empty_frames) <= num_frames:
        return f"Grad-CAM finds no evidence in {frames_in_words(empty_frames, num_frames)}."
    some = [t for t in range(num_frames) if t not in set(empty_frames)]
    return (
        f"Grad-CAM finds no evidence in {len(empty_frames)} of {num_frames} frames, "
        f"only in t={', '.join(str(t) for t in some)}."
    )


def hit_caption(hit) -> str:
    """Two short lines under a thumbnail: rank and what the hit is, then its distance."""
    return f"**{hit.rank}** {KIND_MARKS[hit.kind]}  \nd={hit.distance:.3f}"


def ranking_strip(ws: R.Workspace, analysis: R.Analysis) -> None:
    """The top-k retrievals, ``HITS_PER_ROW`` a row: thumbnail, rank, mark and distance; the
    identities and cameras in a table beneath."""
    hits = analysis.ranking.hits
    for start in range(0, len(hits), HITS_PER_ROW):
        row = hits[start : start + HITS_PER_ROW]
        for cell, hit in zip(st.columns(HITS_PER_ROW, gap="small"), row, strict=False):
            thumbnail = R.gallery_thumbnail(ws, hit.index)
            cell.image(thumbnail, caption=hit_caption(hit), width="stretch")
    with st.expander("Identities and cameras of these hits"):
        st.dataframe(
            [
                {
                    "rank": h.rank,
                    "hit": KIND_WORDS[h.kind],
                    "distance": round(h.distance, 3),
                    "id": h.pid,
                    "camera": h.camid + 1,
                    "gallery #": h.index,
                }
                for h in hits
            ],
            hide_index=True,
        )


def match_summary(analysis: R.Analysis) -> None:
    """Where the first true match ranks in the whole gallery, the query's AP and its number of
    true matches, as one row of metrics (a caption when the query's identity is unknown)."""
    score = analysis.score
    if score is None:
        st.caption("Query identity unknown: hits cannot be marked true or wrong.")
        return
    if score.first_match is None:
        st.caption("The gallery holds no true match for this query (other cameras).")
        return
    rank, ap, matches = st.columns(3, gap="xsmall")
    rank.metric(
        "First true match",
        f"rank {score.first_match}",
        help="Rank of the nearest true match (same identity, another camera) in the whole "
        "gallery, junk removed as the evaluation protocol does.",
    )
    ap.metric("AP", f"{score.average_precision:.3f}", help="Average precision of this query.")
    matches.metric("True matches", score.num_matches, help="True matches in the gallery.")
