"""A checkpoint interrupted at any point of its writing leaves the previous one or the new one."""

from __future__ import annotations

import os
import pathlib
import shutil

import pytest
import torch
from torch import nn

from strf_core.engine import checkpoint
from strf_core.engine.checkpoint import (
    TrainingState,
    load_training_state,
    load_weights,
    resolve_checkpoint,
    save_checkpoint,
)


class _CrashError(Exception):
    """The process dying at this point of the write."""


# Every file-system step save_checkpoint and the atomic helpers take, by where they are looked up.
_STEPS = [
    (checkpoint, "save_file"),
    (torch, "save"),
    (pathlib.Path, "write_text"),
    (pathlib.Path, "mkdir"),
    (pathlib.Path, "rename"),
    (pathlib.Path, "replace"),
    (shutil, "rmtree"),
    (os, "fsync"),
    (os, "replace"),
    (os, "rename"),
]


def _intercept(monkeypatch, crash_at: int | None, after: bool) -> list[str]:
    """Count every step; raise :class:`_CrashError` before (or just after) step ``crash_at``."""
    done: list[str] = []
    for owner, name in _STEPS:
        original = getattr(owner, name)

        def step(*args, _original=original, _name=name, **kwargs):
            index = len(done)
            done.append(_name)
            if index == crash_at and not after:
                raise _CrashError(_name)
            result = _original(*args, **kwargs)  # may take nested steps (Path.rename: os.rename)
            if index == crash_at and after:
                raise _CrashError(_name)
            return result

        monkeypatch.setattr(owner, name, step)
    return done


def _version(value: int) -> tuple[nn.Module, TrainingState, str]:
    model = nn.Linear(3, 2)
    with torch.no_grad():
        model.weight.fill_(value)
        model.bias.fill_(value)
    return model, TrainingState(epoch=value, step=10 * value), f"version: {value}\n"


def _read(directory: pathlib.Path) -> tuple[int, int, str]:
    """The version of the weights, of the state and of the config the checkpoint holds."""
    path = resolve_checkpoint(directory)
    model = load_weights(nn.Linear(3, 2), path)
    return (
        int(model.weight[0, 0].item()),
        load_training_state(path).epoch,
        (path / checkpoint.CONFIG).read_text(),
    )


def test_save_interrupted_at_every_step_leaves_the_old_or_the_new_checkpoint(tmp_path, monkeypatch):
    # What reaches the disk is the OS's business; here only the order of the steps counts, and
    # a real fsync per file makes the many saves below slow.
    monkeypatch.setattr(os, "fsync", lambda fd: None)
    last = tmp_path / "last"
    save_checkpoint(last, *_version(1))
    with monkeypatch.context() as m:  # a dry run over a previous checkpoint counts the steps
        steps = _intercept(m, None, after=False)
        save_checkpoint(last, *_version(2))
    assert {"save_file", "save", "write_text", "rename"} <= set(steps)
    outcomes = set()
    for crash_at in range(len(steps)):
        for after in (False, True):
            save_checkpoint(last, *_version(1))  # the previous checkpoint, complete
            with monkeypatch.context() as m:
                _intercept(m, crash_at, after)
                with pytest.raises(_CrashError):
                    save_checkpoint(last, *_version(2))
            weights, state, config = _read(last)
            where = f"crash {'after' if after else 'before'} step {crash_at} ({steps[crash_at]})"
            assert weights == state and config == f"version: {weights}\n", where
            outcomes.add(weights)
            # The next save (a resumed run's) finds its way through what the crash left.
            save_checkpoint(last, *_version(3))
            assert _read(last) == (3, 3, "version: 3\n"), where
            assert sorted(p.name for p in tmp_path.iterdir()) == ["last"], where
    assert outcomes == {1, 2}  # crashes early keep the old one, late ones the new one
