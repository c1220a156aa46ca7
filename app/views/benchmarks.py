"""Benchmarks: the tables of ``docs/results/`` (baseline vs STRF over seeds, the paper's
ablations re-run) as tables and charts, the paper's MARS numbers beside ours, and the live CMC
of the demo models on the demo world."""

from __future__ import annotations

import plotly.graph_objects as go
import streamlit as st
from plotly.subplots import make_subplots

from app import resources as R
from app.components.workspace import demo_workspace

SUBSETS = {
    None: "overall",
    "lookalike": "look-alike",
    "occluded": "occluded",
    "misaligned": "misaligned",
}
METRICS = {"mAP": "mAP", "rank1": "R@1"}
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
COLORS = ("#636EFA", "#EF553B", "#00CC96", "#AB63FA", "#FFA15A", "#19D3F3")
BASELINE_COLOR = "#9E9E9E"
PAPER_COLOR = "#222222"
NOT_RUN = "not run"


# --------------------------------------------------------------------------- formatting


def _stat(row: dict, metric: str, subset: str | None = None) -> dict:
    """``{"mean", "std", "values"}`` of a row (fractions); empty when absent or not run."""
    stat = row.get("stats", {}).get(f"{subset}/{metric}" if subset else metric) or {}
    return stat if stat.get("mean") is not None else {}


def _pct(value: float | None) -> float | None:
    return None if value is None else 100 * value


def _fmt(stat: dict) -> str:
    """``12.3 ± 0.4`` (mean ± sample std over seeds, %), ``12.3`` for one seed, or not run."""
    if not stat:
        return NOT_RUN
    text = f"{100 * stat['mean']:.1f}"
    return text + (f" ± {100 * stat['std']:.1f}" if stat.get("std") is not None else "")


def _paper(row: dict) -> tuple[float | None, float | None]:
    """The paper's MARS (mAP, rank-1) of a row, ``None`` where the paper gives none."""
    values = list(row.get("paper_mars") or [])
    values += [None] * (2 - len(values))
    return values[0], values[1]


def _paper_text(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f}"


def _seeds_text(row: dict) -> str:
    return f"{len(row.get('seeds', []))}/{len(row.get('seeds_planned', []))}"


def _minutes(seconds: float | None) -> str:
    return "?" if seconds is None else f"{seconds / 60:.1f} min"


def _color(label: str, index: int) -> str:
    return BASELINE_COLOR if "baseline" in label.lower() else COLORS[index % len(COLORS)]


def table(rows: list[dict]) -> list[dict]:
    """One display row per result row: ours (mean ± std, %) per subset, then the paper's."""
    out = []
    for row in rows:
        line = {"model": row["label"], "seeds": _seeds_text(row)}
        for subset, name in SUBSETS.items():
            for metric, metric_name in METRICS.items():
                column = metric_name if subset is None else f"{name} {metric_name}"
                line[column] = _fmt(_stat(row, metric, subset))
            if subset is None:  # the paper's beside our overall numbers (MARS has no subsets)
                for metric_name, value in zip(METRICS.values(), _paper(row), strict=True):
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


def _provenance(data: dict, what: str) -> None:
    """The command that reproduces a table, its recipe, its protocol and its cost."""
    st.code(data.get("command", "(command not recorded)"), language="bash")
    done, planned = data.get("cells_finished"), data.get("cells_planned")
    recipe = recipe_text(data.get("recipe", {}))
    st.caption(
        f"{what}: {done} of {planned} distinct runs finished; training + evaluation wall time "
        f"of the finished runs {_minutes(data.get('wall_s'))}. "
        + (f"Every run: {recipe}. " if recipe else "")
        + f"Protocol: {data.get('protocol', 'not recorded')}. Numbers are % (mean ± sample std "
        "over seeds)."
    )


# --------------------------------------------------------------------------- benchmark


def _subset_bars(rows: list[dict]) -> go.Figure:
    """mAP and R@1 per subset: a bar per model (± std over seeds), its seeds as points."""
    fig = make_subplots(rows=1, cols=len(METRICS), subplot_titles=list(METRICS.values()))
    x = list(SUBSETS.values())
    for i, row in enumerate(rows):
        color = _color(row["label"], i)
        for col, metric in enumerate(METRICS, start=1):
            stats = [_stat(row, metric, subset) for subset in SUBSETS]
            std = [_pct(s.get("std")) for s in stats]
            fig.add_trace(
                go.Bar(
                    x=x,
                    y=[_pct(s.get("mean")) for s in stats],
                    error_y={"type": "data", "array": std, "visible": any(std)},
                    name=row["label"],
                    legendgroup=row["label"],
                    showlegend=col == 1,
                    marker_color=color,
                    offsetgroup=row["label"],
                    hovertemplate="%{x}: %{y:.1f}<extra>" + row["label"] + "</extra>",
                ),
                row=1,
                col=col,
            )
            points = [
                (name, v) for name, s in zip(x, stats, strict=True) for v in s.get("values", [])
            ]
            if points:
                fig.add_trace(
                    go.Scatter(
                        x=[p[0] for p in points],
                        y=[100 * p[1] for p in points],
                        mode="markers",
                        name=f"{row['label']}: one seed",
                        legendgroup=row["label"],
                        showlegend=False,
                        marker={"color": "white", "size": 6, "line": {"color": color, "width": 1}},
                        offsetgroup=row["label"],
                        hovertemplate="%{x}: %{y:.1f} (one seed)<extra></extra>",
                    ),
                    row=1,
                    col=col,
                )
    fig.update_layout(
        barmode="group",
        scattermode="group",
        height=380,
        margin={"t": 40, "b": 10},
        legend={"orientation": "h", "y": -0.12},
    )
    fig.update_yaxes(title_text="% (synthetic benchmark)", rangemode="tozero")
    return fig


def _recorded_cmc(runs: dict[str, list[dict]]) -> go.Figure | None:
    """Rank-1/5/10 of the recorded runs (the cells keep only these): mean ± std over seeds."""
    fig = go.Figure()
    for i, (label, records) in enumerate(runs.items()):
        ranks = [k for k in (1, 5, 10) if all(f"rank{k}" in r for r in records)]
        if not records or not ranks:
            continue
        means, stds = [], []
        for k in ranks:
            values = [100 * r[f"rank{k}"] for r in records]
            mean = sum(values) / len(values)
            spread = sum((v - mean) ** 2 for v in values) / (len(values) - 1) if values[1:] else 0
            means.append(mean)
            stds.append(spread**0.5)
        color = _color(label, i)
        fig.add_trace(
            go.Scatter(
                x=ranks,
                y=means,
                error_y={"type": "data", "array": stds, "visible": len(records) > 1},
                mode="lines+markers",
                name=f"{label} (mean of {len(records)} seeds)",
                marker={"color": color, "size": 9},
                line={"color": color},
            )
        )
        fig.add_trace(
            go.Scatter(
                x=[k for r in records for k in ranks],
                y=[100 * r[f"rank{k}"] for r in records for k in ranks],
                mode="markers",
                name=f"{label}: one seed",
                showlegend=False,
                marker={"color": "white", "size": 6, "line": {"color": color, "width": 1}},
                hovertemplate="rank %{x}: %{y:.1f} (one seed)<extra></extra>",
            )
        )
    if not fig.data:
        return None
    fig.update_layout(
        height=340,
        margin={"t": 30, "b": 10},
        xaxis={"title": "rank", "tickvals": [1, 5, 10]},
        yaxis={"title": "CMC, % of queries"},
        title="Recorded runs: CMC at ranks 1, 5 and 10 (all queries)",
    )
    return fig


def _live_cmc() -> None:
    """CMC at ranks 1-20 of the two demo models on the demo world, computed here (cached)."""
    ws = demo_workspace()
    with st.spinner("Embedding the query set with each model (once; then cached on disk)..."):
        curves = {label: R.cmc(ws, label) for label in ws.models}
    names = {label: m.record.get("label", label) for label, m in ws.models.items()}
    subsets = [s for s in ("all", *list(SUBSETS)[1:]) if all(s in c for c in curves.values())]
    titles = [SUBSETS.get(s, "overall") if s != "all" else "all queries" for s in subsets]
    fig = make_subplots(rows=1, cols=len(subsets), subplot_titles=titles, shared_yaxes=True)
    for i, (label, curve) in enumerate(curves.items()):
        color = _color(label, i)
        for col, subset in enumerate(subsets, start=1):
            cmc = [100 * v for v in curve[subset]["cmc"]]
            fig.add_trace(
                go.Scatter(
                    x=list(range(1, len(cmc) + 1)),
                    y=cmc,
                    mode="lines+markers",
                    name=f"{names[label]} (live)",
                    legendgroup=label,
                    showlegend=col == 1,
                    marker={"color": color, "size": 4},
                    line={"color": color},
                    hovertemplate="rank %{x}: %{y:.1f}%<extra>" + names[label] + "</extra>",
                ),
                row=1,
                col=col,
            )
        recorded = ws.models[label].record.get("metrics", {})
        ranks = [k for k in (1, 5, 10) if recorded.get(f"rank{k}") is not None]
        if ranks and subsets and subsets[0] == "all":
            fig.add_trace(
                go.Scatter(
                    x=ranks,
                    y=[100 * recorded[f"rank{k}"] for k in ranks],
                    mode="markers",
                    name=f"{names[label]}: recorded at training (eval.json)",
                    legendgroup=label,
                    marker={"color": color, "size": 12, "symbol": "x-thin-open"},
                    marker_line_width=2,
                ),
                row=1,
                col=1,
            )
    fig.update_layout(height=400, margin={"t": 40, "b": 10}, legend={"orientation": "h", "y": -0.3})
    fig.update_xaxes(title_text="rank")
    fig.update_yaxes(title_text="CMC, % of queries", col=1)
    st.plotly_chart(fig, width="stretch", key="bench:live_cmc_chart")
    rows = []
    for label, curve in curves.items():
        cmc = curve["all"]["cmc"]
        recorded = ws.models[label].record.get("metrics", {})
        line = {"model": names[label], "mAP": f"{100 * curve['all']['mAP']:.1f}"}
        for k in (1, 5, 10, 20):
            line[f"R@{k}"] = f"{100 * cmc[k - 1]:.1f}" if k <= len(cmc) else "—"
        line["recorded mAP"] = _paper_text(_pct(recorded.get("mAP")))
        line["recorded R@1"] = _paper_text(_pct(recorded.get("rank1")))
        rows.append(line)
    st.dataframe(rows, hide_index=True, width="stretch", key="bench:live_cmc_table")
    st.caption(
        f"{len(ws.dataset.query)} queries, {len(ws.dataset.gallery)} gallery tracklets; "
        "live = this app's embeddings (dense, all frames); recorded = the model's eval.json, "
        "written when it was trained. The demo models are the benchmark's seed-0 runs."
    )


def benchmark(data: dict) -> None:
    rows = data.get("rows", [])
    st.header("Baseline vs STRF")
    _provenance(data, "Benchmark")
    if not rows:
        st.info("No rows in benchmark.json yet.")
        return
    st.dataframe(table(rows), hide_index=True, width="stretch", key="bench:benchmark_table")
    st.caption(
        f"Columns '{PAPER} ...': the paper's numbers on MARS with ResNet-50 STRF-P3D-C: another "
        "dataset and a model about 30x larger, not comparable in absolute terms."
    )
    if len(rows) >= 2 and all(_stat(r, "mAP") for r in rows[:2]):
        base, other = rows[0], rows[1]
        parts = []
        for subset, name in SUBSETS.items():
            a, b = _stat(base, "mAP", subset), _stat(other, "mAP", subset)
            if a and b:
                spread = max((s["std"] for s in (a, b) if s.get("std") is not None), default=None)
                gap = f"{100 * (b['mean'] - a['mean']):+.1f}"
                parts.append(
                    f"{name} {gap}" + (f" (seed spread {100 * spread:.1f})" if spread else "")
                )
        st.caption(f"{other['label']} - {base['label']}, mAP: " + "; ".join(parts) + ".")
    st.plotly_chart(_subset_bars(rows), width="stretch", key="bench:subset_bars")

    fig = _recorded_cmc(R.seed_results("benchmark"))
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


def _ablation_chart(rows: list[dict]) -> go.Figure:
    """Ours as bars (top row) above the paper's MARS numbers (bottom row, its own scale), mAP
    and R@1 side by side; the paper's row is left out when it gives no number for the group."""
    labels = [r["label"] for r in rows]
    papers = [[_paper(r)[i] for r in rows] for i in range(len(METRICS))]
    has_paper = any(v is not None for values in papers for v in values)
    fig = make_subplots(
        rows=2 if has_paper else 1,
        cols=len(METRICS),
        shared_xaxes=True,
        vertical_spacing=0.08,
        horizontal_spacing=0.1,
        row_heights=[0.6, 0.4] if has_paper else None,
        subplot_titles=list(METRICS.values()),
    )
    for col, (metric, name) in enumerate(METRICS.items(), start=1):
        stats = [_stat(r, metric) for r in rows]
        means = [_pct(s.get("mean")) for s in stats]
        std = [_pct(s.get("std")) for s in stats]
        fig.add_trace(
            go.Bar(
                x=labels,
                y=means,
                error_y={"type": "data", "array": std, "visible": any(std)},
                marker_color=COLORS[0],
                text=[None if m is None else f"{m:.1f}" for m in means],
                textposition="outside",
                cliponaxis=False,
                name="ours (synthetic, tiny)",
                showlegend=False,
                hovertemplate="%{x}: %{y:.1f}<extra>ours</extra>",
            ),
            row=1,
            col=col,
        )
        if None in means:
            fig.add_trace(
                go.Scatter(
                    x=[x for x, m in zip(labels, means, strict=True) if m is None],
                    y=[0] * means.count(None),
                    mode="text",
                    text=[NOT_RUN] * means.count(None),
                    textposition="top center",
                    showlegend=False,
                    hoverinfo="skip",
                ),
                row=1,
                col=col,
            )
        top = max((m for m in means if m is not None), default=1.0)
        fig.update_yaxes(title_text=f"ours {name}, %", range=[0, top * 1.2], row=1, col=col)
        if not has_paper:
            continue
        paper = papers[col - 1]
        fig.add_trace(
            go.Scatter(
                x=labels,
                y=paper,
                mode="markers+text",
                text=[None if v is None else f"{v:.1f}" for v in paper],
                textposition="top center",
                cliponaxis=False,
                marker={"symbol": "diamond", "size": 10, "color": PAPER_COLOR},
                name=PAPER,
                showlegend=False,
                hovertemplate="%{x}: %{y:.1f}<extra>paper, MARS</extra>",
            ),
            row=2,
            col=col,
        )
        known = [v for v in paper if v is not None]
        low, high = (min(known), max(known)) if known else (0.0, 1.0)
        pad = max(0.5, 0.25 * (high - low))
        if None in paper:  # the paper gives no number there: say so, never a made-up one
            fig.add_trace(
                go.Scatter(
                    x=[x for x, v in zip(labels, paper, strict=True) if v is None],
                    y=[(low + high) / 2] * paper.count(None),
                    mode="text",
                    text=["no number"] * paper.count(None),
                    showlegend=False,
                    hoverinfo="skip",
                ),
                row=2,
                col=col,
            )
        fig.update_yaxes(title_text=f"{PAPER}, %", range=[low - pad, high + pad], row=2, col=col)
    fig.update_layout(height=480 if has_paper else 340, margin={"t": 40, "b": 10})
    fig.update_xaxes(tickangle=-30)
    return fig


def _seed_note(rows: list[dict]) -> str:
    """How many seeds the cells ran and how far their mAP spreads over seeds, from the rows."""
    counts = sorted({len(r.get("seeds", [])) for r in rows} - {0})
    stds = [100 * s["std"] for r in rows if (s := _stat(r, "mAP")).get("std") is not None]
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


def ablations(data: dict) -> None:
    st.header("Ablations: the paper's grids re-run")
    _provenance(data, "Ablations")
    st.caption(_seed_note(data.get("rows", [])))
    groups: dict[str, list[dict]] = {}
    for row in data.get("rows", []):
        groups.setdefault(row.get("group", "other"), []).append(row)
    if not groups:
        st.info("No rows in ablations.json yet.")
    for group, rows in groups.items():
        title, note = GROUPS.get(group, (group, ""))
        st.subheader(title)
        missing = sum(1 for r in rows if not _stat(r, "mAP"))
        st.caption(note + (f" {missing} of {len(rows)} rows not run yet." if missing else ""))
        st.dataframe(table(rows), hide_index=True, width="stretch", key=f"bench:{group}:table")
        st.plotly_chart(_ablation_chart(rows), width="stretch", key=f"bench:{group}:chart")


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
devices = {r.get("device") for runs in R.seed_results().values() for r in runs} - {None}
if devices:
    st.caption(f"Recorded on: {', '.join(sorted(devices))}.")
if "benchmark" in results:
    benchmark(results["benchmark"])
if "ablations" in results:
    ablations(results["ablations"])
if "recipe" in results:
    with st.expander("Recipe (recipe.json)"):
        st.json(results["recipe"], expanded=False)
