"""Run configurations: dataclasses, saved as YAML beside every checkpoint.

Models take plain arguments; the CLI, the engine and the app read these configs. Loading is
strict: an unknown key or a value of the wrong type is an error that names the key.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from strf_core.models import ResNet3D, build_model


class ConfigError(ValueError):
    """A configuration file or override that does not fit the schema."""


@dataclass
class ModelConfig:
    """Which network to build (see ``strf models``): ``strf`` puts STRF units with
    ``strf_kwargs`` in ``strf_stages``, :func:`~strf_core.models.build_model`'s path to the
    backbone's ``attn_layer``; ``attn_layer`` names another unit (:mod:`strf_core.models.units`:
    strf, nonlocal, apm, apm_nl, none) and, when given, decides in place of ``strf``."""

    name: str = "p3dc_resnet_tiny"
    strf: bool = True
    attn_layer: str | None = None
    strf_stages: tuple[int, ...] = (2, 3)
    strf_kwargs: dict[str, Any] = field(default_factory=dict)
    weights: str | None = None  # None or "imagenet" (ResNet-50 only)


@dataclass
class DataConfig:
    """Dataset, clip sampling and batches (SPEC section 3)."""

    dataset: str = "mars"
    root: str = ""
    split_id: int = 0  # iLIDS-VID and PRID-2011
    protocol: str = "ap3d"  # MARS: "torchreid" or "ap3d"
    # DukeMTMC-VideoReID, iLIDS-VID, PRID-2011: train on AP3D's ``train_dense``, long tracklets
    # cut into fixed-length pieces (each dataset's own lengths); other datasets ignore it.
    train_dense: bool = True
    seq_len: int = 4
    stride: int = 8
    height: int = 256
    width: int = 128
    batch_p: int = 8  # identities per batch
    batch_k: int = 4  # tracklets per identity
    # What an epoch is (strf_core.data.samplers). "tracklet": AP3D's, every training tracklet once
    # in groups of K (the paper's schedule assumes it). "identity": every identity once (about 3x
    # fewer steps on MARS). "lookalike": identity epochs whose batches hold whole look-alike
    # groups; synthetic data only: it reads the generator's look-alike groups, knowledge that
    # real data would not give.
    sampler: str = "tracklet"
    random_erasing: bool = False
    workers: int | None = None  # None: as many as the machine has cores, up to 8
    test_mode: str = "dense"  # "dense": every frame in chunks; "clip": seq_len evenly spaced
    chunk_len: int = 32
    # Training identities held out as a validation query/gallery split
    # (strf_core.data.validation): ``best/`` and early stopping then follow it, never the test set.
    val_ids: int = 0


@dataclass
class OptimConfig:
    """Adam with step decay (AP3D's recipe)."""

    lr: float = 3e-4
    weight_decay: float = 5e-4
    epochs: int = 240
    milestones: tuple[int, ...] = (60, 120, 180)
    gamma: float = 0.1
    warmup_epochs: int = 0


@dataclass
class LossConfig:
    """Eq. 9: cross-entropy + batch-hard triplet (cosine, margin 0.3)."""

    ce_weight: float = 1.0
    triplet_weight: float = 1.0
    margin: float = 0.3


@dataclass
class TrainConfig:
    """A whole training run."""

    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    seed: int = 0
    device: str = "auto"  # "auto", "cpu", "cuda", "cuda:1", ...
    amp: bool = True  # bf16 autocast on CUDA (ignored on the CPU)
    channels_last: bool = True  # channels_last_3d on CUDA
    compile: bool = False
    eval_every: int = 10  # epochs; 0 for the end only
    # With data.val_ids: stop after this many evaluations without a better validation mAP
    # (0: train all epochs).
    patience: int = 0
    checkpoint_every_steps: int = 0  # extra mid-epoch checkpoints; 0 for epoch ends only
    output_dir: str = "runs/strf"
    max_steps: int = 0  # stop after this many optimizer steps (0: no limit), for smoke runs


def build_model_for(config: TrainConfig, num_classes: int, *, pretrained: bool = True) -> ResNet3D:
    """The network ``config.model`` describes, with ``num_classes`` identities.

    Args:
        pretrained: load ``model.weights`` (ImageNet); ``False`` when a checkpoint's weights
            replace them next.
    """
    m = config.model
    return build_model(
        m.name,
        num_classes=num_classes,
        strf=m.strf,
        strf_stages=m.strf_stages,
        strf_kwargs=m.strf_kwargs,
        attn_layer=m.attn_layer,
        weights=m.weights if pretrained else None,
    )


def _convert(value: Any, hint: Any, key: str) -> Any:
    """Check and convert a YAML value to the annotated type."""
    origin = typing.get_origin(hint)
    if dataclasses.is_dataclass(hint):
        if not isinstance(value, dict):
            raise ConfigError(f"{key}: expected a mapping, got {value!r}")
        return _from_dict(hint, value, key + ".")
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(hint)
        if value is None and type(None) in args:
            return None
        (inner,) = [a for a in args if a is not type(None)]
        return _convert(value, inner, key)
    if origin is tuple:
        if not isinstance(value, list | tuple):
            raise ConfigError(f"{key}: expected a list, got {value!r}")
        (inner, _) = typing.get_args(hint)
        return tuple(_convert(v, inner, f"{key}[{i}]") for i, v in enumerate(value))
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{key}: expected a mapping, got {value!r}")
        return dict(value)
    if hint is float and isinstance(value, int | str) and not isinstance(value, bool):
        try:  # PyYAML reads "1e-4" (no dot) as a string
            return float(value)
        except ValueError:
            raise ConfigError(f"{key}: expected float, got {value!r}") from None
    if hint in (int, float, str, bool) and not (
        isinstance(value, hint) and not (hint is int and isinstance(value, bool))
    ):
        raise ConfigError(f"{key}: expected {hint.__name__}, got {value!r}")
    return value


def _from_dict(cls: type, data: dict[str, Any], prefix: str = "") -> Any:
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise ConfigError(
            f"unknown key(s) {', '.join(prefix + k for k in unknown)}; "
            f"{prefix.rstrip('.') or 'the top level'} accepts {', '.join(sorted(names))}"
        )
    return cls(**{k: _convert(v, hints[k], prefix + k) for k, v in data.items()})


def config_from_dict(data: dict[str, Any]) -> TrainConfig:
    """Build a :class:`TrainConfig`; missing keys keep their defaults."""
    return _from_dict(TrainConfig, data)


def config_to_dict(config: TrainConfig) -> dict[str, Any]:
    def plain(v: Any) -> Any:
        if isinstance(v, tuple | list):
            return [plain(x) for x in v]
        if isinstance(v, dict):
            return {k: plain(x) for k, x in v.items()}
        return v

    return plain(dataclasses.asdict(config))


def config_to_yaml(config: TrainConfig) -> str:
    return yaml.safe_dump(config_to_dict(config), sort_keys=False)


def apply_overrides(data: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Apply ``section.key=value`` overrides (values parsed as YAML) to a config mapping."""
    for item in overrides:
        if "=" not in item:
            raise ConfigError(f"override {item!r} is not of the form section.key=value")
        dotted, raw = item.split("=", 1)
        *path, last = dotted.strip().split(".")
        node = data
        for part in path:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConfigError(f"override {item!r}: {part} is not a section")
        node[last] = yaml.safe_load(raw)
    return data


def load_config(path: str | Path | None = None, overrides: list[str] | None = None) -> TrainConfig:
    """Read a YAML config (or start from the defaults) and apply overrides."""
    data: dict[str, Any] = {}
    if path is not None:
        path = Path(path)
        if not path.is_file():
            raise ConfigError(f"config file {path} does not exist")
        try:
            data = yaml.safe_load(path.read_text()) or {}
        except yaml.YAMLError as err:
            raise ConfigError(f"{path} is not valid YAML: {err}") from err
        if not isinstance(data, dict):
            raise ConfigError(f"{path} must hold a mapping at the top level")
    return config_from_dict(apply_overrides(data, overrides or []))
