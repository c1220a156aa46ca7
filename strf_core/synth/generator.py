"""Generating a synthetic world (``strf synth``): plan it (:mod:`strf_core.synth.plan`), draw
every tracklet (:mod:`strf_core.synth.render`, in worker processes), write the frames and
``info/`` in the MARS layout (:mod:`strf_core.data.writers.mars`) and the metadata last
(:mod:`strf_core.synth.metadata`).

Same seed, same files, byte for byte, whatever the number of workers (each tracklet has its own
seed).

``splits=("test",)`` draws the test split only (what the dashboard and an evaluation read, a
fraction of the time): its files are byte for byte those of the full world's test split, the
training split's name list and table are written empty, and the metadata records the drawn
splits, so that asking such a world for training tracklets raises
(:meth:`~strf_core.data.datasets.base.ReIDDataset.train`).

CLI: ``strf synth ROOT --preset tiny|demo|medium|full --seed N --size 256x128|128x64 --workers N``.
"""

from __future__ import annotations

import os
import shutil
import time
import uuid
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path

import numpy as np
from tqdm import tqdm

from strf_core.atomic import replace_dir
from strf_core.data.datasets.mars import SPLIT_DIRS, pid_folder
from strf_core.data.writers.mars import layout_split, write_info
from strf_core.synth.ground_truth import mask_path, write_masks
from strf_core.synth.metadata import META_NAME, SPLIT_CHOICES, world_metadata, write_metadata
from strf_core.synth.plan import SynthError, WorldConfig, plan_world, resolve_config
from strf_core.synth.render import TrackletRenderer
from strf_core.synth.specs import RenderSpec


@dataclass(frozen=True)
class SynthSummary:
    """What :func:`generate` wrote."""

    root: Path
    identities: dict[str, int]
    tracklets: dict[str, int]
    queries: int
    frames: int
    seconds: float


def _render_job(
    job: tuple[int, RenderSpec, tuple[int, int], list[str], int, Path],
) -> tuple[int, list[float]]:
    """Draw one tracklet: its JPEG frames, its ground-truth masks, its occluded fractions."""
    index, spec, size, paths, quality, masks_file = job
    renderer = TrackletRenderer(spec, size)
    fractions = []
    person = np.zeros((len(paths), *size), bool)
    occluder = np.zeros((len(paths), *size), bool)
    for t, path in enumerate(paths):
        frame = renderer.render(t, masks=True)
        frame.image.save(path, format="JPEG", quality=quality)
        fractions.append(round(frame.occluded_fraction, 4))
        person[t] = frame.person_mask
        if frame.occluder_mask is not None:
            occluder[t] = frame.occluder_mask
    write_masks(masks_file, person, occluder)
    return index, fractions


def parse_size(text: str) -> tuple[int, int]:
    """``"256x128" -> (256, 128)``: height x width, height twice the width, 64 to 1024 high."""
    parts = text.lower().split("x")
    if len(parts) != 2 or not all(p.strip().isdigit() for p in parts):
        raise SynthError(f"bad size {text!r}: expected HEIGHTxWIDTH, e.g. 256x128 or 128x64")
    h, w = int(parts[0]), int(parts[1])
    if h != 2 * w or not 64 <= h <= 1024:
        raise SynthError(
            f"bad size {text!r}: height must be twice the width, 64 to 1024 (MARS: 256x128)"
        )
    return h, w


def generate(
    root: str | Path,
    *,
    preset: str | WorldConfig = "demo",
    seed: int = 0,
    size: tuple[int, int] = (256, 128),
    workers: int = 1,
    overwrite: bool = False,
    progress: bool = True,
    splits: tuple[str, ...] = ("train", "test"),
) -> SynthSummary:
    """Plan, draw and write a synthetic world as a MARS tree at ``root``.

    The tree is written into a temporary sibling folder and renamed into place at the end, so
    ``root`` is either absent or complete.

    Args:
        root: dataset root; must not exist (or be empty) unless ``overwrite``.
        preset: ``"tiny"``, ``"demo"``, ``"full"`` or a :class:`WorldConfig`.
        seed: the world's seed; the same seed gives byte-identical files.
        size: frame ``(height, width)``: ``(256, 128)`` or ``(128, 64)``.
        workers: processes drawing tracklets in parallel (the output does not depend on it).
        overwrite: replace an existing synthetic tree at ``root`` (one holding
            ``synthetic_meta.json``; anything else is never deleted).
        progress: show a tqdm progress bar over frames.
        splits: the splits to draw: ``("train", "test")`` (the whole world) or ``("test",)``
            (query and gallery only; the training split is planned but not drawn).

    Returns:
        Counts of what was written (``0`` tracklets for a split not drawn).

    Raises:
        SynthError: bad preset, size, workers or splits, or a root that cannot be written.
    """
    started = time.perf_counter()
    config = resolve_config(preset)
    size = (int(size[0]), int(size[1]))
    if size[0] != 2 * size[1] or not 64 <= size[0] <= 1024:
        raise SynthError(f"bad size {size}: height must be twice the width, 64 to 1024")
    if workers < 1:
        raise SynthError(f"workers must be 1 or more, got {workers}")
    splits = tuple(splits)
    if splits not in SPLIT_CHOICES:
        choices = " or ".join(str(c) for c in SPLIT_CHOICES)
        raise SynthError(f"bad splits {splits}: expected {choices}")
    root = Path(root)
    tmp = _prepare_root(root, overwrite)
    try:
        world = plan_world(config, seed)
        drawn = {s: world.split(s) if s in splits else [] for s in ("train", "test")}
        train, test = drawn["train"], drawn["test"]
        layouts = {
            split: layout_split([(t.pid, t.camera, t.spec.num_frames) for t in tracks])
            for split, tracks in drawn.items()
        }
        jobs = []
        for split, tracks in drawn.items():
            for tracklet, names in zip(tracks, layouts[split].frame_names, strict=True):
                folder = tmp / SPLIT_DIRS[split] / pid_folder(tracklet.pid)
                folder.mkdir(parents=True, exist_ok=True)
                paths = [str(folder / name) for name in names]
                masks_file = mask_path(tmp, paths[0])
                jobs.append(
                    (len(jobs), tracklet.spec, size, paths, config.jpeg_quality, masks_file)
                )
        fractions = _run_jobs(jobs, workers, progress)
        query = [i for i, t in enumerate(test) if t.query]
        write_info(tmp, layouts["train"], layouts["test"], query)
        meta = world_metadata(world, layouts, fractions, size, preset, splits=splits)
        write_metadata(tmp / META_NAME, meta)
        _install(tmp, root)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    counts = meta["generator"]["counts"]
    return SynthSummary(
        root=root,
        identities={"train": config.train_ids, "test": config.test_ids},
        tracklets={"train": len(train), "test": len(test)},
        queries=counts["queries"],
        frames=counts["frames"],
        seconds=time.perf_counter() - started,
    )


def _run_jobs(jobs: list, workers: int, progress: bool) -> list[list[float]]:
    """Draw and write every tracklet; its occluded fractions, in job order."""
    total = sum(len(job[3]) for job in jobs)
    results: list[list[float]] = [[] for _ in jobs]
    # Longest first keeps the workers busy to the end.
    order = sorted(jobs, key=lambda job: -len(job[3]))
    workers = min(workers, max(len(jobs), 1))
    with tqdm(total=total, unit="frame", disable=not progress, desc="synth") as bar:
        pool = get_context().Pool(workers) if workers > 1 else None
        try:
            done = (
                pool.imap_unordered(_render_job, order, chunksize=2)
                if pool
                else map(_render_job, order)
            )
            for index, fractions in done:
                results[index] = fractions
                bar.update(len(fractions))
        finally:
            if pool is not None:
                pool.terminate()
    return results


def _prepare_root(root: Path, overwrite: bool) -> Path:
    if root.exists():
        if not root.is_dir():
            raise SynthError(f"{root} exists and is not a folder")
        if any(root.iterdir()):
            if not overwrite:
                raise SynthError(f"{root} exists and is not empty (pass --overwrite to replace it)")
            if not (root / META_NAME).is_file():
                raise SynthError(
                    f"{root} is not a synthetic dataset (no {META_NAME}): not replacing it"
                )
    parent = root.resolve().parent
    tmp = parent / f".{root.name}.tmp-{uuid.uuid4().hex[:8]}"
    try:
        parent.mkdir(parents=True, exist_ok=True)
        tmp.mkdir()
    except OSError as error:
        raise SynthError(f"cannot write to {parent}: {error.strerror or error}") from error
    if not os.access(tmp, os.W_OK):
        shutil.rmtree(tmp, ignore_errors=True)
        raise SynthError(f"cannot write to {parent}: permission denied")
    return tmp


def _install(tmp: Path, root: Path) -> None:
    """Move the finished tree into place (an old tree is removed only after the swap)."""
    replace_dir(tmp, root)
