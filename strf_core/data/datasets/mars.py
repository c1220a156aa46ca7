"""MARS (Zheng et al., ECCV 2016): 1,261 identities, 6 cameras, about 20k tracklets.

On disk (SPEC section 4)::

    ROOT/bbox_train/PPPP/PPPPCcTttttFfff.jpg      pid, camera 1-6, tracklet, frame
    ROOT/bbox_test/PPPP/...                        also 0000 (distractors) and 00-1 (junk)
    ROOT/info/train_name.txt, test_name.txt        one image name a line (CRLF in the release)
    ROOT/info/tracks_train_info.mat                track_train_info: rows [start, end, pid, cam]
    ROOT/info/tracks_test_info.mat                 track_test_info: same, start/end 1-based
    ROOT/info/query_IDX.mat                        query_IDX: 1-based rows of track_test_info

Splits are torchreid's: junk rows (pid -1) are dropped everywhere, distractors (pid 0) stay;
query = the ``query_IDX`` rows. Gallery, by ``protocol``:

- ``"torchreid"``: the other test rows (9,330 tracklets on the real MARS).
- ``"ap3d"``: query + those rows, as AP3D evaluates, so that every query has a true match.

``ROOT`` may also be torchreid's data root, holding ``mars/``.

The format's names are encoded and parsed here, once, for this loader, the writers
(:mod:`strf_core.data.writers.mars`) and uploads: :func:`frame_name`, :func:`parse_frame_name`,
:func:`pid_folder`; the layout's paths are :data:`SPLIT_DIRS`, :data:`INFO_FILES` and
:data:`MAT_VARIABLES`.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import NamedTuple

from strf_core.data.datasets.base import (
    DatasetError,
    ReIDDataset,
    load_mat_array,
    relabel,
    resolve_root,
)
from strf_core.data.tracklet import Tracklet

PROTOCOLS = ("torchreid", "ap3d")
JUNK_PID = -1

SPLIT_DIRS = {"train": "bbox_train", "test": "bbox_test"}
INFO_FILES = {
    "train_names": "info/train_name.txt",
    "test_names": "info/test_name.txt",
    "train_info": "info/tracks_train_info.mat",
    "test_info": "info/tracks_test_info.mat",
    "query": "info/query_IDX.mat",
}
MAT_VARIABLES = {
    "train_info": "track_train_info",
    "test_info": "track_test_info",
    "query": "query_IDX",
}
# Three frame digits as in the release; more only past F999 (no leading zero then).
NAME_PATTERN = re.compile(r"^(\d{4}|00-1)C([1-6])T(\d{4})F(\d{3}|[1-9]\d{3,})\.jpg$")


class MarsName(NamedTuple):
    """The fields of a MARS image name."""

    pid: int
    camera: int
    tracklet: int
    frame: int


def pid_folder(pid: int) -> str:
    """``1 -> "0001"``, ``0 -> "0000"``, ``-1 -> "00-1"`` (MARS's folder and name prefix)."""
    if pid == JUNK_PID:
        return "00-1"
    if not 0 <= pid <= 9999:
        raise ValueError(f"MARS pid must be -1 (junk), 0 (distractor) or 1-9999, got {pid}")
    return f"{pid:04d}"


def frame_name(pid: int, camera: int, tracklet: int, frame: int) -> str:
    """``frame_name(3, 2, 1, 7) == "0003C2T0001F007.jpg"`` (all numbers 1-based).

    Frame numbers past 999, which the release never has, take four digits (``F1000``): tests
    use them to check that the loader orders frames by number, not text.
    """
    if not 1 <= camera <= 6:
        raise ValueError(f"MARS camera must be 1-6, got {camera}")
    if not 1 <= tracklet <= 9999:
        raise ValueError(f"MARS tracklet number must be 1-9999, got {tracklet}")
    if frame < 1:
        raise ValueError(f"MARS frame number must be 1 or more, got {frame}")
    return f"{pid_folder(pid)}C{camera}T{tracklet:04d}F{frame:03d}.jpg"


def parse_frame_name(name: str) -> MarsName:
    """Inverse of :func:`frame_name`; a clear ``ValueError`` for anything else."""
    match = NAME_PATTERN.match(name)
    if match is None:
        raise ValueError(f"not a MARS image name (PPPPCcTttttFfff.jpg): {name!r}")
    pid, camera, tracklet, frame = match.groups()
    return MarsName(-1 if pid == "00-1" else int(pid), int(camera), int(tracklet), int(frame))


def _frame_number(name: str) -> int:
    # PPPPCcTttttFfff.jpg: the digits between the last "F" and the extension. Cheaper than a
    # regex over a million names, and still right if a frame number outgrows three digits.
    return int(name[name.rindex("F") + 1 : name.rindex(".")])


def read_name_list(path: Path) -> list[str]:
    """Image names of ``train_name.txt`` / ``test_name.txt``, CRLF or LF, one a line.

    Raises:
        DatasetError: the file is missing or not text.
    """
    if not path.is_file():
        raise DatasetError(f"{path} not found")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise DatasetError(f"{path} is not a text file of image names: {err}") from err
    # Line i (1-based) is what the .mat rows point at, so keep every line, blank or not;
    # splitlines drops only the final line break and handles "\r\n".
    return [line.strip() for line in text.splitlines()]


def _track_info(path: Path, variable: str) -> list[list[int]]:
    table = load_mat_array(path, variable)
    if table.ndim != 2 or table.shape[1] != 4:
        raise DatasetError(
            f"{path}: {variable!r} must have 4 columns [start, end, pid, cam], "
            f"got shape {table.shape}"
        )
    return table.tolist()


def _query_rows(path: Path, num_test_rows: int) -> list[int]:
    """0-based rows of the test table that are queries, in ``query_IDX`` order."""
    rows = load_mat_array(path, "query_IDX").ravel().tolist()
    bad = [r for r in rows if not 1 <= r <= num_test_rows]
    if bad:
        raise DatasetError(
            f"{path}: query_IDX holds {bad[:5]}, outside the {num_test_rows} rows of "
            "track_test_info (query_IDX is 1-based)"
        )
    if len(set(rows)) != len(rows):
        raise DatasetError(f"{path}: query_IDX lists some rows more than once")
    return [r - 1 for r in rows]


def _tracklets(
    rows: list[int], table: list[list[int]], names: list[str], table_path: Path, image_dir: Path
) -> list[Tracklet]:
    """Tracklets of the given 0-based rows of a track table, junk rows dropped."""
    tracklets = []
    for row in rows:
        start, end, pid, cam = table[row]
        if pid == JUNK_PID:
            continue
        where = f"{table_path.name} row {row + 1} [start={start}, end={end}, pid={pid}, cam={cam}]"
        if start > end:
            raise DatasetError(f"empty tracklet: {where} has start > end")
        if start < 1 or end > len(names):
            raise DatasetError(f"{where} points outside the {len(names)} names of its name list")
        if cam < 1:
            raise DatasetError(f"{where}: cameras are numbered from 1")
        block = names[start - 1 : end]
        # One prefix check tests both pid and camera of every name against the row.
        try:
            pid_text = pid_folder(pid)
        except ValueError as err:
            raise DatasetError(f"{where}: {err}") from None
        prefix = f"{pid_text}C{cam}"
        strays = [n for n in block if not n.startswith(prefix)]
        if strays:
            raise DatasetError(
                f"{where} lists {strays[0]!r}, not an image of pid {pid} in camera {cam}"
            )
        if len({len(n) for n in block}) == 1:
            # Names of one width differ only in their fixed-width digits, so text order is
            # frame order, and sorting text is several times cheaper than parsing numbers.
            block.sort()
        else:
            try:
                block.sort(key=_frame_number)
            except ValueError:
                bad = next(n for n in block if not _parses(n))
                raise DatasetError(f"{where}: no frame number in image name {bad!r}") from None
        folder = f"{image_dir}{os.sep}{pid_text}{os.sep}"
        frames = tuple(folder + n for n in block)
        tracklets.append(Tracklet(frames, pid, cam - 1))
    return tracklets


def _parses(name: str) -> bool:
    try:
        _frame_number(name)
    except ValueError:
        return False
    return True


class Mars(ReIDDataset):
    """MARS with torchreid's splits and frames in temporal order.

    Args:
        root: the MARS folder (holding ``info/``, ``bbox_train/``, ``bbox_test/``).
        protocol: ``"torchreid"`` or ``"ap3d"`` (see the module docstring).
        validate: check now that every listed frame exists.

    Raises:
        DatasetError: a missing ``info`` file or variable, a row pointing outside the name list
            or at another person's or camera's images, or an empty tracklet.
    """

    name = "mars"

    def __init__(
        self, root: str | os.PathLike[str], *, protocol: str = "torchreid", validate: bool = False
    ) -> None:
        if protocol not in PROTOCOLS:
            raise ValueError(f"unknown MARS protocol {protocol!r}; expected one of {PROTOCOLS}")
        self.protocol = protocol
        root = resolve_root(root, "info", ("mars",))
        info = root / "info"

        train_names = read_name_list(info / "train_name.txt")
        test_names = read_name_list(info / "test_name.txt")
        train_path = info / "tracks_train_info.mat"
        test_path = info / "tracks_test_info.mat"
        track_train = _track_info(train_path, "track_train_info")
        track_test = _track_info(test_path, "track_test_info")
        query_rows = _query_rows(info / "query_IDX.mat", len(track_test))

        query_set = set(query_rows)
        gallery_rows = [i for i in range(len(track_test)) if i not in query_set]
        if protocol == "ap3d":
            gallery_rows = query_rows + gallery_rows

        train_rows = list(range(len(track_train)))
        train = _tracklets(train_rows, track_train, train_names, train_path, root / "bbox_train")
        test_dir = root / "bbox_test"
        query = _tracklets(query_rows, track_test, test_names, test_path, test_dir)
        gallery = _tracklets(gallery_rows, track_test, test_names, test_path, test_dir)
        super().__init__(root, relabel(train), query, gallery, validate=validate)
