"""The Occlusion lab's sweep figure and table: sweeps in, a figure and rows out (the means and
spreads come from :meth:`strf_core.explain.sweep.SweepResult.stat`)."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from app import resources as R
from app.components.charts import color

AXIS_TITLES = {
    "size": "occluder size (x the person's height)",
    "position": "occluder centre (frame widths from the centre)",
}
PANELS = {  # metric: (subplot title, y-axis title)
    "rank": ("Rank of the first true match", "rank (1 = top; lower is better)"),
    "similarity": ("Similarity to the clean query's match", "cosine similarity"),
    "occluder_share": ("Grad-CAM mass on the occluder", "share of the mass"),
}
UNIFORM_COLOR = "#777777"


def _band(x: np.ndarray, mean: np.ndarray, std: np.ndarray, rgb: str) -> go.Scatter:
    """mean ± std as a filled band (no legend entry)."""
    std = np.nan_to_num(std)
    return go.Scatter(
        x=np.concatenate([x, x[::-1]]),
        y=np.concatenate([mean + std, (mean - std)[::-1]]),
        fill="toself",
        fillcolor=rgb,
        opacity=0.15,
        line={"width": 0},
        hoverinfo="skip",
        showlegend=False,
    )


def sweep_figure(sweeps: Mapping[str, R.SweepResult]) -> go.Figure:
    """Rank, similarity and Grad-CAM share on the occluder against the swept value: per model
    the mean over the queries (line) ± the sample std (band), its clean value (no occluder) as
    a dotted line; the occluder's share of the pixels (a uniform map's share) in grey."""
    fig = make_subplots(
        rows=1,
        cols=len(PANELS),
        subplot_titles=[title for title, _ in PANELS.values()],
        horizontal_spacing=0.08,
    )
    axis = next(iter(sweeps.values())).axis if sweeps else "size"
    for i, (name, result) in enumerate(sweeps.items()):
        line_color = color(name, i)
        x = result.values
        for col, metric in enumerate(PANELS, start=1):
            stat = result.stat(metric)
            fig.add_trace(_band(x, stat.mean, stat.std, line_color), row=1, col=col)
            fig.add_trace(
                go.Scatter(
                    x=x,
                    y=stat.mean,
                    mode="lines+markers",
                    name=name,
                    legendgroup=name,
                    showlegend=col == 1,
                    line={"color": line_color},
                    customdata=np.stack([np.nan_to_num(stat.std), stat.count], axis=1),
                    hovertemplate="%{x}: %{y:.3f} ± %{customdata[0]:.3f} "
                    "(n=%{customdata[1]})<extra>" + name + "</extra>",
                ),
                row=1,
                col=col,
            )
            if metric in ("rank", "similarity"):
                clean, _ = result.clean_stat(metric)
                fig.add_hline(
                    y=clean, line={"color": line_color, "dash": "dot", "width": 1}, row=1, col=col
                )
    if sweeps:
        area = next(iter(sweeps.values())).stat("occluder_area")
        fig.add_trace(
            go.Scatter(
                x=next(iter(sweeps.values())).values,
                y=area.mean,
                mode="lines",
                name="occluder's share of the pixels (a uniform map)",
                line={"color": UNIFORM_COLOR, "dash": "dash"},
            ),
            row=1,
            col=3,
        )
    for col, (_, y_title) in enumerate(PANELS.values(), start=1):
        fig.update_xaxes(title_text=AXIS_TITLES[axis], row=1, col=col)
        fig.update_yaxes(title_text=y_title, row=1, col=col)
    fig.update_yaxes(rangemode="tozero", row=1, col=1)  # linear ranks, from 0
    fig.update_yaxes(range=[0, 1], row=1, col=3)
    fig.update_layout(
        height=420,
        margin={"t": 40, "b": 10},
        legend={"orientation": "h", "y": -0.25},
    )
    return fig


def _cell(mean: float, std: float, digits: int) -> str:
    if np.isnan(mean):
        return "—"
    return f"{mean:.{digits}f}" + ("" if np.isnan(std) else f" ± {std:.{digits}f}")


def sweep_rows(sweeps: Mapping[str, R.SweepResult]) -> list[dict]:
    """One row per model and value: mean ± std over the queries of each metric, and how many
    queries the Grad-CAM share counts (frames without mass are left out)."""
    rows = []
    for name, result in sweeps.items():
        stats = {metric: result.stat(metric) for metric in R.SWEEP_METRICS}
        for j, value in enumerate(result.values):
            rank = stats["rank"]
            rows.append(
                {
                    "model": name,
                    result.axis: float(value),
                    "rank": _cell(rank.mean[j], rank.std[j], 1),
                    "rank 1 (% of queries)": f"{100 * np.mean(result.rank[:, j] == 1):.0f}",
                    "similarity": _cell(stats["similarity"].mean[j], stats["similarity"].std[j], 3),
                    "mass on occluder": _cell(
                        stats["occluder_share"].mean[j], stats["occluder_share"].std[j], 3
                    ),
                    "n": int(stats["occluder_share"].count[j]),
                    "occluder's pixels": f"{stats['occluder_area'].mean[j]:.3f}",
                }
            )
    return rows
