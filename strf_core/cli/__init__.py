"""The ``strf`` command line.

Subcommands: ``models`` (registered models and parameter counts), ``synth`` (write a synthetic
world in the MARS layout), ``data check`` (validate a dataset folder), ``train``, ``eval``,
``export-onnx``, ``demo`` (prepare the dashboard's demo data), ``benchmark``, ``ablate``,
``recipe`` (the synthetic benchmark, the paper's ablations and training-recipe variants) and
``evidence`` (Fig. 5 measured against the synthetic world's ground truth). Bad
arguments, missing files and mismatched checkpoints end in one ``strf: error: ...`` line and exit
status 2 (set ``STRF_DEBUG=1`` for the traceback).

One module per group of commands, each with an ``add_parsers(subparsers)``; only this package
parses arguments and prints::

    models.py       models
    data.py         synth, data check
    train.py        train, eval, export-onnx
    demo.py         demo
    experiments.py  benchmark, ablate, recipe, evidence
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from strf_core.cli import data, demo, experiments, models, train
from strf_core.data.datasets import DatasetError
from strf_core.data.pipeline import FrameReadError
from strf_core.engine.checkpoint import CheckpointError
from strf_core.engine.config import ConfigError

USER_ERRORS = (ConfigError, DatasetError, CheckpointError, FrameReadError, OSError, ValueError)


def build_parser() -> argparse.ArgumentParser:
    """The ``strf`` parser with every subcommand; each sets ``func(args) -> exit status``."""
    parser = argparse.ArgumentParser(prog="strf", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    # The order of ``strf --help``.
    models.add_parsers(sub)
    data.add_parsers(sub)
    experiments.add_parsers(sub)
    train.add_train_parser(sub)
    train.add_eval_parser(sub)
    demo.add_parsers(sub)
    train.add_export_onnx_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``strf`` with ``argv`` (default: the process's arguments); return the exit status."""
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except USER_ERRORS as err:
        if os.environ.get("STRF_DEBUG"):
            raise
        print(f"strf {args.command}: error: {err}", file=sys.stderr)
        return 2


__all__ = ["USER_ERRORS", "build_parser", "main"]
