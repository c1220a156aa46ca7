"""``strf data check ROOT --dataset NAME``: split statistics, then every frame opened.

Exit status: 0 when the dataset loads and every frame is readable, 1 otherwise.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

from PIL import Image, UnidentifiedImageError

from strf_core.data.datasets.base import DatasetError
from strf_core.data.datasets.mars import PROTOCOLS
from strf_core.data.datasets.registry import build_dataset, datasets_with_option, list_datasets

# Options that only some datasets take: the CLI rejects them elsewhere instead of ignoring them.
_SPLIT_ID_DATASETS = datasets_with_option("split_id")
_PROTOCOL_DATASETS = datasets_with_option("protocol")


def frame_problem(path: str, *, full: bool = False) -> str | None:
    """Why ``path`` is not a usable frame, or ``None`` when it is.

    Args:
        path: an image file.
        full: decode every pixel; without it PIL's ``verify`` checks the file's structure only,
            which is much faster but misses a JPEG cut short.
    """
    try:
        with Image.open(path) as image:
            image.verify()
        if full:
            # verify() leaves the image unusable: reopen to decode.
            with Image.open(path) as image:
                image.load()
    except FileNotFoundError:
        return f"missing: {path}"
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as err:
        return f"unreadable image ({err}): {path}"
    return None


def find_frame_problems(
    paths: Sequence[str],
    *,
    full: bool = False,
    workers: int = 4,
    progress: Callable[[int, int], None] | None = None,
) -> list[str]:
    """:func:`frame_problem` over many files, in their order.

    Args:
        paths: image files.
        full: decode every pixel (see :func:`frame_problem`).
        workers: threads; they overlap the file reads (PIL releases the GIL while decoding).
        progress: called with ``(files checked, total)`` after each chunk of files.

    Returns:
        One line per bad file.
    """
    # Chunks rather than one task per file: map() submits every task at once, and a million
    # pending futures would hold hundreds of megabytes.
    chunk = 512
    chunks = [paths[i : i + chunk] for i in range(0, len(paths), chunk)]

    def check(batch: Sequence[str]) -> list[str]:
        return [r for r in (frame_problem(p, full=full) for p in batch) if r is not None]

    problems: list[str] = []
    with ThreadPoolExecutor(max_workers=max(workers, 1)) as pool:
        for i, found in enumerate(pool.map(check, chunks)):
            problems += found
            if progress is not None:
                progress(min((i + 1) * chunk, len(paths)), len(paths))
    return problems


def _print_progress(done: int, total: int) -> None:
    end = "\n" if done == total else ""
    print(f"\rchecking frames: {done}/{total}", end=end, file=sys.stderr, flush=True)


def run_check(args: argparse.Namespace) -> int:
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
        The ``data`` parser. ``check`` sets ``func`` to :func:`run_check`, so the CLI's usual
        ``args.func(args)`` runs it.
    """
    data = subparsers.add_parser("data", help="inspect datasets on disk")
    commands = data.add_subparsers(dest="data_command", required=True)
    check = commands.add_parser(
        "check",
        help="print split statistics and check that every frame opens as an image",
        description=__doc__,
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
    check.set_defaults(func=run_check)
    return data
