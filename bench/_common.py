"""Shared helpers of the benchmark scripts: timing, peak memory, device facts, output."""

from __future__ import annotations

import ctypes
import gc
import json
import os
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import torch

from strf_core.allocator import M_MMAP_MAX, M_TRIM_THRESHOLD

RESULTS = Path(__file__).resolve().parent / "results"


def pick_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def interleaved_medians(
    fns: dict[str, Callable[[], object]], *, repeats: int, warmup: int, device: torch.device
) -> dict[str, float]:
    """Median seconds per call of each function, calls interleaved so drift hits all alike."""
    return interleaved_wall_and_cpu(fns, repeats=repeats, warmup=warmup, device=device)[0]


def interleaved_wall_and_cpu(
    fns: dict[str, Callable[[], object]], *, repeats: int, warmup: int, device: torch.device
) -> tuple[dict[str, float], dict[str, float]]:
    """Median wall seconds and median CPU seconds (this process, all threads) per call.

    On a machine shared with other work the CPU time is what a call costs whatever share of
    the cores it got; the wall time is what it took. Calls are interleaved, so drift in the
    load hits every function alike.
    """
    for _ in range(warmup):
        for fn in fns.values():
            fn()
    wall: dict[str, list[float]] = {k: [] for k in fns}
    cpu: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(repeats):
        for key, fn in fns.items():
            sync(device)
            start, start_cpu = time.perf_counter(), time.process_time()
            fn()
            sync(device)
            wall[key].append(time.perf_counter() - start)
            cpu[key].append(time.process_time() - start_cpu)
    return (
        {k: statistics.median(v) for k, v in wall.items()},
        {k: statistics.median(v) for k, v in cpu.items()},
    )


def _return_freed_memory_to_the_os() -> None:
    """Make glibc serve blocks of 64 KiB or more by mmap and give back its free heap pages, so
    that the resident set follows live memory. This slows allocation: time things before."""
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return
    libc.mallopt(M_MMAP_MAX, 65536)  # undo strf_core.allocator.reuse_freed_memory
    libc.mallopt(-3, 64 * 1024)  # M_MMAP_THRESHOLD
    libc.mallopt(M_TRIM_THRESHOLD, 64 * 1024)
    libc.malloc_trim(0)


def _proc_status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def peak_memory_bytes(fn: Callable[[], object], device: torch.device) -> int:
    """Peak memory that one call of ``fn`` adds on top of what was live before it.

    CUDA: the caching allocator's peak of allocated bytes. CPU: the process's peak resident set
    (Linux VmHWM, reset through /proc/self/clear_refs) minus the resident set before the call,
    with glibc returning freed blocks of 64 KiB or more to the OS (which slows allocation: take
    timings before the first memory measurement).
    """
    gc.collect()
    if device.type == "cuda":
        sync(device)
        torch.cuda.empty_cache()
        base = torch.cuda.memory_allocated(device)
        torch.cuda.reset_peak_memory_stats(device)
        fn()
        sync(device)
        return torch.cuda.max_memory_allocated(device) - base
    _return_freed_memory_to_the_os()
    Path("/proc/self/clear_refs").write_text("5")  # reset VmHWM to the current VmRSS
    base = _proc_status_kib("VmRSS")
    fn()
    return (_proc_status_kib("VmHWM") - base) * 1024


def load_average() -> str:
    """The 1, 5 and 15 minute load averages, for writing beside a figure."""
    return "/".join(f"{x:.2f}" for x in os.getloadavg())


def device_facts(device: torch.device) -> dict[str, object]:
    facts: dict[str, object] = {
        "device": str(device),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "cpu": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        # 1/5/15-minute load averages when the facts are taken (every script takes them as it
        # writes its results); scripts that time in stages also record them per stage.
        "loadavg": load_average(),
    }
    if device.type == "cuda":
        facts["gpu"] = torch.cuda.get_device_name(device)
    return facts


def write_json(name: str, payload: dict[str, object], out: str | None = None) -> Path:
    """Write ``payload`` atomically to ``out`` or ``bench/results/<name>.json``."""
    path = Path(out) if out else RESULTS / f"{name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(payload, indent=2) + "\n")
    tmp.replace(path)
    return path


def markdown_table(header: list[str], rows: list[list[object]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)
