"""Run configs (strict YAML) and atomic, resumable checkpoints."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from strf_core import build_model
from strf_core.engine.checkpoint import (
    CheckpointError,
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
    TrainConfig,
    config_to_yaml,
    load_config,
)


def test_yaml_round_trip_and_overrides(tmp_path):
    path = tmp_path / "run.yaml"
    path.write_text("model:\n  name: i3d_resnet_tiny\noptim:\n  lr: 1e-4\n  milestones: [5, 9]\n")
    config = load_config(path, ["data.batch_p=4", "model.strf_kwargs={similarity: dot}"])
    assert config.model.name == "i3d_resnet_tiny" and config.optim.lr == 1e-4
    assert config.optim.milestones == (5, 9) and config.data.batch_p == 4
    assert config.model.strf_kwargs == {"similarity": "dot"}
    saved = tmp_path / "saved.yaml"
    saved.write_text(config_to_yaml(config))
    assert load_config(saved) == config
    assert load_config() == TrainConfig()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("optim:\n  lrr: 0.1\n", r"unknown key.*optim\.lrr.*optim accepts"),
        ("seed: true\n", "seed: expected int"),
        ("optim:\n  lr: fast\n", "optim.lr: expected float"),
        ("model: resnet\n", "model: expected a mapping"),
        ("- a\n- b\n", "mapping at the top level"),
        ("model: [\n", "not valid YAML"),
    ],
)
def test_bad_configs_name_the_key(tmp_path, text, message):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_config(path)


def test_missing_config_file_and_bad_override(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "nope.yaml")
    with pytest.raises(ConfigError, match=r"section\.key=value"):
        load_config(None, ["optim.lr"])


def _trained_tiny(seed=0):
    torch.manual_seed(seed)
    model = build_model("p3dc_resnet_tiny", num_classes=5, strf=True)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    model(torch.randn(2, 3, 2, 64, 32)).logits.sum().backward()
    optimizer.step()
    return model, optimizer


def test_checkpoint_round_trip_restores_weights_optimizer_and_rng(tmp_path):
    model, optimizer = _trained_tiny()
    state = TrainingState(epoch=3, step=17, optimizer=optimizer.state_dict(), rng=rng_state())
    save_checkpoint(tmp_path / "last", model, state, config_to_yaml(TrainConfig()))
    expected_draws = (np.random.rand(), torch.rand(1).item())

    restored = build_model("p3dc_resnet_tiny", num_classes=5, strf=True)
    load_weights(restored, tmp_path / "last")
    for (name, a), b in zip(
        model.state_dict().items(), restored.state_dict().values(), strict=True
    ):
        assert torch.equal(a, b), name
    loaded = load_training_state(tmp_path / "last")
    assert (loaded.epoch, loaded.step) == (3, 17)
    fresh = torch.optim.Adam(restored.parameters(), lr=1e-3)
    fresh.load_state_dict(loaded.optimizer)
    assert fresh.state_dict()["state"][0]["step"] == optimizer.state_dict()["state"][0]["step"]
    set_rng_state(loaded.rng)
    assert (np.random.rand(), torch.rand(1).item()) == expected_draws


def test_interrupted_swap_falls_back_to_the_old_checkpoint(tmp_path):
    model, _ = _trained_tiny()
    save_checkpoint(tmp_path / "last", model, TrainingState(epoch=1), "seed: 0\n")
    # A crash between the two renames leaves only last.old/ (and a half-written last.tmp/).
    (tmp_path / "last").rename(tmp_path / "last.old")
    (tmp_path / "last.tmp").mkdir()
    assert resolve_checkpoint(tmp_path / "last") == tmp_path / "last.old"
    assert load_training_state(tmp_path / "last").epoch == 1
    save_checkpoint(tmp_path / "last", model, TrainingState(epoch=2), "seed: 0\n")
    assert load_training_state(tmp_path / "last").epoch == 2
    assert not (tmp_path / "last.old").exists() and not (tmp_path / "last.tmp").exists()


def test_checkpoint_errors_name_the_problem(tmp_path):
    with pytest.raises(CheckpointError, match="no complete checkpoint"):
        load_weights(build_model("c2d_resnet_tiny", num_classes=5), tmp_path / "none")
    model, _ = _trained_tiny()
    save_checkpoint(tmp_path / "last", model, TrainingState(), "seed: 0\n")
    other = build_model("p3dc_resnet_tiny", num_classes=7, strf=True)
    with pytest.raises(CheckpointError, match=r"head.classifier.weight is \(5, 512\)"):
        load_weights(other, tmp_path / "last")
