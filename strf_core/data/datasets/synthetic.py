"""A synthetic world read as a dataset: its generator metadata's query subsets and look-alike
groups (``ROOT/synthetic_meta.json``, written by :mod:`strf_core.synth`).

The generator writes the file; this module is the only reader, so the data layer (and the
engine above it) never imports the generator: a dataset exposes what the file records through
:meth:`~strf_core.data.datasets.base.ReIDDataset.query_subsets` and
:meth:`~strf_core.data.datasets.base.ReIDDataset.lookalike_groups`.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from strf_core.data.datasets.base import DatasetError
from strf_core.data.tracklet import Tracklet

META_NAME = "synthetic_meta.json"
# The hard cases the generator builds in, each a query subset scored on its own.
SUBSETS = ("lookalike", "occluded", "misaligned")
# What the generator may draw: the whole world, or its test split only (query and gallery).
SPLIT_CHOICES = (("train", "test"), ("test",))


def load_metadata(root: str | Path) -> dict:
    """Read ``ROOT/synthetic_meta.json``.

    The parsed file is kept while the file stays the same (inode, size, modification time; the
    generator replaces it atomically): a world's metadata is 1-2 MB, read by several callers as
    the dashboard starts. Callers share the result and must not change it.
    """
    path = Path(root) / META_NAME
    if not path.is_file():
        raise DatasetError(f"{path} not found: is {root} a synthetic dataset (strf synth)?")
    stat = path.stat()
    return _parsed(str(path.resolve()), (stat.st_ino, stat.st_size, stat.st_mtime_ns))


@functools.lru_cache(maxsize=4)
def _parsed(path: str, version: tuple[int, int, int]) -> dict:
    """``path`` parsed; ``version`` keys the cache to the file as it is now."""
    return json.loads(Path(path).read_text())


def _drawn(generator: dict) -> tuple[str, ...]:
    return tuple(generator.get("splits", ("train", "test")))  # worlds before the key: both


def drawn_splits(root: str | Path) -> tuple[str, ...]:
    """The splits the synthetic world at ``root`` holds: ``("train", "test")`` or ``("test",)``.

    Raises:
        DatasetError: ``root`` has no metadata.
    """
    return _drawn(load_metadata(root)["generator"])


def require_split(root: str | Path, split: str) -> None:
    """Raise unless the synthetic world at ``root`` has ``split`` drawn.

    A world generated with ``splits=("test",)`` holds an empty training split; training on it
    would fail late and obscurely, or not at all, so asking for its training tracklets raises.

    Raises:
        DatasetError: the split was not drawn (the message names the folder and the command
            that generates the whole world).
    """
    generator = load_metadata(root)["generator"]
    drawn = _drawn(generator)
    if split in drawn:
        return
    height, width = generator["size"]
    if generator["preset"] == "custom":
        how = 'generate(DIR, preset=<its WorldConfig>, splits=("train", "test"))'
    else:
        how = (
            f"strf synth DIR --preset {generator['preset']} --seed {generator['seed']} "
            f"--size {height}x{width}"
        )
    raise DatasetError(
        f"{root} holds only the {' and '.join(drawn)} split of a synthetic world: its {split} "
        f"split was not drawn. Generate the full world to use it: {how}"
    )


def lookalike_groups(root: str | Path, tracklets: Sequence[Tracklet]) -> list[int | None]:
    """The look-alike group of each of ``tracklets`` (of either split) of the synthetic world at
    ``root``, ``None`` for an identity in no group: generator knowledge that no real dataset
    has, for :class:`~strf_core.data.samplers.LookalikeBatchSampler`.

    Raises:
        DatasetError: ``root`` has no metadata, or a tracklet is not in it.
    """
    records = {rec["name"]: rec for rec in load_metadata(root)["tracklets"]}
    out = []
    for tracklet in tracklets:
        name = Path(tracklet.frames[0]).name[:11]  # PPPPCcTtttt
        if name not in records:
            raise DatasetError(f"tracklet {name} ({tracklet.frames[0]}) is not in {META_NAME}")
        out.append(records[name]["lookalike_group"])
    return out


def subset_masks(root: str | Path, tracklets: Sequence[Tracklet]) -> dict[str, np.ndarray]:
    """Which of ``tracklets`` (test tracklets of the synthetic world at ``root``) are in each
    hard-case subset, for per-subset metrics.

    Returns:
        ``{"lookalike": mask, "occluded": mask, "misaligned": mask, "clean": mask}``: boolean
        arrays over ``tracklets``; "clean" marks those in none of the three.

    Raises:
        DatasetError: ``root`` has no metadata, or a tracklet is not in it.
    """
    records = {
        rec["name"]: rec for rec in load_metadata(root)["tracklets"] if rec["split"] == "test"
    }
    masks = {name: np.zeros(len(tracklets), bool) for name in (*SUBSETS, "clean")}
    for i, tracklet in enumerate(tracklets):
        name = Path(tracklet.frames[0]).name[:11]  # PPPPCcTtttt
        if name not in records:
            raise DatasetError(f"tracklet {name} ({tracklet.frames[0]}) is not in {META_NAME}")
        subsets = records[name]["subsets"]
        for subset in subsets:
            masks[subset][i] = True
        masks["clean"][i] = not subsets
    return masks
