"""Benchmarks: the tables of ``docs/results/`` (baseline vs STRF over seeds, the paper's
ablations re-run) as tables and charts, the paper's MARS numbers beside ours, and the live CMC
of the demo models on the demo world."""

from __future__ import annotations

import streamlit as st

from app import resources as R
from app.components import charts
from app.components.workspace import demo_workspace

PAPER = "paper, MARS"  # the paper's columns: another dataset and a ResNet-50
GROUPS = {
    "table4": ("Table 4: which branches", "Each STRF branch alone, in pairs and all four."),
    "table5": ("Table 5: which stages", "STRF after these stages of the backbone."),
    "fig4a": (
        "Fig. 4a: pooling windows (r_fine, r_coarse)",
        "The paper's Fig. 4 is a plot: only the values its text states are given.",
    ),
    "fig4b": ("Fig. 4b: max or average pooling", "Pooling of the STRF branches."),
    "fig4c": ("Fig. 4c: integration", "Temporal then spatial, spatial then temporal, parallel."),
    "design": (
        "Design choices left open by the paper (not in the paper)",
        "Cosine vs dot similarity (eq. 3 literally), residual vs literal replacement.",
    ),
}


def _paper_text(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f}"


def _minutes(seconds: float | None) -> str:
    return "?" if seconds is None else f"{seconds / 60:.1f} min"


def table(rows: list[R.Row]) -> list[dict]:
    """One display row per result row: ours (mean ± std, %) per subset, then the paper's."""
    out = []
    for row in rows:
        line = {"model": row.label, "seeds": f"{len(row.seeds)}/{len(row.seeds_planned)}"}
        for subset, name in charts.SUBSET_TITLES.items():
            for metric, metric_name in charts.METRICS.items():
                column = metric_name if subset is None else f"{name} {metric_name}"
                line[column] = str(row.stat(metric, subset))
            if subset is None:  # the paper's beside our overall numbers (MARS has no subsets)
                for metric_name, value in zip(charts.METRICS.values(), row.paper_mars, strict=True):
                    line[f"{PAPER} {metric_name}"] = _paper_text(value)
        out.append(line)
    return out


def recipe_text(recipe: dict) -> str:
    """The training settings every run of a table shares, in words (``""`` if none known)."""
    parts = []
    if "batch_p" in recipe and "batch_k" in recipe:
        parts.append(f"P x K = {recipe['batch_p']} x {recipe['batch_k']}")
    if "seq_len" in recipe:
        parts.append(f"{recipe['seq_len']}-frame clips")
    if "epochs" in recipe:
        parts.append(f"{recipe['epochs']} epochs")
    if "lr" in recipe:
        parts.append(f"lr {recipe['lr']:g}")
    return ", ".join(parts)


def _provenance(report: R.Report, what: str) -> None:
    """The command that reproduces a table, its recipe, its protocol and its cost."""
    st.code(report.command, language="bash")
    recipe = recipe_text(report.recipe)
    st.caption(
        f"{what}: {report.cells_finished} of {report.cells_planned} distinct runs finished; "
        f"training + evaluation wall time of the finished runs {_minutes(report.wall_s)}. "
        + (f"Every run: {recipe}. " if recipe else "")
        + f"Protocol: {report.protocol}. Numbers are % (mean ± sample std over seeds)."
    )


def _gap_note(base: R.Row, other: R.Row) -> str:
    """``other - base`` mAP per subset, with the seed spread each is judged by."""
    parts = []
    for subset, name in charts.SUBSET_TITLES.items():
        d = R.difference(base.stat("mAP", subset), other.stat("mAP", subset))
        if d is not None:
            spread = f" (seed spread {d.spread:.1f})" if d.spread else ""
            parts.append(f"{name} {d.points:+.1f}{spread}")
    return f"{other.label} - {base.label}, mAP: " + "; ".join(parts) + "."


# --------------------------------------------------------------------------- benchmark


def _live_cmc() -> None:
    """CMC at ranks 1-20 of the two demo models on the demo world, computed here (cached)."""
    ws = demo_workspace()
    with st.spinner("Embedding the query set with each model (once; then cached on disk)..."):
        curves = {label: R.cmc(ws, label) for label in ws.models}
    names = {label: m.record.get("label", label) for label, m in ws.models.items()}
    recorded = {label: m.record.get("metrics", {}) for label, m in ws.models.items()}
    fig = charts.live_cmc(curves, names, recorded)
    st.plotly_chart(fig, width="stretch", key="bench:live_cmc_chart")
    rows = []
    for label, curve in curves.items():
        cmc = curve["all"]["cmc"]
        line = {"model": names[label], "mAP": f"{100 * curve['all']['mAP']:.1f}"}
        for k in (1, 5, 10, 20):
            line[f"R@{k}"] = f"{100 * cmc[k - 1]:.1f}" if k <= len(cmc) else "—"
        for metric, name in charts.METRICS.items():
            value = recorded[label].get(metric)
            line[f"recorded {name}"] = _paper_text(None if value is None else 100 * value)
        rows.append(line)
    st.dataframe(rows, hide_index=True, width="stretch", key="bench:live_cmc_table")
    st.caption(
        f"{len(ws.dataset.query)} queries, {len(ws.dataset.gallery)} gallery tracklets; "
        "live = this app's embeddings (dense, all frames); recorded = the model's eval.json, "
        "written when it was trained. The demo models are the benchmark's seed-0 runs."
    )


def benchmark(report: R.Report) -> None:
    rows = report.rows
    st.header("Baseline vs STRF")
    _provenance(report, "Benchmark")
    if not rows:
        st.info("No rows in benchmark.json yet.")
        return
    st.dataframe(table(rows), hide_index=True, width="stretch", key="bench:benchmark_table")
    st.caption(
        f"Columns '{PAPER} ...': the paper's numbers on MARS with ResNet-50 STRF-P3D-C: another "
        "dataset and a model about 30x larger, not comparable in absolute terms."
    )
    if len(rows) >= 2 and all(r.stat("mAP").ran for r in rows[:2]):
        st.caption(_gap_note(rows[0], rows[1]))
    st.plotly_chart(charts.subset_bars(rows), width="stretch", key="bench:subset_bars")

    fig = charts.recorded_cmc(R.seed_results("benchmark"))
    if fig is not None:
        st.plotly_chart(fig, width="stretch", key="bench:recorded_cmc")
    with st.expander("Live CMC of the demo models, ranks 1-20, on the demo world"):
        st.caption(
            "The shipped demo models (the seed-0 runs above) evaluated here, over all queries "
            "and per hard case. The first time, this embeds the query set (a minute or so)."
        )
        if st.toggle("Compute the live CMC", key="bench:live_cmc"):
            _live_cmc()


# --------------------------------------------------------------------------- ablations


def _seed_note(rows: list[R.Row]) -> str:
    """How many seeds the cells ran and how far their mAP spreads over seeds, from the rows."""
    counts = sorted({len(r.seeds) for r in rows} - {0})
    stds = [100 * r.stat("mAP").std for r in rows if r.stat("mAP").std is not None]
    if not counts:
        return ""
    seeds = f"{counts[0]}" if len(counts) == 1 else f"{counts[0]}-{counts[-1]}"
    note = f"{seeds} seed{'s' if counts[-1] > 1 else ''} per cell (the seeds column: run/planned)."
    if stds:
        note += (
            f" The seed spread of mAP (sample std) is {min(stds):.1f}-{max(stds):.1f} points, "
            "depending on the cell: weigh a difference against the spread of its two cells."
        )
    return note + " The baseline and the default STRF model are the same runs in every table."


def ablations(report: R.Report) -> None:
    st.header("Ablations: the paper's grids re-run")
    _provenance(report, "Ablations")
    st.caption(_seed_note(report.rows))
    groups = report.groups()
    if not groups:
        st.info("No rows in ablations.json yet.")
    for group, rows in groups.items():
        title, note = GROUPS.get(group, (group, ""))
        st.subheader(title)
        missing = sum(1 for r in rows if not r.stat("mAP").ran)
        st.caption(note + (f" {missing} of {len(rows)} rows not run yet." if missing else ""))
        st.dataframe(table(rows), hide_index=True, width="stretch", key=f"bench:{group}:table")
        st.plotly_chart(charts.ablation_chart(rows), width="stretch", key=f"bench:{group}:chart")


# --------------------------------------------------------------------------- page

st.title("Benchmarks")
st.caption(
    "Our numbers come from the synthetic benchmark (tiny P3D-C models trained on the synthetic "
    "demo world, on 2 CPU cores); the paper's are MARS with ResNet-50. Absolute values are not "
    "comparable: compare directions. Which of the paper's claims hold here, and how sure: "
    "docs/results/README.md."
)
results = R.results()
if not results:
    st.info(
        "No results in docs/results/ yet: `strf benchmark` and `strf ablate` write them "
        "(see docs/results/README.md)."
    )
    st.stop()
devices = {r.device for runs in R.seed_results().values() for r in runs}
if devices:
    st.caption(f"Recorded on: {', '.join(sorted(devices))}.")
if "benchmark" in results:
    benchmark(results["benchmark"])
if "ablations" in results:
    ablations(results["ablations"])
if "recipe" in results:
    with st.expander("Recipe (recipe.json)"):
        st.json(results["recipe"].to_dict(), expanded=False)
