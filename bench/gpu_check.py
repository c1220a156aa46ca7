"""The GPU path checked in one command: ``python bench/gpu_check.py`` (under 8 minutes on one GPU).

Each part runs in its own process with its own time limit, so a part that fails, hangs or
crashes the CUDA context loses only its own result; the summary is rewritten after every part.

::

    part                what it runs (its JSON in OUT_DIR)
    env                 torch / CUDA / cuDNN / NCCL versions, the GPU, bf16, SDPA (gpu_env)
    tests               pytest on the tests that use CUDA when there is one
    overhead            bench/strf_overhead.py on CUDA: which SDPA kernel runs, the HW x HW bytes
                        kept for backward, fused vs explicit, STRF vs baseline (gpu_strf_overhead)
    data                the synthetic world the throughput runs read (a temp folder)
    throughput          bench/train_throughput.py, eager, ~1-2 min: clips/s, MFU against the bf16
                        peak, share of time waiting for data (gpu_train_throughput)
    throughput_compile  the same with torch.compile (gpu_train_throughput_compile)
    bf16                STRF-P3D-C ResNet-50 train steps under bf16 autocast, every loss and
                        gradient finite; one STRF unit on large activations, fused and explicit
                        (gpu_bf16)

and ``gpu_check.json``: every part's exit status, time, output tail and result.

``--cpu-smoke`` runs the same parts tiny on the CPU (the tiny model, a tiny world, a few steps;
``overhead`` and ``throughput_compile`` are skipped, ``tests`` runs one quick file) and writes
``gpu_check_cpu_smoke.json`` and ``cpu_smoke_*.json`` instead, so that the script is tested
where no GPU is. NCCL needs two GPUs; on one, ``env`` only records whether it is available.

Usage::

    python bench/gpu_check.py                       # on a GPU machine: everything, ~6-8 min
    python bench/gpu_check.py --parts env bf16      # some parts
    python bench/gpu_check.py --cpu-smoke --out-dir /tmp/gpu_check
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
RESULTS = HERE / "results"
# The tests that run on CUDA when it is there (models, the unit, training on the "auto" device).
# The two-process DDP test is left out: NCCL cannot put two ranks on one GPU.
CUDA_TESTS = (
    "tests/test_strf.py",
    "tests/test_losses.py",
    "tests/test_engine_train.py",
    "tests/test_validation.py",
)
PARTS = ("env", "tests", "overhead", "data", "throughput", "throughput_compile", "bf16")
TAIL_CHARS = 4000


@dataclass
class Part:
    """One isolated step of the check.

    Attributes:
        name: its key in the summary.
        argv: the command (run from the repository root).
        timeout_s: killed after this many seconds.
        result: the JSON file it writes, read back into the summary (``None``: none).
        skip: why it is not run (``""``: it is).
    """

    name: str
    argv: list[str]
    timeout_s: float
    result: Path | None = None
    skip: str = ""
    env: dict[str, str] = field(default_factory=dict)


def run_parts(parts: Sequence[Part], summary_path: Path, *, budget_s: float) -> dict:
    """Run ``parts`` one after the other, each in its own process; return the summary.

    The summary (``{"parts": {name: record}}``) is written atomically to ``summary_path`` after
    every part, so a check killed midway keeps what it measured. A part's time limit is cut to
    what is left of ``budget_s``; a part with no time left is recorded as not run.
    """
    started = time.perf_counter()
    summary: dict = {"budget_s": budget_s, "parts": {}}
    for part in parts:
        left = budget_s - (time.perf_counter() - started)
        record: dict = {"argv": part.argv}
        if part.skip:
            record.update(status="skipped", reason=part.skip)
        elif left < 5:
            record.update(status="not run", reason=f"the {budget_s:.0f} s budget was spent")
        else:
            record.update(_run(part, min(part.timeout_s, left)))
        summary["parts"][part.name] = record
        summary["wall_s"] = round(time.perf_counter() - started, 1)
        _write_json(summary_path, summary)
    return summary


def _run(part: Part, timeout_s: float) -> dict:
    tick = time.perf_counter()
    env = {**os.environ, "PYTHONPATH": str(REPO), **part.env}
    try:
        done = subprocess.run(
            part.argv,
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout_s,
            check=False,
        )
        output, rc, timed_out = done.stdout + done.stderr, done.returncode, False
    except subprocess.TimeoutExpired as err:
        output = _text(err.stdout) + _text(err.stderr)
        rc, timed_out = None, True
    record: dict = {
        "status": "ok" if rc == 0 else ("timed out" if timed_out else "failed"),
        "returncode": rc,
        "seconds": round(time.perf_counter() - tick, 1),
        "timeout_s": round(timeout_s, 1),
        "output_tail": output[-TAIL_CHARS:],
    }
    if part.result is not None and part.result.is_file():
        try:
            record["result"] = json.loads(part.result.read_text())
            record["result_file"] = str(part.result)
        except json.JSONDecodeError as err:
            record["result_error"] = f"{part.result}: {err}"
    return record


def _text(value: str | bytes | None) -> str:
    if isinstance(value, bytes):
        return value.decode(errors="replace")
    return value or ""


def _write_json(path: Path, payload: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(payload, indent=2) + "\n")
    tmp.replace(path)


def plan(out_dir: Path, *, cpu_smoke: bool, world: Path) -> list[Part]:
    """Every part of the check, in order (see the module docstring)."""
    py = sys.executable
    prefix = "cpu_smoke_" if cpu_smoke else "gpu_"
    me = [py, str(Path(__file__).resolve())]
    device = "cpu" if cpu_smoke else "cuda"

    def out(name: str) -> Path:
        return out_dir / f"{prefix}{name}.json"

    tests = ["tests/test_losses.py"] if cpu_smoke else list(CUDA_TESTS)
    if cpu_smoke:
        preset, size, throughput = "tiny", "64x32", ["--model", "p3dc_resnet_tiny"]
        throughput += ["--steps", "3", "--warmup", "1", "--batch-p", "2", "--batch-k", "2"]
        throughput += ["--workers", "0"]
    else:  # 200 steps of batch 32 after a warm-up: about 1-2 minutes on one GPU
        preset, size, throughput = "medium", "256x128", ["--steps", "200", "--warmup", "20"]
    bench_throughput = [py, "bench/train_throughput.py", "--device", device, "--size", size]
    bench_throughput += ["--data-root", str(world), *throughput]
    threads = {"OMP_NUM_THREADS": "1"} if cpu_smoke else {}
    return [
        Part("env", [*me, "--part", "env", "--device", device, "--out", str(out("env"))], 30,
             out("env")),
        Part("tests", [py, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-x", *tests,
                       "-k", "not ddp"], 110, env=threads),
        Part("overhead", [py, "bench/strf_overhead.py", "--device", device, "--repeats", "5",
                          "--out", str(out("strf_overhead"))], 90, out("strf_overhead"),
             skip="the CPU numbers are bench/strf_overhead.py's own" if cpu_smoke else ""),
        Part("data", [*me, "--part", "data", "--preset", preset, "--size", size,
                      "--world", str(world)], 60),
        Part("throughput", [*bench_throughput, "--out", str(out("train_throughput"))], 110,
             out("train_throughput"), env=threads),
        Part("throughput_compile", [*bench_throughput, "--compile", "--warmup", "30",
                                    "--out", str(out("train_throughput_compile"))], 130,
             out("train_throughput_compile"),
             skip="torch.compile is checked on the GPU only" if cpu_smoke else ""),
        Part("bf16", [*me, "--part", "bf16", "--device", device, "--out", str(out("bf16"))], 60,
             out("bf16"), env=threads),
    ]  # fmt: skip


# --------------------------------------------------------------------------- in-process parts


def part_env(device_name: str, out: Path) -> None:
    """Versions, the device and what it supports."""
    import torch
    import torch.distributed as dist

    facts: dict = {
        "torch": torch.__version__,
        "cuda_available": torch.cuda.is_available(),
        "cuda": torch.version.cuda,
        "cudnn": torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None,
        "nccl_available": dist.is_available() and dist.is_nccl_available(),
        "sdpa_backends_enabled": {
            "flash": torch.backends.cuda.flash_sdp_enabled(),
            "mem_efficient": torch.backends.cuda.mem_efficient_sdp_enabled(),
            "math": torch.backends.cuda.math_sdp_enabled(),
        },
    }
    if device_name.startswith("cuda"):
        device = torch.device(device_name)
        props = torch.cuda.get_device_properties(device)
        facts.update(
            gpu=props.name,
            capability=f"{props.major}.{props.minor}",
            memory_gib=round(props.total_memory / 2**30, 1),
            bf16_supported=torch.cuda.is_bf16_supported(),
            nccl_version=".".join(map(str, torch.cuda.nccl.version())),
        )
    _write_json(out, facts)
    print(json.dumps(facts, indent=2))


def part_data(preset: str, size: str, world: Path) -> None:
    """The synthetic MARS-layout world the throughput runs share."""
    from strf_core.synth import META_NAME, generate, parse_size

    if (world / META_NAME).is_file():
        print(f"{world} exists")
        return
    tick = time.perf_counter()
    workers = max(1, min(16, os.cpu_count() or 1))
    generate(world, preset=preset, size=parse_size(size), workers=workers, progress=False)
    print(f"generated {preset} at {size} in {time.perf_counter() - tick:.0f} s: {world}")


def part_bf16(device_name: str, out: Path, steps: int = 8) -> None:
    """Train steps under bf16 autocast with every loss and gradient finite, and one STRF unit
    on large activations (fused and explicit).

    Raises:
        FloatingPointError: a non-finite loss, gradient or unit output (the part fails).
    """
    import torch

    from strf_core.losses import ReIDLoss
    from strf_core.models import build_model
    from strf_core.modules import STRF

    device = torch.device(device_name)
    cuda = device.type == "cuda"
    torch.manual_seed(0)
    name, batch, size = (
        ("p3dc_resnet50", 8, (256, 128)) if cuda else ("p3dc_resnet_tiny", 4, (64, 32))
    )
    model = build_model(name, num_classes=16, strf=True).to(device).train()
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-4)
    criterion = ReIDLoss()
    pids = torch.arange(batch, device=device) // 2  # 2 clips per identity
    losses, max_grad = [], 0.0
    for step in range(steps):
        clips = torch.randn(batch, 3, 4, *size, device=device)
        with torch.autocast(device.type, dtype=torch.bfloat16):
            output = model(clips)
        loss, _ = criterion(output, pids)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        grads = [p.grad for p in model.parameters() if p.grad is not None]
        if not torch.isfinite(loss) or not all(torch.isfinite(g).all() for g in grads):
            raise FloatingPointError(f"non-finite loss or gradient at step {step}: {loss.item()}")
        max_grad = max(max_grad, max(g.abs().max().item() for g in grads))
        optimizer.step()
        losses.append(loss.item())
    unit_out = {}
    for attention in ("fused", "explicit"):
        unit = STRF(256, attention=attention).to(device)
        with torch.no_grad():
            unit.gamma.fill_(1.0)  # the unit's branch outputs count, not only the residual
        x = (torch.randn(2, 256, 4, 16, 8, device=device) * 100).requires_grad_()
        with torch.autocast(device.type, dtype=torch.bfloat16):
            y = unit(x)
        y.float().square().mean().backward()
        if not (torch.isfinite(y).all() and torch.isfinite(x.grad).all()):
            raise FloatingPointError(f"STRF ({attention}) gave non-finite values in bf16")
        unit_out[attention] = {"dtype": str(y.dtype), "max_abs": y.abs().max().item()}
    result = {
        "device": str(device),
        "model": name,
        "batch": f"{batch} x 4x{size[0]}x{size[1]}",
        "losses": losses,
        "max_abs_grad": max_grad,
        "strf_unit_large_activations": unit_out,
        "all_finite": True,
    }
    _write_json(out, result)
    print(json.dumps(result, indent=2))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cpu-smoke", action="store_true", help="tiny parts on the CPU")
    parser.add_argument("--parts", nargs="+", choices=PARTS, default=list(PARTS))
    parser.add_argument("--out-dir", default=str(RESULTS), help="where the JSON files go")
    parser.add_argument("--budget-s", type=float, default=470.0, help="whole-check time limit")
    # One in-process part (how the check runs its own parts in subprocesses).
    parser.add_argument("--part", choices=("env", "data", "bf16"), help=argparse.SUPPRESS)
    parser.add_argument("--device", default="cuda", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    parser.add_argument("--preset", help=argparse.SUPPRESS)
    parser.add_argument("--size", help=argparse.SUPPRESS)
    parser.add_argument("--world", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.part == "env":
        part_env(args.device, Path(args.out))
        return 0
    if args.part == "data":
        part_data(args.preset, args.size, Path(args.world))
        return 0
    if args.part == "bf16":
        part_bf16(args.device, Path(args.out))
        return 0

    out_dir = Path(args.out_dir)
    world = Path(tempfile.mkdtemp(prefix="strf_gpu_check_")) / "mars"
    chosen = [
        p for p in plan(out_dir, cpu_smoke=args.cpu_smoke, world=world) if p.name in args.parts
    ]
    if any(p.name.startswith("throughput") for p in chosen) and "data" not in args.parts:
        chosen.insert(0, next(p for p in plan(out_dir, cpu_smoke=args.cpu_smoke, world=world)
                              if p.name == "data"))  # fmt: skip
    name = "gpu_check_cpu_smoke.json" if args.cpu_smoke else "gpu_check.json"
    summary = run_parts(chosen, out_dir / name, budget_s=args.budget_s)
    width = max(len(p) for p in summary["parts"])
    for part, record in summary["parts"].items():
        detail = record.get("reason") or f"{record.get('seconds', 0):.0f} s"
        print(f"{part:<{width}}  {record['status']:<9}  {detail}")
    print(f"wrote {out_dir / name}")
    failed = [p for p, r in summary["parts"].items() if r["status"] not in ("ok", "skipped")]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
