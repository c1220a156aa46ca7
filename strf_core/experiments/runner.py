"""The cell runner: train and evaluate the cells of a grid that have no result yet.

::

    synthetic world (generator preset + seed + frame size) -> cached MARS tree (made if absent)
    for each cell: results/cells/<key>.json exists?  -> reuse it, never re-run
                   else Trainer.from_config(recipe + overrides).fit()  (resumable: ``last``)
                        -> evaluate -> write the cell's CellRecord atomically

A cell's result is written once, atomically, when it is finished, so a killed run loses at most
the cell in progress (and the trainer resumes that one from its last epoch). A stored cell made
with other settings is never mixed in: :class:`CellSettingsError`.

Every number is MARS-protocol "ap3d" (gallery = query + gallery, every query valid) on the
synthetic MARS tree, with dense features (every frame, averaged), as the paper evaluates.
"""

from __future__ import annotations

import hashlib
import os
import platform
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from strf_core.experiments.grids import (
    CELL_DEFAULTS,
    DEFAULT_EPOCHS,
    Cell,
    group_cells,
    recipe_overrides,
)
from strf_core.experiments.results import CellMetrics, CellRecord, Report, write_json_atomic
from strf_core.synth import META_NAME, generate

PROTOCOL = "MARS ap3d protocol on the synthetic MARS tree, dense all-frame features"

Train = Callable[[Any, bool], dict]  # (config, progress) -> evaluate()'s result
Log = Callable[[str], None]


class CellSettingsError(ValueError):
    """A stored cell was made with other settings (another recipe or grid) than asked for now."""


@dataclass
class Setup:
    """Where data, runs and results live, and the shared recipe.

    Attributes:
        results: folder of the tables; cell results go to ``results/cells/``.
        work: cache of the synthetic data and of the training runs (checkpoints).
        preset, world_seed, size: the synthetic world (frame size on disk).
        clip_size: the ``(H, W)`` clips are resized to for training and evaluation.
        epochs: training epochs of every cell.
        device: ``"auto"``, ``"cpu"``, ``"cuda"``...
        workers: DataLoader workers.
        extra: further overrides for every cell (e.g. a larger model on a GPU).
    """

    results: Path
    work: Path
    preset: str = "demo"
    world_seed: int = 0
    size: tuple[int, int] = (128, 64)
    clip_size: tuple[int, int] = (64, 32)
    epochs: int = DEFAULT_EPOCHS
    device: str = "auto"
    workers: int = 1
    extra: list[str] = field(default_factory=list)

    @property
    def data_root(self) -> Path:
        return (
            self.work
            / "synth"
            / f"{self.preset}-seed{self.world_seed}-{self.size[0]}x{self.size[1]}"
        )

    def overrides(self, cell: Cell) -> list[str]:
        h, w = self.clip_size
        return [
            *recipe_overrides(self.epochs),
            f"data.height={h}",
            f"data.width={w}",
            f"data.workers={self.workers}",
            *self.extra,
            *cell.overrides,
            f"seed={cell.seed}",
        ]

    def cell_path(self, cell: Cell) -> Path:
        return self.results / "cells" / f"{cell.key}.json"

    def error_path(self, cell: Cell) -> Path:
        """Where the error of a cell whose training failed is kept (until it succeeds)."""
        return self.cell_path(cell).with_suffix(".error.txt")

    def run_dir(self, cell: Cell) -> Path:
        """The cell's checkpoints; the hash keeps runs of other recipes from being resumed."""
        digest = hashlib.sha1("\n".join(self.overrides(cell)).encode()).hexdigest()[:8]
        return self.work / "runs" / f"{cell.key}-{digest}"


def ensure_data(setup: Setup, progress: bool = False) -> Path:
    """The synthetic world of ``setup``, generated (deterministically from its seed) if absent."""
    root = setup.data_root
    if not (root / META_NAME).is_file():
        generate(
            root,
            preset=setup.preset,
            seed=setup.world_seed,
            size=setup.size,
            workers=max(1, os.cpu_count() or 1),
            overwrite=root.exists(),
            progress=progress,
        )
    return root


def load_cell(setup: Setup, cell: Cell) -> CellRecord | None:
    """A finished cell's record, or ``None``.

    Raises:
        CellSettingsError: the record was made with other overrides (another recipe or
            grid): mixing it in would be wrong, so the caller has to pick another results
            folder.
    """
    path = setup.cell_path(cell)
    if not path.is_file():
        return None
    record = CellRecord.read(path)
    if record.overrides != setup.overrides(cell):
        raise CellSettingsError(
            f"{path} was made with other settings ({record.overrides}); use another "
            "--results folder or delete it to re-run"
        )
    from strf_core.engine.config import config_to_dict, load_config

    expected = config_to_dict(load_config(None, [*CELL_DEFAULTS, *record.overrides]))
    for item in CELL_DEFAULTS:
        dotted, pinned = item.split("=", 1)
        section, key = dotted.split(".")
        # A record without the setting predates it: it was made the pinned way.
        stored = record.config.get(section, {}).get(key, pinned)
        if stored != expected[section][key]:
            raise CellSettingsError(
                f"{path} was made with {section}.{key}={stored}, the grid now trains with "
                f"{expected[section][key]}; use another --results folder or delete it to re-run"
            )
    return record


def load_records(setup: Setup, cells: Sequence[Cell]) -> dict[str, CellRecord]:
    """The stored record of every finished cell of ``cells``, by key (no training)."""
    records = {}
    for cell in cells:
        record = load_cell(setup, cell)
        if record is not None:
            records[cell.key] = record
    return records


def stored_seeds(setup: Setup, cells: Sequence[Cell]) -> list[int]:
    """Seeds of any finished cell (a ``cells/<stem>__seed<n>.json``) of the rows of ``cells``."""
    seeds: set[int] = set()
    for stem in {c.stem for c in cells}:
        for path in (setup.results / "cells").glob(f"{stem}__seed*.json"):
            tail = path.stem.rsplit("__seed", 1)[1]
            if tail.isdigit():
                seeds.add(int(tail))
    return sorted(seeds)


def run_cell(
    setup: Setup, cell: Cell, *, progress: bool = False, train: Train | None = None
) -> CellRecord:
    """Train and evaluate one cell unless its result exists; return its record.

    Args:
        setup: data, folders and recipe.
        cell: the run.
        progress: progress bars.
        train: ``(config, progress) -> evaluate()'s result``; the default builds a
            :class:`~strf_core.engine.trainer.Trainer` (tests pass a fake).
    """
    record = load_cell(setup, cell)
    if record is not None:
        return record
    from strf_core.engine.checkpoint import without_machine_paths
    from strf_core.engine.config import config_to_dict, load_config

    overrides = setup.overrides(cell)
    config = load_config(
        None,
        [
            *CELL_DEFAULTS,
            *overrides,
            f"data.root={ensure_data(setup, progress)}",
            f"output_dir={setup.run_dir(cell)}",
            f"device={setup.device}",
        ],
    )
    started = time.perf_counter()
    result = (train or _train)(config, progress)
    record = CellRecord(
        group=cell.group,
        label=cell.label,
        seed=cell.seed,
        overrides=overrides,
        paper_mars=cell.paper,
        metrics=CellMetrics.from_evaluation(result),
        protocol=PROTOCOL,
        wall_s=round(time.perf_counter() - started, 1),
        device=_device_name(config.device),
        world={"preset": setup.preset, "seed": setup.world_seed, "size": list(setup.size)},
        config=without_machine_paths(config_to_dict(config)),  # shipped: no paths of ours
        finished=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    )
    write_json_atomic(setup.cell_path(cell), record.to_dict())
    return record


def _train(config: Any, progress: bool) -> dict:
    from strf_core.engine.trainer import Trainer

    trainer = Trainer.from_config(config, resume=True, progress=progress)
    result = trainer.fit()
    if "mAP" not in result:  # resumed after its last epoch had already been trained
        result = {**result, **trainer.evaluate()}
    return result


def _device_name(name: str) -> str:
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name.startswith("cuda"):
        return torch.cuda.get_device_name(torch.device(name))
    return f"cpu ({platform.processor() or platform.machine()}, {os.cpu_count()} cores)"


def run_cells(
    setup: Setup,
    cells: Sequence[Cell],
    *,
    max_minutes: float = 0.0,
    progress: bool = False,
    train: Train | None = None,
    log: Log | None = None,
) -> dict[str, CellRecord]:
    """Run the cells not yet finished, in order; return every finished record by key.

    A cell whose training raises (e.g. a pooling window larger than a small feature map) is
    logged, its error kept in ``cells/<key>.error.txt`` for the tables, and the grid goes on;
    it has no result, so a later call tries it again.

    Args:
        max_minutes: start no new cell after this many minutes (0: no limit); the cells left
            are "not run" in the tables and a later call picks them up.
        log: called with a line per cell (what is trained, what it scored).

    Raises:
        CellSettingsError: a stored cell was made with other settings.
    """
    log = log or (lambda _: None)
    started = time.perf_counter()
    done: dict[str, CellRecord] = {}
    for i, cell in enumerate(cells, 1):
        record = load_cell(setup, cell)
        elapsed = (time.perf_counter() - started) / 60
        if record is None and max_minutes and elapsed >= max_minutes:
            log(f"[{i}/{len(cells)}] {cell.key}: not started (time limit {max_minutes} min)")
            continue
        if record is None:
            log(f"[{i}/{len(cells)}] {cell.key}: training")
            error = setup.error_path(cell)
            try:
                record = run_cell(setup, cell, progress=progress, train=train)
            except CellSettingsError:
                raise
            except (RuntimeError, ValueError, FloatingPointError) as err:
                log(f"    failed: {type(err).__name__}: {err}")
                error.write_text(f"{type(err).__name__}: {err}\n")
                continue
            error.unlink(missing_ok=True)
            m = record.metrics
            log(f"    mAP {m.mAP:.3f} rank-1 {m.rank1:.3f} in {record.wall_s:.0f} s")
        done[cell.key] = record
    return done


def run_grid(
    setup: Setup,
    grid: Callable[[Sequence[int]], list[Cell]],
    cells_now: Sequence[Cell],
    seeds_now: Sequence[int],
    *,
    max_minutes: float = 0.0,
    progress: bool = False,
    log: Log | None = None,
) -> tuple[list[Cell], dict[str, CellRecord], list[int]]:
    """Run ``cells_now`` (those not finished yet), then return what a table of the whole
    ``grid`` shows: its cells, their records, and its seeds.

    Every group or variant is shown, not only those just run: for the seeds asked for now
    (``seeds_now``) and every seed already stored for any row of the grid. Cells without a
    result are "not run".
    """
    run_cells(setup, cells_now, max_minutes=max_minutes, progress=progress, log=log)
    seeds = sorted(set(seeds_now) | set(stored_seeds(setup, grid([0]))))
    cells = grid(seeds)
    return cells, load_records(setup, cells), seeds


def records_by_row(results: Path, report: Report, group: str) -> dict[str, list[CellRecord]]:
    """The stored records of one group's rows of ``report``, by row label, for the seeds the
    report plans (they keep rank-5 and rank-10, which the tables leave out); seeds not run are
    absent. The records are read as stored, without comparing their settings to a setup."""
    seeds = sorted({s for r in report.rows if r.group == group for s in r.seeds_planned})
    out: dict[str, list[CellRecord]] = {}
    for cell in group_cells(group, seeds):
        path = Path(results) / "cells" / f"{cell.key}.json"
        if path.is_file():
            out.setdefault(cell.label, []).append(CellRecord.read(path))
    return out
