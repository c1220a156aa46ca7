"""Training: exact resume after an interruption, DDP on gloo, the progress and metrics log."""

from __future__ import annotations

import json
import os
import socket
from typing import NamedTuple

import pytest
import torch
import torch.multiprocessing as mp

from strf_core import build_model
from strf_core.data.writers import write_tiny_mars
from strf_core.engine.checkpoint import load_trained_model
from strf_core.engine.config import load_config
from strf_core.engine.trainer import Trainer

# (pid, camera, frames): 6 + 4 + 2 tracklets, so AP3D's epoch (every tracklet once in groups
# of K = 2) is 3 + 2 + 1 groups, 3 batches of P = 2 identities (an identity epoch: 2).
TRAIN = ((5, 1, 3), (5, 3, 2), (5, 2, 2), (5, 4, 2), (5, 5, 2), (5, 6, 2))
TRAIN += ((2, 2, 4), (2, 1, 2), (2, 3, 2), (2, 5, 3), (9, 6, 2), (9, 1, 2))


@pytest.fixture(scope="module")
def mars_root(tmp_path_factory):
    return write_tiny_mars(tmp_path_factory.mktemp("data") / "mars", train=TRAIN, size=(64, 32))


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
    full = Trainer.from_config(_config(mars_root, tmp_path / "full"), progress=False)
    result = full.fit()
    assert result["step"] == 3 * full.steps_per_epoch == 9  # AP3D's epoch: 3 batches
    # Stop in the middle of epoch 1 (after step 4), as a killed run would after its checkpoint.
    first = Trainer.from_config(
        _config(mars_root, tmp_path / "cut", "max_steps=4", "checkpoint_every_steps=1"),
        progress=False,
    )
    assert first.fit()["step"] == 4
    # A killed run has logged steps past its last checkpoint (and half a line as it died).
    log = tmp_path / "cut" / "metrics.jsonl"
    with open(log, "a") as f:
        f.write('{"epoch": 1, "step": 5, "loss": 1.0}\n{"epoch": 1, "step": 6, "lo')
    # max_steps at an epoch boundary stops there too (not one step into the next epoch).
    at_boundary = Trainer.from_config(
        _config(mars_root, tmp_path / "two", "max_steps=3"), progress=False
    )
    assert at_boundary.fit()["step"] == 3
    resumed = Trainer.from_config(_config(mars_root, tmp_path / "cut"), progress=False)
    assert (resumed.state.epoch, resumed.state.step) == (1, 4)
    resumed.fit()
    records = [json.loads(line) for line in log.read_text().splitlines()]
    assert [r["step"] for r in records if "loss" in r] == list(range(1, 10))  # once, in order
    for (name, a), b in zip(
        full.model.state_dict().items(), resumed.model.state_dict().values(), strict=True
    ):
        assert torch.equal(a, b), name
    # A fresh run (no resume) does not match: the test can tell runs apart.
    other = Trainer.from_config(_config(mars_root, tmp_path / "other", "seed=1"), progress=False)
    other.fit()
    assert not torch.equal(other.model.head.classifier.weight, full.model.head.classifier.weight)


def test_metrics_log_and_checkpoints(mars_root, tmp_path):
    trainer = Trainer.from_config(
        _config(mars_root, tmp_path / "run", "optim.epochs=2", "eval_every=1")
    )
    result = trainer.fit()
    records = [
        json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()
    ]
    steps = [r for r in records if "loss" in r]
    evals = [r for r in records if "eval" in r]
    assert len(steps) == 6 and all(r["lr"] > 0 and r["loss"] > 0 for r in steps)
    assert [r["epoch"] for r in evals] == [1, 2] and evals[-1]["eval"]["mode"] == "dense"
    assert 0.0 <= result["mAP"] <= 1.0
    assert (tmp_path / "run" / "last" / "model.safetensors").is_file()
    assert (tmp_path / "run" / "last" / "config.yaml").read_text().startswith("model:")
    # The test split is scored and logged, never used to pick a model: no best/ without a
    # validation split (the reported model is the final one, last/).
    assert not (tmp_path / "run" / "best").exists()


class _Batch(NamedTuple):
    clip: torch.Tensor  # uint8 (N, 3, T, H, W)
    pid: torch.Tensor


def test_a_trainer_takes_its_parts_and_trains_without_a_dataset_on_disk(tmp_path):
    torch.manual_seed(0)
    model = build_model("p3dc_resnet_tiny", num_classes=3, strf=True)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    pixels = torch.Generator().manual_seed(0)
    pids = torch.tensor([0, 0, 1, 1, 2, 2])
    shape = (6, 3, 2, 64, 32)
    batches = [
        _Batch(torch.randint(0, 256, shape, dtype=torch.uint8, generator=pixels), pids)
        for _ in range(2)
    ]
    out = tmp_path / "finetune"
    config = load_config(None, ["optim.epochs=2", "eval_every=1", f"output_dir={out}"])
    trainer = Trainer(model, optimizer, batches, config=config, progress=False)
    assert trainer.model is model and trainer.steps_per_epoch == 2
    before = model.head.classifier.weight.detach().clone()
    parts = trainer.train_step(*batches[0])  # one step on in-memory clips
    assert parts["loss"] > 0 and not torch.equal(before, model.head.classifier.weight)
    assert trainer.fit() == {"epoch": 2, "step": 4}  # no test data given: nothing evaluated
    with pytest.raises(ValueError, match="no test dataset"):
        trainer.evaluate()
    restored, _ = load_trained_model(out / "last")  # config.model describes the model
    for (name, a), b in zip(
        model.state_dict().items(), restored.state_dict().values(), strict=True
    ):
        assert torch.equal(a, b), name
    assert not (out / "best").exists()


class _Dropout(torch.nn.Module):
    """The tiny model behind a dropout on its input: training draws from torch's global RNG."""

    def __init__(self, inner: torch.nn.Module) -> None:
        super().__init__()
        self.inner = inner

    def forward(self, clips: torch.Tensor):
        return self.inner(torch.nn.functional.dropout(clips, 0.5, self.training))


def _dropout_trainer(out, *extra):
    torch.manual_seed(0)
    model = _Dropout(build_model("p3dc_resnet_tiny", num_classes=3, strf=True))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    pixels = torch.Generator().manual_seed(0)
    pids = torch.tensor([0, 0, 1, 1, 2, 2])
    batches = [
        _Batch(torch.randint(0, 256, (6, 3, 2, 64, 32), dtype=torch.uint8, generator=pixels), pids)
        for _ in range(2)
    ]
    config = load_config(None, ["optim.epochs=3", "eval_every=0", f"output_dir={out}", *extra])
    return Trainer(model, optimizer, batches, config=config, progress=False)


def test_resume_restores_the_global_rng_that_training_draws_from(tmp_path):
    full = _dropout_trainer(tmp_path / "full")
    full.fit()
    cut = _dropout_trainer(tmp_path / "cut", "max_steps=2")  # stopped after epoch 1
    assert cut.fit()["step"] == 2
    torch.manual_seed(123)  # a new process: its RNG is anywhere, and building the model draws
    resumed = _dropout_trainer(tmp_path / "cut")
    assert resumed.resume() and resumed.state.step == 2
    resumed.fit()
    for (name, a), b in zip(
        full.model.state_dict().items(), resumed.model.state_dict().values(), strict=True
    ):
        assert torch.equal(a, b), name
    # Without the RNG state the dropout masks, and so the weights, would differ.
    other = _dropout_trainer(tmp_path / "other")
    torch.manual_seed(1)
    other.fit()
    assert not torch.equal(
        other.model.inner.head.classifier.weight, full.model.inner.head.classifier.weight
    )


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
    trainer = Trainer.from_config(_config(root, out, "optim.epochs=2"), progress=False)
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
    init = Trainer.from_config(
        _config(mars_root, tmp_path / "init"), progress=False
    ).model.state_dict()
    for name in a:
        if "running" in name or "num_batches" in name:
            continue  # BatchNorm statistics are per process, as in any DDP run without SyncBN
        assert torch.equal(a[name], b[name]), name
    assert not torch.equal(a["head.classifier.weight"], init["head.classifier.weight"])
    assert (tmp_path / "ddp" / "last" / "model.safetensors").is_file()  # written by rank 0
