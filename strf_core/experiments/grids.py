"""What the experiments train: the shared recipe, its variants, and the grids of cells.

A :class:`Cell` is one training run (config overrides on top of the recipe, and a seed). A grid
is a function of the seeds that returns the cells of one report: :func:`benchmark_cells`
(baseline vs STRF), :func:`ablation_cells` (the paper's Table 4, Table 5, Fig. 4a-c and our
design choices; then Table 2's backbones, Fig. 4b's pooling per factorization, Fig. 6a and the
other units, :data:`LATER_ABLATION_GROUPS`) and :func:`recipe_cells` (training-recipe
variants). The paper's numbers set beside the rows come from :mod:`strf_core.paper`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from strf_core.paper import (
    AP3D_MARS,
    FIG4A,
    FIG4B,
    FIG4C,
    NL_P3DC,
    NO_NUMBER,
    P3DC_BASELINE,
    STRF_P3DC,
    TABLE2,
    TABLE4,
    TABLE5,
    MarsScore,
)

# The base recipe, the same for baseline and STRF, sized for 2 CPU cores shared with others:
# 64x32 clips (read from 128x64 frames) of 4 frames, P x K = 8 x 4, and lr 1e-3 rather than the
# paper's 3e-4 because the tiny net starts from random weights and gets only ~500 steps. It uses
# nothing that real data would not give (no look-alike-aware batches). It is where `strf recipe`
# starts from and what the ablation grids run under; the benchmark and the demo models add the
# tuned batch shape (:data:`TUNED_VARIANT`) on top.
RECIPE: tuple[str, ...] = (
    "model.name=p3dc_resnet_tiny",
    "data.dataset=mars",
    "data.protocol=ap3d",
    "data.seq_len=4",
    "data.batch_p=8",
    "data.batch_k=4",
    "data.test_mode=dense",
    "optim.lr=1e-3",
    "eval_every=0",
)
DEFAULT_EPOCHS = 25

# Settings every stored cell was trained with whose package defaults changed after them:
# applied under every cell's overrides (a cell's own ``data.sampler=lookalike`` still wins) and
# checked against each stored cell's recorded config (a config without the setting predates it
# and counts as made the pinned way). The cells were trained with an epoch of
# every identity once (``"identity"``), before AP3D's every-tracklet epoch became the default.
CELL_DEFAULTS: tuple[str, ...] = ("data.sampler=identity",)


def recipe_overrides(epochs: int) -> list[str]:
    """The shared recipe with ``epochs`` epochs and one lr drop (x0.1) at 70% of them."""
    return [*RECIPE, f"optim.epochs={epochs}", f"optim.milestones=[{max(1, int(0.7 * epochs))}]"]


BASELINE = ("model.strf=false",)
STRF = ("model.strf=true",)


@dataclass(frozen=True)
class Cell:
    """One training run of a grid.

    Attributes:
        group: the table it belongs to (``"benchmark"``, ``"table4"``, ...).
        label: its row in that table.
        overrides: config overrides on top of the recipe (``section.key=value``).
        seed: training seed (the synthetic world is the same for every cell).
        paper: the paper's MARS ``(mAP, R@1)`` in percent for this row, where it gives them.
    """

    group: str
    label: str
    overrides: tuple[str, ...]
    seed: int = 0
    paper: MarsScore = NO_NUMBER

    @property
    def key(self) -> str:
        """A file-safe name made from the overrides and the seed, not from the table: cells of
        two grids that train the same thing (the default STRF model) share one result."""
        # A baseline with further overrides (a recipe variant) is "baseline_<...>"; everything
        # else is "strf_<...>", as every key made so far (the stored cells keep their names).
        base = self.overrides[: len(BASELINE)] == BASELINE
        rest = self.overrides[len(BASELINE) :] if base else self.overrides
        parts = ["baseline" if base else "strf"] + [
            item.split("=", 1)[0].rsplit(".", 1)[-1].replace("strf_kwargs", "")
            + "_"
            + item.split("=", 1)[1]
            for item in rest
            if base or item not in STRF
        ]
        name = re.sub(r"[^A-Za-z0-9>]+", "_", "_".join(parts)).replace(">", "").strip("_")
        return f"{name}__seed{self.seed}"

    @property
    def stem(self) -> str:
        """The key without its seed: what the cells of one row share."""
        return self.key.rsplit("__seed", 1)[0]


def _strf(**kwargs: Any) -> tuple[str, ...]:
    """Overrides of an STRF model with these STRF keyword arguments (flow-style YAML)."""
    items = ", ".join(f"{k}: {json.dumps(v)}" for k, v in kwargs.items())
    return (*STRF, f"model.strf_kwargs={{{items}}}")


def _unit(name: str) -> tuple[str, ...]:
    """Overrides of a model with another attention unit (``model.attn_layer``), not STRF: their
    keys read ``baseline_attn_layer_<name>``."""
    return (*BASELINE, f"model.attn_layer={name}")


def _backbone(name: str, overrides: tuple[str, ...]) -> tuple[str, ...]:
    """``overrides`` on the tiny backbone ``name`` (``"p3dc"``: the recipe's own, unchanged)."""
    return overrides if name == "p3dc" else (*overrides, f"model.name={name}_resnet_tiny")


# --------------------------------------------------------------------------- recipe variants


# Recipe variants, each trained for the baseline and STRF alike: (name, row label, overrides on
# top of RECIPE, uses knowledge that real data would not give: its rows say so). "base" is
# RECIPE itself, whose cells are the ablations' baseline and default STRF; "p4k8" (the tuned
# recipe) is the benchmark's. ``data.sampler=lookalike``
# reads the synthetic world's look-alike groups (its metadata): a real dataset has no such labels.
RECIPE_VARIANTS: tuple[tuple[str, str, tuple[str, ...], bool], ...] = (
    ("base", "base recipe", (), False),
    ("seq8", "8-frame clips", ("data.seq_len=8",), False),
    ("epochs40", "40 epochs (lr x0.1 at 28)", ("optim.epochs=40", "optim.milestones=[28]"), False),
    (
        "lookalike",
        "look-alike batches",
        ("data.sampler=lookalike",),
        True,
    ),
    (
        "seq8_lookalike",
        "8-frame clips + look-alike batches",
        ("data.seq_len=8", "data.sampler=lookalike"),
        True,
    ),
    ("epochs50", "50 epochs (lr x0.1 at 35)", ("optim.epochs=50", "optim.milestones=[35]"), False),
    (
        "epochs40_lookalike",
        "40 epochs + look-alike batches",
        ("optim.epochs=40", "optim.milestones=[28]", "data.sampler=lookalike"),
        True,
    ),
    ("p16k2", "P x K = 16 x 2", ("data.batch_p=16", "data.batch_k=2"), False),
    ("p4k8", "P x K = 4 x 8", ("data.batch_p=4", "data.batch_k=8"), False),
    # P = 4 makes twice the batches per epoch: this row has the base recipe's step count.
    (
        "p4k8_13ep",
        "P x K = 4 x 8, 13 epochs (lr x0.1 at 9: ~the base step count)",
        ("data.batch_p=4", "data.batch_k=8", "optim.epochs=13", "optim.milestones=[9]"),
        False,
    ),
)
RECIPE_VARIANT_NAMES = tuple(name for name, *_ in RECIPE_VARIANTS)

# The winner of `strf recipe` (recipe.md, 3 seeds): P x K = 4 x 8 at 25 epochs, best for both
# models and an ordinary choice on real data. The benchmark and the demo models use it.
TUNED_VARIANT = "p4k8"

NOT_ON_REAL_DATA = "[synthetic metadata: not on real data]"

# Pairs of variants that train the same number of optimizer steps (P = 4 makes twice the
# batches an epoch of P = 8): ``strf recipe`` compares them too.
RECIPE_SAME_STEPS = (("epochs50", "p4k8"),)


def tuned_overrides() -> tuple[str, ...]:
    """The overrides :data:`TUNED_VARIANT` adds to the base :data:`RECIPE`."""
    return next(o for name, _, o, _ in RECIPE_VARIANTS if name == TUNED_VARIANT)


# --------------------------------------------------------------------------- grids


def benchmark_cells(seeds: Sequence[int]) -> list[Cell]:
    """Baseline and STRF (stages 2-3, all defaults) under the tuned recipe, for every seed.

    Their overrides (and so their keys and stored cells) are the ``p4k8`` recipe variant's.
    """
    tuned = tuned_overrides()
    rows = (("P3D-C baseline", BASELINE, P3DC_BASELINE), ("STRF-P3D-C", STRF, STRF_P3DC))
    return [
        Cell("benchmark", label, (*overrides, *tuned), seed, paper)
        for seed in seeds
        for label, overrides, paper in rows
    ]


def _ablation_grids() -> dict[str, list[tuple[str, tuple[str, ...], MarsScore]]]:
    """Each ablation group's rows: ``(label, overrides, the paper's MARS numbers)``."""
    return {
        "table4": [
            ("baseline", BASELINE, P3DC_BASELINE),
            *[(label, _strf(branches=list(b)), p) for label, b, p in TABLE4],
            ("all four", STRF, STRF_P3DC),
        ],
        "table5": [
            ("baseline", BASELINE, P3DC_BASELINE),
            *[(label, (*STRF, f"model.strf_stages={list(s)}"), p) for label, s, p in TABLE5],
            ("2-3", STRF, STRF_P3DC),
        ],
        "fig4a": [
            ("(1,1)", _strf(r_fine=1, r_coarse=1), FIG4A[(1, 1)]),
            ("(1,3)", STRF, FIG4A[(1, 3)]),
            ("(1,5)", _strf(r_fine=1, r_coarse=5), FIG4A[(1, 5)]),
            ("(3,5)", _strf(r_fine=3, r_coarse=5), FIG4A[(3, 5)]),
        ],
        "fig4b": [("max", STRF, FIG4B["max"]), ("avg", _strf(pool="avg"), FIG4B["avg"])],
        "fig4c": [
            ("t->s", STRF, FIG4C["t->s"]),
            ("s->t", _strf(integration="s->t"), FIG4C["s->t"]),
            ("parallel", _strf(integration="parallel"), FIG4C["parallel"]),
        ],
        "design": [
            ("cosine, residual (default)", STRF, NO_NUMBER),
            ("dot similarity", _strf(similarity="dot"), NO_NUMBER),
            ("literal replacement (residual=False)", _strf(residual=False), NO_NUMBER),
        ],
        # Groups added after the first report (LATER_ABLATION_GROUPS).
        "table2": [
            (f"{label}{' + STRF' if with_strf else ''}", _backbone(kind, model), paper)
            for kind, label in (
                ("i3d", "I3D"),
                ("p3da", "P3D-A"),
                ("p3db", "P3D-B"),
                ("p3dc", "P3D-C"),
            )
            for with_strf, model in ((False, BASELINE), (True, STRF))
            for paper in [MarsScore(*TABLE2[(f"{kind}_resnet50", with_strf)][1:3])]
        ],
        "fig4b_split": [
            ("m/m", STRF, FIG4B["max"]),
            ("m/a", _strf(pool="max/avg"), NO_NUMBER),
            ("a/m", _strf(pool="avg/max"), NO_NUMBER),
            ("a/a", _strf(pool="avg"), FIG4B["avg"]),
        ],
        "fig6a": [
            ("baseline", BASELINE, P3DC_BASELINE),
            ("with FAM", STRF, STRF_P3DC),
            ("without FAM", _strf(fam=False), NO_NUMBER),
        ],
        "units": [
            ("P3D-C baseline", BASELINE, P3DC_BASELINE),
            ("STRF", STRF, STRF_P3DC),
            ("non-local (AP3D's positions)", _unit("nonlocal"), NL_P3DC),
            ("APM (AP3D)", _unit("apm"), NO_NUMBER),
            ("APM + non-local (AP3D-NL)", _unit("apm_nl"), AP3D_MARS),
        ],
    }


ABLATION_GROUPS = tuple(_ablation_grids())

# Groups added after ablations.md was first written. A report shows one only once a run of its
# own (not shared with the groups above) has finished, so the stored report re-renders
# unchanged until they are run (``strf ablate --groups table2 fig4b_split fig6a units``).
LATER_ABLATION_GROUPS = ("table2", "fig4b_split", "fig6a", "units")


def ablation_cells(seeds: Sequence[int], groups: Sequence[str] | None = None) -> list[Cell]:
    """The paper's ablation grids (Table 4, Table 5, Fig. 4a-c) plus our design choices; then
    Table 2's backbones (tiny), Fig. 4b with the temporal and spatial pooling apart (m/a: max
    over time, average over space), Fig. 6a (STRF without FAM) and the other units (non-local,
    APM, both) in the same P3D-C.

    The default STRF model (all branches, stages 2-3, r = (1, 3), max, t->s, cosine, residual)
    is the reference row of every group; it and the baseline are shared with the benchmark.

    Raises:
        ValueError: an unknown group.
    """
    grids = _ablation_grids()
    chosen = list(grids) if not groups else list(groups)
    unknown = sorted(set(chosen) - set(grids))
    if unknown:
        raise ValueError(f"unknown ablation group(s) {unknown}; choose from {list(grids)}")
    return [
        Cell(group, label, overrides, seed, paper)
        for group in chosen
        for seed in seeds
        for label, overrides, paper in grids[group]
    ]


def recipe_cells(seeds: Sequence[int], variants: Sequence[str] | None = None) -> list[Cell]:
    """Baseline and STRF under each recipe variant (default: all) for every seed.

    The variant's overrides follow the model's (``model.strf=...``), so the keys read
    ``baseline_seq_len_8__seed0`` and ``strf_seq_len_8__seed0``; the ``base`` variant's cells are
    the ablations' baseline and default STRF, the ``p4k8`` variant's the benchmark's.

    Raises:
        ValueError: an unknown variant.
    """
    by_name = {
        name: (f"{label} {NOT_ON_REAL_DATA}" if synthetic_only else label, overrides)
        for name, label, overrides, synthetic_only in RECIPE_VARIANTS
    }
    chosen = list(by_name) if not variants else list(variants)
    unknown = sorted(set(chosen) - set(by_name))
    if unknown:
        raise ValueError(f"unknown recipe variant(s) {unknown}; choose from {list(by_name)}")
    rows = (("baseline", BASELINE), ("STRF", STRF))
    return [
        Cell("recipe", f"{by_name[name][0]}: {model}", (*overrides, *by_name[name][1]), seed)
        for name in chosen
        for seed in seeds
        for model, overrides in rows
    ]


def recipe_comparisons() -> list[tuple[str, str]]:
    """The ``(base, other)`` row pairs ``recipe.md`` compares: STRF against the baseline under
    the base recipe; each variant against the base recipe (model by model) and STRF against the
    baseline under it (is STRF's advantage kept under a better recipe?); then the variants with
    the same number of optimizer steps, to tell batch shape from step count."""
    labels = [c.label for c in recipe_cells([0])]
    base_base, base_strf = labels[:2]
    comparisons = [(base_base, base_strf)]
    for base, strf in zip(labels[2::2], labels[3::2], strict=True):
        comparisons += [(base_base, base), (base_strf, strf), (base, strf)]
    for a, b in RECIPE_SAME_STEPS:
        pair = recipe_cells([0], [a, b])
        comparisons += [(pair[0].label, pair[2].label), (pair[1].label, pair[3].label)]
    return comparisons


def group_cells(group: str, seeds: Sequence[int]) -> list[Cell]:
    """The cells of one table group: ``"benchmark"``, ``"recipe"`` or an ablation group.

    Raises:
        ValueError: an unknown group.
    """
    if group == "benchmark":
        return benchmark_cells(seeds)
    if group == "recipe":
        return recipe_cells(seeds)
    return ablation_cells(seeds, [group])
