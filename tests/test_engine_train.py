"""Training: exact resume after an interruption, DDP on gloo, the progress and metrics log."""

from __future__ import annotations

import json
import os
import socket

import pytest
import torch
import torch.multiprocessing as mp

from strf_core.data.writers import write_tiny_mars
from strf_core.engine.config import load_config
from strf_core.engine.trainer import Trainer


@pytest.fixture(scope="module")
def mars_root(tmp_path_factory):
    return write_tiny_mars(tmp_path_factory.mktemp("data") / "mars", size=(64, 32))


def _config(root, out, *extra):
    return load_config(
        None,
        [
            f"data.root={root}",
            "data.dataset=mars",
            "data.height=64",
            "data.width=32",
            "data.batch_p=2",
            "data.batch_k=2",
            "data.workers=0",
            "optim.epochs=3",
            "optim.milestones=[2]",  # the scheduler state matters across the interruption
            "eval_every=0",
            f"output_dir={out}",
            *extra,
        ],
    )


def test_interrupted_run_resumes_to_the_same_weights(mars_root, tmp_path):
    full = Trainer(_config(mars_root, tmp_path / "full"), progress=False)
    result = full.fit()
    assert result["step"] == 3 * full.steps_per_epoch == 6
    # Stop in the middle of epoch 1 (after step 3), as a killed run would after its checkpoint.
    first = Trainer(
        _config(mars_root, tmp_path / "cut", "max_steps=3", "checkpoint_every_steps=1"),
        progress=False,
    )
    assert first.fit()["step"] == 3
    # max_steps at an epoch boundary stops there too (not one step into the next epoch).
    at_boundary = Trainer(_config(mars_root, tmp_path / "two", "max_steps=2"), progress=False)
    assert at_boundary.fit()["step"] == 2
    resumed = Trainer(_config(mars_root, tmp_path / "cut"), progress=False)
    assert (resumed.state.epoch, resumed.state.step) == (1, 3)
    resumed.fit()
    for (name, a), b in zip(
        full.model.state_dict().items(), resumed.model.state_dict().values(), strict=True
    ):
        assert torch.equal(a, b), name
    # A fresh run (no resume) does not match: the test can tell runs apart.
    other = Trainer(_config(mars_root, tmp_path / "other", "seed=1"), progress=False)
    other.fit()
    assert not torch.equal(other.model.head.classifier.weight, full.model.head.classifier.weight)


def test_metrics_log_and_checkpoints(mars_root, tmp_path):
    trainer = Trainer(_config(mars_root, tmp_path / "run", "optim.epochs=2", "eval_every=1"))
    result = trainer.fit()
    records = [
        json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()
    ]
    steps = [r for r in records if "loss" in r]
    evals = [r for r in records if "eval" in r]
    assert len(steps) == 4 and all(r["lr"] > 0 and r["loss"] > 0 for r in steps)
    assert [r["epoch"] for r in evals] == [1, 2] and evals[-1]["eval"]["mode"] == "dense"
    assert 0.0 <= result["mAP"] <= 1.0
    for name in ("last", "best"):
        assert (tmp_path / "run" / name / "model.safetensors").is_file()
        assert (tmp_path / "run" / name / "config.yaml").read_text().startswith("model:")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ddp_worker(rank, world_size, port, root, out, results):
    os.environ.update(
        MASTER_ADDR="127.0.0.1",
        MASTER_PORT=str(port),
        WORLD_SIZE=str(world_size),
        RANK=str(rank),
        LOCAL_RANK=str(rank),
    )
    torch.set_num_threads(1)
    trainer = Trainer(_config(root, out, "optim.epochs=2"), progress=False)
    trainer.fit()
    results[rank] = {k: v.clone() for k, v in trainer.model.state_dict().items()}
    torch.distributed.destroy_process_group()


def test_ddp_on_gloo_with_two_processes_keeps_replicas_identical(mars_root, tmp_path):
    manager = mp.Manager()
    results = manager.dict()
    mp.spawn(
        _ddp_worker,
        args=(2, _free_port(), str(mars_root), str(tmp_path / "ddp"), results),
        nprocs=2,
        join=True,
    )
    a, b = results[0], results[1]
    init = Trainer(_config(mars_root, tmp_path / "init"), progress=False).model.state_dict()
    for name in a:
        if "running" in name or "num_batches" in name:
            continue  # BatchNorm statistics are per process, as in any DDP run without SyncBN
        assert torch.equal(a[name], b[name]), name
    assert not torch.equal(a["head.classifier.weight"], init["head.classifier.weight"])
    assert (tmp_path / "ddp" / "last" / "model.safetensors").is_file()  # written by rank 0
