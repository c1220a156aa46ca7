"""The Benchmarks page's plotly figures: results rows, recorded runs and live CMC curves in,
figures out (no page layout here, no numbers computed beyond means for drawing)."""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

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


@dataclass(frozen=True)
class Comparison:
    """One row against its baseline, drawn as differences: ``other - base``."""

    name: str
    base: R.Row
    other: R.Row


def differences(comparison: Comparison, metric: str, subset: str | None) -> R.Difference | None:
    """``other - base`` in points with the seed spread it is judged by (``None``: not run)."""
    return R.difference(comparison.base.stat(metric, subset), comparison.other.stat(metric, subset))


def paper_difference(comparison: Comparison, metric: str) -> float | None:
    """The paper's MARS ``other - base`` in points, where it gives both numbers."""
    index = list(METRICS).index(metric)
    a, b = comparison.base.paper_mars[index], comparison.other.paper_mars[index]
    return None if a is None or b is None else b - a


def difference_range(comparisons: Sequence[Comparison], subsets: Sequence[str | None]) -> list:
    """One x range for every difference chart of a page (``[low, high]`` in points, 0 inside),
    so that charts compare at a glance."""
    ends = [0.0]
    for c in comparisons:
        for metric in METRICS:
            for subset in subsets:
                d = differences(c, metric, subset)
                if d is not None:
                    ends += [d.points - (d.spread or 0.0), d.points + (d.spread or 0.0)]
            paper = paper_difference(c, metric)
            if paper is not None and None in subsets:
                ends.append(paper)
    pad = 0.08 * (max(ends) - min(ends) or 1.0)
    return [min(ends) - pad, max(ends) + pad]


def difference_chart(
    comparisons: Sequence[Comparison],
    *,
    subsets: Sequence[str | None] = (None,),
    x_range: Sequence[float] | None = None,
    show_paper: bool = True,
) -> go.Figure:
    """Differences from the baseline in points, mAP and R@1 side by side on one shared scale:
    a dot per comparison (and subset) with a bar of ± the seed spread (the larger sample std
    of the two rows); the paper's MARS difference as a black diamond where it gives one.

    The y axis lists the comparisons (one subset) or the subsets (several), so that a 1-3
    point difference is as visible as its spread; zero is the baseline.
    """
    by_subset = len(subsets) > 1
    fig = make_subplots(
        rows=1,
        cols=len(METRICS),
        shared_yaxes=True,
        horizontal_spacing=0.04,
        subplot_titles=[f"{name} minus the baseline, points" for name in METRICS.values()],
    )
    for i, comparison in enumerate(comparisons):
        row_color = color(comparison.name, i + 1)
        for col, metric in enumerate(METRICS, start=1):
            y, x, spread, text = [], [], [], []
            for subset in subsets:
                d = differences(comparison, metric, subset)
                y.append(SUBSET_TITLES[subset] if by_subset else comparison.name)
                x.append(None if d is None else d.points)
                spread.append(None if d is None or d.spread is None else d.spread)
                text.append(NOT_RUN if d is None else f"{d.points:+.1f}")
            fig.add_trace(
                go.Scatter(
                    x=x,
                    y=y,
                    mode="markers+text",
                    text=text,
                    textposition="top center",
                    cliponaxis=False,
                    error_x={"type": "data", "array": spread, "visible": any(spread)},
                    marker={"color": row_color, "size": 10},
                    name=comparison.name,
                    legendgroup=comparison.name,
                    showlegend=col == 1 and by_subset,
                    hovertemplate="%{y}: %{x:+.2f} points<extra>" + comparison.name + "</extra>",
                ),
                row=1,
                col=col,
            )
            paper = paper_difference(comparison, metric)
            if show_paper and paper is not None and None in subsets:
                fig.add_trace(
                    go.Scatter(
                        x=[paper],
                        y=[SUBSET_TITLES[None] if by_subset else comparison.name],
                        mode="markers",
                        marker={"symbol": "diamond-open", "size": 11, "color": PAPER_COLOR},
                        name=f"{PAPER}: the paper's difference",
                        legendgroup="paper",
                        showlegend=False,
                        hovertemplate="paper, MARS: %{x:+.1f} points<extra></extra>",
                    ),
                    row=1,
                    col=col,
                )
        fig.add_vline(x=0, line={"color": BASELINE_COLOR, "width": 1}, row=1, col="all")
    if x_range is not None:
        fig.update_xaxes(range=list(x_range))
    # Categories: labels such as "1" or "1-2" (Table 5's stages) are names, not numbers or dates.
    fig.update_yaxes(type="category", autorange="reversed", automargin=True)
    rows = len(subsets) if by_subset else len(comparisons)
    fig.update_layout(
        height=120 + 44 * max(rows, 1) + (40 if by_subset else 0),
        margin={"t": 40, "b": 10, "l": 10, "r": 10},
        legend={"orientation": "h", "y": -0.15},
    )
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
