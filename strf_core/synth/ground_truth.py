"""Per-frame ground truth of the synthetic world: where the person and the occluder are.

The generator draws every frame from shapes, so it knows each pixel's owner. It writes, beside
the MARS tree, one file per tracklet::

    ROOT/masks/bbox_train/0003C2T0001.npz    (bbox_test/ for the test split)
        person    (T, H, ceil(W/8)) uint8: np.packbits of the walker's pixels, along W
        occluder  (T, H, ceil(W/8)) uint8: the same for the occluder (all zero when none)
        shape     (3,) int64: T, H, W

Worlds written before these files keep loading as datasets; asking them for masks raises
:class:`GroundTruthError` with the command that regenerates them. The files are zip archives
with fixed timestamps, so the same seed gives byte-identical files.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import NamedTuple

import numpy as np

from strf_core.data.tracklet import Tracklet

MASKS_DIR = "masks"
_EPOCH = (1980, 1, 1, 0, 0, 0)  # the zip format's earliest date: no wall-clock time in files


class GroundTruthError(ValueError):
    """Ground-truth masks that are missing or do not fit their tracklet (the message names the
    file)."""


class FrameMasks(NamedTuple):
    """Boolean ``(T, H, W)`` masks of one tracklet, at the frames' size."""

    person: np.ndarray
    occluder: np.ndarray


def mask_path(root: str | Path, frame: str | Path) -> Path:
    """Where the masks of the tracklet whose first frame is ``frame`` live under ``root``.

    ``frame`` is a MARS frame path (``.../bbox_test/0003/0003C2T0001F001.jpg``): the split folder
    and the first 11 characters of the name (``PPPPCcTtttt``) name the tracklet.
    """
    frame = Path(frame)
    return Path(root) / MASKS_DIR / frame.parent.parent.name / f"{frame.name[:11]}.npz"


def write_masks(path: str | Path, person: np.ndarray, occluder: np.ndarray) -> None:
    """Write one tracklet's masks (``(T, H, W)`` bool each), byte-identical for equal input."""
    person, occluder = np.asarray(person, bool), np.asarray(occluder, bool)
    if person.ndim != 3 or person.shape != occluder.shape:
        raise ValueError(
            f"masks must be two (T, H, W) arrays of one shape, got {person.shape}, {occluder.shape}"
        )
    arrays = {
        "person": np.packbits(person, axis=-1),
        "occluder": np.packbits(occluder, axis=-1),
        "shape": np.array(person.shape, np.int64),
    }
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, array in arrays.items():
            buffer = io.BytesIO()
            np.save(buffer, array, allow_pickle=False)
            info = zipfile.ZipInfo(f"{name}.npy", date_time=_EPOCH)
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, buffer.getvalue())


def load_masks(root: str | Path, tracklet: Tracklet) -> FrameMasks:
    """The person and occluder masks of one tracklet of the synthetic world at ``root``.

    Raises:
        GroundTruthError: the world has no masks (written before they existed), the tracklet's
            file is missing, or its frame count differs from the tracklet's.
    """
    root = Path(root)
    if not (root / MASKS_DIR).is_dir():
        raise GroundTruthError(
            f"{root} has no {MASKS_DIR}/ folder: it was generated before ground-truth masks "
            f"existed (or is not a synthetic world); regenerate it with "
            f"`strf synth {root} --overwrite` and the same preset, seed and size"
        )
    path = mask_path(root, tracklet.frames[0])
    if not path.is_file():
        raise GroundTruthError(f"no ground-truth masks for {tracklet.frames[0]}: {path} is missing")
    with np.load(path, allow_pickle=False) as data:
        t, _, w = (int(v) for v in data["shape"])
        person = np.unpackbits(data["person"], axis=-1, count=w).astype(bool)
        occluder = np.unpackbits(data["occluder"], axis=-1, count=w).astype(bool)
    if t != len(tracklet.frames):
        raise GroundTruthError(
            f"{path} holds {t} frames but the tracklet {tracklet.frames[0]} has "
            f"{len(tracklet.frames)}: the masks belong to another world"
        )
    return FrameMasks(person, occluder)
