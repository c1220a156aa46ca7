"""Typed experiment results, as they are stored: a cell's record, a row's statistics, a report.

::

    cells/<key>.json   CellRecord   one finished run: settings, CellMetrics (overall + subsets)
    <report>.json      Report       rows of Stat (mean and spread over seeds) per subset and metric

Every type reads its JSON with ``from_dict`` and writes it with ``to_dict``, key for key and in
the same order as the files on disk, so reports re-render byte-identical. The per-subset keys of
a row (``"lookalike/mAP"``) are built in one place, :func:`stat_key`. Metrics are fractions in
``[0, 1]``; the paper's numbers are percent.
"""

from __future__ import annotations

import json
import math
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from strf_core.atomic import write_text_atomic
from strf_core.paper import MarsScore
from strf_core.synth import SUBSETS

METRICS = ("mAP", "rank1")  # what the tables show, overall and per subset
REPORT_NAMES = ("benchmark", "ablations", "recipe")  # results/<name>.json


def json_text(payload: Any) -> str:
    """The JSON text of every result file (one-space indent, a final newline)."""
    return json.dumps(payload, indent=1) + "\n"


def write_json_atomic(path: Path, payload: Any) -> None:
    """Write JSON atomically (:func:`write_text_atomic`)."""
    write_text_atomic(path, json_text(payload))


# --------------------------------------------------------------------------- one run


@dataclass(frozen=True)
class SubsetMetrics:
    """mAP and rank-1 over one subset of the queries (look-alike, occluded, ...)."""

    mAP: float  # noqa: N815 (the metric's name, as in the files)
    rank1: float
    num_queries: int

    def to_dict(self) -> dict[str, Any]:
        return {"mAP": self.mAP, "rank1": self.rank1, "num_queries": self.num_queries}


@dataclass(frozen=True)
class CellMetrics:
    """The numbers a cell keeps: overall mAP and CMC ranks 1, 5, 10, and per-subset scores."""

    mAP: float  # noqa: N815 (the metric's name, as in the files)
    rank1: float
    rank5: float
    rank10: float
    num_queries: int
    subsets: dict[str, SubsetMetrics] = field(default_factory=dict)

    @classmethod
    def from_evaluation(cls, result: Mapping[str, Any]) -> CellMetrics:
        """From what :func:`strf_core.engine.evaluate.evaluate` returns."""
        return cls(
            mAP=float(result["mAP"]),
            rank1=float(result["rank1"]),
            rank5=float(result["rank5"]),
            rank10=float(result["rank10"]),
            num_queries=int(result["num_queries"]),
            subsets={
                name: SubsetMetrics(float(s["mAP"]), float(s["rank1"]), int(s["num_queries"]))
                for name, s in result.get("subsets", {}).items()
            },
        )

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CellMetrics:
        return cls.from_evaluation(data)

    def value(self, metric: str, subset: str | None = None) -> float:
        """``metric`` (``"mAP"``, ``"rank1"``) over every query, or over ``subset``'s."""
        return getattr(self.subsets[subset] if subset else self, metric)

    def to_dict(self) -> dict[str, Any]:
        return {
            "mAP": self.mAP,
            "rank1": self.rank1,
            "rank5": self.rank5,
            "rank10": self.rank10,
            "num_queries": self.num_queries,
            "subsets": {name: s.to_dict() for name, s in self.subsets.items()},
        }


@dataclass(frozen=True)
class CellRecord:
    """A finished cell (``cells/<key>.json``): what ran, where, and what it scored.

    Attributes:
        overrides: the config overrides it was trained with (recipe, row, seed).
        paper_mars: the paper's MARS numbers for its row.
        wall_s: training + evaluation wall time of its last process.
        device: what it ran on, in words.
        world: the synthetic world (``preset``, ``seed``, ``size``).
        config: the whole training config (``{}`` where left out, as in a demo model's record).
        finished: UTC time it was written.
    """

    group: str
    label: str
    seed: int
    overrides: list[str]
    paper_mars: MarsScore
    metrics: CellMetrics
    protocol: str
    wall_s: float
    device: str
    world: dict[str, Any]
    config: dict[str, Any]
    finished: str

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CellRecord:
        paper = data["paper_mars"]
        return cls(
            group=data["group"],
            label=data["label"],
            seed=data["seed"],
            overrides=list(data["overrides"]),
            paper_mars=MarsScore(paper["mAP"], paper["rank1"]),
            metrics=CellMetrics.from_dict(data["metrics"]),
            protocol=data["protocol"],
            wall_s=data["wall_s"],
            device=data["device"],
            world=dict(data["world"]),
            config=dict(data.get("config", {})),
            finished=data["finished"],
        )

    @classmethod
    def read(cls, path: Path) -> CellRecord:
        return cls.from_dict(json.loads(Path(path).read_text()))

    def to_dict(self, *, with_config: bool = True) -> dict[str, Any]:
        out = {
            "group": self.group,
            "label": self.label,
            "seed": self.seed,
            "overrides": list(self.overrides),
            "paper_mars": self.paper_mars._asdict(),
            "metrics": self.metrics.to_dict(),
            "protocol": self.protocol,
            "wall_s": self.wall_s,
            "device": self.device,
            "world": self.world,
            "config": self.config,
            "finished": self.finished,
        }
        if not with_config:
            del out["config"]
        return out


# --------------------------------------------------------------------------- over seeds


def stat_key(metric: str, subset: str | None = None) -> str:
    """A row's key in a report's ``stats``: ``"mAP"`` overall, ``"lookalike/mAP"`` per subset."""
    return f"{subset}/{metric}" if subset else metric


@dataclass(frozen=True)
class Stat:
    """One metric of one row over its finished seeds (fractions).

    Attributes:
        mean: ``None`` where no seed finished.
        std: sample std; ``None`` with fewer than two seeds.
        values: one per finished seed (NaN left out).
    """

    mean: float | None
    std: float | None
    values: list[float]

    @classmethod
    def of(cls, values: Iterable[float]) -> Stat:
        kept = [v for v in values if not math.isnan(v)]
        return cls(
            mean=statistics.fmean(kept) if kept else None,
            std=statistics.stdev(kept) if len(kept) > 1 else None,
            values=kept,
        )

    @property
    def ran(self) -> bool:
        return self.mean is not None

    def __str__(self) -> str:
        """``12.3 ± 0.4`` (mean ± sample std, %), ``12.3`` for one seed, or ``not run``."""
        if self.mean is None:
            return "not run"
        text = f"{100 * self.mean:.1f}"
        return text + (f" ± {100 * self.std:.1f}" if self.std is not None else "")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Stat:
        return cls(data["mean"], data["std"], list(data["values"]))

    def to_dict(self) -> dict[str, Any]:
        return {"mean": self.mean, "std": self.std, "values": list(self.values)}


NOT_RUN = Stat(None, None, [])


@dataclass(frozen=True)
class Row:
    """One row of a report: a label's cells over seeds.

    Attributes:
        seeds_planned: the seeds the table asks for.
        seeds: those finished.
        wall_s: total wall time of the finished cells.
        stats: by ``(metric, subset)``, ``subset`` ``None`` for every query; see :meth:`stat`.
    """

    group: str
    label: str
    paper_mars: MarsScore
    seeds_planned: list[int]
    seeds: list[int]
    wall_s: float
    stats: dict[tuple[str, str | None], Stat]

    def stat(self, metric: str = "mAP", subset: str | None = None) -> Stat:
        """The row's ``metric`` overall or over ``subset``; :data:`NOT_RUN` where absent."""
        return self.stats.get((metric, subset), NOT_RUN)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Row:
        stats = {}
        for key, value in data["stats"].items():
            subset, _, metric = key.rpartition("/")
            stats[(metric, subset or None)] = Stat.from_dict(value)
        return cls(
            group=data["group"],
            label=data["label"],
            paper_mars=MarsScore(*data["paper_mars"]),
            seeds_planned=list(data["seeds_planned"]),
            seeds=list(data["seeds"]),
            wall_s=data["wall_s"],
            stats=stats,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "group": self.group,
            "label": self.label,
            "paper_mars": list(self.paper_mars),
            "seeds_planned": list(self.seeds_planned),
            "seeds": list(self.seeds),
            "wall_s": self.wall_s,
            "stats": {stat_key(m, s): stat.to_dict() for (m, s), stat in self.stats.items()},
        }


def aggregate_row(
    group: str,
    label: str,
    paper: MarsScore,
    seeds_planned: Sequence[int],
    records: Mapping[int, CellRecord],
) -> Row:
    """A row from its finished cells (``records`` by seed): mean and spread of every metric,
    overall and per subset of :data:`~strf_core.synth.SUBSETS`."""
    finished = list(records.values())
    return Row(
        group=group,
        label=label,
        paper_mars=paper,
        seeds_planned=list(seeds_planned),
        seeds=list(records),
        wall_s=round(sum(r.wall_s for r in finished), 1),
        stats={
            (metric, subset): Stat.of(r.metrics.value(metric, subset) for r in finished)
            for subset in (None, *SUBSETS)
            for metric in METRICS
        },
    )


@dataclass(frozen=True)
class Difference:
    """``b - a`` between two rows' stats, in points, against the seed spread.

    Attributes:
        points: the difference of the means (percentage points).
        spread: the larger sample std of the two rows in points; ``None``: neither has 2+ seeds.
        t: Welch's t where both rows have a spread (with 3 seeds a side, |t| > ~4.3 for
            p < 0.05); ``None`` otherwise.
    """

    points: float
    spread: float | None
    t: float | None

    @property
    def beyond_spread(self) -> bool:
        """Larger than the seed spread (``False`` when there is no spread to compare with)."""
        return self.spread is not None and abs(self.points) > self.spread


def difference(sa: Stat, sb: Stat) -> Difference | None:
    """:class:`Difference` of two rows' :class:`Stat`, or ``None`` where either was not run."""
    if sa.mean is None or sb.mean is None:
        return None
    points = 100 * (sb.mean - sa.mean)
    spreads = [s.std for s in (sa, sb) if s.std is not None]
    spread = 100 * max(spreads) if spreads else None
    t = None
    if len(spreads) == 2:
        se = math.sqrt(sum(s.std**2 / len(s.values) for s in (sa, sb)))
        t = points / (100 * se) if se > 0 else math.inf
    return Difference(points, spread, t)


# --------------------------------------------------------------------------- one report


@dataclass(frozen=True)
class Report:
    """``results/<name>.json``: the rows of one report and how they were made.

    Attributes:
        command: the command that reproduces (and completes) the table.
        recipe: the training settings every finished cell shares.
        cells_finished, cells_planned: distinct runs (cells shared by tables count once).
        wall_s: training + evaluation wall time of the finished cells.
    """

    command: str
    protocol: str
    recipe: dict[str, Any]
    cells_finished: int
    cells_planned: int
    wall_s: float
    rows: list[Row]

    def groups(self) -> dict[str, list[Row]]:
        """The rows by group, in their order."""
        out: dict[str, list[Row]] = {}
        for row in self.rows:
            out.setdefault(row.group, []).append(row)
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Report:
        return cls(
            command=data["command"],
            protocol=data["protocol"],
            recipe=dict(data.get("recipe", {})),
            cells_finished=data["cells_finished"],
            cells_planned=data["cells_planned"],
            wall_s=data["wall_s"],
            rows=[Row.from_dict(r) for r in data["rows"]],
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "command": self.command,
            "protocol": self.protocol,
            "recipe": self.recipe,
            "cells_finished": self.cells_finished,
            "cells_planned": self.cells_planned,
            "wall_s": self.wall_s,
            "rows": [r.to_dict() for r in self.rows],
        }


def read_reports(results: Path) -> dict[str, Report]:
    """The reports of a results folder by name (:data:`REPORT_NAMES`; absent ones left out)."""
    out = {}
    for name in REPORT_NAMES:
        path = Path(results) / f"{name}.json"
        if path.is_file():
            out[name] = Report.from_dict(json.loads(path.read_text()))
    return out
