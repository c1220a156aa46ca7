"""Checkpoints that survive interruption: safetensors weights, training state, the config.

A checkpoint is a directory::

    last/                  (or best/)
      model.safetensors    the model's state dict (parameters and buffers)
      state.pt             optimizer, scheduler, epoch, step, RNG states, metrics
      config.yaml          the run's configuration

It is written into ``<name>.tmp/`` first and then swapped in with renames, so a crash leaves
either the previous checkpoint or the new one (``<name>.old/`` is picked up if the crash came
between the two renames).
"""

from __future__ import annotations

import random
import shutil
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import yaml
from safetensors import safe_open
from safetensors.torch import load_file, save_file
from torch import nn

from strf_core.atomic import fsync_files, replace_dir

WEIGHTS = "model.safetensors"
STATE = "state.pt"
CONFIG = "config.yaml"


class CheckpointError(RuntimeError):
    """A checkpoint is missing, incomplete or does not fit the model."""


@dataclass
class TrainingState:
    """What besides the weights a run needs to continue exactly."""

    epoch: int = 0  # epochs completed
    step: int = 0  # optimizer steps completed
    optimizer: dict[str, Any] = field(default_factory=dict)
    scheduler: dict[str, Any] = field(default_factory=dict)
    rng: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    best_score: float = float("-inf")
    evals_since_best: int = 0  # evaluations after the last lr step without a better score


def rng_state() -> dict[str, Any]:
    """Python, NumPy, torch (and CUDA) generator states, as tensors and plain types only (so
    that ``state.pt`` loads with ``weights_only=True``)."""
    name, keys, pos, has_gauss, cached = np.random.get_state()
    state = {
        "python": random.getstate(),
        "numpy": (name, torch.from_numpy(keys.astype(np.int64)), pos, has_gauss, cached),
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    random.setstate(state["python"])
    name, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((name, keys.numpy().astype(np.uint32), pos, has_gauss, cached))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save_checkpoint(
    directory: str | Path, model: nn.Module, state: TrainingState, config_yaml: str
) -> Path:
    """Write a checkpoint directory atomically and return its path."""
    directory = Path(directory)
    tmp = directory.with_name(directory.name + ".tmp")
    old = directory.with_name(directory.name + ".old")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    weights = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    save_file(weights, tmp / WEIGHTS)
    torch.save(state.__dict__, tmp / STATE)
    (tmp / CONFIG).write_text(config_yaml)
    fsync_files(tmp)
    replace_dir(tmp, directory, old=old)
    return directory


def resolve_checkpoint(directory: str | Path) -> Path:
    """The complete checkpoint at ``directory``, or its ``.old`` twin after an interrupted swap."""
    directory = Path(directory)
    for candidate in (directory, directory.with_name(directory.name + ".old")):
        if all((candidate / name).is_file() for name in (WEIGHTS, STATE, CONFIG)):
            return candidate
    missing = [n for n in (WEIGHTS, STATE, CONFIG) if not (directory / n).is_file()]
    raise CheckpointError(f"no complete checkpoint at {directory} (missing {', '.join(missing)})")


def load_weights(model: nn.Module, directory: str | Path) -> nn.Module:
    """Load ``model.safetensors`` into ``model``; a mismatch names the offending tensors."""
    path = resolve_checkpoint(directory) / WEIGHTS
    weights = load_file(path)
    expected = model.state_dict()
    missing = sorted(set(expected) - set(weights))
    unexpected = sorted(set(weights) - set(expected))
    wrong = [k for k in expected if k in weights and weights[k].shape != expected[k].shape]
    if missing or unexpected or wrong:
        parts = []
        if missing:
            parts.append(f"missing {missing[:3]}{'...' if len(missing) > 3 else ''}")
        if unexpected:
            parts.append(f"unexpected {unexpected[:3]}{'...' if len(unexpected) > 3 else ''}")
        if wrong:
            k = wrong[0]
            parts.append(
                f"{k} is {tuple(weights[k].shape)} in the file, {tuple(expected[k].shape)} here"
            )
        raise CheckpointError(f"{path} does not match the model: " + "; ".join(parts))
    model.load_state_dict(weights)
    return model


def load_training_state(directory: str | Path) -> TrainingState:
    path = resolve_checkpoint(directory) / STATE
    return TrainingState(**torch.load(path, map_location="cpu", weights_only=True))


def export_checkpoint(
    source: str | Path, target: str | Path, *, extra_files: Mapping[str, str] | None = None
) -> Path:
    """Copy a checkpoint for inference only, replacing ``target``.

    Weights are copied as they are, the config without the training machine's paths
    (``data.root`` and ``output_dir`` are emptied: a shipped file names no folder of the machine
    that made it; give the data root when evaluating); ``state.pt`` keeps epoch, step and metrics
    (:func:`load_trained_model` wants the file) but not the optimizer, scheduler and RNG states
    (Adam's moments would triple the size). The copy is made in ``<target>.tmp`` and renamed
    into place.

    Args:
        source: a checkpoint directory (its ``.old`` twin after an interrupted swap).
        target: the directory to write.
        extra_files: text files to write beside (name -> text), e.g. an evaluation record.

    Returns:
        ``target``.
    """
    source, target = resolve_checkpoint(source), Path(target)
    tmp = target.with_name(target.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    shutil.copy2(source / WEIGHTS, tmp / WEIGHTS)
    (tmp / CONFIG).write_text(portable_config((source / CONFIG).read_text()))
    state = load_training_state(source)
    state.optimizer, state.scheduler, state.rng = {}, {}, {}
    torch.save(state.__dict__, tmp / STATE)
    for name, text in (extra_files or {}).items():
        (tmp / name).write_text(text)
    fsync_files(tmp)
    replace_dir(tmp, target)
    return target


def without_machine_paths(config: dict[str, Any]) -> dict[str, Any]:
    """A config dict with its machine paths (``data.root``, ``output_dir``) emptied, everything
    else as it was (a copy)."""
    config = {k: dict(v) if isinstance(v, dict) else v for k, v in config.items()}
    if isinstance(config.get("data"), dict):
        config["data"]["root"] = ""
    config["output_dir"] = ""
    return config


def portable_config(text: str) -> str:
    """A run's ``config.yaml`` text without its machine paths (:func:`without_machine_paths`)."""
    config = without_machine_paths(yaml.safe_load(text) or {})
    header = "# exported for inference: data.root and output_dir of the training run left out\n"
    return header + yaml.safe_dump(config, sort_keys=False)


def load_trained_model(
    directory: str | Path, device: torch.device | str = "cpu"
) -> tuple[nn.Module, Any]:
    """Rebuild a trained model from its checkpoint directory, in eval mode.

    The architecture comes from the checkpoint's ``config.yaml`` and the number of classes from
    its classifier weight, so no dataset is needed.

    Returns:
        ``(model, config)``.

    Raises:
        CheckpointError: an incomplete checkpoint, or weights that do not fit its config.
    """
    from strf_core.engine.config import ConfigError, build_model_for, load_config

    path = resolve_checkpoint(directory)
    try:
        config = load_config(path / CONFIG)
    except ConfigError as err:
        raise CheckpointError(f"{path / CONFIG}: {err}") from err
    with safe_open(path / WEIGHTS, framework="pt") as f:
        if "head.classifier.weight" not in set(f.keys()):
            raise CheckpointError(f"{path / WEIGHTS} has no head.classifier.weight")
        num_classes = f.get_slice("head.classifier.weight").get_shape()[0]
    model = build_model_for(config, num_classes, pretrained=False)
    load_weights(model, path)
    return model.to(device).eval(), config
