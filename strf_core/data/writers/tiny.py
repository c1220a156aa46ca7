"""Writers of tiny dataset trees in the real on-disk formats of SPEC section 4.

Each ``write_tiny_*`` writes a complete, loadable tree with a few tracklets of small real images
(JPEG or PNG, as the dataset has them), the index files in the releases' formats (file names,
CRLF name lists, ``.mat`` variables with their names and types, split tables), and the known
quirks. Tests use them to check the loaders against torchreid's splits; anything that needs
a dataset folder without the real data can use them too.

Frames are given per tracklet as a count ``n`` (frame numbers ``1..n``) or as the frame numbers
themselves, in the order the index lists them (MARS) or the files are written (the others).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from PIL import Image

from strf_core.data.writers.files import write_image, write_mat
from strf_core.data.writers.mars import FrameSpec, MarsTracklet, frame_numbers, write_mars

# (pid, camera 1-6, frames). Train pids 2, 5, 9 relabel to 0, 1, 2.
MARS_TRAIN: tuple[tuple[int, int, FrameSpec], ...] = (
    (5, 1, 3),
    (5, 3, 2),
    (2, 2, 4),
    (9, 6, 2),
)
# Rows 1-7 of track_test_info: two people, a distractor (pid 0) and a junk tracklet (pid -1).
MARS_TEST: tuple[tuple[int, int, FrameSpec], ...] = (
    (7, 1, 3),  # row 1: query
    (7, 2, 2),
    (0, 3, 2),  # distractor: kept in the gallery
    (11, 4, 2),  # row 4: query
    (-1, 5, 2),  # junk: dropped
    (11, 5, 3),
    (7, 1, 2),  # same person and camera as the row-1 query
)
MARS_QUERY: tuple[int, ...] = (1, 4)  # 1-based rows of MARS_TEST

# (pid, tracklet folder number, camera 1-8, frames) per split. Pid 7's tracklet starts at F0002.
DUKE_TRACKLETS: dict[str, tuple[tuple[int, int, int, FrameSpec], ...]] = {
    "train": ((1, 1, 1, 3), (1, 2, 2, 2), (7, 1, 8, (2, 3, 4)), (4, 1, 3, 2)),
    "query": ((10, 1, 1, 2), (12, 1, 5, 2)),
    "gallery": ((10, 2, 2, 3), (10, 3, 1, 2), (12, 2, 6, 2), (30, 1, 4, 2)),
}

# (pid, camera label, tracklet name, frames) per split of the folder layout.
FOLDER_TRACKLETS: dict[str, tuple[tuple[int, str, str, FrameSpec], ...]] = {
    "train": ((3, "cam1", "a", 11), (3, "cam2", "b", 2), (8, "cam10", "a", 2)),
    "query": ((21, "cam1", "q", 2),),
    "gallery": ((21, "cam2", "g", 3), (0, "cam1", "x", 1)),
}


def _color(pid: int, cam: int, frame: int) -> tuple[int, int, int]:
    # Distinct enough per person, camera and frame to tell images apart when debugging.
    return (pid * 53 % 256, cam * 97 % 256, frame * 31 % 256)


def write_tiny_mars(
    root: str | os.PathLike[str],
    *,
    train: Sequence[tuple[int, int, FrameSpec]] = MARS_TRAIN,
    test: Sequence[tuple[int, int, FrameSpec]] = MARS_TEST,
    query: Sequence[int] = MARS_QUERY,
    crlf: bool = True,
    size: tuple[int, int] = (16, 8),
) -> Path:
    """Write a MARS tree: ``bbox_train/``, ``bbox_test/`` and ``info/``, with the one MARS writer
    (:func:`~strf_core.data.writers.mars.write_mars`), the tables in the order given.

    Tracklet numbers count up per person and camera, in the order given. The info
    tables are ``int32`` ``(rows, 4)`` matrices ``[start, end, pid, cam]`` with 1-based inclusive
    lines of the name list; ``query_IDX`` is an ``int32`` row vector of 1-based test rows.

    Args:
        root: the MARS folder to create.
        train: ``(pid, camera 1-6, frames)`` per training tracklet, in table order.
        test: the same for the test table (pid 0 distractor, -1 junk).
        query: 1-based rows of ``test`` that are queries.
        crlf: end the name-list lines with CRLF, as the release does (LF otherwise).
        size: ``(height, width)`` of the JPEG frames.

    Returns:
        ``root`` as a Path.
    """
    root = Path(root)

    def tracklet(pid: int, cam: int, spec: FrameSpec) -> MarsTracklet:
        numbers = frame_numbers(spec)
        frames = [Image.new("RGB", (size[1], size[0]), _color(pid, cam, f)) for f in numbers]
        return MarsTracklet(pid, cam, frames, numbers=numbers)

    write_mars(
        root,
        [tracklet(*t) for t in train],
        [tracklet(*t) for t in test],
        [q - 1 for q in query],  # 1-based rows, kept in the order given: indices into test
        quality=75,  # PIL's default, as write_image saves the other formats' frames
        newline="\r\n" if crlf else "\n",
        sort=False,
    )
    return root


def duke_name(pid: int, cam: int, frame: int) -> str:
    """A DukeMTMC-VideoReID frame name, ``PPPPCcFffffXxxxxx.jpg`` (X: the frame in the video)."""
    return f"{pid:04d}C{cam}F{frame:04d}X{cam * 10000 + frame:05d}.jpg"


def write_tiny_duke(
    root: str | os.PathLike[str],
    *,
    tracklets: Mapping[str, Sequence[tuple[int, int, int, FrameSpec]]] = DUKE_TRACKLETS,
    size: tuple[int, int] = (16, 8),
) -> Path:
    """Write a DukeMTMC-VideoReID tree: ``{train,query,gallery}/PPPP/TTTT/*.jpg``.

    Args:
        root: the folder to create (the one holding ``train/``).
        tracklets: per split, ``(pid, tracklet folder number, camera 1-8, frames)``. The
            default has the quirk of the release: a tracklet starting at ``F0002``.
        size: ``(height, width)`` of the JPEG frames.

    Returns:
        ``root`` as a Path.
    """
    root = Path(root)
    for split, rows in tracklets.items():
        (root / split).mkdir(parents=True, exist_ok=True)
        for pid, number, cam, spec in rows:
            folder = root / split / f"{pid:04d}" / f"{number:04d}"
            folder.mkdir(parents=True, exist_ok=True)
            for frame in frame_numbers(spec):
                write_image(folder / duke_name(pid, cam, frame), _color(pid, cam, frame), size)
    return root


def ilids_people(num_people: int = 300) -> list[int]:
    """Person numbers of a tiny iLIDS-VID: ``1..num_people`` with every 16th number skipped,
    like the release's 300 people numbered up to 319."""
    numbers = [n for n in range(1, 2 * num_people + 2) if n % 16]
    return numbers[:num_people]


def ilids_split_table(num_people: int = 300, num_splits: int = 10, seed: int = 0) -> np.ndarray:
    """A ``(num_splits, num_people)`` ``ls_set``: each row a random order of ``1..num_people``."""
    rng = np.random.default_rng(seed)
    rows = [rng.permutation(num_people) + 1 for _ in range(num_splits)]
    # MATLAB's default type, double, as the table is read from the release; torchreid and our
    # loader convert the values to int (both accept integer tables too).
    return np.stack(rows).astype(np.float64)


def write_tiny_ilids(
    root: str | os.PathLike[str],
    *,
    people: Sequence[int] | None = None,
    ls_set: np.ndarray | None = None,
    max_frames: int = 3,
    size: tuple[int, int] = (16, 8),
) -> Path:
    """Write an iLIDS-VID tree: ``i-LIDS-VID/sequences/cam{1,2}/personNNN/*.png`` and the split
    table ``train-test people splits/train_test_splits_ilidsvid.mat`` (variable ``ls_set``).

    Frames are ``camK_personNNN_FFFFF.png`` with frame numbers as in the release (five digits,
    starting anywhere); a tracklet has 1 to ``max_frames`` frames.

    Args:
        root: the folder to create.
        people: person numbers (default :func:`ilids_people`: 300, as in the release).
        ls_set: the split table of 1-based indices into the sorted person folders (default
            :func:`ilids_split_table`: 10 x ``len(people)``).
        max_frames: the most frames of one tracklet.
        size: ``(height, width)`` of the PNG frames.

    Returns:
        ``root`` as a Path.
    """
    root = Path(root)
    people = list(ilids_people() if people is None else people)
    ls_set = ilids_split_table(len(people)) if ls_set is None else ls_set
    sequences = root / "i-LIDS-VID" / "sequences"
    for i, number in enumerate(people):
        for cam in (1, 2):
            first = 300 + 37 * i + 500 * cam
            for frame in range(first, first + 1 + (7 * i + cam) % max_frames):
                name = f"cam{cam}_person{number:03d}_{frame:05d}.png"
                write_image(
                    sequences / f"cam{cam}" / f"person{number:03d}" / name,
                    _color(number, cam, frame),
                    size,
                )
    write_mat(
        root / "train-test people splits" / "train_test_splits_ilidsvid.mat", "ls_set", ls_set
    )
    return root


def prid_splits(num_people: int, num_splits: int = 10, seed: int = 0) -> list[dict[str, list[str]]]:
    """Splits in the format of torchreid's ``splits_prid2011.json``: half the people of
    ``person_0001..`` for test, half for train, each list in random (unsorted) order."""
    rng = np.random.default_rng(seed)
    splits = []
    for _ in range(num_splits):
        order = [f"person_{n + 1:04d}" for n in rng.permutation(num_people)]
        half = num_people // 2
        splits.append({"train": order[half:], "test": order[:half]})
    return splits


def write_tiny_prid(
    root: str | os.PathLike[str],
    *,
    num_people_a: int = 6,
    num_people_b: int = 8,
    splits: Sequence[Mapping[str, Sequence[str]]] | None = None,
    max_frames: int = 4,
    size: tuple[int, int] = (16, 8),
) -> Path:
    """Write a PRID-2011 tree: ``prid_2011/multi_shot/cam_{a,b}/person_NNNN/NNNN.png`` and
    ``splits_prid2011.json``.

    As in the release, camera b has more people than camera a, and the first people are the
    ones both cameras saw.

    Args:
        root: the folder to create.
        num_people_a: people in camera a (``person_0001..``).
        num_people_b: people in camera b.
        splits: the splits file's content (default :func:`prid_splits` over the people of both
            cameras, 10 splits).
        max_frames: the most frames of one tracklet (each has 2 to ``max_frames``).
        size: ``(height, width)`` of the PNG frames.

    Returns:
        ``root`` as a Path.
    """
    root = Path(root)
    multi_shot = root / "prid_2011" / "multi_shot"
    for cam, num_people in ((1, num_people_a), (2, num_people_b)):
        for person in range(1, num_people + 1):
            folder = multi_shot / f"cam_{'ab'[cam - 1]}" / f"person_{person:04d}"
            for frame in range(1, 3 + (5 * person + cam) % (max_frames - 1)):
                write_image(folder / f"{frame:04d}.png", _color(person, cam, frame), size)
    if splits is None:
        splits = prid_splits(min(num_people_a, num_people_b))
    (root / "splits_prid2011.json").write_text(json.dumps([dict(s) for s in splits], indent=4))
    return root


def write_tiny_folder(
    root: str | os.PathLike[str],
    *,
    tracklets: Mapping[str, Sequence[tuple[int, str, str, FrameSpec]]] = FOLDER_TRACKLETS,
    size: tuple[int, int] = (16, 8),
) -> Path:
    """Write a tree in the ``folder`` layout (:mod:`strf_core.data.datasets.folder`).

    Frames are named ``frame_<n>.jpg`` without zero padding, so only a natural sort orders them.

    Args:
        root: the folder to create.
        tracklets: per split, ``(pid, camera label, tracklet name, frames)``.
        size: ``(height, width)`` of the JPEG frames.

    Returns:
        ``root`` as a Path.
    """
    root = Path(root)
    for split, rows in tracklets.items():
        for pid, camera, name, spec in rows:
            folder = root / split / str(pid) / f"{camera}_{name}"
            for frame in frame_numbers(spec):
                write_image(folder / f"frame_{frame}.jpg", _color(pid, len(camera), frame), size)
    return root
