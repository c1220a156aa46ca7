"""PRID-2011 (Hirzer et al., SCIA 2011): 200 people seen in both cameras (385 in a, 749 in b).

On disk (SPEC section 4)::

    ROOT/prid_2011/multi_shot/cam_{a,b}/person_NNNN/NNNN.png
    ROOT/splits_prid2011.json        [{"train": ["person_0001", ...], "test": [...]}, ...]

The splits file is the one torchreid uses (10 splits). Train: both cameras of the training
people; query: camera a (camid 0) of the test people; gallery: camera b (camid 1). Pids are the
positions of the people in their list of the splits file, as in torchreid, so train pids are
already ``0..N-1``.

``ROOT`` may also be torchreid's data root, holding ``prid2011/``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from strf_core.data.datasets.base import DatasetError, ReIDDataset, person_tracklets, resolve_root

SPLITS_FILE = "splits_prid2011.json"


def read_splits(path: Path) -> list[dict[str, list[str]]]:
    """The list of ``{"train": [...], "test": [...]}`` splits of a PRID splits file.

    Raises:
        DatasetError: the file is missing, not JSON, or not a list of such splits.
    """
    if not path.is_file():
        raise DatasetError(f"{path} not found (the PRID-2011 splits file torchreid uses)")
    try:
        splits = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise DatasetError(f"{path} is not valid JSON: {err}") from err
    if not isinstance(splits, list) or not splits:
        raise DatasetError(f"{path}: expected a non-empty list of splits")
    for k, split in enumerate(splits):
        for field in ("train", "test"):
            people = split.get(field) if isinstance(split, dict) else None
            if not isinstance(people, list) or not all(isinstance(p, str) for p in people):
                raise DatasetError(f"{path}: split {k} has no {field!r} list of folder names")
    return splits


class PRID2011(ReIDDataset):
    """PRID-2011 with torchreid's splits and frames in temporal order.

    Args:
        root: the folder holding ``prid_2011/`` and ``splits_prid2011.json``.
        split_id: which split of the splits file (0-9 for torchreid's).
        train_dense: train on AP3D's ``train_dense``: each training tracklet cut
            into pieces of 64 frames every 32, as iLIDS-VID's (AP3D has no PRID loader; the
            same kind of two-camera sequences).
        validate: check now that every listed frame exists.

    Raises:
        DatasetError: a missing or malformed splits file, ``split_id`` out of range, a person
            of the split missing from a camera, or an empty tracklet.
    """

    name = "prid2011"
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
        root = resolve_root(root, "prid_2011", ("prid2011",))
        self.split_id = split_id
        splits_path = root / SPLITS_FILE
        splits = read_splits(splits_path)
        if not 0 <= split_id < len(splits):
            raise DatasetError(
                f"split_id {split_id} out of range: {splits_path} has {len(splits)} splits "
                f"(0-{len(splits) - 1})"
            )
        split = splits[split_id]
        cam_a = (root / "prid_2011" / "multi_shot" / "cam_a", 0)
        cam_b = (root / "prid_2011" / "multi_shot" / "cam_b", 1)
        train = person_tracklets(split["train"], [cam_a, cam_b], ".png")
        query = person_tracklets(split["test"], [cam_a], ".png")
        gallery = person_tracklets(split["test"], [cam_b], ".png")
        super().__init__(root, train, query, gallery, train_dense=train_dense, validate=validate)
