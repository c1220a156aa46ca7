"""Explore: a query, baseline beside STRF, attention and retrievals; branch toggles live."""

import streamlit as st

from app import resources as R
from app.components.explorer import explorer
from app.components.workspace import demo_workspace


def _pct(value: float) -> str:
    return f"{100 * value:.1f}"


def what_this_is(ws: R.Workspace) -> str:
    """What the demo models are and how good, in a few sentences; every number is read from
    their eval.json and the benchmark report of their clip size (where present), never typed
    in."""
    models = list(ws.models.values())
    first = models[0]
    height, width = first.input_size
    text = f"{len(models)} {first.config.model.name} models ({height}x{width} clips)"
    world = first.record.get("world")
    training = first.record.get("training", {})
    if world and training.get("epochs"):
        text += (
            f", trained with one recipe for {training['epochs']} epochs on the synthetic "
            f"`{world['preset']}` world"
        )
    scores = []
    for model in models:
        metrics = model.record.get("metrics", {})
        clean = metrics.get("subsets", {}).get("clean", {}).get("mAP")
        if metrics.get("mAP") is not None:
            score = f"{model.record.get('label', model.name)} {_pct(metrics['mAP'])}"
            scores.append(score + (f" ({_pct(clean)} on clean queries)" if clean else ""))
    if scores:
        text += f". On this test split: {', '.join(scores)} mAP, one training run each"
    report = R.results(f"{height}x{width}").get("benchmark")
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
            verdict = "STRF and the baseline within noise of each other"
        means = " vs ".join(f"{_pct(s.mean)} ± {_pct(s.std or 0)}" for s in (a, b))
        text += (
            f"; the benchmark at this clip size ({len(b.values)} seeds, a shorter schedule on "
            f"a smaller world) finds {verdict} ({means} mAP)"
        )
    return (
        f"{text}. The maps are Grad-CAM (layer4) of the similarity to one gallery tracklet; a "
        "frame left without colour is one where that similarity's gradient is zero or negative."
    )


st.title("Explore")
ws = demo_workspace()
st.caption(what_this_is(ws))
explorer(ws, "explore")
