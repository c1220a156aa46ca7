"""iLIDS-VID (Wang et al., ECCV 2014): 300 identities, one tracklet in each of 2 cameras.

On disk (SPEC section 4)::

    ROOT/i-LIDS-VID/sequences/cam{1,2}/personNNN/camK_personNNN_FFFFF.png
    ROOT/train-test people splits/train_test_splits_ilidsvid.mat     ls_set, 10 x 300

Row ``k`` of ``ls_set`` is split ``k``: 1-based indices into the sorted person folders, the
first half of the row the test people, the second half the training people (Wang et al.).
Train: both cameras of the training people; query: camera 1 (camid 0) of the test people;
gallery: camera 2 (camid 1). Pids are the positions of the people in their sorted half, as in
torchreid, so train pids are already ``0..149``.

Unlike torchreid, nothing is written into the dataset folder (torchreid caches a splits.json).
``ROOT`` may also be torchreid's data root, holding ``ilids-vid/``.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from strf_core.data.datasets.base import (
    DatasetError,
    ReIDDataset,
    list_dir,
    load_mat_array,
    person_tracklets,
    resolve_root,
)

SPLIT_MAT = os.path.join("train-test people splits", "train_test_splits_ilidsvid.mat")


def _person_folders(sequences: Path) -> list[str]:
    """Person folder names present in both cameras, sorted as torchreid sorts them."""
    cam1 = list_dir(sequences / "cam1", dirs=True)
    cam2 = list_dir(sequences / "cam2", dirs=True)
    only1, only2 = sorted(set(cam1) - set(cam2)), sorted(set(cam2) - set(cam1))
    if only1 or only2:
        raise DatasetError(
            f"{sequences}: cam1 and cam2 must hold the same people; only in cam1: "
            f"{only1[:5] or 'none'}, only in cam2: {only2[:5] or 'none'}"
        )
    # Plain string order: the split table indexes the folders in sorted(glob(...)) order.
    return sorted(cam1)


def _check_split_table(table: np.ndarray, path: Path, num_people: int) -> None:
    if table.ndim != 2 or table.shape[1] % 2:
        raise DatasetError(
            f"{path}: ls_set must be a (splits, people) table with an even number of people, "
            f"got shape {table.shape}"
        )
    bad = table[(table < 1) | (table > num_people)]
    if bad.size:
        raise DatasetError(
            f"{path}: ls_set holds {bad[:5].tolist()}, outside the 1-based indices of the "
            f"{num_people} person folders"
        )
    for k, row in enumerate(table):
        if len(set(row.tolist())) != len(row):
            raise DatasetError(f"{path}: row {k} of ls_set lists a person twice")


def split_people(root: Path, split_id: int) -> tuple[list[str], list[str]]:
    """The (train, test) person folder names of one split, each sorted.

    Raises:
        DatasetError: the split table is missing or malformed, or ``split_id`` is out of range.
    """
    people = _person_folders(root / "i-LIDS-VID" / "sequences")
    table_path = root / SPLIT_MAT
    table = load_mat_array(table_path, "ls_set")
    _check_split_table(table, table_path, len(people))
    if not 0 <= split_id < table.shape[0]:
        raise DatasetError(
            f"split_id {split_id} out of range: {table_path} has {table.shape[0]} splits "
            f"(0-{table.shape[0] - 1})"
        )
    half = table.shape[1] // 2
    row = table[split_id].tolist()
    test = [people[i - 1] for i in sorted(row[:half])]
    train = [people[i - 1] for i in sorted(row[half:])]
    return train, test


class ILIDSVID(ReIDDataset):
    """iLIDS-VID with torchreid's splits and frames in temporal order.

    Args:
        root: the folder holding ``i-LIDS-VID/`` and ``train-test people splits/``.
        split_id: which of the 10 splits (0-9).
        train_dense: train on AP3D's ``train_dense``: each training tracklet cut into pieces
            of 64 frames every 32 (overlapping by half), the last running to the end
            (:func:`~strf_core.data.datasets.base.dense_pieces`).
        validate: check now that every listed frame exists.

    Raises:
        DatasetError: missing folders or split table, a malformed ``ls_set``, ``split_id`` out
            of range, people missing from one camera, or an empty tracklet.
    """

    name = "ilids_vid"
    options = ("split_id", "train_dense")
    dense_step, dense_window = 32, 64

    def __init__(
        self,
        root: str | os.PathLike[str],
        *,
        split_id: int = 0,
        train_dense: bool = False,
        validate: bool = False,
    ) -> None:
        root = resolve_root(root, "i-LIDS-VID", ("ilids-vid",))
        self.split_id = split_id
        train_people, test_people = split_people(root, split_id)
        cam1 = (root / "i-LIDS-VID" / "sequences" / "cam1", 0)
        cam2 = (root / "i-LIDS-VID" / "sequences" / "cam2", 1)
        train = person_tracklets(train_people, [cam1, cam2], ".png")
        query = person_tracklets(test_people, [cam1], ".png")
        gallery = person_tracklets(test_people, [cam2], ".png")
        super().__init__(root, train, query, gallery, train_dense=train_dense, validate=validate)
