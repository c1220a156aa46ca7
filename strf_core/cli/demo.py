"""``strf demo``: prepare the dashboard's demo data ahead of time."""

from __future__ import annotations

import argparse


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


def add_parsers(subparsers: argparse._SubParsersAction) -> None:
    """Add ``strf demo``."""
    p = subparsers.add_parser(
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
