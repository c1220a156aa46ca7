"""Your own tracklets, in one simple folder layout.

::

    ROOT/
      train/                      training tracklets
        <pid>/                    a person: a whole number, e.g. 17 or 0017
          <camera>_<anything>/    a tracklet: its camera label, an underscore, any name
            <frames>              images (.jpg .jpeg .png .bmp), in natural order
      query/                      same layout
      gallery/                    same layout

For example ``ROOT/query/0017/cam2_walk03/frame_9.jpg``. Frames are ordered by the numbers in
their names (``frame_9`` before ``frame_10``). Camera labels are any text without an underscore
(``1``, ``cam2``, ``north``); all labels of the three splits are sorted naturally and numbered
``0..K-1`` to give the camid. Train pids are relabelled ``0..N-1``; query and gallery keep the
pid as written, so the same person has the same folder name in both (``0`` is an ordinary pid
here). A split folder that is absent is an empty split, but at least one must exist.
"""

from __future__ import annotations

import os
from pathlib import Path

from strf_core.data.datasets.base import (
    SPLITS,
    DatasetError,
    ReIDDataset,
    frame_files,
    list_dir,
    natural_key,
    relabel,
)
from strf_core.data.tracklet import Tracklet

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp")


def _scan(split_dir: Path) -> list[tuple[tuple[str, ...], int, str]]:
    """``(frames, pid, camera label)`` of every tracklet folder of one split."""
    found = []
    for pid_name in list_dir(split_dir, dirs=True):
        try:
            pid = int(pid_name)
        except ValueError:
            raise DatasetError(
                f"{split_dir / pid_name}: person folders must be whole numbers"
            ) from None
        for tracklet_name in list_dir(split_dir / pid_name, dirs=True):
            camera, sep, _ = tracklet_name.partition("_")
            if not sep or not camera:
                raise DatasetError(
                    f"{split_dir / pid_name / tracklet_name}: tracklet folders are named "
                    "<camera>_<anything>, e.g. cam1_0001"
                )
            frames = frame_files(split_dir / pid_name / tracklet_name, IMAGE_SUFFIXES)
            found.append((frames, pid, camera))
    return found


class TrackletFolder(ReIDDataset):
    """Tracklets in the folder layout of this module's docstring.

    Args:
        root: the folder holding ``train/``, ``query/`` and/or ``gallery/``.
        validate: check now that every listed frame exists.

    Raises:
        DatasetError: no split folder, a person folder that is not a number, a tracklet folder
            without a camera label, or an empty tracklet.
    """

    name = "folder"

    def __init__(self, root: str | os.PathLike[str], *, validate: bool = False) -> None:
        root = Path(root).expanduser().absolute()
        present = [s for s in SPLITS if (root / s).is_dir()]
        if not present:
            raise DatasetError(f"{root}: none of the split folders {', '.join(SPLITS)} found")
        scanned = {s: _scan(root / s) if s in present else [] for s in SPLITS}
        labels = {camera for found in scanned.values() for *_, camera in found}
        camid = {label: i for i, label in enumerate(sorted(labels, key=natural_key))}

        def tracklets(split: str) -> list[Tracklet]:
            return [Tracklet(f, pid, camid[camera]) for f, pid, camera in scanned[split]]

        train = relabel(tracklets("train"))
        super().__init__(root, train, tracklets("query"), tracklets("gallery"), validate=validate)
