"""Explore: a query, baseline beside STRF, attention and retrievals; branch toggles live."""

import streamlit as st

from app import resources as R
from app.components.explorer import explorer
from app.components.workspace import demo_workspace


def _pct(value: float) -> str:
    return f"{100 * value:.1f}"


def what_this_is(ws: R.Workspace) -> str:
    """What the demo models are and how good, in two sentences; the numbers are read from their
    eval.json and docs/results/benchmark.json (where present), never typed in."""
    text = (
        "These are two tiny P3D-C models, a baseline and STRF, trained for minutes on a CPU on "
        "synthetic data"
    )
    scores = [
        (m.record.get("metrics", {}).get("mAP"), "STRF" if m.has_strf else "baseline")
        for m in ws.models.values()
    ]
    if all(value is not None for value, _ in scores):
        reached = " and ".join(f"{_pct(value)} ({name})" for value, name in scores)
        text += f"; on this split they reach {reached} mAP"
    report = R.results().get("benchmark")
    rows = report.rows if report else []
    base = next((r for r in rows if "baseline" in r.label.lower()), None)
    strf = next((r for r in rows if "strf" in r.label.lower()), None)
    a, b = (row.stat("mAP") if row else None for row in (base, strf))
    d = R.difference(a, b) if a and b else None
    if d is not None:
        if d.spread is None:
            verdict = "one seed each, so no spread to judge by"
        elif d.beyond_spread:
            verdict = f"STRF {'ahead' if d.points > 0 else 'behind'} by more than the seed spread"
        else:
            verdict = "within noise of each other"
        means = " vs ".join(f"{_pct(s.mean)} ± {_pct(s.std or 0)}" for s in (a, b))
        text += f", {verdict} (benchmark, {len(b.values)} seeds: {means})"
    return (
        f"{text}, so expect distractors and look-alikes among the top hits of both. The maps "
        "are Grad-CAM (layer4) of the similarity to one gallery tracklet; a frame left without "
        "colour is one where that similarity's gradient is zero or negative."
    )


st.title("Explore")
ws = demo_workspace()
st.caption(what_this_is(ws))
explorer(ws, "explore")
