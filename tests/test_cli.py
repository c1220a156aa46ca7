"""The ``strf`` command line."""

from __future__ import annotations

import json
import subprocess
import sys

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
