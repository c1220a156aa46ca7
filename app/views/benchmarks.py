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
    "table4": (
        "Table 4: which branches",
        "Each STRF branch alone, in pairs and all four. With r_fine = 1 (our default, as the "
        "paper's), t_dynamic and s_fine are the same operator (no pooling at all): their "
        "single-branch rows are the same model, bit for bit, where the paper reports two rows.",
    ),
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
    """One display row per result row: ours over every query (mean ± std, %), then the
    paper's MARS numbers."""
    out = []
    for row in rows:
        line = {"model": row.label, "seeds": f"{len(row.seeds)}/{len(row.seeds_planned)}"}
        for metric, metric_name in charts.METRICS.items():
            line[metric_name] = str(row.stat(metric))
        for metric_name, value in zip(charts.METRICS.values(), row.paper_mars, strict=True):
            line[f"{PAPER} {metric_name}"] = _paper_text(value)
        out.append(line)
    return out


def subset_table(rows: list[R.Row]) -> list[dict]:
    """Ours per hard case (the paper has no subsets): a table of its own, so that no table
    is wider than the page."""
    out = []
    for row in rows:
        line = {"model": row.label}
        for subset, name in charts.SUBSET_TITLES.items():
            if subset is not None:
                for metric, metric_name in charts.METRICS.items():
                    line[f"{name} {metric_name}"] = str(row.stat(metric, subset))
        out.append(line)
    return out


def show(rows: list[dict], key: str) -> None:
    """A table tall enough for every row (no inner scrolling) and as wide as the page."""
    st.dataframe(rows, hide_index=True, key=key, width="stretch", height=35 * (len(rows) + 1) + 3)


def tables(rows: list[R.Row], key: str) -> None:
    """Every query with the paper's numbers, then the hard cases."""
    show(table(rows), key)
    show(subset_table(rows), f"{key}:subsets")


RECIPE_WORDS = {  # a report's recipe keys, in words, in this order
    "batch_p": "identities per batch (P)",
    "batch_k": "tracklets per identity (K)",
    "seq_len": "frames per training clip",
    "epochs": "epochs",
    "lr": "learning rate (Adam)",
}


def recipe_rows(recipe: dict) -> list[dict]:
    """The training settings every run of a table shares, one row each (known keys first)."""
    keys = [k for k in RECIPE_WORDS if k in recipe] + [k for k in recipe if k not in RECIPE_WORDS]
    return [
        {
            "setting": RECIPE_WORDS.get(k, k),
            "value": f"{recipe[k]:g}" if isinstance(recipe[k], float) else str(recipe[k]),
        }
        for k in keys
    ]


def _provenance(report: R.Report, what: str, key: str) -> None:
    """The command that reproduces a table, its recipe (a table), its protocol and its cost."""
    st.code(report.command, language="bash", wrap_lines=True)
    st.caption(
        f"{what}: {report.cells_finished} of {report.cells_planned} distinct runs finished; "
        f"training + evaluation wall time of the finished runs {_minutes(report.wall_s)}. "
        f"Protocol: {report.protocol}. Numbers are % (mean ± sample std over seeds)."
    )
    rows = recipe_rows(report.recipe)
    if rows:
        with st.expander("The recipe every run shares"):
            show(rows, f"bench:{key}:recipe")


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

CLIP_WORDS = {
    "64x32": "64x32 clips: the tiny benchmark (docs/results/benchmark.json)",
    "128x64": "128x64 clips (docs/results/clips128/)",
}


def _base_row(rows: list[R.Row]) -> R.Row:
    """The table's baseline: the first row called a baseline, else the first row."""
    return next((r for r in rows if "baseline" in r.label.lower()), rows[0])


def _against_base(rows: list[R.Row], name: str | None = None) -> list[charts.Comparison]:
    """Every row but the baseline, against it."""
    base = _base_row(rows)
    return [charts.Comparison(name or r.label, base, r) for r in rows if r is not base]


def _seeds_note(rows: list[R.Row]) -> str:
    """``3 of 3 seeds finished`` per row, or which rows are partial."""
    parts = [f"{r.label}: {len(r.seeds)} of {len(r.seeds_planned)} seeds" for r in rows]
    return "Finished: " + "; ".join(parts) + "."


def _live_cmc() -> None:
    """CMC at ranks 1-20 of the two demo models on the demo world, computed here (cached)."""
    ws = demo_workspace()
    with st.spinner("Ranking the demo world's queries with each model..."):
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
    show(rows, "bench:live_cmc_table")
    st.caption(
        f"{len(ws.dataset.query)} queries, {len(ws.dataset.gallery)} gallery tracklets; "
        "live = this app's embeddings (dense, all frames; read from the embeddings shipped "
        "beside the models, so nothing is embedded); recorded = the model's eval.json, "
        "written when it was scored."
    )


def benchmark(reports: dict[str, R.Report | None]) -> None:
    """Baseline vs STRF at each clip size: tables, then every difference on one scale."""
    st.header("Baseline vs STRF")
    comparisons = []
    for clip_size, report in reports.items():
        st.subheader(CLIP_WORDS[clip_size])
        if report is None or not report.rows:
            st.info(
                f"No benchmark at {clip_size} yet (its runs may still be training): the page "
                "shows it once `strf benchmark` has written its report."
            )
            continue
        _provenance(report, "Benchmark", f"benchmark{clip_size}")
        rows = report.rows
        tables(rows, f"bench:benchmark_table:{clip_size}")
        st.caption(_seeds_note(rows))
        ran = [r for r in rows if r.stat("mAP").ran]
        if len(ran) >= 2:
            st.caption(_gap_note(_base_row(ran), next(r for r in ran if r is not _base_row(ran))))
            comparisons += _against_base(ran, f"{clip_size} clips")
        fig = charts.recorded_cmc(R.seed_results("benchmark", clip_size))
        if fig is not None:
            with st.expander(f"Recorded CMC at ranks 1, 5, 10 ({clip_size} clips)"):
                st.plotly_chart(fig, width="stretch", key=f"bench:recorded_cmc:{clip_size}")
    st.caption(
        f"Columns '{PAPER} ...': the paper's numbers on MARS with ResNet-50 STRF-P3D-C: another "
        "dataset and a model about 30x larger, not comparable in absolute terms."
    )
    if comparisons:
        st.markdown("**STRF minus the baseline, per query subset, on one scale**")
        fig = charts.difference_chart(comparisons, subsets=list(charts.SUBSET_TITLES))
        st.plotly_chart(fig, width="stretch", key="bench:differences")
        st.caption(
            "Dots: STRF's mean minus the baseline's over seeds, in points; bars: ± the seed "
            "spread (the larger sample std of the two rows): a difference inside its bar is "
            "within noise. Diamond: the paper's difference on MARS (overall only)."
        )
    st.subheader("CMC of the demo models, all queries and per hard case")
    _live_cmc()


# --------------------------------------------------------------------------- Fig. 5


def _share(value: tuple[float, float | None]) -> str:
    mean, std = value
    return f"{mean:.3f}" if std is None else f"{mean:.3f} ± {std:.3f}"


def evidence() -> None:
    """Every docs/results/evidence_*.json: shares of Grad-CAM mass per region and model."""
    st.header("Fig. 5 measured: where the evidence falls on occluded queries")
    st.caption(
        "Share of each model's per-frame Grad-CAM mass (layer4, the similarity to the nearest "
        "true match) on the person, the occluder and the background, over the frames where the "
        "occluder is drawn, for the occluded queries of the world (`strf evidence`). A uniform "
        "map scores each region's share of the pixels (the last row). The paper's claim: STRF "
        "puts more on the person and less on the occluder than the baseline."
    )
    try:
        tables = R.evidence_tables()
    except (ValueError, KeyError) as err:
        st.error(f"An evidence report cannot be read: {type(err).__name__}: {err}")
        return
    if not tables:
        st.info("No docs/results/evidence_*.json yet: `strf evidence ... --json` writes one.")
    for found in tables:
        st.subheader(f"evidence_{found.name}.json")
        if found.world:
            st.caption(found.world.removeprefix("World: "))
        rows = [
            {
                "model": g.label,
                "runs (seeds)": str(g.runs),
                "queries": f"{g.queries} of {g.total}",
                "person": _share(g.occluded["person"]),
                "occluder": _share(g.occluded["occluder"]),
                "background": _share(g.occluded["background"]),
                "person, all frames": _share(g.all_frames["person"]),
            }
            for g in found.groups
        ]
        if found.groups:
            area = found.groups[0].area
            rows.append(
                {
                    "model": "pixel shares (a uniform map)",
                    "runs (seeds)": "",
                    "queries": "",
                    "person": f"{area['person']:.3f}",
                    "occluder": f"{area['occluder']:.3f}",
                    "background": f"{area['background']:.3f}",
                    "person, all frames": "",
                }
            )
        show(rows, f"bench:evidence:{found.name}")
        several = any(g.runs > 1 for g in found.groups)
        st.caption(
            "Mean over the queries counted (the same queries in every row)"
            + (
                "; with several runs, the mean over runs ± the sample std over runs."
                if several
                else "; one run per model."
            )
        )


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
    st.header("Ablations: the paper's grids re-run (64x32 clips)")
    _provenance(report, "Ablations", "ablations")
    st.caption(_seed_note(report.rows))
    groups = report.groups()
    if not groups:
        st.info("No rows in ablations.json yet.")
        return
    every = [c for rows in groups.values() for c in _against_base(rows)]
    x_range = charts.difference_range(every, [None])
    st.caption(
        "Each chart: every row minus the group's baseline, mAP and R@1 in points, ± the seed "
        "spread; the paper's MARS difference as a diamond. All the ablation charts share one "
        "scale."
    )
    for group, rows in groups.items():
        title, note = GROUPS.get(group, (group, ""))
        st.subheader(title)
        missing = sum(1 for r in rows if not r.stat("mAP").ran)
        st.caption(note + (f" {missing} of {len(rows)} rows not run yet." if missing else ""))
        tables(rows, f"bench:{group}:table")
        fig = charts.difference_chart(_against_base(rows), x_range=x_range)
        st.plotly_chart(fig, width="stretch", key=f"bench:{group}:chart")


def recipe_search(report: R.Report) -> None:
    """The recipe variants, baseline and STRF each, and STRF's lead under each."""
    st.header("Training-recipe search (64x32 clips)")
    _provenance(report, "Recipe search", "recipe")
    tables(report.rows, "bench:recipe:table")
    by_label = {r.label: r for r in report.rows}
    pairs = []
    for label, row in by_label.items():
        variant, _, model = label.rpartition(": ")
        base = by_label.get(f"{variant}: baseline")
        if model == "STRF" and base is not None and row.stat("mAP").ran and base.stat("mAP").ran:
            pairs.append(charts.Comparison(variant, base, row))
    if pairs:
        st.markdown("**STRF minus the baseline under each recipe**")
        fig = charts.difference_chart(pairs, show_paper=False)
        st.plotly_chart(fig, width="stretch", key="bench:recipe:chart")


# --------------------------------------------------------------------------- page

st.title("Benchmarks")
st.caption(
    "Our numbers come from synthetic benchmarks (tiny P3D-C models trained on a synthetic "
    "world, on 2 CPU cores, with 64x32 or 128x64 clips); the paper's are MARS with ResNet-50. "
    "Absolute values are not comparable: compare directions. Which of the paper's claims hold "
    "here, and how sure: docs/results/README.md."
)
reports = {size: R.results(size) for size in R.CLIP_SIZES}
results = reports["64x32"]
devices = {
    r.device
    for size in R.CLIP_SIZES
    for runs in R.seed_results("benchmark", size).values()
    for r in runs
}
if devices:
    st.caption(f"Recorded on: {', '.join(sorted(devices))}.")
# The demo models' clip size first (CLIP_SIZES runs from the smallest), then the tiny benchmark.
benchmark({size: reports[size].get("benchmark") for size in reversed(R.CLIP_SIZES)})
evidence()
if "ablations" in results:
    ablations(results["ablations"])
if "recipe" in results:
    recipe_search(results["recipe"])
