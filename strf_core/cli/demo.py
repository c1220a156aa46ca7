"""``strf demo``: prepare the dashboard's demo data ahead of time; ``--write-embeddings``
writes the demo models' shipped embeddings (for maintainers)."""

from __future__ import annotations

import argparse


def _cmd_demo(args: argparse.Namespace) -> int:
    from strf_core.demo import cache_root, prepare_demo, write_demo_embeddings

    if args.workers is not None and args.workers < 1:
        raise ValueError(f"--workers must be 1 or more, got {args.workers}")
    if args.write_embeddings is not None:
        if args.all_branch_sets:
            raise ValueError("--all-branch-sets is for preparing the demo, not --write-embeddings")
        written = write_demo_embeddings(
            args.write_embeddings or None, workers=args.workers, progress=not args.quiet
        )
        print(f"wrote {len(written)} embedding bundle(s); commit them with the models")
        return 0
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
        description="Generate the test split of the demo world from its seed into the cache "
        "($STRF_CACHE or ~/.cache/strf) and load the demo models' shipped gallery embeddings "
        "(embedded and cached instead if they do not fit), so the dashboard's first page opens "
        "in seconds. Steps already done are read back. The dashboard does this itself when it "
        "has to, more slowly (one process). Maintainers: --write-embeddings writes the shipped "
        "embeddings after the demo models change.",
    )
    p.add_argument("--workers", type=int, help="generator processes (default: every core)")
    p.add_argument(
        "--all-branch-sets",
        action="store_true",
        help="when the shipped embeddings do not fit: also embed the gallery for all 16 STRF "
        "branch sets (the dashboard's toggles)",
    )
    p.add_argument(
        "--write-embeddings",
        nargs="*",
        metavar="MODEL",
        help="write sample_data/models/MODEL/embeddings.safetensors (default: every demo "
        "model): the test split embedded under every branch set, in half precision",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=_cmd_demo)
