"""``strf models``: the registered models and their parameter counts."""

from __future__ import annotations

import argparse
import json

from strf_core.models import build_model, count_parameters, list_models


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


def add_parsers(subparsers: argparse._SubParsersAction) -> None:
    """Add ``strf models``."""
    p = subparsers.add_parser(
        "models", help="list the registered models with their parameter counts"
    )
    p.add_argument("--num-classes", type=int, default=625, help="classifier size (MARS: 625)")
    p.add_argument("--filter", default="", help="only models whose name contains this")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(func=_cmd_models)
