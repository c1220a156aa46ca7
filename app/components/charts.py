"""The Benchmarks page's plotly figures: results rows, recorded runs and live CMC curves in,
figures out (no page layout here, no numbers computed beyond means for drawing)."""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from app import resources as R

METRICS = {"mAP": "mAP", "rank1": "R@1"}
# Every query, then each synthetic hard case, as the charts title them.
SUBSET_TITLES: dict[str | None, str] = {None: "overall"} | {s: R.SUBSET_WORDS[s] for s in R.SUBSETS}
PAPER = "paper, MARS"  # the paper's numbers: another dataset and a ResNet-50
COLORS = ("#636EFA", "#EF553B", "#00CC96", "#AB63FA", "#FFA15A", "#19D3F3")
BASELINE_COLOR = "#9E9E9E"
PAPER_COLOR = "#222222"
NOT_RUN = "not run"


def _pct(value: float | None) -> float | None:
    return None if value is None else 100 * value


def color(label: str, index: int) -> str:
    """Grey for a baseline, else the ``index``-th colour."""
    return BASELINE_COLOR if "baseline" in label.lower() else COLORS[index % len(COLORS)]


def _seed_points(color_: str) -> dict:
    """The marker of one seed's value: a hollow dot."""
    return {"color": "white", "size": 6, "line": {"color": color_, "width": 1}}


def subset_bars(rows: Sequence[R.Row]) -> go.Figure:
    """mAP and R@1 per subset: a bar per model (± std over seeds), its seeds as points."""
    fig = make_subplots(rows=1, cols=len(METRICS), subplot_titles=list(METRICS.values()))
    x = list(SUBSET_TITLES.values())
    for i, row in enumerate(rows):
        row_color = color(row.label, i)
        for col, metric in enumerate(METRICS, start=1):
            stats = [row.stat(metric, subset) for subset in SUBSET_TITLES]
            std = [_pct(s.std) for s in stats]
            fig.add_trace(
                go.Bar(
                    x=x,
                    y=[_pct(s.mean) for s in stats],
                    error_y={"type": "data", "array": std, "visible": any(std)},
                    name=row.label,
                    legendgroup=row.label,
                    showlegend=col == 1,
                    marker_color=row_color,
                    offsetgroup=row.label,
                    hovertemplate="%{x}: %{y:.1f}<extra>" + row.label + "</extra>",
                ),
                row=1,
                col=col,
            )
            points = [(name, v) for name, s in zip(x, stats, strict=True) for v in s.values]
            if points:
                fig.add_trace(
                    go.Scatter(
                        x=[p[0] for p in points],
                        y=[100 * p[1] for p in points],
                        mode="markers",
                        name=f"{row.label}: one seed",
                        legendgroup=row.label,
                        showlegend=False,
                        marker=_seed_points(row_color),
                        offsetgroup=row.label,
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


def recorded_cmc(runs: Mapping[str, Sequence[R.CellRecord]]) -> go.Figure | None:
    """Rank-1/5/10 of the recorded runs (the cells keep only these): mean ± std over seeds;
    ``None`` when there is no run."""
    fig = go.Figure()
    for i, (label, records) in enumerate(runs.items()):
        if not records:
            continue
        ranks = (1, 5, 10)
        values = {k: [100 * getattr(r.metrics, f"rank{k}") for r in records] for k in ranks}
        means = [statistics.fmean(values[k]) for k in ranks]
        stds = [statistics.stdev(values[k]) if len(records) > 1 else 0.0 for k in ranks]
        row_color = color(label, i)
        fig.add_trace(
            go.Scatter(
                x=list(ranks),
                y=means,
                error_y={"type": "data", "array": stds, "visible": len(records) > 1},
                mode="lines+markers",
                name=f"{label} (mean of {len(records)} seeds)",
                marker={"color": row_color, "size": 9},
                line={"color": row_color},
            )
        )
        fig.add_trace(
            go.Scatter(
                x=[k for _ in records for k in ranks],
                y=[values[k][j] for j in range(len(records)) for k in ranks],
                mode="markers",
                name=f"{label}: one seed",
                showlegend=False,
                marker=_seed_points(row_color),
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


def live_cmc(
    curves: Mapping[str, Mapping[str, dict]],
    names: Mapping[str, str],
    recorded: Mapping[str, Mapping[str, float]],
) -> go.Figure:
    """CMC curves of models computed live, one subplot per query subset, with the ranks
    recorded at training (``recorded[label]``: an ``eval.json``'s metrics) beside the first.

    Args:
        curves: by model label, :func:`app.resources.cmc`'s result.
        names: what the legend calls each model label.
    """
    subsets = [s for s in ("all", *R.SUBSETS) if all(s in c for c in curves.values())]
    titles = [SUBSET_TITLES.get(s, "overall") if s != "all" else "all queries" for s in subsets]
    fig = make_subplots(rows=1, cols=len(subsets), subplot_titles=titles, shared_yaxes=True)
    for i, (label, curve) in enumerate(curves.items()):
        row_color = color(label, i)
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
                    marker={"color": row_color, "size": 4},
                    line={"color": row_color},
                    hovertemplate="rank %{x}: %{y:.1f}%<extra>" + names[label] + "</extra>",
                ),
                row=1,
                col=col,
            )
        metrics = recorded.get(label, {})
        ranks = [k for k in (1, 5, 10) if metrics.get(f"rank{k}") is not None]
        if ranks and subsets and subsets[0] == "all":
            fig.add_trace(
                go.Scatter(
                    x=ranks,
                    y=[100 * metrics[f"rank{k}"] for k in ranks],
                    mode="markers",
                    name=f"{names[label]}: recorded at training (eval.json)",
                    legendgroup=label,
                    marker={"color": row_color, "size": 12, "symbol": "x-thin-open"},
                    marker_line_width=2,
                ),
                row=1,
                col=1,
            )
    fig.update_layout(height=400, margin={"t": 40, "b": 10}, legend={"orientation": "h", "y": -0.3})
    fig.update_xaxes(title_text="rank")
    fig.update_yaxes(title_text="CMC, % of queries", col=1)
    return fig


def ablation_chart(rows: Sequence[R.Row]) -> go.Figure:
    """Ours as bars (top row) above the paper's MARS numbers (bottom row, its own scale), mAP
    and R@1 side by side; the paper's row is left out when it gives no number for the group."""
    labels = [r.label for r in rows]
    papers = [[r.paper_mars[i] for r in rows] for i in range(len(METRICS))]
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
        stats = [r.stat(metric) for r in rows]
        means = [_pct(s.mean) for s in stats]
        std = [_pct(s.std) for s in stats]
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
