"""``strf train``, ``strf eval`` and ``strf export-onnx``: a model from a config to numbers."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from strf_core.data.datasets import datasets_with_option


def _cmd_train(args: argparse.Namespace) -> int:
    from strf_core.engine.config import ConfigError, load_config
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
    trainer = Trainer.from_config(config, resume=not args.no_resume, progress=not args.quiet)
    result = trainer.fit()
    if trainer.rank == 0:
        print(_format_result(result, describe_protocol(config.data.dataset, config.data)))
        print(f"checkpoints and metrics.jsonl in {config.output_dir}")
    return 0


def _train_all_splits(config, args: argparse.Namespace) -> int:
    """iLIDS-VID / PRID-2011: one run per split (OUTPUT_DIR/split_K), then mean and spread."""
    import dataclasses

    from strf_core.engine.config import ConfigError
    from strf_core.engine.trainer import Trainer
    from strf_core.metrics import aggregate_splits

    split_datasets = datasets_with_option("split_id")
    if config.data.dataset not in split_datasets:
        raise ConfigError(
            f"--all-splits is for {' and '.join(split_datasets)}, not {config.data.dataset}"
        )
    runs = []
    for split in range(10):
        split_config = dataclasses.replace(
            config,
            data=dataclasses.replace(config.data, split_id=split),
            output_dir=str(Path(config.output_dir) / f"split_{split}"),
        )
        trainer = Trainer.from_config(
            split_config, resume=not args.no_resume, progress=not args.quiet
        )
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
    if dataset in datasets_with_option("split_id"):
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
    _check_data_root(args.checkpoint, data.root, given=args.data_root is not None)
    dataset = build_dataset(data.dataset, data.root, **dataset_kwargs(config))
    result = evaluate_dataset(
        model, dataset, data, device=device, autocast=device.type == "cuda", progress=not args.quiet
    )
    protocol = describe_protocol(data.dataset, data)
    print(_format_result(result, protocol))
    if args.json:
        Path(args.json).write_text(json.dumps({"protocol": protocol, **result}, indent=2) + "\n")
    return 0


def _check_data_root(checkpoint: str, root: str, *, given: bool) -> None:
    """Refuse an empty dataset root, or a checkpoint's own one that this machine lacks, saying
    where the data it was evaluated on can be made.

    Raises:
        ConfigError: no usable root, with what to do.
    """
    from strf_core.engine.config import ConfigError

    if root and (given or Path(root).expanduser().exists()):
        return  # a root given on the command line is checked by the dataset loader
    if root:
        problem = (
            f"the checkpoint's config names data.root {root}, which does not exist on this "
            "machine (a path of the machine that trained it?)"
        )
    else:
        problem = "the checkpoint's config has no data.root (exported models leave it out)"
    raise ConfigError(f"{problem}; give --data-root DATASET_FOLDER. {_where_data_is(checkpoint)}")


def _where_data_is(checkpoint: str) -> str:
    """Where the synthetic world a checkpoint's ``eval.json`` records is, or how to make it."""
    from strf_core.experiments import Setup
    from strf_core.package_data import cache_root
    from strf_core.synth import META_NAME

    record = Path(checkpoint) / "eval.json"
    world = json.loads(record.read_text()).get("world") if record.is_file() else None
    if not world:
        return (
            "A synthetic world to try it on: strf synth ROOT --preset demo --size 128x64; the "
            "demo models' world: strf demo (written under $STRF_CACHE/synth)."
        )
    preset, seed, (height, width) = world["preset"], int(world["seed"]), world["size"]
    whole = Setup(
        results=Path("."), work=cache_root(), preset=preset, world_seed=seed, size=(height, width)
    ).data_root
    found = [p for p in (whole, whole.with_name(whole.name + "-test")) if (p / META_NAME).is_file()]
    spec = f"--preset {preset} --seed {seed} --size {height}x{width}"
    where = (
        f"It is here: --data-root {found[0]}."
        if found
        else f"Create it with strf demo (the demo models' world, written to {whole}-test; "
        f"$STRF_CACHE moves it) or strf synth ROOT {spec}."
    )
    return f"This model was evaluated on the synthetic world {spec}. {where}"


def _cmd_export_onnx(args: argparse.Namespace) -> int:
    import torch

    from strf_core.engine.checkpoint import load_trained_model
    from strf_core.engine.export import MAX_FRAMES, export_onnx

    if args.frames is not None and args.frames < 1:
        raise ValueError(f"--frames must be 1 or more, got {args.frames}")
    model, config = load_trained_model(args.checkpoint)
    size = (config.data.height, config.data.width)
    path = export_onnx(model, args.output, frames=args.frames, height=size[0], width=size[1])
    length = "T" if args.frames is None else str(args.frames)
    fixed = (
        f"the frame count T is dynamic (1 to {MAX_FRAMES})"
        if args.frames is None
        else f"the {args.frames} frames fixed: clips of another length need another export"
    )
    print(
        f"wrote {path} (clip (N, 3, {length}, {size[0]}, {size[1]}) -> features, logits; the "
        f"batch N is dynamic, {fixed})"
    )
    try:
        import numpy as np
        import onnxruntime as ort
    except ImportError:
        print("onnxruntime not installed: skipped the parity check")
        return 0
    session = ort.InferenceSession(str(path))
    diff = 0.0
    lengths = [args.frames] if args.frames is not None else [config.data.seq_len, 1]
    for frames in lengths:  # with a dynamic T, the training length and a single frame
        clip = torch.randn(2, 3, frames, *size)
        features, logits = session.run(None, {"clip": clip.numpy()})
        with torch.no_grad():
            ref = model(clip)
        diff = max(
            diff,
            float(np.abs(features - ref.features.numpy()).max()),
            float(np.abs(logits - ref.logits.numpy()).max()),
        )
    checked = ", ".join(str(n) for n in lengths)
    print(f"onnxruntime vs PyTorch at {checked} frames: max abs difference {diff:.2e}")
    return 0


def add_train_parser(subparsers: argparse._SubParsersAction) -> None:
    """Add ``strf train``."""
    p = subparsers.add_parser(
        "train",
        help="train a model from a YAML config (resumes from OUTPUT_DIR/last)",
        description="Train (and periodically evaluate) a model; see configs/ for the paper's "
        "recipes. Re-running the same command resumes from OUTPUT_DIR/last, which at the end is "
        "the model to report (AP3D evaluates the last epoch). Evaluations on the test split are "
        "logged, never used to pick a checkpoint: OUTPUT_DIR/best follows a validation split "
        "(data.val_ids) and exists only with one.",
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


def add_eval_parser(subparsers: argparse._SubParsersAction) -> None:
    """Add ``strf eval``."""
    p = subparsers.add_parser(
        "eval",
        help="evaluate a checkpoint on a dataset's query and gallery",
        description="Embed query and gallery with a trained checkpoint and print mAP and CMC, "
        "with the protocol and feature mode named. Data options default to the checkpoint's.",
    )
    p.add_argument(
        "checkpoint",
        help="checkpoint directory: runs/strf/last, the final model, to report (best/ exists "
        "only with a validation split, data.val_ids)",
    )
    p.add_argument(
        "--data-root",
        help="dataset folder (default: the checkpoint's data.root, if it exists here; exported "
        "models have none)",
    )
    p.add_argument("--dataset", help="dataset name (default: the checkpoint's)")
    p.add_argument("--split-id", type=int, help="split 0-9 (ilids_vid, prid2011)")
    p.add_argument("--protocol", choices=("torchreid", "ap3d"), help="MARS protocol")
    p.add_argument("--mode", choices=("dense", "clip"), help="all frames or an evenly spaced clip")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, ...")
    p.add_argument("--workers", type=int, help="DataLoader workers")
    p.add_argument("--json", help="also write the results to this JSON file")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_eval)


def add_export_onnx_parser(subparsers: argparse._SubParsersAction) -> None:
    """Add ``strf export-onnx``."""
    p = subparsers.add_parser(
        "export-onnx",
        help="export a checkpoint to ONNX",
        description="Export a trained checkpoint to ONNX (a dynamic batch and frame count; the "
        "frame size is fixed in the graph, from the config; --frames fixes the frame count "
        "too) and, if onnxruntime is installed, check it against PyTorch.",
    )
    p.add_argument("checkpoint", help="checkpoint directory")
    p.add_argument("output", help="the .onnx file to write")
    p.add_argument(
        "--frames",
        type=int,
        help="fix the frames per clip (1 or more) in the exported graph (default: dynamic, any "
        "count from 1 to 256)",
    )
    p.set_defaults(func=_cmd_export_onnx)
