"""Trained models exported with their evaluation record, for the dashboard and for checks.

- ``strf export CHECKPOINT TARGET --data-root WORLD`` (:func:`export_trained_model`): any
  checkpoint trained on a synthetic world; the shipped demo models are made so.
- ``strf benchmark --demo-models DIR`` (:func:`export_demo_model`): the baseline and STRF cells
  of one benchmark seed (the ``tiny`` pair).

Either way ``eval.json`` holds the metrics on the whole test split (overall and per hard case)
and on a fast check slice of it (:func:`check_split`), which the tests reproduce with
:func:`evaluate_checkpoint`.
"""

from __future__ import annotations

import json
import platform
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from strf_core.experiments.results import CellMetrics, CellRecord, json_text

DEMO_CHECK_IDS = 40  # query identities in the fast check slice of the demo test split


def check_split(dataset: Any, num_ids: int = DEMO_CHECK_IDS) -> tuple[list, list]:
    """A deterministic slice of a test split, for a check that runs in seconds.

    Returns:
        ``(query, gallery)``: the queries of the ``num_ids`` lowest query pids and the gallery
        tracklets of those pids (distractors and other identities left out).
    """
    pids = sorted({t.pid for t in dataset.query})[:num_ids]
    keep = set(pids)
    query = [t for t in dataset.query if t.pid in keep]
    gallery = [t for t in dataset.gallery if t.pid in keep]
    return query, gallery


def evaluate_checkpoint(
    directory: str | Path,
    data_root: str | Path,
    *,
    num_ids: int | None = None,
    device: str = "cpu",
) -> CellMetrics:
    """Evaluate a trained checkpoint on a synthetic MARS tree with its own data settings.

    Args:
        directory: checkpoint directory (``model.safetensors``, ``state.pt``, ``config.yaml``).
        data_root: the synthetic world.
        num_ids: evaluate on :func:`check_split` with this many identities (``None``: all).
        device: where the model runs.

    Returns:
        Overall and per-subset metrics, as a cell keeps them.
    """
    from strf_core.data.datasets import build_dataset
    from strf_core.engine.checkpoint import load_trained_model
    from strf_core.engine.evaluate import evaluate
    from strf_core.synth import subset_masks

    model, config = load_trained_model(directory, device)
    data = config.data
    dataset = build_dataset("mars", data_root, protocol=data.protocol)
    if num_ids is None:
        query, gallery = dataset.query, dataset.gallery
    else:
        query, gallery = check_split(dataset, num_ids)
    result = evaluate(
        model,
        query,
        gallery,
        query_subsets=subset_masks(data_root, query),
        mode=data.test_mode,
        chunk_len=data.chunk_len,
        seq_len=data.seq_len,
        size=(data.height, data.width),
        workers=0,
        device=device,
    )
    return CellMetrics.from_evaluation(result)


def export_demo_model(run_dir: Path, target: Path, record: CellRecord, data_root: Path) -> Path:
    """Export a finished cell's ``last`` checkpoint to ``target`` for inference
    (:func:`~strf_core.engine.checkpoint.export_checkpoint`), with an ``eval.json``: the cell's
    record (its config left out: ``config.yaml`` beside it says the same) and the metrics of
    the fast check slice (:func:`check_split`), which the tests reproduce."""
    from strf_core.engine.checkpoint import export_checkpoint

    source = Path(run_dir) / "last"
    check = evaluate_checkpoint(source, data_root, num_ids=DEMO_CHECK_IDS)
    payload = {
        **record.to_dict(with_config=False),
        "check": {"num_ids": DEMO_CHECK_IDS, "metrics": check.to_dict()},
    }
    return export_checkpoint(source, target, extra_files={"eval.json": json_text(payload)})


def training_summary(run_dir: str | Path) -> dict[str, Any]:
    """What a run's ``metrics.jsonl`` says about its training: steps, epochs and the
    validation curve (``[]`` without a validation split). ``{}`` when the file is absent.

    Each line is a JSON object; a line that is not is named in the error.

    Raises:
        ValueError: a line of ``metrics.jsonl`` that is not JSON (file and line named).
    """
    path = Path(run_dir) / "metrics.jsonl"
    if not path.is_file():
        return {}
    steps, epochs, curve = 0, 0, []
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
        except json.JSONDecodeError as error:
            raise ValueError(f"{path}, line {number}: not JSON ({error.msg})") from None
        steps, epochs = max(steps, entry.get("step", 0)), max(epochs, entry.get("epoch", 0))
        if "val" in entry:
            val = entry["val"]
            curve.append([entry["epoch"], entry["step"], val["mAP"], val["rank1"]])
    return {"steps": steps, "epochs": epochs, "val_curve": curve}


def export_trained_model(
    checkpoint: str | Path,
    target: str | Path,
    data_root: str | Path,
    *,
    label: str,
    check_ids: int = DEMO_CHECK_IDS,
    command: str = "",
) -> Path:
    """Export a checkpoint trained on a synthetic world, with an ``eval.json``.

    The checkpoint is copied for inference (:func:`~strf_core.engine.checkpoint.
    export_checkpoint`: no optimizer, no machine paths) and evaluated with its own data
    settings on the world's whole test split and on its check slice.

    Args:
        checkpoint: the checkpoint directory (``RUN/best`` or ``RUN/last``); ``RUN``'s
            ``metrics.jsonl``, when present, gives the training summary.
        target: where the export goes (replaced).
        data_root: the synthetic world it was trained on (its test split is evaluated).
        label: what the dashboard calls it (``"STRF-P3D-C"``).
        check_ids: identities in the check slice.
        command: the command that trained it, for the record.

    Returns:
        ``target``.
    """
    from strf_core.engine.checkpoint import export_checkpoint, load_training_state
    from strf_core.engine.config import load_config
    from strf_core.synth import load_metadata

    checkpoint = Path(checkpoint)
    started = time.perf_counter()
    metrics = evaluate_checkpoint(checkpoint, data_root)
    check = evaluate_checkpoint(checkpoint, data_root, num_ids=check_ids)
    generator = load_metadata(data_root)["generator"]
    data = load_config(checkpoint / "config.yaml").data
    mode = "dense all-frame" if data.test_mode == "dense" else f"{data.seq_len}-frame clip"
    state = load_training_state(checkpoint)
    payload = {
        "label": label,
        "metrics": metrics.to_dict(),
        "protocol": f"MARS {data.protocol} protocol on the synthetic MARS tree, {mode} features",
        "world": {
            "preset": generator["preset"],
            "seed": generator["seed"],
            "size": list(generator["size"]),
        },
        "checkpoint": {"name": checkpoint.name, "epoch": state.epoch, "step": state.step},
        "training": {**training_summary(checkpoint.parent), "command": command},
        "eval_s": round(time.perf_counter() - started, 1),
        "device": f"cpu ({platform.processor() or platform.machine()})",
        "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "check": {"num_ids": check_ids, "metrics": check.to_dict()},
    }
    return export_checkpoint(checkpoint, target, extra_files={"eval.json": json_text(payload)})


def model_card(records: Mapping[str, Mapping[str, Any]], *, title: str) -> str:
    """A Markdown page on exported models from their ``eval.json`` records (by folder name):
    the test split's scores overall and per hard case, the checkpoint each ships, the
    validation curves side by side, and the commands that made them.

    One run per model: the page says so and draws no verdict between them (the seed spread of a
    benchmark is what tells a difference from noise).
    """
    names = list(records)
    subsets = sorted({s for r in records.values() for s in r["metrics"].get("subsets", {})})
    subsets.sort(key=lambda s: (s == "clean", s))  # the hard cases first, clean last
    pct = "{:.1f}".format
    lines = [f"# {title}", ""]
    worlds = {json.dumps(r["world"], sort_keys=True) for r in records.values()}
    if len(worlds) == 1:
        world = next(iter(records.values()))["world"]
        size = "x".join(map(str, world["size"]))
        lines += [
            f"Test split of the synthetic `{world['preset']}` world, seed {world['seed']}, "
            f"{size} frames (`strf synth WORLD --preset {world['preset']} --seed "
            f"{world['seed']} --size {size}`); {next(iter(records.values()))['protocol']}. "
            "Numbers are %, one training run per model: no verdict between them is drawn "
            "here.",
            "",
        ]
    header = ["model", "checkpoint", "mAP", "R@1", "R@5"]
    for subset in subsets:
        header += [f"{subset} mAP", f"{subset} R@1"]
    lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for name in names:
        r = records[name]
        m, ckpt = r["metrics"], r.get("checkpoint", {})
        where = f"`{ckpt['name']}/`, epoch {ckpt['epoch']}" if ckpt else "-"
        cells = [f"{r.get('label', name)} (`{name}`)", where]
        cells += [pct(100 * m["mAP"]), pct(100 * m["rank1"]), pct(100 * m["rank5"])]
        for subset in subsets:
            s = m.get("subsets", {}).get(subset)
            cells += [pct(100 * s["mAP"]), pct(100 * s["rank1"])] if s else ["-", "-"]
        lines.append("| " + " | ".join(cells) + " |")
    counts = next(iter(records.values()))["metrics"]
    per = ", ".join(f"{s} {counts['subsets'][s]['num_queries']}" for s in subsets)
    lines += ["", f"Queries: {counts['num_queries']} ({per}; a query may be in several)."]
    curves = {n: r.get("training", {}).get("val_curve", []) for n, r in records.items()}
    if any(curves.values()):
        epochs = sorted({(row[0], row[1]) for c in curves.values() for row in c})
        header = ["epoch", "step"]
        for n in names:
            header += [f"{n} val mAP", f"{n} val R@1"]
        lines += [
            "",
            "## Validation curve",
            "",
            "Held-out training identities (`data.val_ids`), never the test split; `best/` is the "
            "evaluation with the highest validation mAP.",
            "",
            "| " + " | ".join(header) + " |",
            "|" + "---:|" * (2 + 2 * len(names)),
        ]
        for epoch, step in epochs:
            row = [str(epoch), str(step)]
            for n in names:
                hit = next((c for c in curves[n] if c[0] == epoch), None)
                row += [pct(100 * hit[2]), pct(100 * hit[3])] if hit else ["", ""]
            lines.append("| " + " | ".join(row) + " |")
    commands = [(n, r.get("training", {}).get("command")) for n, r in records.items()]
    if any(c for _, c in commands):
        lines += ["", "## Reproduce", "", "```bash"]
        lines += [c for _, c in commands if c]
        lines += ["```"]
    return "\n".join(lines) + "\n"
