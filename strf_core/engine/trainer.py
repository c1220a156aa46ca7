"""Training: the paper's recipe on one device or many (torchrun + DistributedDataParallel).

::

    Trainer.from_config(config)   config -> dataset, validation split, model (num_classes =
                                  train identities), Adam, P x K loader -> Trainer(...)
    Trainer(model, optimizer, loader, config=...)    parts you already have (fine-tuning,
                                  a training step on in-memory batches)
    fit(): per epoch: batches -> [bf16 autocast on CUDA] forward -> CE + triplet -> Adam step
           every ``eval_every`` epochs: dense evaluation on rank 0 (logged)
           every epoch end (and every ``checkpoint_every_steps``): the rolling ``last``

The model to report is the final one, ``last/`` (AP3D's ``test-all.py`` evaluates the last
epoch). Without a validation split the evaluations score the test split and are only logged:
choosing a checkpoint by them would be model selection on the test set, so there is no
``best/``. With one (``data.val_ids = k`` holds k training identities out,
:func:`~strf_core.data.validation.carve_validation`) every evaluation scores it, ``best/``
follows its mAP, ``patience`` evaluations without a better one (counted from the last
learning-rate step) stop the run, and the test split is scored once, on the final model.

Resume is exact: the batches of an epoch are a pure function of (seed, epoch), every clip's
random draws come from its own seed, and the checkpoint holds the optimizer, the scheduler and
the RNG states, so a run killed after any checkpoint and resumed reaches the weights of an
uninterrupted run (on the CPU, where kernels are deterministic).
"""

from __future__ import annotations

import functools
import json
import math
import os
import time
from collections.abc import Iterable
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from torch import nn

from strf_core.atomic import write_text_atomic
from strf_core.data.datasets import DatasetError, ReIDDataset, build_dataset, dataset_options
from strf_core.data.pipeline import build_train_loader
from strf_core.data.samplers import BATCH_SAMPLERS
from strf_core.data.transforms import normalize_clips
from strf_core.data.validation import ValidationSplit, carve_validation
from strf_core.engine.checkpoint import (
    TrainingState,
    load_training_state,
    load_weights,
    resolve_checkpoint,
    rng_state,
    save_checkpoint,
    set_rng_state,
)
from strf_core.engine.config import (
    ConfigError,
    OptimConfig,
    TrainConfig,
    build_model_for,
    config_to_yaml,
)
from strf_core.engine.evaluate import evaluate, evaluate_dataset, extraction_settings
from strf_core.losses import ReIDLoss

__all__ = [
    "SAMPLERS",
    "Trainer",
    "build_model_for",
    "dataset_kwargs",
    "init_distributed",
    "lr_factor",
    "lr_schedule",
    "pick_device",
    "train",
    "train_lookalike_groups",
]


def pick_device(name: str, local_rank: int = 0) -> torch.device:
    """``"auto"``: this process's CUDA device when there is one, else the CPU."""
    if name == "auto":
        return torch.device(f"cuda:{local_rank}" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def dataset_kwargs(config: TrainConfig) -> dict:
    """The loader options of ``config.data`` that apply to its dataset
    (:func:`~strf_core.data.datasets.dataset_options`)."""
    data = config.data
    return dataset_options(
        data.dataset, split_id=data.split_id, protocol=data.protocol, train_dense=data.train_dense
    )


SAMPLERS = tuple(BATCH_SAMPLERS)


def train_lookalike_groups(
    config: TrainConfig, dataset: ReIDDataset, train: list | None = None
) -> list[int | None] | None:
    """The look-alike group of each of ``train`` (default: ``dataset.train``) when
    ``data.sampler="lookalike"``, ``None`` for the other samplers (``"tracklet"``,
    ``"identity"``: random P x K batches).

    Raises:
        ConfigError: an unknown sampler, or ``"lookalike"`` on data that records no look-alike
            groups (real data).
    """
    sampler = config.data.sampler
    if sampler not in SAMPLERS:
        raise ConfigError(f"data.sampler: expected one of {', '.join(SAMPLERS)}, got {sampler!r}")
    if sampler != "lookalike":
        return None
    try:
        return dataset.lookalike_groups(train)
    except DatasetError as err:
        raise ConfigError(f"data.sampler=lookalike needs a synthetic world: {err}") from None


def lr_factor(epoch: int, optim: OptimConfig) -> float:
    """Linear warm-up, then x gamma at every milestone (stepped once per epoch)."""
    warm = (epoch + 1) / optim.warmup_epochs if epoch < optim.warmup_epochs else 1.0
    return warm * optim.gamma ** sum(epoch >= m for m in optim.milestones)


def lr_schedule(
    optimizer: torch.optim.Optimizer, optim: OptimConfig
) -> torch.optim.lr_scheduler.LambdaLR:
    """The recipe's per-epoch schedule (:func:`lr_factor`) over ``optimizer``."""
    return torch.optim.lr_scheduler.LambdaLR(optimizer, functools.partial(lr_factor, optim=optim))


def init_distributed() -> tuple[int, int, int]:
    """Join the process group torchrun describes (``WORLD_SIZE`` > 1), once.

    Returns:
        ``(rank, world_size, local_rank)``; ``(0, 1, 0)`` outside torchrun.
    """
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return 0, 1, 0
    if not dist.is_initialized():
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    return dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", "0"))


class Trainer:
    """Train a model with the paper's recipe, evaluating and checkpointing as it goes.

    Every part is passed in; :meth:`from_config` builds them all from a config (the ``strf
    train`` path). In a process group (torchrun) each rank passes its own loader shard and the
    model is wrapped in DistributedDataParallel here.

    Args:
        model: the network to train, already on its device (a
            :class:`~strf_core.models.ReIDModel`).
        optimizer: over ``model``'s parameters.
        loader: training batches with ``.clip`` (uint8 ``(N, 3, T, H, W)``) and ``.pid``; one
            pass is one epoch. A ``batch_sampler`` with ``set_epoch(epoch, start_batch)`` (as
            :func:`~strf_core.data.pipeline.build_train_loader` gives) makes resume exact.
        config: the run's settings: schedule (``optim``), loss weights, evaluation
            (``data.test_mode``, frame size...), checkpoints (``output_dir``), ``amp``,
            ``compile``. Saved beside every checkpoint, so ``config.model`` should describe
            ``model`` for :func:`~strf_core.engine.checkpoint.load_trained_model` to rebuild it.
        scheduler: stepped once per epoch; default :func:`lr_schedule` of ``config.optim``.
        criterion: ``(ReIDOutput, pids) -> (loss, parts)``; default
            :class:`~strf_core.losses.ReIDLoss` with ``config.loss``.
        dataset: the test data (its query and gallery, and its ``query_subsets()``); ``None``
            for no test evaluation.
        validation: held-out identities (its query and gallery) that ``best/`` and ``patience``
            follow; ``None`` or empty: no ``best/`` (the test split never picks a model).
        progress: show a progress bar (rank 0 only).
    """

    def __init__(
        self,
        model: nn.Module,
        optimizer: torch.optim.Optimizer,
        loader: Iterable[Any],
        *,
        config: TrainConfig,
        scheduler: torch.optim.lr_scheduler.LRScheduler | None = None,
        criterion: nn.Module | None = None,
        dataset: ReIDDataset | None = None,
        validation: ValidationSplit | None = None,
        progress: bool = True,
    ) -> None:
        self.config = config
        self.model = model
        self.optimizer = optimizer
        self.loader = loader
        self.scheduler = (
            scheduler if scheduler is not None else lr_schedule(optimizer, config.optim)
        )
        self.criterion = (
            criterion
            if criterion is not None
            else ReIDLoss(
                ce_weight=config.loss.ce_weight,
                triplet_weight=config.loss.triplet_weight,
                margin=config.loss.margin,
            )
        )
        self.dataset = dataset
        self.validation = validation if validation is not None else ValidationSplit([], [], [])
        self.rank, self.world_size = 0, 1
        if dist.is_initialized():
            self.rank, self.world_size = dist.get_rank(), dist.get_world_size()
        self.distributed = self.world_size > 1
        self.device = next(model.parameters()).device
        self.progress = progress and self.rank == 0
        self.out = Path(config.output_dir)
        self.state = TrainingState()
        self.net: nn.Module = self.model
        if self.distributed:
            ids = [self.device.index] if self.device.type == "cuda" else None
            self.net = nn.parallel.DistributedDataParallel(self.model, device_ids=ids)
        if config.compile:
            self.net = torch.compile(self.net)

    @classmethod
    def from_config(
        cls, config: TrainConfig, *, resume: bool = True, progress: bool = True
    ) -> Trainer:
        """Build every part from ``config`` (the ``strf train`` path).

        Joins the torchrun process group when there is one, loads ``data.dataset``, carves the
        validation split (``data.val_ids``), builds the model (classifier size: the remaining
        training identities), Adam and the P x K loader.

        Args:
            config: the run.
            resume: continue from ``output_dir/last`` when it exists.
            progress: show a progress bar (rank 0 only).

        Raises:
            ConfigError: a setting that does not fit the data (``data.val_ids``, the sampler).
            DatasetError: a dataset folder that does not follow its format.
        """
        rank, world_size, local_rank = init_distributed()
        device = pick_device(config.device, local_rank)
        if device.type == "cuda":
            torch.cuda.set_device(device)
        torch.manual_seed(config.seed)  # the model's initial weights
        data = config.data
        dataset = build_dataset(data.dataset, data.root, **dataset_kwargs(config))
        try:
            split = carve_validation(dataset.train, data.val_ids, seed=config.seed)
        except ValueError as err:
            raise ConfigError(str(err)) from None
        num_classes = len({t.pid for t in split.train})
        model = build_model_for(config, num_classes).to(device)
        if device.type == "cuda" and config.channels_last:
            model = model.to(memory_format=torch.channels_last_3d)
        optimizer = torch.optim.Adam(
            model.parameters(), lr=config.optim.lr, weight_decay=config.optim.weight_decay
        )
        loader = build_train_loader(
            split.train,
            batch_p=data.batch_p,
            batch_k=data.batch_k,
            seq_len=data.seq_len,
            stride=data.stride,
            size=(data.height, data.width),
            erase_p=0.5 if data.random_erasing else 0.0,
            normalize=False,
            workers=data.workers,
            seed=config.seed,
            rank=rank,
            world_size=world_size,
            sampler=data.sampler,
            lookalike_groups=train_lookalike_groups(config, dataset, split.train),
        )
        trainer = cls(
            model,
            optimizer,
            loader,
            config=config,
            dataset=dataset,
            validation=split,
            progress=progress,
        )
        if resume:
            trainer.resume()
        return trainer

    def resume(self) -> bool:
        """Continue from ``output_dir/last`` (weights, optimizer, scheduler, RNG states, epoch
        and step) when it exists; ``False`` when there is nothing to resume."""
        if not any((self.out / n).exists() for n in ("last", "last.old")):
            return False
        path = resolve_checkpoint(self.out / "last")
        load_weights(self.model, path)
        self.state = load_training_state(path)
        self.optimizer.load_state_dict(self.state.optimizer)
        self.scheduler.load_state_dict(self.state.scheduler)
        set_rng_state(self.state.rng)
        self._trim_log(self.state.step)
        return True

    def _trim_log(self, step: int) -> None:
        """Drop the ``metrics.jsonl`` records of steps after ``step``: a run killed after its
        last checkpoint logged steps that the resumed run trains (and logs) again, and maybe
        half a line as it died."""
        path = self.out / "metrics.jsonl"
        if self.rank != 0 or not path.is_file():
            return
        lines = path.read_text().splitlines(keepends=True)
        if lines and not lines[-1].endswith("\n"):
            lines = lines[:-1]  # torn by the kill
        kept = [line for line in lines if json.loads(line).get("step", 0) <= step]
        if len(kept) < len(path.read_text().splitlines()):
            write_text_atomic(path, "".join(kept))

    @property
    def steps_per_epoch(self) -> int:
        return len(self.loader)

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
    def query_subsets(self) -> dict[str, np.ndarray]:
        """The test dataset's hard-case query subsets (read once), ``{}`` for none."""
        return self.dataset.query_subsets() if self.dataset is not None else {}

    def evaluate(self) -> dict:
        """Evaluation on the test query and gallery (rank 0's model), in the config's test
        mode; per-subset metrics too where the dataset has query subsets.

        Raises:
            ValueError: the trainer was given no test dataset.
        """
        if self.dataset is None:
            raise ValueError("this trainer has no test dataset to evaluate on")
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
        return evaluate(
            self.model,
            self.validation.query,
            self.validation.gallery,
            device=self.device,
            autocast=self.config.amp and self.device.type == "cuda",
            progress=self.progress,
            **extraction_settings(self.config.data),
        )

    @property
    def stopped_early(self) -> bool:
        """``patience`` validation evaluations in a row, after the last learning-rate step,
        brought no better mAP."""
        patience = self.config.patience
        return bool(self.validation.query and patience and self.state.evals_since_best >= patience)

    def fit(self) -> dict:
        """Train to ``optim.epochs`` (or ``max_steps``), evaluating and checkpointing."""
        config, state = self.config, self.state
        # Without set_epoch (a plain iterable) a resumed epoch starts from its first batch.
        sampler = getattr(self.loader, "batch_sampler", None)
        set_epoch = getattr(sampler, "set_epoch", None)
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
            if set_epoch is not None:
                set_epoch(state.epoch, start_batch=done_in_epoch)
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
        if self.rank == 0 and self.validation.query:
            val = self.evaluate_validation()
            record = {k: v for k, v in val.items() if k not in ("cmc", "subsets")}
            self._log({"epoch": self.state.epoch, "step": self.state.step, "val": record})
            if val["mAP"] > self.state.best_score:
                self.state.best_score = val["mAP"]
                self.state.evals_since_best = 0
                self._checkpoint("best")
            elif self.state.epoch >= max(self.config.optim.milestones, default=0):
                # Patience counts from the last learning-rate step: before it, a plateau says
                # nothing about where the decayed model will go.
                self.state.evals_since_best += 1
            if (final or self.stopped_early) and self.dataset is not None:
                result = self._evaluate_test()
        elif self.rank == 0 and self.dataset is not None:
            # Logged, never used for a choice: no best/ from the test split.
            result = self._evaluate_test()
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


def train(config: TrainConfig, **kwargs: Any) -> dict:
    """Build a :class:`Trainer` for ``config`` (:meth:`Trainer.from_config`) and run it."""
    return Trainer.from_config(config, **kwargs).fit()
