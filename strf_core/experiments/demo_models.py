"""The demo models: the benchmark's first-seed runs, exported for the dashboard and checked.

``strf benchmark --demo-models DIR`` exports the baseline and STRF cells of one seed with
:func:`export_demo_model`; their ``eval.json`` keeps the cell's record and the metrics of a fast
check slice of the test split (:func:`check_split`), which the tests reproduce with
:func:`evaluate_checkpoint`.
"""

from __future__ import annotations

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
