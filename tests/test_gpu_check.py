"""bench/gpu_check.py: isolated parts and the CPU smoke path of the one-command GPU check."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1] / "bench"


def _module():
    spec = importlib.util.spec_from_file_location("gpu_check", BENCH / "gpu_check.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_one_failing_or_hanging_part_loses_only_its_own_result(tmp_path):
    check = _module()
    ok_json = tmp_path / "ok.json"
    write = f"import json; json.dump({{'clips_per_s': 12.5}}, open({str(ok_json)!r}, 'w'))"
    parts = [
        check.Part("crashes", [sys.executable, "-c", "import sys; print('boom'); sys.exit(3)"], 30),
        check.Part("hangs", [sys.executable, "-c", "import time; time.sleep(60)"], 2),
        check.Part("ok", [sys.executable, "-c", write], 30, ok_json),
        check.Part("skipped", ["false"], 30, skip="needs CUDA"),
    ]
    summary = check.run_parts(parts, tmp_path / "summary.json", budget_s=60)
    assert json.loads((tmp_path / "summary.json").read_text()) == summary
    records = summary["parts"]
    assert records["crashes"]["status"] == "failed" and records["crashes"]["returncode"] == 3
    assert "boom" in records["crashes"]["output_tail"]
    assert records["hangs"]["status"] == "timed out"
    assert records["ok"]["status"] == "ok" and records["ok"]["result"] == {"clips_per_s": 12.5}
    assert records["skipped"] == {"argv": ["false"], "status": "skipped", "reason": "needs CUDA"}
    # A spent budget leaves the remaining parts "not run", recorded.
    late = check.run_parts(parts[2:3], tmp_path / "late.json", budget_s=1)
    assert late["parts"]["ok"]["status"] == "not run"


def test_env_part_records_versions_and_what_the_device_supports(tmp_path):
    _module().part_env("cpu", tmp_path / "env.json")
    env = json.loads((tmp_path / "env.json").read_text())
    assert env["torch"] and set(env["sdpa_backends_enabled"]) == {"flash", "mem_efficient", "math"}
    assert isinstance(env["nccl_available"], bool)


def test_cpu_smoke_runs_the_parts_that_can_run_on_a_cpu(tmp_path):
    out = tmp_path / "out"
    done = subprocess.run(
        [sys.executable, str(BENCH / "gpu_check.py"), "--cpu-smoke", "--out-dir", str(out),
         "--parts", "bf16", "throughput"],
        capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    summary = json.loads((out / "gpu_check_cpu_smoke.json").read_text())
    records = summary["parts"]
    assert done.returncode == 0, {k: r.get("output_tail") for k, r in records.items()}
    assert list(records) == ["data", "throughput", "bf16"]  # the world first, then in order
    bf16 = records["bf16"]["result"]
    assert bf16["all_finite"] and len(bf16["losses"]) == 8
    assert set(bf16["strf_unit_large_activations"]) == {"fused", "explicit"}
    throughput = records["throughput"]["result"]["result"]
    assert throughput["clips_per_s"] > 0 and 0 <= throughput["data_wait_share"] <= 1
    assert (out / "cpu_smoke_train_throughput.json").is_file()
