"""The ``strf`` command line."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from strf_core.cli import main


def test_models_lists_table2_counts(capsys):
    assert main(["models", "--filter", "resnet50", "--json"]) == 0
    rows = {r["model"]: r for r in json.loads(capsys.readouterr().out)}
    assert rows["p3dc_resnet50"]["params"] == 25_480_881
    assert rows["i3d_resnet50"]["params_strf_2_3"] == 28_921_521 + 57_344 + 5
    assert "p3dc_resnet_tiny" not in rows


def test_strf_entry_point_runs():
    out = subprocess.run(
        [sys.executable, "-m", "strf_core.cli", "models", "--filter", "tiny"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "p3dc_resnet_tiny" in out and "c2d_resnet50" not in out


def _tiny_run(tmp_path):
    from strf_core.data.writers import write_tiny_mars

    root = write_tiny_mars(tmp_path / "mars", size=(64, 32))
    args = ["train", "--data-root", str(root), "--output-dir", str(tmp_path / "run"), "--quiet"]
    for value in ("data.height=64", "data.width=32", "data.batch_p=2", "data.batch_k=2"):
        args += ["--set", value]
    args += ["--set", "optim.epochs=1", "--set", "data.workers=0"]
    return root, args


def test_train_eval_and_export_onnx(tmp_path, capsys):
    import numpy as np
    import onnx
    import onnxruntime as ort
    import torch

    from strf_core.engine.checkpoint import load_trained_model

    _, args = _tiny_run(tmp_path)
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "MARS, ap3d protocol" in out and "dense (all frames, chunks of 32)" in out
    report = tmp_path / "eval.json"
    assert (
        main(
            [
                "eval",
                str(tmp_path / "run" / "last"),
                "--mode",
                "clip",
                "--json",
                str(report),
                "--quiet",
            ]
        )
        == 0
    )
    result = json.loads(report.read_text())
    assert result["mode"] == "clip" and "clip (4 evenly spaced frames)" in result["protocol"]
    assert 0 <= result["mAP"] <= 1

    onnx_path = tmp_path / "model.onnx"
    assert main(["export-onnx", str(tmp_path / "run" / "last"), str(onnx_path)]) == 0
    onnx.checker.check_model(onnx.load(str(onnx_path)))
    model, _ = load_trained_model(tmp_path / "run" / "last")
    clip = torch.randn(3, 3, 4, 64, 32)  # another batch size than the export's example
    features, logits = ort.InferenceSession(str(onnx_path)).run(None, {"clip": clip.numpy()})
    with torch.no_grad():
        ref = model(clip)
    np.testing.assert_allclose(features, ref.features.numpy(), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(logits, ref.logits.numpy(), rtol=1e-4, atol=1e-5)


def test_user_errors_are_one_line(tmp_path, capsys):
    assert main(["eval", str(tmp_path / "missing")]) == 2
    assert main(["train", "--config", str(tmp_path / "nope.yaml")]) == 2
    assert main(["train", "--set", "optim.lrr=3", "--data-root", str(tmp_path)]) == 2
    assert main(["train", "--set", "optim.lr=1e-3"]) == 2  # no dataset root
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 4 and all(line.startswith("strf ") and ": error: " in line for line in err)
    assert "no complete checkpoint" in err[0] and "does not exist" in err[1]
    assert "optim.lrr" in err[2] and "no dataset root" in err[3]


def test_eval_rejects_a_checkpoint_that_does_not_match_its_config(tmp_path, capsys):
    _, args = _tiny_run(tmp_path)
    assert main(args) == 0
    config = tmp_path / "run" / "last" / "config.yaml"
    config.write_text(config.read_text().replace("p3dc_resnet_tiny", "i3d_resnet_tiny"))
    assert main(["eval", str(tmp_path / "run" / "last"), "--quiet"]) == 2
    assert "does not match the model" in capsys.readouterr().err


def test_train_all_splits_reports_mean_and_spread(tmp_path, capsys):
    from strf_core.data.writers import write_tiny_ilids

    # 8 people (4 to train, 4 to test in each of the 10 splits): every split trains and
    # evaluates in about a second, and the 10 splits still differ.
    root = write_tiny_ilids(tmp_path / "ilids", people=range(1, 9), size=(64, 32))

    def args(out_dir, *extra):
        out = ["train", "--data-root", str(root), "--output-dir", str(tmp_path / out_dir)]
        for value in (
            "data.dataset=ilids_vid",
            "data.height=64",
            "data.width=32",
            "data.batch_p=2",
            "data.batch_k=2",
            "data.workers=0",
            "optim.epochs=1",
            "eval_every=1",
            *extra,
        ):
            out += ["--set", value]
        return [*out, "--quiet", "--all-splits"]

    # max_steps ends each split inside its first epoch, before any evaluation: a clear error.
    assert main(args("runs", "max_steps=1")) == 2
    assert "ended without an evaluation" in capsys.readouterr().err
    assert main(args("runs2")) == 0
    summary = json.loads((tmp_path / "runs2" / "splits_summary.json").read_text())
    maps = [s["mAP"] for s in summary["splits"]]
    assert len(maps) == 10 and len(set(maps)) > 1  # ten different runs
    assert summary["mAP"] == pytest.approx(sum(maps) / 10)
    spread = (sum((m - sum(maps) / 10) ** 2 for m in maps) / 10) ** 0.5  # population std
    assert summary["mAP_std"] == pytest.approx(spread) and summary["mAP_std"] > 0
    assert summary["cmc"][0] == pytest.approx(sum(s["rank1"] for s in summary["splits"]) / 10)
    assert "ilids_vid, mean of 10 splits" in capsys.readouterr().out
    assert all((tmp_path / "runs2" / f"split_{k}" / "last").is_dir() for k in range(10))
