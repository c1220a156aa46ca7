"""The ``strf`` command line.

Subcommands: ``models`` (registered models and parameter counts), ``synth`` (write a synthetic
world in the MARS layout), ``data check`` (validate a dataset folder), ``train``, ``eval``,
``export-onnx``, ``demo`` (prepare the dashboard's demo data), ``benchmark``, ``ablate``,
``recipe`` (the synthetic benchmark, the paper's ablations and training-recipe variants),
``evidence`` (Fig. 5 measured against the synthetic world's ground truth), ``export`` and
``model-card``. Bad arguments, missing files and mismatched checkpoints end in one
``strf: error: ...`` line and exit status 2 (set ``STRF_DEBUG=1`` for the traceback).

One module per group of commands, each with an ``add_*_parser(subparsers)`` per command; only
this package parses arguments and prints::

    models.py       models
    data.py         synth, data check
    train.py        train, eval, export-onnx
    demo.py         demo
    experiments.py  benchmark, ablate, recipe, evidence, export, model-card

Commands are imported lazily: ``strf --help`` lists them from :data:`COMMANDS` without
importing PyTorch, and ``strf CMD ...`` imports CMD's module alone.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence
from typing import NamedTuple


class Command(NamedTuple):
    """Where a subcommand's parser is built, and its one-line help."""

    module: str
    adder: str
    help: str


# The order of ``strf --help``. Each help line is the one its module gives (a test checks).
COMMANDS = {
    "models": Command(
        "models", "add_parsers", "list the registered models with their parameter counts"
    ),
    "data": Command("data", "add_data_parser", "inspect datasets on disk"),
    "synth": Command(
        "data", "add_synth_parser", "generate a synthetic tracklet world in MARS format"
    ),
    "benchmark": Command(
        "experiments",
        "add_benchmark_parser",
        "train and compare the P3D-C baseline and STRF-P3D-C on synthetic data",
    ),
    "ablate": Command(
        "experiments",
        "add_ablate_parser",
        "re-run the paper's ablation grids on synthetic data (resumable)",
    ),
    "recipe": Command(
        "experiments",
        "add_recipe_parser",
        "try training-recipe variants on the baseline and STRF alike (resumable)",
    ),
    "evidence": Command(
        "experiments",
        "add_evidence_parser",
        "Fig. 5 measured: Grad-CAM mass on person, occluder, background (occluded queries)",
    ),
    "export": Command(
        "experiments",
        "add_export_parser",
        "export a checkpoint for inference with its metrics on a synthetic test split",
    ),
    "model-card": Command(
        "experiments",
        "add_model_card_parser",
        "a Markdown page on exported models: scores per hard case, validation curves",
    ),
    "train": Command(
        "train",
        "add_train_parser",
        "train a model from a YAML config (resumes from OUTPUT_DIR/last)",
    ),
    "eval": Command(
        "train", "add_eval_parser", "evaluate a checkpoint on a dataset's query and gallery"
    ),
    "demo": Command(
        "demo",
        "add_parsers",
        "prepare the dashboard's demo data (world and gallery embeddings) ahead of time",
    ),
    "export-onnx": Command("train", "add_export_onnx_parser", "export a checkpoint to ONNX"),
}
DESCRIPTION = (
    "STRF Explorer's command line: models, synthetic data, training, evaluation, experiments "
    "and export. 'strf COMMAND --help' describes a command."
)


def build_parser(commands: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The ``strf`` parser; each full subcommand sets ``func(args) -> exit status``.

    Args:
        commands: the subcommands to build in full (their modules imported); the others are
            listed with their help line only. ``None``: all of them.
    """
    parser = argparse.ArgumentParser(prog="strf", description=DESCRIPTION)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, command in COMMANDS.items():
        if commands is None or name in commands:
            module = importlib.import_module(f"strf_core.cli.{command.module}")
            getattr(module, command.adder)(sub)
        else:
            sub.add_parser(name, help=command.help, add_help=False)
    return parser


def user_errors() -> tuple[type[BaseException], ...]:
    """The errors that mean bad input (reported in one line), imported when one is raised."""
    from strf_core.data.datasets import DatasetError
    from strf_core.data.pipeline import FrameReadError
    from strf_core.engine.checkpoint import CheckpointError
    from strf_core.engine.config import ConfigError

    return (ConfigError, DatasetError, CheckpointError, FrameReadError, OSError, ValueError)


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``strf`` with ``argv`` (default: the process's arguments); return the exit status."""
    if argv is None:  # a process of its own, not a caller's (tests pass argv)
        from strf_core.allocator import reuse_freed_memory

        reuse_freed_memory()  # large activations reuse their pages (strf_core/allocator.py)
    argv = list(sys.argv[1:] if argv is None else argv)
    wanted = argv[:1] if argv and argv[0] in COMMANDS else []  # built in full, alone
    args = build_parser(wanted).parse_args(argv)
    try:
        return args.func(args)
    except Exception as err:
        if os.environ.get("STRF_DEBUG") or not isinstance(err, user_errors()):
            raise
        print(f"strf {args.command}: error: {err}", file=sys.stderr)
        return 2


__all__ = ["COMMANDS", "build_parser", "main", "user_errors"]
