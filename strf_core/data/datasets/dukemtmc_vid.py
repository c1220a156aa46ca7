"""DukeMTMC-VideoReID (Wu et al., CVPR 2018): 702 + 702 identities (+ distractors), 8 cameras.

On disk (SPEC section 4)::

    ROOT/{train,query,gallery}/PPPP/TTTT/PPPPCcFffff*.jpg     pid, camera 1-8, frame number

e.g. ``0001/0003/0001C6F0099X30823.jpg`` (names with underscores, ``0001_C6_F0099_X30823.jpg``,
are read too). Query and gallery are the folders as given; train pids are relabelled.

Frames are ordered by the number after ``F``. Some tracklets start at ``F0002``: torchreid
looks for ``F0001..F{n}`` and so drops their last frame; we keep every frame.

``ROOT`` may also be torchreid's data root (``dukemtmc-vidreid/DukeMTMC-VideoReID/``) or the
unpacked ``DukeMTMC-VideoReID/`` folder's parent.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from strf_core.data.datasets.base import (
    SPLITS,
    DatasetError,
    ReIDDataset,
    frame_files,
    list_dir,
    relabel,
    resolve_root,
)
from strf_core.data.tracklet import Tracklet

# pid, camera and frame number at the start of a frame name, with or without underscores.
_NAME = re.compile(r"(\d+)_?C(\d+)_?F(\d+)")


def _tracklet(folder: Path, pid: int) -> Tracklet:
    frames = frame_files(folder, (".jpg",))
    keyed = []
    for path in frames:
        name = os.path.basename(path)
        match = _NAME.match(name)
        if match is None:
            raise DatasetError(f"{path}: not a DukeMTMC-VideoReID frame name (PPPPCcFffff*.jpg)")
        keyed.append((int(match[3]), int(match[2]), int(match[1]), path))
    keyed.sort()
    cams = {cam for _, cam, _, _ in keyed}
    if len(cams) != 1:
        raise DatasetError(f"{folder}: frames from several cameras {sorted(cams)}")
    strays = sorted({p for _, _, p, _ in keyed} - {pid})
    if strays:
        raise DatasetError(
            f"{folder}: frames named for pid {strays[0]}, in the folder of pid {pid}"
        )
    return Tracklet(tuple(path for *_, path in keyed), pid, cams.pop() - 1)


def _split(split_dir: Path) -> list[Tracklet]:
    tracklets = []
    for pid_name in list_dir(split_dir, dirs=True):
        if not pid_name.isdigit():
            raise DatasetError(f"{split_dir / pid_name}: person folders are numbers (PPPP)")
        for tracklet_name in list_dir(split_dir / pid_name, dirs=True):
            tracklets.append(_tracklet(split_dir / pid_name / tracklet_name, int(pid_name)))
    return tracklets


class DukeMTMCVideoReID(ReIDDataset):
    """DukeMTMC-VideoReID with torchreid's splits and every frame, in temporal order.

    Args:
        root: the folder holding ``train/``, ``query/`` and ``gallery/``.
        train_dense: train on AP3D's ``train_dense``: each training tracklet cut
            into consecutive pieces of 64 frames, the last running to the end
            (:func:`~strf_core.data.datasets.base.dense_pieces`).
        validate: check now that every listed frame exists (listing already found them; this
            only matters if files vanish after loading).

    Raises:
        DatasetError: a missing split folder, a person folder that is not a number, an empty
            tracklet folder, or frames whose names disagree with their folder.
    """

    name = "dukemtmc_vid"
    options = ("train_dense",)
    dense_step, dense_window = 64, 64

    def __init__(
        self, root: str | os.PathLike[str], *, train_dense: bool = False, validate: bool = False
    ) -> None:
        root = resolve_root(
            root,
            "train",
            ("DukeMTMC-VideoReID", os.path.join("dukemtmc-vidreid", "DukeMTMC-VideoReID")),
        )
        train, query, gallery = (_split(root / s) for s in SPLITS)
        super().__init__(
            root, relabel(train), query, gallery, train_dense=train_dense, validate=validate
        )
