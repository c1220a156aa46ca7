"""Which frames of a tracklet a clip uses (SPEC section 3): train clips, test chunks, even spacing.

Every function takes the tracklet length and returns frame indices (``int64`` arrays, sorted, in
``[0, num_frames)``); randomness comes only from the numpy ``Generator`` passed in, so a clip is
reproducible from its generator's seed whatever process draws it.

::

    train_clip_indices(100, rng)    long: random start, every 8th frame     [13, 21, 29, 37]
    train_clip_indices(20, rng)     short: sorted random distinct frames    [2, 7, 8, 15]
    train_clip_indices(3, rng)      very short: sorted, with replacement    [0, 0, 1, 2]
    chunk_indices(70)               test: every frame once, in chunks       [0-31] [32-63] [64-69]
    evenly_spaced_indices(100, 4)   test: centres of 4 equal segments       [12, 37, 62, 87]
"""

from __future__ import annotations

import numpy as np


def _check_length(num_frames: int) -> None:
    if num_frames < 1:
        raise ValueError(f"a tracklet needs at least one frame, got num_frames={num_frames}")


def _check_positive(**values: int) -> None:
    for name, value in values.items():
        if value < 1:
            raise ValueError(f"{name} must be >= 1, got {value}")


def train_clip_indices(
    num_frames: int, rng: np.random.Generator, *, seq_len: int = 4, stride: int = 8
) -> np.ndarray:
    """Frames of one training clip, AP3D's ``TemporalRandomCrop`` rule.

    With ``L = num_frames``:

    - ``L >= seq_len * stride`` (long): a start ``s`` uniform in ``[0, L - (seq_len - 1) * stride
      - 1]``, then ``s, s + stride, ..., s + (seq_len - 1) * stride``. The threshold is AP3D's
      ``seq_len * stride`` (32 by default), not the ``(seq_len - 1) * stride + 1`` frames the
      strided clip needs, so tracklets of 25 to 31 frames take the next rule.
    - ``seq_len <= L < seq_len * stride`` (short): ``seq_len`` distinct frames drawn uniformly,
      sorted.
    - ``L < seq_len`` (very short): ``seq_len`` frames drawn uniformly with replacement, sorted
      (so a frame may repeat and another be left out, as in AP3D).

    Args:
        num_frames: tracklet length ``L`` (>= 1).
        rng: the only source of randomness.
        seq_len: frames per clip.
        stride: frame step of long tracklets.

    Returns:
        ``seq_len`` sorted frame indices.

    Shape:
        ``(seq_len,)``, ``int64``.
    """
    _check_length(num_frames)
    _check_positive(seq_len=seq_len, stride=stride)
    if num_frames >= seq_len * stride:
        start = int(rng.integers(0, num_frames - (seq_len - 1) * stride))  # high is exclusive
        return start + stride * np.arange(seq_len, dtype=np.int64)
    picks = rng.choice(num_frames, size=seq_len, replace=num_frames < seq_len)
    return np.sort(picks).astype(np.int64)


def chunk_indices(num_frames: int, chunk_len: int = 32) -> list[np.ndarray]:
    """Every frame once, in order, in consecutive chunks (the all-frames test of SPEC section 3).

    Chunk ``i`` holds frames ``[i * chunk_len, min((i + 1) * chunk_len, L))``: all chunks have
    ``chunk_len`` frames except possibly the last, which holds the remainder. Nothing is padded
    or repeated, so per-frame features averaged over all chunks weigh every frame once.

    Args:
        num_frames: tracklet length ``L`` (>= 1).
        chunk_len: frames per chunk.

    Returns:
        ``ceil(L / chunk_len)`` arrays whose concatenation is ``arange(L)``.
    """
    _check_length(num_frames)
    _check_positive(chunk_len=chunk_len)
    frames = np.arange(num_frames, dtype=np.int64)
    return [frames[i : i + chunk_len] for i in range(0, num_frames, chunk_len)]


def evenly_spaced_indices(num_frames: int, num_samples: int) -> np.ndarray:
    """``num_samples`` frames spread evenly over the tracklet (the cheap test clip).

    Frame ``i`` is the centre of the ``i``-th of ``num_samples`` equal segments of the tracklet:
    ``floor((2 i + 1) * L / (2 * num_samples))``. The gaps are all ``L / num_samples`` when
    ``num_samples`` divides ``L`` and differ by at most one frame otherwise; the first and last
    picks sit about half a gap from the ends. When ``num_samples > L`` frames repeat (each
    about ``num_samples / L`` times), still in order.

    Args:
        num_frames: tracklet length ``L`` (>= 1).
        num_samples: frames to return.

    Returns:
        ``num_samples`` sorted frame indices.

    Shape:
        ``(num_samples,)``, ``int64``.
    """
    _check_length(num_frames)
    _check_positive(num_samples=num_samples)
    # Integer arithmetic: a float linspace could round a centre onto the neighbouring frame.
    return (2 * np.arange(num_samples, dtype=np.int64) + 1) * num_frames // (2 * num_samples)
