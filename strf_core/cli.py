"""The ``strf`` command line.

Subcommands: ``models`` (registered models and parameter counts), ``synth`` (write a synthetic
world in the MARS layout), ``data check`` (validate a dataset folder), ``train``, ``eval``,
``export-onnx``, ``demo`` (prepare the dashboard's demo data), ``benchmark``, ``ablate`` and
``recipe`` (the synthetic benchmark, the paper's ablations and training-recipe variants). Bad
arguments, missing files and mismatched checkpoints end in one ``strf: error: ...`` line and exit
status 2 (set ``STRF_DEBUG=1`` for the traceback).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from strf_core.benchmark import add_ablate_parser, add_benchmark_parser, add_recipe_parser
from strf_core.data.datasets import DatasetError, add_data_parser
from strf_core.data.pipeline import FrameReadError
from strf_core.engine.checkpoint import CheckpointError
from strf_core.engine.config import ConfigError
from strf_core.models import build_model, count_parameters, list_models
from strf_core.synth.generator import add_synth_parser

USER_ERRORS = (ConfigError, DatasetError, CheckpointError, FrameReadError, OSError, ValueError)


def _cmd_models(args: argparse.Namespace) -> int:
    rows = []
    for name in list_models():
        if args.filter and args.filter not in name:
            continue
        base = count_parameters(build_model(name, num_classes=args.num_classes))
        with_strf = count_parameters(build_model(name, num_classes=args.num_classes, strf=True))
        rows.append({"model": name, "params": base, "params_strf_2_3": with_strf})
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    print(f"{'model':<20} {'params':>12} {'+STRF (2-3)':>12} {'added':>8}")
    for r in rows:
        added = r["params_strf_2_3"] - r["params"]
        print(f"{r['model']:<20} {r['params']:>12,} {r['params_strf_2_3']:>12,} {added:>8,}")
    return 0


def _cmd_train(args: argparse.Namespace) -> int:
    from strf_core.engine.config import load_config
    from strf_core.engine.trainer import Trainer

    overrides = list(args.set)
    if args.data_root:
        overrides.append(f"data.root={args.data_root}")
    if args.output_dir:
        overrides.append(f"output_dir={args.output_dir}")
    if args.device:
        overrides.append(f"device={args.device}")
    config = load_config(args.config, overrides)
    if not config.data.root:
        raise ConfigError("no dataset root: give --data-root or data.root in the config")
    if args.all_splits:
        return _train_all_splits(config, args)
    trainer = Trainer(config, resume=not args.no_resume, progress=not args.quiet)
    result = trainer.fit()
    if trainer.rank == 0:
        print(_format_result(result, describe_protocol(config.data.dataset, config.data)))
        print(f"checkpoints and metrics.jsonl in {config.output_dir}")
    return 0


def _train_all_splits(config, args: argparse.Namespace) -> int:
    """iLIDS-VID / PRID-2011: one run per split (OUTPUT_DIR/split_K), then mean and spread."""
    import dataclasses

    from strf_core.engine.trainer import Trainer
    from strf_core.metrics import aggregate_splits

    if config.data.dataset not in ("ilids_vid", "prid2011"):
        raise ConfigError(f"--all-splits is for ilids_vid and prid2011, not {config.data.dataset}")
    runs = []
    for split in range(10):
        split_config = dataclasses.replace(
            config,
            data=dataclasses.replace(config.data, split_id=split),
            output_dir=str(Path(config.output_dir) / f"split_{split}"),
        )
        trainer = Trainer(split_config, resume=not args.no_resume, progress=not args.quiet)
        result = trainer.fit()
        if "mAP" not in result:
            raise ConfigError(f"split {split} ended without an evaluation (max_steps?)")
        print(_format_result(result, describe_protocol(config.data.dataset, split_config.data)))
        runs.append({**result, "cmc": result["cmc"]})
    summary = aggregate_splits(runs)
    mode = describe_protocol(config.data.dataset, config.data).split("), ")[-1]
    print(
        f"{config.data.dataset}, mean of 10 splits, {mode}: mAP {summary['mAP']:.1%} "
        f"(std {summary['mAP_std']:.1%}), R1 {summary['cmc'][0]:.1%} "
        f"(std {summary['cmc_std'][0]:.1%})"
    )
    out = Path(config.output_dir) / "splits_summary.json"
    out.write_text(
        json.dumps(
            {
                "mAP": summary["mAP"],
                "mAP_std": summary["mAP_std"],
                "cmc": [float(v) for v in summary["cmc"]],
                "cmc_std": [float(v) for v in summary["cmc_std"]],
                "splits": [{k: r[k] for k in ("mAP", "rank1", "rank5")} for r in runs],
            },
            indent=2,
        )
        + "\n"
    )
    print(f"wrote {out}")
    return 0


def describe_protocol(dataset: str, data) -> str:
    """The evaluation protocol and feature mode, to print beside every number."""
    mode = (
        f"dense (all frames, chunks of {data.chunk_len})"
        if data.test_mode == "dense"
        else f"clip ({data.seq_len} evenly spaced frames)"
    )
    if dataset == "mars":
        gallery = "query + gallery" if data.protocol == "ap3d" else "non-query test tracklets"
        return f"MARS, {data.protocol} protocol (gallery = {gallery}), {mode}"
    if dataset in ("ilids_vid", "prid2011"):
        return f"{dataset}, split {data.split_id} (query cam 1, gallery cam 2), {mode}"
    return f"{dataset}, {mode}"


def _format_result(result: dict, protocol: str) -> str:
    if "mAP" not in result:
        return f"stopped at epoch {result['epoch']}, step {result['step']} (no evaluation yet)"
    lines = [f"{protocol}:"]
    lines.append(
        "  mAP {:.1%}  R1 {:.1%}  R5 {:.1%}  R10 {:.1%}  R20 {:.1%}  ({} valid queries)".format(
            result["mAP"],
            result["rank1"],
            result["rank5"],
            result["rank10"],
            result["rank20"],
            result["num_valid"],
        )
    )
    for name, sub in result.get("subsets", {}).items():
        count = f"({sub['num_valid']} queries)"
        lines.append(f"  {name:<12} mAP {sub['mAP']:.1%}  R1 {sub['rank1']:.1%}  {count}")
    return "\n".join(lines)


def _cmd_eval(args: argparse.Namespace) -> int:
    import dataclasses

    from strf_core.data.datasets import build_dataset
    from strf_core.engine.checkpoint import load_trained_model
    from strf_core.engine.evaluate import evaluate_dataset
    from strf_core.engine.trainer import dataset_kwargs, pick_device

    device = pick_device(args.device)
    model, config = load_trained_model(args.checkpoint, device)
    changes = {
        k: v
        for k, v in {
            "root": args.data_root,
            "dataset": args.dataset,
            "split_id": args.split_id,
            "protocol": args.protocol,
            "test_mode": args.mode,
            "workers": args.workers,
        }.items()
        if v is not None
    }
    config.data = dataclasses.replace(config.data, **changes)
    data = config.data
    dataset = build_dataset(data.dataset, data.root, **dataset_kwargs(config))
    result = evaluate_dataset(
        model, dataset, data, device=device, autocast=device.type == "cuda", progress=not args.quiet
    )
    protocol = describe_protocol(data.dataset, data)
    print(_format_result(result, protocol))
    if args.json:
        Path(args.json).write_text(json.dumps({"protocol": protocol, **result}, indent=2) + "\n")
    return 0


def _cmd_export_onnx(args: argparse.Namespace) -> int:
    import torch

    from strf_core.engine.checkpoint import load_trained_model
    from strf_core.engine.export import export_onnx

    model, config = load_trained_model(args.checkpoint)
    frames = args.frames or config.data.seq_len
    size = (config.data.height, config.data.width)
    path = export_onnx(model, args.output, frames=frames, height=size[0], width=size[1])
    print(f"wrote {path} (clip (N, 3, {frames}, {size[0]}, {size[1]}) -> features, logits)")
    try:
        import numpy as np
        import onnxruntime as ort
    except ImportError:
        print("onnxruntime not installed: skipped the parity check")
        return 0
    clip = torch.randn(2, 3, frames, *size)
    features, logits = ort.InferenceSession(str(path)).run(None, {"clip": clip.numpy()})
    with torch.no_grad():
        ref = model(clip)
    diff = max(
        float(np.abs(features - ref.features.numpy()).max()),
        float(np.abs(logits - ref.logits.numpy()).max()),
    )
    print(f"onnxruntime vs PyTorch: max abs difference {diff:.2e}")
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from strf_core.demo import cache_root, prepare_demo

    seconds = prepare_demo(
        workers=args.workers, all_branch_sets=args.all_branch_sets, progress=not args.quiet
    )
    print(
        f"demo data ready in {sum(seconds.values()):.0f} s under {cache_root()} "
        "($STRF_CACHE); start the dashboard with: streamlit run app/main.py"
    )
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="strf", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("models", help="list the registered models with their parameter counts")
    p.add_argument("--num-classes", type=int, default=625, help="classifier size (MARS: 625)")
    p.add_argument("--filter", default="", help="only models whose name contains this")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(func=_cmd_models)

    add_data_parser(sub)
    add_synth_parser(sub)
    add_benchmark_parser(sub)
    add_ablate_parser(sub)
    add_recipe_parser(sub)

    p = sub.add_parser(
        "train",
        help="train a model from a YAML config (resumes from OUTPUT_DIR/last)",
        description="Train (and periodically evaluate) a model; see configs/ for the paper's "
        "recipes. Re-running the same command resumes from OUTPUT_DIR/last.",
    )
    p.add_argument("--config", help="YAML config (defaults: strf_core.engine.config)")
    p.add_argument("--data-root", help="dataset folder (sets data.root)")
    p.add_argument("--output-dir", help="where checkpoints and metrics.jsonl go")
    p.add_argument("--device", help="auto, cpu, cuda, cuda:1, ...")
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config value, e.g. --set optim.lr=1e-4 (repeatable)",
    )
    p.add_argument(
        "--no-resume", action="store_true", help="start over even if a checkpoint exists"
    )
    p.add_argument(
        "--all-splits",
        action="store_true",
        help="ilids_vid / prid2011: train and evaluate all 10 splits, then report mean and std",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_train)

    p = sub.add_parser(
        "eval",
        help="evaluate a checkpoint on a dataset's query and gallery",
        description="Embed query and gallery with a trained checkpoint and print mAP and CMC, "
        "with the protocol and feature mode named. Data options default to the checkpoint's.",
    )
    p.add_argument("checkpoint", help="checkpoint directory (e.g. runs/strf/best)")
    p.add_argument("--data-root", help="dataset folder (default: the checkpoint's)")
    p.add_argument("--dataset", help="dataset name (default: the checkpoint's)")
    p.add_argument("--split-id", type=int, help="split 0-9 (ilids_vid, prid2011)")
    p.add_argument("--protocol", choices=("torchreid", "ap3d"), help="MARS protocol")
    p.add_argument("--mode", choices=("dense", "clip"), help="all frames or an evenly spaced clip")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, ...")
    p.add_argument("--workers", type=int, help="DataLoader workers")
    p.add_argument("--json", help="also write the results to this JSON file")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_eval)

    p = sub.add_parser(
        "demo",
        help="prepare the dashboard's demo data (world and gallery embeddings) ahead of time",
        description="Generate the demo world from its seed and embed its gallery with both "
        "demo models into the cache ($STRF_CACHE or ~/.cache/strf), so the dashboard's first "
        "page opens in seconds. Steps already done are read back. The dashboard does this "
        "itself when it has to, more slowly (one process).",
    )
    p.add_argument("--workers", type=int, help="generator processes (default: every core)")
    p.add_argument(
        "--all-branch-sets",
        action="store_true",
        help="also embed the gallery for all 16 STRF branch sets (the dashboard's toggles)",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=_cmd_demo)

    p = sub.add_parser(
        "export-onnx",
        help="export a checkpoint to ONNX",
        description="Export a trained checkpoint to ONNX (dynamic batch; clip size from its "
        "config) and, if onnxruntime is installed, check it against PyTorch.",
    )
    p.add_argument("checkpoint", help="checkpoint directory")
    p.add_argument("output", help="the .onnx file to write")
    p.add_argument("--frames", type=int, help="frames per clip (default: the config's seq_len)")
    p.set_defaults(func=_cmd_export_onnx)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except USER_ERRORS as err:
        if os.environ.get("STRF_DEBUG"):
            raise
        print(f"strf {args.command}: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
