"""Training, evaluation, configs and checkpoints."""

from strf_core.engine.checkpoint import CheckpointError, load_weights, save_checkpoint
from strf_core.engine.config import ConfigError, TrainConfig, load_config
from strf_core.engine.evaluate import evaluate, extract_features
from strf_core.engine.trainer import Trainer, train

__all__ = [
    "CheckpointError",
    "ConfigError",
    "TrainConfig",
    "Trainer",
    "evaluate",
    "extract_features",
    "load_config",
    "load_weights",
    "save_checkpoint",
    "train",
]
