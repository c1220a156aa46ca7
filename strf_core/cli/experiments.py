"""``strf benchmark``, ``strf ablate``, ``strf recipe``: run a grid's missing cells, then
re-render its report from every stored cell (:mod:`strf_core.experiments`); ``strf evidence``
(Fig. 5 measured), ``strf export`` (a trained model with its evaluation record) and
``strf model-card`` (a page on exported models)."""

from __future__ import annotations

import argparse
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path

from strf_core.experiments import (
    ABLATION_GROUPS,
    ABLATIONS_REPORT,
    BENCHMARK_REPORT,
    DEFAULT_EPOCHS,
    RECIPE_REPORT,
    RECIPE_VARIANT_NAMES,
    Cell,
    ReportSpec,
    Setup,
    ablation_cells,
    benchmark_cells,
    export_demo_model,
    export_trained_model,
    model_card,
    recipe_cells,
    run_grid,
    write_report,
)
from strf_core.package_data import cache_root
from strf_core.synth import parse_size


def _setup(args: argparse.Namespace) -> Setup:
    return Setup(
        results=Path(args.results),
        work=Path(args.work_dir).expanduser(),
        preset=args.preset,
        world_seed=args.world_seed,
        size=parse_size(args.size),
        clip_size=parse_size(args.clip_size),
        epochs=args.epochs,
        device=args.device,
        workers=args.workers,
        extra=list(args.set),
    )


def _command(args: argparse.Namespace, seeds: Sequence[int]) -> str:
    """The command that reproduces (and completes) the whole table: every seed it shows, and
    only the options that change the results (no ``--groups``, ``--variants``)."""
    parts = ["strf", args.command, "--seeds", *map(str, seeds)]
    parts += ["--epochs", str(args.epochs), "--size", args.size, "--clip-size", args.clip_size]
    parts += ["--preset", args.preset]
    parts += ["--world-seed", str(args.world_seed), "--results", str(args.results)]
    for item in args.set:
        parts += ["--set", item]
    return shlex.join(parts)


def _run_report(
    args: argparse.Namespace, spec: ReportSpec, cells_now: Sequence[Cell]
) -> tuple[Setup, dict]:
    """Run ``cells_now`` (those not finished), then write ``spec``'s report of the whole grid
    (every group or variant, every stored seed); return the setup and the finished records."""
    setup = _setup(args)
    cells, records, seeds = run_grid(
        setup,
        spec.grid,
        cells_now,
        args.seeds,
        max_minutes=args.max_minutes,
        progress=not args.quiet,
        log=print,
    )
    md, _ = write_report(spec, _command(args, seeds), setup, cells, records)
    print(f"wrote {md}")
    return setup, records


def _cmd_benchmark(args: argparse.Namespace) -> int:
    # Every stored seed stays in the table (``--seeds 0 --demo-models`` must not drop 1 and 2).
    setup, records = _run_report(args, BENCHMARK_REPORT, benchmark_cells(args.seeds))
    if args.demo_models:
        target = Path(args.demo_models)
        cells = benchmark_cells(args.seeds[:1])
        for cell, name in zip(cells, ("baseline", "strf"), strict=True):
            if cell.key not in records:
                print(f"{cell.key} is not finished: no demo model {name}", file=sys.stderr)
                return 1
            out = export_demo_model(
                setup.run_dir(cell), target / name, records[cell.key], setup.data_root
            )
            print(f"wrote {out}")
    return 0


def _cmd_ablate(args: argparse.Namespace) -> int:
    # The table is the whole grid: the groups not asked for this time are read back from their
    # stored cells (a run of one group must not drop the others from ablations.md).
    _run_report(args, ABLATIONS_REPORT, ablation_cells(args.seeds, args.groups))
    return 0


def _cmd_recipe(args: argparse.Namespace) -> int:
    _run_report(args, RECIPE_REPORT, recipe_cells(args.seeds, args.variants))
    return 0


def _common(p: argparse.ArgumentParser, seeds: list[int]) -> None:
    p.add_argument("--seeds", type=int, nargs="+", default=seeds, help="training seeds")
    p.add_argument("--epochs", type=int, default=DEFAULT_EPOCHS, help="epochs of every cell")
    p.add_argument("--preset", default="demo", help="synthetic world preset (tiny, demo, full)")
    p.add_argument("--world-seed", type=int, default=0, help="seed of the synthetic world")
    p.add_argument("--size", default="128x64", help="frame HEIGHTxWIDTH (128x64 or 256x128)")
    p.add_argument("--clip-size", default="64x32", help="HEIGHTxWIDTH of the clips the models see")
    p.add_argument("--results", default="docs/results", help="tables and cells/ go here")
    p.add_argument(
        "--work-dir",
        default=str(cache_root()),
        help="cache of the synthetic data (synth/) and the training runs (runs/); "
        "default $STRF_CACHE or ~/.cache/strf",
    )
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, ...")
    p.add_argument("--workers", type=int, default=1, help="DataLoader workers")
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="extra config override for every cell, e.g. --set model.name=p3dc_resnet50",
    )
    p.add_argument(
        "--max-minutes",
        type=float,
        default=0.0,
        help="start no new cell after this many minutes (0: no limit); re-run to continue",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bars")


def add_benchmark_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add ``strf benchmark`` (baseline vs STRF over seeds) to a subparsers object."""
    p = subparsers.add_parser(
        "benchmark",
        help="train and compare the P3D-C baseline and STRF-P3D-C on synthetic data",
        description="Train the tiny P3D-C baseline and STRF-P3D-C on the synthetic demo world "
        "for several seeds; write docs/results/benchmark.md and .json. Resumable.",
    )
    _common(p, [0, 1, 2])
    p.add_argument(
        "--demo-models",
        metavar="DIR",
        help="also export the first seed's two models to DIR/baseline and DIR/strf",
    )
    p.set_defaults(func=_cmd_benchmark)
    return p


def add_ablate_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add ``strf ablate`` (the paper's Table 4, Table 5, Fig. 4 grids) to a subparsers object."""
    p = subparsers.add_parser(
        "ablate",
        help="re-run the paper's ablation grids on synthetic data (resumable)",
        description="Table 4 (branches), Table 5 (stages), Fig. 4a (r pairs), 4b (pooling), "
        "4c (integration) and our design choices (similarity, residual), beside the paper's "
        "MARS numbers; write docs/results/ablations.md and .json. Resumable.",
    )
    _common(p, [0])
    p.add_argument(
        "--groups",
        nargs="+",
        choices=ABLATION_GROUPS,
        help="grids to run (default: all); ablations.md still shows every grid, the others "
        "read back from their stored cells",
    )
    p.set_defaults(func=_cmd_ablate)
    return p


def add_recipe_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add ``strf recipe`` (training-recipe variants, baseline and STRF) to a subparsers object."""
    p = subparsers.add_parser(
        "recipe",
        help="try training-recipe variants on the baseline and STRF alike (resumable)",
        description="Train the baseline and STRF under variants of the base recipe "
        "(8-frame clips, 40 epochs, look-alike batches, other P x K); write "
        "docs/results/recipe.md and .json with every variant. Resumable. 'lookalike' uses the "
        "synthetic world's look-alike groups: knowledge real data would not give.",
    )
    _common(p, [0])
    p.add_argument(
        "--variants",
        nargs="+",
        choices=RECIPE_VARIANT_NAMES,
        help="variants to run (default: all); 'base' is the ablations' recipe, 'p4k8' the "
        "benchmark's, 'lookalike' "
        "(data.sampler=lookalike) puts look-alike identities in one batch using the synthetic "
        "metadata: not possible on real data",
    )
    p.set_defaults(func=_cmd_recipe)
    return p


def _labelled(argument: str) -> tuple[str, Path]:
    """``LABEL=PATH`` or ``PATH`` (labelled by its folder name)."""
    label, sep, path = argument.partition("=")
    if sep and label and not Path(argument).exists():
        return label, Path(path)
    return Path(argument).name, Path(argument)


def _display_path(path: Path) -> str:
    """``path`` relative to the working folder or as ``$STRF_CACHE/...``, never a path of this
    machine (the rows are committed)."""
    from strf_core.package_data import cache_root

    resolved = path.expanduser().resolve()
    for base, prefix in ((Path.cwd(), ""), (cache_root().resolve(), "$STRF_CACHE/")):
        if resolved.is_relative_to(base):
            return prefix + str(resolved.relative_to(base))
    return str(path)


def _cmd_evidence(args: argparse.Namespace) -> int:
    from strf_core import BRANCH_NAMES
    from strf_core.data.datasets import build_dataset
    from strf_core.engine.checkpoint import load_trained_model
    from strf_core.experiments.evidence import (
        cached_query_evidence,
        evidence_markdown,
        group_runs,
        occluded_queries,
        summarize_common,
    )
    from strf_core.experiments.results import write_json_atomic, write_text_atomic
    from strf_core.package_data import cache_root

    checkpoints = [_labelled(a) for a in args.checkpoints]
    cache = Path(args.cache) if args.cache else cache_root() / "evidence"
    dataset = build_dataset("mars", args.data_root, protocol="ap3d")
    queries = occluded_queries(dataset)
    if args.queries:
        queries = queries[: args.queries]
    print(
        f"{len(queries)} occluded queries of {args.data_root}; shares of Grad-CAM mass over the "
        f"frames where the occluder is drawn (area: a uniform map's shares)"
    )
    runs, sources = [], []
    for name, directory in checkpoints:
        model, config = load_trained_model(directory)
        variants: list[tuple[str, list[str] | None]] = [("", None)]
        if model.strf_units() and args.branches_off:
            for branch in BRANCH_NAMES:
                others = [b for b in BRANCH_NAMES if b != branch]
                variants.append((f" without {branch}", others))
        for suffix, branches in variants:
            size = (config.data.height, config.data.width)
            found = cached_query_evidence(
                model, dataset, cache, size=size, branches=branches, queries=queries
            )
            runs.append((name + suffix, found))
            sources.append({"checkpoint": _display_path(directory), "branches": branches})
            print(f"  measured {name + suffix} ({directory})", file=sys.stderr, flush=True)
    summaries = summarize_common(runs, len(queries))
    rows = [{**s.to_dict(), **source} for s, source in zip(summaries, sources, strict=True)]
    groups = group_runs(summaries)
    print(f"{'model':<26} {'runs':>4} {'n':>7} {'person':>7} {'occluder':>8} {'backgr.':>7}")
    for g in groups:
        occ = {region: mean for region, (mean, _) in g.occluded.items()}
        print(
            f"{g.label:<26} {g.runs:>4} {g.queries:>3}/{g.total:<3} "
            f"{occ['person']:>7.3f} {occ['occluder']:>8.3f} {occ['background']:>7.3f}"
        )
    area = groups[0].area if groups else {}
    if area:
        print(
            f"{'area (uniform map)':<26} {'':>4} {'':>7} {area['person']:>7.3f} "
            f"{area['occluder']:>8.3f} {area['background']:>7.3f}"
        )
    if args.json:
        payload = {
            "queries": len(queries),
            "rows": rows,
            "groups": [g.to_dict() for g in groups],
        }
        write_json_atomic(Path(args.json), payload)
        print(f"wrote {args.json}")
    if args.markdown:
        from strf_core.synth import load_metadata

        gen = load_metadata(args.data_root)["generator"]
        height, width = gen["size"]
        size = f"{height}x{width}"
        world = (
            f"the `{gen['preset']}` preset, seed {gen['seed']}, {size} "
            f"(`strf synth WORLD --preset {gen['preset']} --seed {gen['seed']} --size {size}`)"
        )
        words = ["strf", "evidence"]
        words += [f"{name}={_display_path(path)}" for name, path in checkpoints]
        words += ["--data-root", "WORLD"]
        words += ["--queries", str(args.queries)] if args.queries else []
        words += ["--branches-off"] if args.branches_off else []
        command = " ".join(shlex.quote(w) for w in words)
        text = evidence_markdown(groups, world=world, command=command)
        write_text_atomic(Path(args.markdown), text)
        print(f"wrote {args.markdown}")
    return 0


def add_evidence_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "evidence",
        help="Fig. 5 measured: Grad-CAM mass on person, occluder, background (occluded queries)",
        description="For every occluded query of a synthetic world with ground-truth masks: "
        "the share of each model's per-frame Grad-CAM mass (similarity to the nearest true "
        "match, layer4) on the person, the occluder and the background.",
    )
    p.add_argument(
        "checkpoints",
        nargs="+",
        help="checkpoint folders (e.g. sample_data/models/*), each as PATH (labelled by its "
        "folder name) or LABEL=PATH; the runs of one label (seeds) are pooled into one row "
        "with their spread",
    )
    p.add_argument("--data-root", required=True, help="a synthetic world written with masks")
    p.add_argument("--queries", type=int, default=0, help="only the first N occluded queries")
    p.add_argument(
        "--branches-off",
        action="store_true",
        help="also measure STRF models with each branch switched off",
    )
    p.add_argument("--json", help="write the rows to this JSON file")
    p.add_argument("--markdown", help="write the table to this Markdown file")
    p.add_argument(
        "--cache",
        help="where each model's measurement is kept once made (default: $STRF_CACHE/evidence); "
        "a re-run, or one pooling runs measured by other processes, reads them back",
    )
    p.set_defaults(func=_cmd_evidence)
    return p


def _cmd_export(args: argparse.Namespace) -> int:
    from strf_core.engine.checkpoint import CheckpointError
    from strf_core.synth import META_NAME

    if not (Path(args.data_root) / META_NAME).is_file():
        print(f"{args.data_root} has no {META_NAME}: not a synthetic world", file=sys.stderr)
        return 2
    try:
        out = export_trained_model(
            args.checkpoint,
            args.target,
            args.data_root,
            label=args.label,
            check_ids=args.check_ids,
            command=args.command,
        )
    except CheckpointError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"wrote {out}")
    return 0


def add_export_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "export",
        help="export a checkpoint for inference with its metrics on a synthetic test split",
        description="Copy a checkpoint for inference (no optimizer state, no paths of this "
        "machine) and write eval.json beside it: its metrics on the synthetic world's whole test "
        "split, overall and per hard case, on a check slice the tests reproduce, and its "
        "training summary (metrics.jsonl). The shipped demo models are made with it.",
    )
    p.add_argument("checkpoint", help="checkpoint folder (e.g. training/demo128/strf_p3dc/best)")
    p.add_argument("target", help="folder to write (replaced)")
    p.add_argument("--data-root", required=True, help="the synthetic world it was trained on")
    p.add_argument("--label", required=True, help="its name on the dashboard, e.g. STRF-P3D-C")
    p.add_argument("--check-ids", type=int, default=40, help="identities in the check slice")
    p.add_argument("--command", default="", help="the command that trained it, for the record")
    p.set_defaults(func=_cmd_export)
    return p


def _cmd_model_card(args: argparse.Namespace) -> int:
    import json

    from strf_core.atomic import write_text_atomic

    records = {}
    for folder in map(Path, args.models):
        path = folder / "eval.json"
        if not path.is_file():
            print(f"{path} not found: export the model with strf export first", file=sys.stderr)
            return 2
        records[folder.name] = json.loads(path.read_text())
    text = model_card(records, title=args.title)
    if args.markdown:
        write_text_atomic(Path(args.markdown), text)
        print(f"wrote {args.markdown}")
    else:
        print(text, end="")
    return 0


def add_model_card_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "model-card",
        help="a Markdown page on exported models: scores per hard case, validation curves",
        description="Read the eval.json of models exported with strf export and write one "
        "Markdown page: test-split scores overall and per hard case, the shipped checkpoint, "
        "the validation curves side by side and the training commands.",
    )
    p.add_argument("models", nargs="+", help="exported model folders (e.g. sample_data/models/*)")
    p.add_argument("--title", default="Trained models", help="the page's title")
    p.add_argument("--markdown", help="write the page here (default: print it)")
    p.set_defaults(func=_cmd_model_card)
    return p


def add_parsers(subparsers: argparse._SubParsersAction) -> None:
    """Add ``strf benchmark``, ``strf ablate``, ``strf recipe``, ``strf evidence``,
    ``strf export`` and ``strf model-card``."""
    add_benchmark_parser(subparsers)
    add_ablate_parser(subparsers)
    add_recipe_parser(subparsers)
    add_evidence_parser(subparsers)
    add_export_parser(subparsers)
    add_model_card_parser(subparsers)
