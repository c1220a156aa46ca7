"""What every loader shares: the dataset object, its error type and small parsing helpers.

A loader reads only what it must to build the splits (name lists, ``.mat`` tables, directory
listings). It never opens or stats a frame at construction, so a real MARS (about a million
frames) loads in seconds; ``validate=True`` checks that every frame exists, and
``strf data check`` also decodes every image.

A dataset also says what it knows about its tracklets beyond ``(frames, pid, camid)``: hard-case
query subsets and look-alike groups, which only a synthetic world records (the generator's
metadata file beside the data). The engine asks the dataset and never where it came from.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, ClassVar, NamedTuple

import numpy as np

from strf_core.data.tracklet import Tracklet

SPLITS = ("train", "query", "gallery")

_DIGITS = re.compile(r"(\d+)")


class DatasetError(ValueError):
    """A dataset folder that cannot be read as its format says; the message names the file,
    frame or field at fault."""


class SplitStats(NamedTuple):
    """Statistics of one split, as ``strf data check`` prints them."""

    tracklets: int
    identities: int
    cameras: int
    frames: int
    min_frames: int
    avg_frames: float
    max_frames: int


def natural_key(name: str, *, ignore_case: bool = False) -> tuple[Any, ...]:
    """Sort key comparing digit runs as numbers: ``f2.png < f10.png``.

    Within one tracklet folder the names differ only in the frame number, so this orders frames
    in time whatever their zero padding.

    Args:
        name: the name to sort.
        ignore_case: compare the text between digit runs lower-cased (uploaded files, whose
            case a camera or an archiver may change); dataset folders keep theirs.
    """
    parts = _DIGITS.split(name.lower() if ignore_case else name)
    # Digit runs sit at the odd positions of re.split with one capture group.
    return tuple(int(p) if i % 2 else p for i, p in enumerate(parts))


def relabel(tracklets: Iterable[Tracklet]) -> list[Tracklet]:
    """Map pids to ``0..N-1`` in increasing order of the original pid.

    torchreid enumerates a ``set`` instead, whose order is an implementation detail; any order
    gives the same identities, sorted is the reproducible one.
    """
    tracklets = list(tracklets)
    label = {pid: i for i, pid in enumerate(sorted({t.pid for t in tracklets}))}
    return [t._replace(pid=label[t.pid]) for t in tracklets]


def dense_pieces(tracklets: Iterable[Tracklet], *, step: int, window: int) -> list[Tracklet]:
    """AP3D's ``train_dense``: long tracklets cut into fixed-length pieces of consecutive frames.

    A tracklet of ``n`` frames gives ``n // step`` pieces (AP3D's ``tools/data_manager.py``):
    piece ``i`` starts at frame ``i * step`` and holds ``window`` frames, except the last,
    which runs to the end of the tracklet (so no frame is lost); a tracklet shorter than
    ``step`` stays whole. Each piece is a training tracklet of its own (same pid and camid).

    Example: ``step=32, window=64`` (iLIDS-VID) cuts 100 frames into ``[0, 64)``,
    ``[32, 100)``; ``step=window=64`` (DukeMTMC-VideoReID) cuts 200 frames into ``[0, 64)``,
    ``[64, 128)``, ``[128, 200)``.

    Raises:
        ValueError: ``step`` or ``window`` below 1.
    """
    if step < 1 or window < 1:
        raise ValueError(f"step and window must be >= 1, got {step} and {window}")
    pieces = []
    for t in tracklets:
        count = len(t.frames) // step
        if count == 0:
            pieces.append(t)
            continue
        for i in range(count):
            end = len(t.frames) if i == count - 1 else i * step + window
            pieces.append(t._replace(frames=t.frames[i * step : end]))
    return pieces


def resolve_root(root: str | os.PathLike[str], marker: str, candidates: Sequence[str]) -> Path:
    """Find the dataset folder: ``root`` itself, or ``root/c`` for a ``c`` in ``candidates``.

    The candidates are the sub-folders torchreid expects under its data root (``mars``,
    ``ilids-vid``...), so a folder prepared for torchreid works when given either way.

    Raises:
        DatasetError: ``marker`` is found in none of them.
    """
    # Absolute, so that frame paths stay valid whatever the working directory later.
    root = Path(root).expanduser().absolute()
    for sub in ("", *candidates):
        if (root / sub / marker).exists():
            return root / sub if sub else root
    if not root.is_dir():
        raise DatasetError(f"dataset root {root} does not exist or is not a folder")
    raise DatasetError(f"{root / marker} not found: is {root} the right dataset folder?")


def list_dir(path: Path, *, dirs: bool) -> list[str]:
    """Names of the sub-folders (``dirs=True``) or files of ``path``, naturally sorted.

    Hidden entries (``.DS_Store``, ``._*``) are skipped, as torchreid's ``glob('*')`` does.
    """
    try:
        with os.scandir(path) as it:
            names = [e.name for e in it if not e.name.startswith(".") and e.is_dir() == dirs]
    except FileNotFoundError:
        raise DatasetError(f"{path} not found") from None
    except NotADirectoryError:
        raise DatasetError(f"{path} is not a folder") from None
    return sorted(names, key=natural_key)


def frame_files(folder: Path, suffixes: tuple[str, ...]) -> tuple[str, ...]:
    """Paths of the frames in one tracklet folder, in natural (temporal) order.

    Raises:
        DatasetError: the folder holds no file with one of ``suffixes`` (an empty tracklet).
    """
    names = [n for n in list_dir(folder, dirs=False) if n.lower().endswith(suffixes)]
    if not names:
        raise DatasetError(f"empty tracklet: {folder} has no {'/'.join(suffixes)} frames")
    return tuple(str(folder / n) for n in names)


def person_tracklets(
    people: Sequence[str], cameras: Sequence[tuple[Path, int]], suffix: str
) -> list[Tracklet]:
    """Tracklets of the two-camera datasets: one folder per person and camera.

    Args:
        people: person folder names; a person's pid is its position here (torchreid's labels).
        cameras: ``(camera folder, camid)`` pairs, listed in this order for each person.
        suffix: frame file extension.
    """
    return [
        Tracklet(frame_files(cam_dir / person, (suffix,)), pid, camid)
        for pid, person in enumerate(people)
        for cam_dir, camid in cameras
    ]


def load_mat_array(path: Path, variable: str) -> np.ndarray:
    """Read one integer matrix from a MATLAB ``.mat`` file.

    Accepts any integer dtype, and floats that hold whole numbers (MATLAB's default ``double``).

    Raises:
        DatasetError: the file is missing or unreadable, lacks ``variable``, or the variable is
            not a numeric array of whole numbers.
    """
    # Imported here: scipy.io costs a few hundred ms, and only .mat-based loaders need it.
    import scipy.io

    if not path.is_file():
        raise DatasetError(f"{path} not found")
    try:
        contents = scipy.io.loadmat(str(path))
    except Exception as err:  # scipy raises ValueError, OSError, TypeError... on bad files
        raise DatasetError(f"{path} is not a readable .mat file: {err}") from err
    if variable not in contents:
        found = sorted(k for k in contents if not k.startswith("__"))
        raise DatasetError(
            f"{path} has no variable {variable!r} (found: {', '.join(found) or 'none'})"
        )
    array = contents[variable]
    if not isinstance(array, np.ndarray) or array.dtype.kind not in "iuf":
        raise DatasetError(f"{path}: {variable!r} is not a numeric matrix")
    if array.dtype.kind == "f" and not np.all(np.isfinite(array) & (array == np.round(array))):
        raise DatasetError(f"{path}: {variable!r} holds values that are not whole numbers")
    return array.astype(np.int64)


class ReIDDataset:
    """Train, query and gallery tracklets of one video re-ID dataset.

    Subclasses parse their format and hand the three splits to this constructor.

    Args:
        root: the dataset folder.
        train: training tracklets, pids already relabelled ``0..N-1``.
        query: query tracklets, original pids.
        gallery: gallery tracklets, original pids.
        train_dense: train on AP3D's ``train_dense`` (datasets with that option): ``train`` cut
            by :func:`dense_pieces` with the class's ``dense_step`` and ``dense_window``.
        validate: check now that every listed frame exists on disk (one ``stat`` a frame).

    Raises:
        DatasetError: with ``validate=True``, a listed frame is missing.
    """

    name: ClassVar[str] = ""
    # Keyword options of the constructor beyond ``validate`` (see registry.dataset_options).
    options: ClassVar[tuple[str, ...]] = ()
    # AP3D's ``train_dense`` cut (``dense_pieces(step, window)``) of datasets with the
    # ``train_dense`` option.
    dense_step: ClassVar[int] = 0
    dense_window: ClassVar[int] = 0

    def __init__(
        self,
        root: Path,
        train: list[Tracklet],
        query: list[Tracklet],
        gallery: list[Tracklet],
        *,
        train_dense: bool = False,
        validate: bool = False,
    ) -> None:
        self.root = root
        self.train_dense = train_dense
        if train_dense:
            if "train_dense" not in self.options:
                raise ValueError(f"{type(self).__name__} has no dense training split")
            train = dense_pieces(train, step=self.dense_step, window=self.dense_window)
        self._train = train
        self.query = query
        self.gallery = gallery
        if validate:
            self.validate()

    @property
    def train(self) -> list[Tracklet]:
        """The training tracklets.

        Raises:
            DatasetError: a synthetic world generated without its training split (the message
                says how to generate the full world); never an empty list to train on silently.
        """
        if not self._train and self._synthetic_meta().is_file():
            from strf_core.data.datasets.synthetic import require_split

            require_split(self.root, "train")
        return self._train

    @train.setter
    def train(self, tracklets: list[Tracklet]) -> None:
        self._train = tracklets

    @property
    def num_train_pids(self) -> int:
        """Training identities: the classifier size."""
        return len({t.pid for t in self.train})

    @property
    def num_train_cams(self) -> int:
        return len({t.camid for t in self.train})

    @property
    def num_query_pids(self) -> int:
        return len({t.pid for t in self.query})

    @property
    def num_gallery_pids(self) -> int:
        return len({t.pid for t in self.gallery})

    def split(self, name: str) -> list[Tracklet]:
        """The ``"train"``, ``"query"`` or ``"gallery"`` tracklets."""
        if name not in SPLITS:
            raise ValueError(f"unknown split {name!r}; expected one of {', '.join(SPLITS)}")
        return getattr(self, name)

    def _held(self, name: str) -> list[Tracklet]:
        """The tracklets the folder holds for a split (an empty list for an undrawn one)."""
        return self._train if name == "train" else self.split(name)

    def stats(self) -> dict[str, SplitStats]:
        """Per-split counts of tracklets, identities, cameras and frames."""
        out = {}
        for name in SPLITS:
            tracklets = self._held(name)
            lengths = [len(t.frames) for t in tracklets] or [0]
            out[name] = SplitStats(
                tracklets=len(tracklets),
                identities=len({t.pid for t in tracklets}),
                cameras=len({t.camid for t in tracklets}),
                frames=sum(lengths),
                min_frames=min(lengths),
                avg_frames=sum(lengths) / max(len(tracklets), 1),
                max_frames=max(lengths),
            )
        return out

    def summary(self) -> str:
        """A table of :meth:`stats`, laid out like torchreid's video dataset summary."""
        rule = "  " + "-" * 78
        lines = [
            f"=> {type(self).__name__} ({self.name}) at {self.root}",
            rule,
            "  subset   | # ids | # tracklets | # cameras | # frames (total / min / avg / max)",
            rule,
        ]
        for name, s in self.stats().items():
            frames = f"{s.frames} / {s.min_frames} / {s.avg_frames:.1f} / {s.max_frames}"
            lines.append(
                f"  {name:<8} | {s.identities:5d} | {s.tracklets:11d} | {s.cameras:9d} | {frames}"
            )
        lines.append(rule)
        return "\n".join(lines)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(root={str(self.root)!r}, train={len(self._train)}, "
            f"query={len(self.query)}, gallery={len(self.gallery)})"
        )

    def _synthetic_meta(self) -> Path:
        """Where a synthetic world keeps its generator metadata (absent for real data)."""
        from strf_core.data.datasets.synthetic import META_NAME

        return Path(self.root) / META_NAME

    def query_subsets(self) -> dict[str, np.ndarray]:
        """Hard-case subsets of the queries, scored separately by the evaluation.

        Returns:
            ``{name: mask}``, boolean arrays over :attr:`query` (a synthetic world's
            ``"lookalike"``, ``"occluded"``, ``"misaligned"`` and ``"clean"``); ``{}`` for data
            that records none (every real dataset).
        """
        if not self._synthetic_meta().is_file():
            return {}
        from strf_core.data.datasets.synthetic import subset_masks

        return subset_masks(self.root, self.query)

    def lookalike_groups(self, tracklets: Sequence[Tracklet] | None = None) -> list[int | None]:
        """The look-alike group of each of ``tracklets`` (default: :attr:`train`), ``None`` for
        an identity in no group. Identities that look the same are known only to a synthetic
        world's generator (for :class:`~strf_core.data.samplers.LookalikeBatchSampler`).

        Raises:
            DatasetError: the dataset records no look-alike groups (real data).
        """
        meta = self._synthetic_meta()
        if not meta.is_file():
            raise DatasetError(
                f"look-alike groups come from the generator's {meta.name}; {self.root} has none: "
                "real data gives no such labels"
            )
        from strf_core.data.datasets.synthetic import lookalike_groups

        return lookalike_groups(self.root, self.train if tracklets is None else tracklets)

    def frame_paths(self) -> Iterator[str]:
        """Every distinct frame path of the three splits, each once, in split order."""
        seen: set[str] = set()
        for name in SPLITS:
            for t in self._held(name):
                for path in t.frames:
                    if path not in seen:
                        seen.add(path)
                        yield path

    def validate(self) -> None:
        """Check that every frame exists (decoding is left to ``strf data check``).

        Raises:
            DatasetError: naming the first missing frames and how many are missing.
        """
        missing = [p for p in self.frame_paths() if not os.path.isfile(p)]
        if missing:
            shown = "\n  ".join(missing[:5])
            more = f"\n  ... and {len(missing) - 5} more" if len(missing) > 5 else ""
            raise DatasetError(
                f"{len(missing)} listed frame(s) missing under {self.root}:\n  {shown}{more}"
            )
