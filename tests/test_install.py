"""A non-editable install (``pip install .``) works away from the checkout: the wheel carries
``sample_data/`` and ``docs/results/``, and from a folder outside the repository ``strf demo``
and the dashboard's first page run on the installed package alone.

The wheel is built as ``pip install .`` builds it, then unpacked onto ``PYTHONPATH`` rather than
installed into a fresh virtualenv: for a pure-Python wheel that gives the same files, without the
virtualenv and pip's resolver, and ``PYTHONPATH`` comes before the editable install of the
checkout, which the subprocess checks is not the one imported.
"""

from __future__ import annotations

import configparser
import os
import shutil
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest

from strf_core import package_data
from strf_core.package_data import PackageDataError, results_dir, sample_data_dir

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = {
    "sample_data": "strf_core/_data/sample_data",
    "docs/results": "strf_core/_data/docs/results",
}
# What the build reads: the project's metadata, the package and the folders it ships.
BUILD_INPUTS = ("pyproject.toml", "setup.py", "README.md", "strf_core", *SHIPPED)


def test_the_checkout_reads_its_own_folders():
    assert sample_data_dir() == ROOT / "sample_data"
    assert results_dir() == ROOT / "docs" / "results"


def test_missing_data_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.setattr(package_data, "DATA_ROOTS", (tmp_path / "_data", tmp_path))
    with pytest.raises(PackageDataError, match=r"missing: looked in .*pip install \."):
        sample_data_dir()


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """The wheel of a copy of the build's inputs (the build writes into its source folder)."""
    source, out = tmp_path_factory.mktemp("source"), tmp_path_factory.mktemp("wheel")
    for name in BUILD_INPUTS:
        if (ROOT / name).is_dir():
            ignore = shutil.ignore_patterns("__pycache__", "*.egg-info")
            shutil.copytree(ROOT / name, source / name, ignore=ignore)
        else:
            shutil.copy2(ROOT / name, source / name)
    command = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation"]
    subprocess.run([*command, "-q", "-w", str(out), str(source)], check=True)
    (path,) = out.glob("strf_core-*.whl")
    return path


def test_the_wheel_ships_sample_data_and_results(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    for folder, packaged in SHIPPED.items():
        files = [p for p in (ROOT / folder).rglob("*") if p.is_file() and p.name != ".gitkeep"]
        assert files
        missing = [
            str(p) for p in files if f"{packaged}/{p.relative_to(ROOT / folder)}" not in names
        ]
        assert not missing, f"not in the wheel: {missing}"
    assert not [n for n in names if "__pycache__" in n or n.startswith(("tests/", "app/"))]


def test_demo_and_dashboard_run_on_the_installed_package(wheel, tmp_path):
    site = tmp_path / "site-packages"
    zipfile.ZipFile(wheel).extractall(site)
    # the console script `strf`, as pip would write it: the entry point named in the wheel
    entry_points = configparser.ConfigParser()
    (info,) = site.glob("*.dist-info")
    entry_points.read(info / "entry_points.txt")
    strf = entry_points["console_scripts"]["strf"]
    # the dashboard without the checkout around it: app/ alone, in a folder of its own
    app = tmp_path / "dashboard" / "app"
    shutil.copytree(ROOT / "app", app, ignore=shutil.ignore_patterns("__pycache__"))
    script = textwrap.dedent(
        f"""
        import importlib, sys
        from pathlib import Path

        site = Path({str(site)!r})
        module, function = {strf!r}.split(":")
        sys.argv = ["strf", "demo", "--quiet"]
        assert getattr(importlib.import_module(module), function)() == 0

        import strf_core
        from strf_core.demo import example_tracklets, demo_models
        from strf_core.package_data import results_dir

        assert Path(strf_core.__file__).is_relative_to(site), strf_core.__file__
        assert results_dir().is_relative_to(site) and (results_dir() / "benchmark.json").is_file()
        assert sorted(demo_models()) == ["baseline", "strf"]
        assert any(n.startswith("occluded_") and n.endswith(".mp4") for n in example_tracklets())

        from streamlit.testing.v1 import AppTest

        at = AppTest.from_file({str(app / "main.py")!r}, default_timeout=600)
        at.run()
        assert not at.exception, [e.value for e in at.exception]
        assert at.title[0].value == "Explore"
        assert Path(sys.modules["strf_core"].__file__).is_relative_to(site)
        print("ok")
        """
    )
    env = os.environ | {
        "PYTHONPATH": str(site),
        "STRF_CACHE": str(tmp_path / "cache"),
        "STRF_APP_PRECOMPUTE": "0",
    }
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=1200,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert done.stdout.splitlines()[-1] == "ok"
