"""Training: the paper's recipe on one device or many (torchrun + DistributedDataParallel).

::

    config -> dataset (train/query/gallery) -> model (num_classes = train identities)
    per epoch: P x K batches -> [bf16 autocast on CUDA] forward -> CE + triplet -> Adam step
               every ``eval_every`` epochs: dense evaluation on rank 0 -> best checkpoint
               every epoch end (and every ``checkpoint_every_steps``): the rolling ``last``

With ``data.val_ids = k`` the run holds k training identities out
(:func:`~strf_core.data.validation.carve_validation`): every evaluation then scores that
validation split, ``best/`` follows its mAP, ``patience`` evaluations without a better one stop
the run, and the test split is scored once, on the final model.

Resume is exact: the batches of an epoch are a pure function of (seed, epoch), every clip's
random draws come from its own seed, and the checkpoint holds the optimizer, the scheduler and
the RNG states, so a run killed after any checkpoint and resumed reaches the weights of an
uninterrupted run (on the CPU, where kernels are deterministic).
"""

from __future__ import annotations

import json
import math
import os
import time
from functools import cached_property
from pathlib import Path

import torch
import torch.distributed as dist
from torch import nn

from strf_core.data.datasets import build_dataset
from strf_core.data.pipeline import build_train_loader
from strf_core.data.transforms import normalize_clips
from strf_core.data.validation import carve_validation
from strf_core.engine.checkpoint import (
    TrainingState,
    load_training_state,
    load_weights,
    resolve_checkpoint,
    rng_state,
    save_checkpoint,
    set_rng_state,
)
from strf_core.engine.config import ConfigError, TrainConfig, config_to_yaml
from strf_core.engine.evaluate import evaluate, evaluate_dataset, synthetic_query_subsets
from strf_core.losses import ReIDLoss
from strf_core.models import ResNet3D, build_model
from strf_core.synth import META_NAME, lookalike_groups


def pick_device(name: str, local_rank: int = 0) -> torch.device:
    """``"auto"``: this process's CUDA device when there is one, else the CPU."""
    if name == "auto":
        return torch.device(f"cuda:{local_rank}" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def dataset_kwargs(config: TrainConfig) -> dict:
    """The loader options that apply to ``config.data.dataset``."""
    data = config.data
    if data.dataset == "mars":
        return {"protocol": data.protocol}
    if data.dataset in ("ilids_vid", "prid2011"):
        return {"split_id": data.split_id}
    return {}


def build_model_for(config: TrainConfig, num_classes: int) -> ResNet3D:
    m = config.model
    return build_model(
        m.name,
        num_classes=num_classes,
        strf=m.strf,
        strf_stages=m.strf_stages,
        strf_kwargs=m.strf_kwargs,
        weights=m.weights,
    )


SAMPLERS = ("identity", "lookalike")


def train_lookalike_groups(
    config: TrainConfig, dataset, train: list | None = None
) -> list[int | None] | None:
    """The look-alike group of each of ``train`` (default: ``dataset.train``) when
    ``data.sampler="lookalike"``, ``None`` (random P x K batches) for ``"identity"``.

    Raises:
        ConfigError: an unknown sampler, or ``"lookalike"`` on data that is not a synthetic
            world (real data has no look-alike labels).
    """
    sampler = config.data.sampler
    if sampler not in SAMPLERS:
        raise ConfigError(f"data.sampler: expected one of {', '.join(SAMPLERS)}, got {sampler!r}")
    if sampler == "identity":
        return None
    if not (Path(dataset.root) / META_NAME).is_file():
        raise ConfigError(
            f"data.sampler=lookalike needs a synthetic world (look-alike groups from the "
            f"generator's {META_NAME}); {dataset.root} has none: real data gives no such labels"
        )
    return lookalike_groups(dataset.root, dataset.train if train is None else train)


class Trainer:
    """Train and evaluate one configuration.

    Args:
        config: the run.
        resume: continue from ``output_dir/last`` when it exists.
        progress: show a progress bar (rank 0 only).
    """

    def __init__(self, config: TrainConfig, *, resume: bool = True, progress: bool = True) -> None:
        self.config = config
        self.distributed = int(os.environ.get("WORLD_SIZE", "1")) > 1
        self.rank, self.world_size, local_rank = 0, 1, 0
        if self.distributed:
            if not dist.is_initialized():
                backend = "nccl" if torch.cuda.is_available() else "gloo"
                dist.init_process_group(backend)
            self.rank, self.world_size = dist.get_rank(), dist.get_world_size()
            local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        self.device = pick_device(config.device, local_rank)
        if self.device.type == "cuda":
            torch.cuda.set_device(self.device)
        self.progress = progress and self.rank == 0
        self.out = Path(config.output_dir)
        torch.manual_seed(config.seed)

        data = config.data
        self.dataset = build_dataset(data.dataset, data.root, **dataset_kwargs(config))
        try:
            self.split = carve_validation(self.dataset.train, data.val_ids, seed=config.seed)
        except ValueError as err:
            raise ConfigError(str(err)) from None
        num_classes = len({t.pid for t in self.split.train})
        self.model = build_model_for(config, num_classes).to(self.device)
        use_cuda = self.device.type == "cuda"
        if use_cuda and config.channels_last:
            self.model = self.model.to(memory_format=torch.channels_last_3d)
        self.optimizer = torch.optim.Adam(
            self.model.parameters(), lr=config.optim.lr, weight_decay=config.optim.weight_decay
        )
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(self.optimizer, self._lr_factor)
        self.criterion = ReIDLoss(
            ce_weight=config.loss.ce_weight,
            triplet_weight=config.loss.triplet_weight,
            margin=config.loss.margin,
        )
        self.loader = build_train_loader(
            self.split.train,
            batch_p=data.batch_p,
            batch_k=data.batch_k,
            seq_len=data.seq_len,
            stride=data.stride,
            size=(data.height, data.width),
            erase_p=0.5 if data.random_erasing else 0.0,
            normalize=False,
            workers=data.workers,
            seed=config.seed,
            rank=self.rank,
            world_size=self.world_size,
            lookalike_groups=train_lookalike_groups(config, self.dataset, self.split.train),
        )
        self.state = TrainingState()
        if resume and any((self.out / n).exists() for n in ("last", "last.old")):
            self._resume()
        self.net: nn.Module = self.model
        if self.distributed:
            ids = [self.device.index] if use_cuda else None
            self.net = nn.parallel.DistributedDataParallel(self.model, device_ids=ids)
        if config.compile:
            self.net = torch.compile(self.net)

    def _lr_factor(self, epoch: int) -> float:
        """Linear warm-up, then x gamma at every milestone (stepped once per epoch)."""
        o = self.config.optim
        warm = (epoch + 1) / o.warmup_epochs if epoch < o.warmup_epochs else 1.0
        return warm * o.gamma ** sum(epoch >= m for m in o.milestones)

    def _resume(self) -> None:
        path = resolve_checkpoint(self.out / "last")
        load_weights(self.model, path)
        self.state = load_training_state(path)
        self.optimizer.load_state_dict(self.state.optimizer)
        self.scheduler.load_state_dict(self.state.scheduler)
        set_rng_state(self.state.rng)

    @property
    def steps_per_epoch(self) -> int:
        return len(self.loader.batch_sampler)

    def _checkpoint(self, name: str) -> None:
        if self.rank != 0:
            return
        self.state.optimizer = self.optimizer.state_dict()
        self.state.scheduler = self.scheduler.state_dict()
        self.state.rng = rng_state()
        save_checkpoint(self.out / name, self.model, self.state, config_to_yaml(self.config))

    def _log(self, record: dict) -> None:
        if self.rank != 0:
            return
        self.out.mkdir(parents=True, exist_ok=True)
        with open(self.out / "metrics.jsonl", "a") as f:
            f.write(json.dumps(record) + "\n")

    def train_step(self, clips: torch.Tensor, pids: torch.Tensor) -> dict[str, float]:
        """One optimizer step on a batch of uint8 clips ``(N, 3, T, H, W)``."""
        self.net.train()
        clips = normalize_clips(clips.to(self.device, non_blocking=True))
        if self.device.type == "cuda" and self.config.channels_last:
            clips = clips.contiguous(memory_format=torch.channels_last_3d)
        pids = pids.to(self.device, non_blocking=True)
        use_amp = self.config.amp and self.device.type == "cuda"
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=use_amp):
            output = self.net(clips)
        loss, parts = self.criterion(output, pids)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        if not math.isfinite(parts["loss"]):
            raise FloatingPointError(f"loss became {parts['loss']} at step {self.state.step + 1}")
        return parts

    @cached_property
    def query_subsets(self) -> dict:
        """Per-subset query masks on a synthetic world (read once), ``{}`` otherwise."""
        return synthetic_query_subsets(self.dataset)

    def evaluate(self) -> dict:
        """Evaluation on the query and gallery splits (rank 0's model), in the config's test
        mode; per-subset metrics too on synthetic data."""
        return evaluate_dataset(
            self.model,
            self.dataset,
            self.config.data,
            device=self.device,
            autocast=self.config.amp and self.device.type == "cuda",
            progress=self.progress,
            query_subsets=self.query_subsets,
        )

    def evaluate_validation(self) -> dict:
        """Evaluation on the held-out training identities (``data.val_ids``)."""
        data = self.config.data
        return evaluate(
            self.model,
            self.split.query,
            self.split.gallery,
            mode=data.test_mode,
            chunk_len=data.chunk_len,
            seq_len=data.seq_len,
            size=(data.height, data.width),
            workers=data.workers,
            device=self.device,
            autocast=self.config.amp and self.device.type == "cuda",
            progress=self.progress,
        )

    @property
    def stopped_early(self) -> bool:
        """``patience`` validation evaluations in a row brought no better mAP."""
        patience = self.config.patience
        return bool(self.split.query and patience and self.state.evals_since_best >= patience)

    def fit(self) -> dict:
        """Train to ``optim.epochs`` (or ``max_steps``), evaluating and checkpointing."""
        config, state = self.config, self.state
        sampler = self.loader.batch_sampler
        last_eval: dict = {}
        bar = None
        if self.progress:
            from tqdm.auto import tqdm

            total = config.optim.epochs * self.steps_per_epoch
            bar = tqdm(total=total, initial=state.step, unit="step", dynamic_ncols=True)
        while state.epoch < config.optim.epochs and not self.stopped_early:
            if config.max_steps and state.step >= config.max_steps:
                break
            done_in_epoch = state.step - state.epoch * self.steps_per_epoch
            sampler.set_epoch(state.epoch, start_batch=done_in_epoch)
            tick, clips_seen = time.perf_counter(), 0
            for batch in self.loader:
                parts = self.train_step(batch.clip, batch.pid)
                state.step += 1
                clips_seen += len(batch.clip) * self.world_size
                lr = self.optimizer.param_groups[0]["lr"]
                if bar is not None:
                    rate = clips_seen / max(time.perf_counter() - tick, 1e-9)
                    bar.set_postfix(
                        loss=f"{parts['loss']:.3f}", lr=f"{lr:.1e}", clips_s=f"{rate:.1f}"
                    )
                    bar.update()
                self._log({"epoch": state.epoch, "step": state.step, "lr": lr, **parts})
                every = config.checkpoint_every_steps
                if every and state.step % every == 0:
                    self._checkpoint("last")
                if config.max_steps and state.step >= config.max_steps:
                    break
            if state.step - state.epoch * self.steps_per_epoch < self.steps_per_epoch:
                break  # stopped by max_steps in the middle of an epoch
            state.epoch += 1
            self.scheduler.step()
            # An evaluation that stops the run early also scores the test split, once.
            last_eval = self._maybe_evaluate(final=state.epoch == config.optim.epochs)
            self._checkpoint("last")
        if bar is not None:
            bar.close()
        if self.distributed:
            dist.barrier()
        return {"epoch": state.epoch, "step": state.step, **last_eval}

    def _maybe_evaluate(self, *, final: bool) -> dict:
        every = self.config.eval_every
        if not (final or (every and self.state.epoch % every == 0)):
            return {}
        result: dict = {}
        if self.rank == 0 and self.split.query:
            val = self.evaluate_validation()
            record = {k: v for k, v in val.items() if k not in ("cmc", "subsets")}
            self._log({"epoch": self.state.epoch, "step": self.state.step, "val": record})
            if val["mAP"] > self.state.best_score:
                self.state.best_score = val["mAP"]
                self.state.evals_since_best = 0
                self._checkpoint("best")
            else:
                self.state.evals_since_best += 1
            if final or self.stopped_early:
                result = self._evaluate_test()
        elif self.rank == 0:
            result = self._evaluate_test()
            if result["mAP"] > self.state.best_score:
                self.state.best_score = result["mAP"]
                self._checkpoint("best")
        if self.distributed:  # every rank must agree on stopping early
            count = torch.tensor([self.state.evals_since_best], device=self.device)
            dist.broadcast(count, src=0)
            self.state.evals_since_best = int(count.item())
        return result

    def _evaluate_test(self) -> dict:
        result = self.evaluate()
        self.state.metrics = {k: v for k, v in result.items() if k != "cmc"}
        self._log({"epoch": self.state.epoch, "step": self.state.step, "eval": self.state.metrics})
        return result


def train(config: TrainConfig, **kwargs) -> dict:
    """Build a :class:`Trainer` for ``config`` and run it."""
    return Trainer(config, **kwargs).fit()
