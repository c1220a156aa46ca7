"""torchreid's Cython ranking (``rank_cy.evaluate_cy``) as a peer for the benchmarks.

In order: the compiled module of a torchreid installed from its source; else ``rank_cy.pyx``
compiled here with Cython (a test-only dependency) from ``--rank-cy PATH`` (a deep-person-reid
checkout's ``torchreid/metrics/rank_cylib/rank_cy.pyx``) or from the installed package, if it
ships the file (PyPI's torchreid 0.2.5 does not); else nothing, and the reason why. The build
uses torchreid's own recipe (setuptools' default flags, NumPy's headers) and is cached by the
file's hash under ``~/.cache/strf/bench/rank_cy/``.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

BUILD_SCRIPT = """
import numpy as np
from Cython.Build import cythonize
from setuptools import Extension, setup

setup(
    name="rank_cy",
    ext_modules=cythonize(
        [Extension("rank_cy", ["rank_cy.pyx"], include_dirs=[np.get_include()])], quiet=True
    ),
    script_args=["build_ext", "--inplace"],
)
"""


def _installed_pyx() -> Path | None:
    spec = importlib.util.find_spec("torchreid")
    if spec is None or spec.origin is None:
        return None
    found = sorted(Path(spec.origin).parent.rglob("rank_cy.pyx"))
    return found[0] if found else None


def _build(pyx: Path) -> Path:
    digest = hashlib.sha256(pyx.read_bytes()).hexdigest()[:16]
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    build_dir = cache / "strf" / "bench" / "rank_cy" / digest
    built = sorted(build_dir.glob("rank_cy*.so"))
    if built:
        return built[0]
    tmp = build_dir.with_name(digest + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    shutil.copyfile(pyx, tmp / "rank_cy.pyx")
    run = subprocess.run(
        [sys.executable, "-c", BUILD_SCRIPT], cwd=tmp, capture_output=True, text=True
    )
    if run.returncode != 0:
        raise RuntimeError(f"building {pyx} failed:\n{run.stderr[-2000:]}")
    shutil.rmtree(build_dir, ignore_errors=True)
    tmp.replace(build_dir)
    return sorted(build_dir.glob("rank_cy*.so"))[0]


def torchreid_cython(pyx: str | None) -> tuple[Callable | None, str]:
    """``(evaluate_cy, how it was obtained)``, or ``(None, why not)``.

    ``evaluate_cy(distmat, q_pids, g_pids, q_camids, g_camids, max_rank)`` returns
    ``(cmc, mAP)`` in float32.
    """
    if pyx is None:
        try:
            from torchreid.reid.metrics.rank_cylib.rank_cy import evaluate_cy

            return evaluate_cy, "torchreid's installed compiled module"
        except ImportError:
            pass
    source = Path(pyx) if pyx else _installed_pyx()
    if source is None:
        return None, (
            "torchreid's rank_cy.pyx was not found (PyPI's torchreid ships no .pyx): pass "
            "--rank-cy PATH to a deep-person-reid checkout's "
            "torchreid/metrics/rank_cylib/rank_cy.pyx"
        )
    if not source.is_file():
        return None, f"--rank-cy {source}: no such file"
    if importlib.util.find_spec("Cython") is None:
        return None, "Cython is not installed (pip install cython): torchreid's rank_cy not built"
    library = _build(source)
    spec = importlib.util.spec_from_file_location("rank_cy", library)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.evaluate_cy, f"compiled here from {source.name} (sha256 {library.parent.name})"
