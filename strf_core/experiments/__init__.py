"""The synthetic benchmark, the paper's ablations and the recipe search (``strf benchmark``,
``strf ablate``, ``strf recipe``).

::

    grids.py        the recipe, its variants, cells and grids (what is trained)
    runner.py       Setup, run_cells: train the cells without a result, never re-run one
    results.py      typed results: CellRecord, Row, Stat, Report; difference against the spread
    report.py       cells -> rows -> results/<name>.md and .json (*_REPORT)
    demo_models.py  the benchmark's first-seed models exported for the dashboard, and checked

The paper's numbers set beside our rows are in :mod:`strf_core.paper`.
"""

from strf_core.experiments.demo_models import (
    DEMO_CHECK_IDS,
    check_split,
    evaluate_checkpoint,
    export_demo_model,
    export_trained_model,
    model_card,
    training_summary,
)
from strf_core.experiments.grids import (
    ABLATION_GROUPS,
    BASELINE,
    CELL_DEFAULTS,
    DEFAULT_EPOCHS,
    LATER_ABLATION_GROUPS,
    RECIPE,
    RECIPE_VARIANT_NAMES,
    RECIPE_VARIANTS,
    STRF,
    TUNED_VARIANT,
    Cell,
    ablation_cells,
    benchmark_cells,
    group_cells,
    recipe_cells,
    recipe_overrides,
    tuned_overrides,
)
from strf_core.experiments.report import (
    ABLATIONS_REPORT,
    BENCHMARK_REPORT,
    RECIPE_REPORT,
    ReportSpec,
    aggregate,
    compare,
    compare_table,
    render_table,
    write_report,
)
from strf_core.experiments.results import (
    METRICS,
    CellMetrics,
    CellRecord,
    Difference,
    Report,
    Row,
    Stat,
    SubsetMetrics,
    difference,
    read_reports,
)
from strf_core.experiments.runner import (
    PROTOCOL,
    CellSettingsError,
    Setup,
    ensure_data,
    load_records,
    records_by_row,
    run_cell,
    run_cells,
    run_grid,
)

__all__ = [
    "ABLATIONS_REPORT",
    "ABLATION_GROUPS",
    "BASELINE",
    "BENCHMARK_REPORT",
    "CELL_DEFAULTS",
    "DEFAULT_EPOCHS",
    "DEMO_CHECK_IDS",
    "LATER_ABLATION_GROUPS",
    "METRICS",
    "PROTOCOL",
    "RECIPE",
    "RECIPE_REPORT",
    "RECIPE_VARIANTS",
    "RECIPE_VARIANT_NAMES",
    "STRF",
    "TUNED_VARIANT",
    "Cell",
    "CellMetrics",
    "CellRecord",
    "CellSettingsError",
    "Difference",
    "Report",
    "ReportSpec",
    "Row",
    "Setup",
    "Stat",
    "SubsetMetrics",
    "ablation_cells",
    "aggregate",
    "benchmark_cells",
    "check_split",
    "compare",
    "compare_table",
    "difference",
    "ensure_data",
    "evaluate_checkpoint",
    "export_demo_model",
    "export_trained_model",
    "group_cells",
    "load_records",
    "model_card",
    "read_reports",
    "recipe_cells",
    "recipe_overrides",
    "records_by_row",
    "render_table",
    "run_cell",
    "run_cells",
    "run_grid",
    "training_summary",
    "tuned_overrides",
    "write_report",
]
