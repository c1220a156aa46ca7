"""A validation split carved from the training identities, and the trainer's use of it."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from strf_core.data.datasets import build_dataset
from strf_core.data.validation import carve_validation
from strf_core.engine.config import ConfigError, load_config
from strf_core.engine.trainer import Trainer
from strf_core.synth import generate


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("world") / "mars"
    generate(root, preset="tiny", seed=0, size=(64, 32), workers=1, progress=False)
    return root


def test_held_out_identities_leave_training_and_form_a_cross_camera_split(world):
    train = build_dataset("mars", world).train
    split = carve_validation(train, 2, seed=0)
    held = {t.pid for t in split.query} | {t.pid for t in split.gallery}
    assert len(held) == 2
    # Every held-out tracklet is in query or gallery, once; none is left in training.
    originals = Counter(t.frames for t in train if t.pid in held)
    assert Counter(t.frames for t in split.query + split.gallery) == originals
    train_frames = {t.frames for t in split.train}
    assert not train_frames & set(originals)
    assert len(split.train) == len(train) - sum(originals.values())
    # The rest is relabelled without gaps.
    assert sorted({t.pid for t in split.train}) == list(range(len({t.pid for t in train}) - 2))
    # Every query has a match of its identity in another camera of the gallery.
    for q in split.query:
        assert any(g.pid == q.pid and g.camid != q.camid for g in split.gallery)
    # The same seed draws the same identities; another seed may differ, but stays valid.
    assert carve_validation(train, 2, seed=0) == split
    assert carve_validation(train, 0).train == list(train)


def test_too_many_held_out_identities_is_an_error_that_says_how_many_can_be(world):
    train = build_dataset("mars", world).train
    with pytest.raises(ValueError, match=r"at most 4 can be held out"):
        carve_validation(train, 5)
    with pytest.raises(ValueError, match="must be >= 0"):
        carve_validation(train, -1)


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
            "data.val_ids=2",
            "optim.epochs=6",
            "eval_every=1",
            f"output_dir={out}",
            *extra,
        ],
    )


def _records(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


FLAT = ("optim.lr=0", "patience=2", "optim.milestones=[]")


def test_best_follows_validation_and_patience_stops_with_one_test_evaluation(world, tmp_path):
    # lr 0: the weights never change, so validation mAP never improves after the first
    # evaluation and patience 2 must stop the run after epoch 3 of 6 (no lr step to wait for).
    trainer = Trainer.from_config(_config(world, tmp_path / "run", *FLAT), progress=False)
    assert trainer.model.head.classifier.out_features == 4  # 6 training ids - 2 held out
    result = trainer.fit()
    assert result["epoch"] == 3 and trainer.stopped_early
    records = _records(tmp_path / "run" / "metrics.jsonl")
    assert [r["epoch"] for r in records if "val" in r] == [1, 2, 3]
    tests = [r for r in records if "eval" in r]
    assert [r["epoch"] for r in tests] == [3]  # the test split scored once, at the stop
    assert result["mAP"] == tests[0]["eval"]["mAP"] and "subsets" in result
    # best/ is the first evaluation's model; its score is validation mAP, not test mAP.
    first_val = next(r["val"]["mAP"] for r in records if "val" in r)
    resumed = Trainer.from_config(_config(world, tmp_path / "run", *FLAT), progress=False)
    assert resumed.state.best_score == first_val
    assert (tmp_path / "run" / "best" / "model.safetensors").is_file()
    # Resuming a stopped run does not train further.
    assert resumed.fit()["step"] == result["step"]


def test_a_validation_split_larger_than_the_training_set_is_a_config_error(world, tmp_path):
    with pytest.raises(ConfigError, match=r"data\.val_ids=9"):
        Trainer.from_config(_config(world, tmp_path / "bad", "data.val_ids=9"), progress=False)


def test_patience_counts_only_from_the_last_learning_rate_step(world, tmp_path):
    # lr 0 again: no evaluation after the first is better. With the last lr step at epoch 4,
    # epochs 2 and 3 do not count, 4 and 5 do: patience 2 stops the run after epoch 5 of 6.
    config = _config(world, tmp_path / "run", "optim.lr=0", "patience=2", "optim.milestones=[4]")
    trainer = Trainer.from_config(config, progress=False)
    result = trainer.fit()
    assert result["epoch"] == 5 and trainer.stopped_early
    records = _records(tmp_path / "run" / "metrics.jsonl")
    assert [r["epoch"] for r in records if "val" in r] == [1, 2, 3, 4, 5]
