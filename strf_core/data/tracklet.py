"""The unit every loader, sampler and the synthetic generator speak: a tracklet."""

from __future__ import annotations

from typing import NamedTuple


class Tracklet(NamedTuple):
    """One person's track in one camera, as torchreid's video datasets give it.

    Attributes:
        frames: image paths in temporal order (sorted by frame number).
        pid: person id; train pids are relabelled ``0..N-1``; in test splits ``0`` marks a
            distractor (MARS) and ``-1`` junk, which loaders drop.
        camid: 0-based camera index.
    """

    frames: tuple[str, ...]
    pid: int
    camid: int
