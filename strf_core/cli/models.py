"""``strf models``: the registered models and their parameter counts; ``--units``: every
ResNet-50 variant with every attention unit (AP3D's configurations among them)."""

from __future__ import annotations

import argparse
import json

from strf_core.models import build_model, count_parameters, list_models, unit_parameter_table


def _cmd_units(args: argparse.Namespace) -> int:
    rows = unit_parameter_table(args.num_classes)
    if args.json:
        print(json.dumps([r._asdict() for r in rows], indent=2))
        return 0
    print(f"{'model':<14} {'unit':<9} {'params':>11} {'added':>10}  AP3D's name | the paper")
    for r in rows:
        notes = " | ".join(x for x in (r.ap3d_name, r.paper) if x)
        print(f"{r.model:<14} {r.unit:<9} {r.params:>11,} {r.added:>10,}  {notes}")
    return 0


def _cmd_models(args: argparse.Namespace) -> int:
    if args.units:
        return _cmd_units(args)
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
    p.add_argument(
        "--units",
        action="store_true",
        help="every ResNet-50 3D variant with each attention unit (strf, nonlocal, apm, apm_nl) "
        "in stages 2-3: AP3D's configurations beside the paper's statements",
    )
    p.set_defaults(func=_cmd_models)
