"""Writing the MARS on-disk layout of SPEC section 4: the one MARS writer, for the synthetic world
and for the tiny test trees (:mod:`strf_core.data.writers.tiny`).

::

    ROOT/bbox_train/PPPP/PPPPCcTttttFfff.jpg   pid 4 chars, camera 1-6, tracklet 4 digits,
    ROOT/bbox_test/PPPP/...                    frame 3 digits; bbox_test also holds 0000
                                               (distractors, pid 0) and 00-1 (junk, pid -1)
    ROOT/info/train_name.txt, test_name.txt    one image name a line
    ROOT/info/tracks_train_info.mat            track_train_info int32 (N, 4): [start, end, pid, cam]
    ROOT/info/tracks_test_info.mat             track_test_info  int32 (M, 4)
    ROOT/info/query_IDX.mat                    query_IDX        int32 (1, Q): rows of the test info

``start``/``end`` are 1-based inclusive line numbers into the split's name list and ``query_IDX``
holds 1-based rows of ``track_test_info``, exactly as in the real MARS release (whose ``.mat``
values load as int32), so torchreid's MARS loader and ours read the tree unchanged. The names
themselves are encoded by :func:`strf_core.data.datasets.mars.frame_name`, the format's one
encoder.

Tracklets are laid out sorted by name: pid folder (``00-1`` < ``0000`` < ``0001`` ...), camera,
then tracklet number, which counts ``T0001, T0002, ...`` per pid and camera in the order given
(``sort=False`` keeps the order given instead, as a hand-written index may). Frames are numbered
``F001`` up, unless the frame numbers are given. The ``.mat`` headers carry no timestamp
(:func:`~strf_core.data.writers.files.write_mat`), so the same input gives byte-identical files.

Example, a two-identity tree with solid-colour frames::

    def gray(i):
        return np.full((16, 8, 3), 10 * i, np.uint8)

    train = [MarsTracklet(1, 1, gray, num_frames=3), MarsTracklet(1, 2, [gray(0)] * 2)]
    test = [MarsTracklet(2, 1, gray, num_frames=4), MarsTracklet(2, 3, gray, num_frames=5),
            MarsTracklet(0, 2, gray, num_frames=2), MarsTracklet(-1, 4, gray, num_frames=2)]
    write_mars(root, train, test, query=[0])  # query: index into ``test``
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np
from PIL import Image

from strf_core.data.datasets.mars import (
    INFO_FILES,
    MAT_VARIABLES,
    SPLIT_DIRS,
    frame_name,
    pid_folder,
)
from strf_core.data.writers.files import save_frame, write_mat

FrameLike = Image.Image | np.ndarray | bytes
# A tracklet's frames: a count ``n`` (frame numbers ``1..n``) or the frame numbers, in order.
FrameSpec = int | Sequence[int]


def frame_numbers(spec: FrameSpec) -> list[int]:
    """``3 -> [1, 2, 3]``; a sequence of frame numbers as a list."""
    return list(range(1, spec + 1)) if isinstance(spec, int) else list(spec)


@dataclass(frozen=True)
class MarsTracklet:
    """One tracklet to write.

    Attributes:
        pid: identity (``>= 1``), ``0`` a distractor or ``-1`` junk (test split only).
        camera: 1 to 6.
        frames: the frames in order, each a ``PIL.Image``, a ``(H, W, 3)`` uint8 array or
            already-encoded JPEG bytes; or a callable ``frames(i)`` giving frame ``i``, so frames
            are made only when written.
        num_frames: the length, required when ``frames`` is a callable (1 to 999).
        numbers: the frames' numbers in the names (default ``1..len``).
    """

    pid: int
    camera: int
    frames: Sequence[FrameLike] | Callable[[int], FrameLike]
    num_frames: int | None = None
    numbers: Sequence[int] | None = None

    def __len__(self) -> int:
        if callable(self.frames):
            if self.num_frames is None:
                raise ValueError("MarsTracklet: num_frames is required when frames is a callable")
            return self.num_frames
        return len(self.frames)

    def frame(self, i: int) -> FrameLike:
        return self.frames(i) if callable(self.frames) else self.frames[i]

    def frame_spec(self) -> FrameSpec:
        """What :func:`layout_split` takes: the frame numbers, or the count."""
        if self.numbers is None:
            return len(self)
        if len(self.numbers) != len(self):
            raise ValueError(f"MarsTracklet: {len(self.numbers)} numbers for {len(self)} frames")
        return self.numbers


class SplitLayout(NamedTuple):
    """Where the tracklets of one split go.

    Attributes:
        names: image names in file order (the lines of ``*_name.txt``).
        info: ``(N, 4)`` int32 rows ``[start, end, pid, cam]``, 1-based inclusive.
        rows: ``rows[i]`` is the 0-based info row of input tracklet ``i``.
        frame_names: ``frame_names[i]`` are the image names of input tracklet ``i``, in order.
    """

    names: list[str]
    info: np.ndarray
    rows: list[int]
    frame_names: list[list[str]]


def layout_split(tracks: Sequence[tuple[int, int, FrameSpec]], *, sort: bool = True) -> SplitLayout:
    """Names and info rows for tracklets given as ``(pid, camera, frames)``.

    Args:
        tracks: one ``(pid, camera, frames)`` per tracklet, in any order; ``frames`` is a count
            ``n`` (frames ``F001..``) or the frame numbers in the order the name list gives them.
        sort: lay the tracklets out sorted by name (MARS's order); ``False`` keeps the order
            given.

    Returns:
        The layout; tracklet numbers count per pid and camera in input order.
    """
    numbers: dict[tuple[int, int], int] = {}
    keyed = []
    for i, (pid, camera, frames) in enumerate(tracks):
        length = len(frame_numbers(frames))
        if not 1 <= length <= 999:
            raise ValueError(f"tracklet {i}: length must be 1-999 frames, got {length}")
        number = numbers.get((pid, camera), 0) + 1
        numbers[(pid, camera)] = number
        # Frame 1's name sorts like the tracklet: folder, camera, tracklet number.
        keyed.append((frame_name(pid, camera, number, 1) if sort else "", i, number))
    if sort:
        keyed.sort()
    names: list[str] = []
    info = np.zeros((len(tracks), 4), dtype=np.int32)
    rows = [0] * len(tracks)
    frame_names: list[list[str]] = [[] for _ in tracks]
    for row, (_, i, number) in enumerate(keyed):
        pid, camera, frames = tracks[i]
        frame_names[i] = [frame_name(pid, camera, number, f) for f in frame_numbers(frames)]
        info[row] = (len(names) + 1, len(names) + len(frame_names[i]), pid, camera)
        names.extend(frame_names[i])
        rows[i] = row
    return SplitLayout(names, info, rows, frame_names)


def write_info(
    root: str | Path,
    train: SplitLayout,
    test: SplitLayout,
    query: Sequence[int],
    *,
    newline: str = "\n",
) -> None:
    """Write ``ROOT/info/``: the two name lists and the three ``.mat`` files.

    Args:
        root: dataset root.
        train, test: the layouts of the two splits (:func:`layout_split`).
        query: the query tracklets as indices into the **input order** of ``test``.
        newline: line ending of the name lists (``"\\r\\n"`` reproduces CRLF lists).
    """
    if any(pid < 1 for pid in train.info[:, 2]):
        raise ValueError("MARS train tracklets need pid >= 1 (junk and distractors are test only)")
    rows = []
    for q in query:
        if not 0 <= q < len(test.rows):
            raise ValueError(f"query index {q} is not a test tracklet (0..{len(test.rows) - 1})")
        row = test.rows[q]
        if test.info[row, 2] < 1:
            raise ValueError(f"query index {q} is a junk or distractor tracklet")
        rows.append(row + 1)  # 1-based, as in MARS
    if len(set(rows)) != len(rows):
        raise ValueError("query indices repeat")
    info_dir = Path(root) / "info"
    info_dir.mkdir(parents=True, exist_ok=True)
    for key, layout in (("train_names", train), ("test_names", test)):
        text = "".join(name + newline for name in layout.names)
        (Path(root) / INFO_FILES[key]).write_bytes(text.encode("ascii"))
    query_array = np.asarray(rows, dtype=np.int32).reshape(1, -1)
    for key, array in (
        ("train_info", train.info),
        ("test_info", test.info),
        ("query", query_array),
    ):
        write_mat(Path(root) / INFO_FILES[key], MAT_VARIABLES[key], array)


def write_mars(
    root: str | Path,
    train: Sequence[MarsTracklet],
    test: Sequence[MarsTracklet],
    query: Sequence[int],
    *,
    quality: int = 90,
    newline: str = "\n",
    sort: bool = True,
) -> tuple[SplitLayout, SplitLayout]:
    """Write a complete MARS tree: frames as JPEG, then ``info/``.

    Args:
        root: dataset root (created; existing files are overwritten).
        train: training tracklets (pid >= 1).
        test: test tracklets: identities, distractors (pid 0) and junk (pid -1).
        query: the query tracklets, as indices into ``test``.
        quality: JPEG quality of frames given as images or arrays.
        newline: line ending of the name lists.
        sort: lay tracklets out sorted by name (``False``: in the order given).

    Returns:
        The train and test layouts (names, info rows, where each input tracklet went).
    """
    root = Path(root)
    layouts = []
    for split, tracklets in (("train", train), ("test", test)):
        layout = layout_split([(t.pid, t.camera, t.frame_spec()) for t in tracklets], sort=sort)
        for tracklet, names in zip(tracklets, layout.frame_names, strict=True):
            folder = root / SPLIT_DIRS[split] / pid_folder(tracklet.pid)
            folder.mkdir(parents=True, exist_ok=True)
            for i, name in enumerate(names):
                save_frame(tracklet.frame(i), folder / name, quality=quality)
        layouts.append(layout)
    write_info(root, layouts[0], layouts[1], query, newline=newline)
    return layouts[0], layouts[1]
