"""The dashboard's background embedding stops cleanly with the server (a separate process:
what is tested is how the interpreter exits)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytest.importorskip("streamlit")

ROOT = Path(__file__).resolve().parents[1]

# A workspace whose STRF gallery needs all 16 branch sets embedded (minutes of work), whose
# process exits 3 s after starting it: as a server stopped mid-embedding does.
SCRIPT = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    import torch
    torch.set_num_threads(2)
    from app import resources as R
    from strf_core.data.datasets import build_dataset
    from strf_core.data.writers import write_tiny_mars
    from strf_core.demo import DemoModel
    from strf_core.models import build_model
    from strf_core.retrieval import Gallery

    root = write_tiny_mars(Path(sys.argv[1]), size=(64, 32))
    tracklets = build_dataset("mars", root).gallery * 40
    model = build_model("p3dc_resnet_tiny", num_classes=4, strf=True).eval()
    demo = DemoModel("strf", model, None, (64, 32), {})
    gallery = Gallery(tracklets, size=(64, 32))
    ws = R.Workspace("t", "t", {"strf": demo}, None, root, {}, {"strf": gallery})
    thread = R.start_precompute(ws)
    time.sleep(3)
    print("embedding at exit:", thread.is_alive(), flush=True)
    """
)


def test_server_exit_stops_the_background_embedding_cleanly(tmp_path):
    run = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(tmp_path / "mars")],
        cwd=ROOT,
        env={"PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert "embedding at exit: True" in run.stdout  # the exit came mid-embedding
    assert "terminate called" not in run.stderr
    assert run.returncode == 0, run.stderr[-2000:]
