"""``strf synth`` (a synthetic world in the MARS layout) and ``strf data check`` (a dataset
folder's statistics, then every frame opened)."""

from __future__ import annotations

import argparse
import os
import sys

from strf_core.data.datasets import (
    DatasetError,
    build_dataset,
    datasets_with_option,
    list_datasets,
)
from strf_core.data.datasets.check import find_frame_problems
from strf_core.data.datasets.mars import PROTOCOLS
from strf_core.synth import META_NAME, PRESETS, SynthError, generate, parse_size

CHECK_DESCRIPTION = (
    "Print a dataset folder's split statistics, then open every frame. Exit status: 0 when "
    "the dataset loads and every frame is readable, 1 otherwise."
)

# Options that only some datasets take: the CLI rejects them elsewhere instead of ignoring them.
_SPLIT_ID_DATASETS = datasets_with_option("split_id")
_PROTOCOL_DATASETS = datasets_with_option("protocol")


def _print_progress(done: int, total: int) -> None:
    end = "\n" if done == total else ""
    print(f"\rchecking frames: {done}/{total}", end=end, file=sys.stderr, flush=True)


def _cmd_check(args: argparse.Namespace) -> int:
    """Load the dataset, print its statistics, check every frame; 0 if all is well, else 1."""
    kwargs = {}
    if args.split_id is not None:
        if args.dataset not in _SPLIT_ID_DATASETS:
            print(f"error: --split-id applies to {', '.join(_SPLIT_ID_DATASETS)}", file=sys.stderr)
            return 1
        kwargs["split_id"] = args.split_id
    if args.protocol is not None:
        if args.dataset not in _PROTOCOL_DATASETS:
            print(f"error: --protocol applies to {', '.join(_PROTOCOL_DATASETS)}", file=sys.stderr)
            return 1
        kwargs["protocol"] = args.protocol
    try:
        dataset = build_dataset(args.dataset, args.root, **kwargs)
    except DatasetError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    options = "".join(f", {k}={v}" for k, v in kwargs.items())
    print(dataset.summary() + (f"\n  options: {options[2:]}" if options else ""))

    paths = list(dataset.frame_paths())
    # A progress line only for a person watching: logs and tests get the summary alone.
    progress = _print_progress if sys.stderr.isatty() else None
    problems = find_frame_problems(paths, full=args.full, workers=args.workers, progress=progress)
    if not problems:
        print(f"checked {len(paths)} frames: all present and readable")
        return 0
    print(f"{len(problems)} of {len(paths)} frames have problems:")
    for line in problems[: args.max_problems]:
        print(f"  {line}")
    if len(problems) > args.max_problems:
        print(f"  ... and {len(problems) - args.max_problems} more")
    return 1


def add_data_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add ``data`` (with its ``check`` subcommand) to the ``strf`` subcommands.

    Args:
        subparsers: the object ``ArgumentParser.add_subparsers`` returned.

    Returns:
        The ``data`` parser. ``check`` sets ``func``, so the CLI's usual ``args.func(args)``
        runs it.
    """
    data = subparsers.add_parser("data", help="inspect datasets on disk")
    commands = data.add_subparsers(dest="data_command", required=True)
    check = commands.add_parser(
        "check",
        help="print split statistics and check that every frame opens as an image",
        description=CHECK_DESCRIPTION,
    )
    check.add_argument("root", help="the dataset folder")
    check.add_argument("--dataset", required=True, choices=list_datasets())
    check.add_argument(
        "--split-id", type=int, default=None, help="split 0-9 (ilids_vid, prid2011; default 0)"
    )
    check.add_argument(
        "--protocol", choices=PROTOCOLS, default=None, help="MARS gallery (default torchreid)"
    )
    check.add_argument(
        "--full", action="store_true", help="decode every pixel (slow; catches truncated JPEGs)"
    )
    check.add_argument(
        "--workers", type=int, default=min(8, os.cpu_count() or 1), help="reader threads"
    )
    check.add_argument("--max-problems", type=int, default=20, help="problems listed at most")
    check.set_defaults(func=_cmd_check)
    return data


def _cmd_synth(args: argparse.Namespace) -> int:
    try:
        size = parse_size(args.size)
        summary = generate(
            args.root,
            preset=args.preset,
            seed=args.seed,
            size=size,
            workers=args.workers,
            overwrite=args.overwrite,
            progress=not args.quiet,
        )
    except SynthError as error:
        print(f"strf synth: error: {error}", file=sys.stderr)
        return 2
    ids = summary.identities
    print(
        f"wrote {summary.root}: {ids['train']}+{ids['test']} identities, "
        f"{summary.tracklets['train']}+{summary.tracklets['test']} tracklets (train+test), "
        f"{summary.queries} queries, {summary.frames} frames in {summary.seconds:.1f} s"
    )
    return 0


def add_synth_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add ``strf synth ROOT --preset --seed --size --workers`` to a subparsers object."""
    p = subparsers.add_parser(
        "synth",
        help="generate a synthetic tracklet world in MARS format",
        description="Generate a procedural world of walking people as a MARS dataset "
        f"(ROOT/bbox_train, bbox_test, info/, {META_NAME}).",
    )
    p.add_argument("root", help="dataset folder to create")
    p.add_argument(
        "--preset",
        default="demo",
        choices=list(PRESETS),
        help="tiny (tests), demo (sample data), full",
    )
    p.add_argument("--seed", type=int, default=0, help="the same seed gives byte-identical files")
    p.add_argument(
        "--size", default="256x128", help="frame HEIGHTxWIDTH: 256x128 (default) or 128x64"
    )
    p.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="drawing processes")
    p.add_argument("--overwrite", action="store_true", help="replace an existing synthetic dataset")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_synth)
    return p


def add_parsers(subparsers: argparse._SubParsersAction) -> None:
    """Add ``strf data`` (with ``check``) and ``strf synth``."""
    add_data_parser(subparsers)
    add_synth_parser(subparsers)
