"""Large CPU buffers, glibc's own malloc vs ``strf_core.allocator.reuse_freed_memory``.

Each measurement runs in a fresh process (the setting is the whole process's, and a heap grown
under one setting would serve the other), the two settings' processes alternating, so load
drift hits both alike; in each, one warm-up call, then ``--calls`` timed calls: medians of wall
and CPU seconds, and minor page faults per call. Workloads on ``p3dc_resnet_tiny`` + STRF:

- ``train``: a train step (forward, backward, Adam), batch 32 clips of 4 frames;
- ``embed``: per-frame features of 8 chunks of 32 frames under ``torch.no_grad`` (the
  gallery embedding's forward pass, ``strf_core.features.extract_features``).

Usage::

    python bench/malloc_reuse.py [--sizes 128x64 256x128] [--workloads train embed]
        [--rounds 2] [--calls 3] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import load_average, markdown_table, write_json

MODES = ("default", "reuse")


def child(workload: str, size: str, mode: str, calls: int) -> dict[str, object]:
    """Time ``calls`` calls of ``workload`` in this process under malloc ``mode``."""
    from strf_core.allocator import reuse_freed_memory

    applied = reuse_freed_memory() if mode == "reuse" else False  # before any large buffer
    import torch
    import torch.nn.functional as F

    from strf_core import build_model

    height, width = (int(v) for v in size.split("x"))
    torch.manual_seed(0)
    model = build_model("p3dc_resnet_tiny", num_classes=625, strf=True)
    if workload == "train":
        model.train()
        optimizer = torch.optim.Adam(model.parameters(), lr=3e-4)
        clips = torch.randn(32, 3, 4, height, width)
        labels = torch.randint(0, 625, (32,))

        def call():
            optimizer.zero_grad(set_to_none=True)
            F.cross_entropy(model(clips).logits, labels).backward()
            optimizer.step()
    else:
        model.eval()
        clips = torch.randn(8, 3, 32, height, width)

        def call():
            with torch.no_grad():
                model.frame_features(clips)

    call()
    wall, cpu, faults = [], [], []
    for _ in range(calls):
        f0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        t0, c0 = time.perf_counter(), time.process_time()
        call()
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
        faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - f0)
    return {
        "applied": applied,
        "threads": torch.get_num_threads(),
        "wall": wall,
        "cpu": cpu,
        "faults": faults,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", default=["128x64", "256x128"])
    parser.add_argument("--workloads", nargs="+", default=["train", "embed"])
    parser.add_argument("--rounds", type=int, default=2, help="processes per setting")
    parser.add_argument("--calls", type=int, default=3, help="timed calls per process")
    parser.add_argument("--out", default=None)
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(*args.child, calls=args.calls)))
        return
    results, rows = [], []
    for workload in args.workloads:
        for size in args.sizes:
            runs: dict[str, list[dict]] = {mode: [] for mode in MODES}
            before = load_average()
            for _ in range(args.rounds):
                for mode in MODES:
                    command = [sys.executable, __file__, "--calls", str(args.calls)]
                    out = subprocess.run(
                        [*command, "--child", workload, size, mode],
                        capture_output=True,
                        text=True,
                        check=True,
                    ).stdout
                    runs[mode].append(json.loads(out.splitlines()[-1]))
            after = load_average()
            med = {
                mode: {
                    key: statistics.median(v for run in runs[mode] for v in run[key])
                    for key in ("wall", "cpu", "faults")
                }
                for mode in MODES
            }
            threads = runs["reuse"][0]["threads"]
            results.append(
                {
                    "workload": workload,
                    "size": size,
                    "threads": threads,
                    "median": med,
                    "cpu_ratio_default_over_reuse": med["default"]["cpu"] / med["reuse"]["cpu"],
                    "runs": runs,
                    "loadavg_before": before,
                    "loadavg_after": after,
                }
            )
            rows.append(
                [
                    workload,
                    size,
                    threads,
                    f"{med['default']['wall']:.3f} / {med['reuse']['wall']:.3f}",
                    f"{med['default']['cpu']:.3f} / {med['reuse']['cpu']:.3f}",
                    f"{med['default']['cpu'] / med['reuse']['cpu']:.2f}",
                    f"{med['default']['faults']:,.0f} / {med['reuse']['faults']:,.0f}",
                    f"{before} -> {after}",
                ]
            )
    print("\n## glibc's malloc vs reuse_freed_memory, p3dc_resnet_tiny + STRF, CPU\n")
    header = ["workload", "clip", "threads", "wall s (default / reuse)", "CPU s"]
    header += ["CPU default / reuse", "page faults per call", "load avg"]
    print(markdown_table(header, rows))
    path = write_json("malloc_reuse", {"results": results}, args.out)
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()
