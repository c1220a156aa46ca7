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
    assert "the frame count T is dynamic" in capsys.readouterr().out
    model, _ = load_trained_model(tmp_path / "run" / "last")
    session = ort.InferenceSession(str(onnx_path))
    # Another batch size than the export's example, and two frame counts of one graph: a
    # frame count baked into the graph fails at 7, a wrong temporal pooling differs there.
    for frames in (4, 7):
        clip = torch.randn(3, 3, frames, 64, 32)
        features, logits = session.run(None, {"clip": clip.numpy()})
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


def _subparsers(parser):
    import argparse

    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return action


def test_help_lists_every_command_with_its_own_help_line():
    from strf_core.cli import COMMANDS, build_parser

    full = _subparsers(build_parser())  # every module imported: their own help lines
    lines = {a.dest: a.help for a in full._choices_actions}
    stubs = _subparsers(build_parser([]))
    assert list(stubs.choices) == list(full.choices) == list(COMMANDS)
    assert {a.dest: a.help for a in stubs._choices_actions} == lines


def _every_parser(parser):
    import argparse

    yield parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                yield from _every_parser(sub)


def test_help_is_plain_text():
    from strf_core.cli import build_parser

    texts = {p.prog: p.format_help() for p in _every_parser(build_parser())}
    assert "strf data check" in texts  # nested commands too
    for prog, text in texts.items():
        for markup in ("``", ":func:", ":class:", ":mod:", ":data:", ".. "):
            assert markup not in text, (prog, markup)


def test_top_level_help_does_not_import_torch():
    code = (
        "import sys\n"
        "from strf_core.cli import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "print('torch loaded' if 'torch' in sys.modules else 'torch not loaded')\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert "usage: strf" in out and "export-onnx" in out
    assert out.strip().endswith("torch not loaded")


def _exported_model(tmp_path, root: str | None = None):
    """A copy of the shipped baseline (an exported model: data.root empty), its root set."""
    import shutil

    from strf_core.demo import MODELS_DIR

    folder = tmp_path / "baseline"
    shutil.copytree(MODELS_DIR / "baseline", folder)
    if root is not None:
        config = folder / "config.yaml"
        config.write_text(config.read_text().replace("root: ''", f"root: {root}"))
    return folder


def test_eval_without_a_root_says_where_the_demo_world_is(tmp_path, capsys, monkeypatch):
    from strf_core.synth import META_NAME

    monkeypatch.setenv("STRF_CACHE", str(tmp_path / "cache"))
    from strf_core.demo import MODELS_DIR

    model = _exported_model(tmp_path)
    assert main(["eval", str(model), "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    recorded = json.loads((MODELS_DIR / "baseline" / "eval.json").read_text())["world"]
    height, width = recorded["size"]
    spec = f"--preset {recorded['preset']} --seed {recorded['seed']} --size {height}x{width}"
    name = f"{recorded['preset']}-seed{recorded['seed']}-{height}x{width}"
    world = tmp_path / "cache" / "synth" / name
    assert err.startswith(
        "strf eval: error: the checkpoint's config has no data.root (exported models leave it "
        f"out); give --data-root DATASET_FOLDER. This model was evaluated on the synthetic world "
        f"{spec}."
    )
    assert f"strf demo (the demo models' world, written to {world}-test" in err
    assert f"strf synth ROOT {spec}" in err
    # Once the world exists, the message says where.
    (world.parent / f"{world.name}-test").mkdir(parents=True)
    (world.parent / f"{world.name}-test" / META_NAME).write_text("{}")
    assert main(["eval", str(model), "--quiet"]) == 2
    assert capsys.readouterr().err.strip().endswith(f"It is here: --data-root {world}-test.")


def test_eval_never_reads_a_root_this_machine_lacks(tmp_path, capsys):
    model = _exported_model(tmp_path, root="/home/someone-else/mars")
    assert main(["eval", str(model), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "names data.root /home/someone-else/mars, which does not exist on this machine" in err
    assert "give --data-root DATASET_FOLDER" in err


@pytest.mark.parametrize("frames", ["0", "-3"])
def test_export_onnx_refuses_a_frame_count_below_one(tmp_path, capsys, frames):
    out = tmp_path / "model.onnx"
    assert main(["export-onnx", str(_exported_model(tmp_path)), str(out), "--frames", frames]) == 2
    assert capsys.readouterr().err.strip() == (
        f"strf export-onnx: error: --frames must be 1 or more, got {frames}"
    )
    assert not out.exists()
