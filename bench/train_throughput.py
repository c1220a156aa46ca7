"""Training throughput: clips/s, model FLOP utilisation and the time spent waiting for data.

Trains STRF-P3D-C ResNet-50 (by default) on synthetic MARS-layout data with the engine's own
``Trainer`` (bf16 autocast and channels_last_3d on CUDA) for ``--steps`` steps after a warm-up,
timing separately the wait for each batch and the step itself. FLOPs per step are counted once
with ``torch.utils.flop_counter`` (forward + backward); MFU = FLOPs per second / the GPU's dense
bf16 peak.

Usage::

    python bench/train_throughput.py                        # GPU: full preset, 4x256x128, batch 32
    python bench/train_throughput.py --device cpu --preset tiny --model p3dc_resnet_tiny \\
        --size 128x64 --steps 5 --warmup 2 --batch-p 4       # a CPU smoke run
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import torch
from torch.utils.flop_counter import FlopCounterMode

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import device_facts, markdown_table, write_json

from strf_core.engine.config import load_config
from strf_core.engine.trainer import Trainer
from strf_core.synth import generate

# Dense bf16 tensor-core peaks (FLOP/s), by device name.
PEAK_BF16 = {
    "H100 SXM": 989.4e12,
    "H100 NVL": 835e12,
    "H100 PCIe": 756e12,
    "H100": 989.4e12,
    "H200": 989.4e12,
    "A100": 312e12,
    "L40S": 362e12,
    "A10G": 70e12,
}


def peak_flops(device: torch.device) -> float | None:
    if device.type != "cuda":
        return None
    name = torch.cuda.get_device_name(device)
    for key, value in PEAK_BF16.items():
        if key in name:
            return value
    return None


def step_flops(trainer: Trainer, clips: torch.Tensor, pids: torch.Tensor) -> int:
    """FLOPs of one training step (forward and backward), counted on a copy of the batch."""
    with FlopCounterMode(display=False) as counter:
        trainer.train_step(clips, pids)
    return counter.get_total_flops()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="auto")
    parser.add_argument("--model", default="p3dc_resnet50")
    parser.add_argument("--no-strf", action="store_true")
    parser.add_argument("--preset", default="full", help="synthetic preset for the data")
    parser.add_argument("--data-root", help="use this MARS-layout folder instead of generating")
    parser.add_argument("--size", default="256x128")
    parser.add_argument("--batch-p", type=int, default=8)
    parser.add_argument("--batch-k", type=int, default=4)
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--compile", action="store_true")
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    height, width = (int(v) for v in args.size.split("x"))

    root = args.data_root
    if root is None:
        root = Path(tempfile.mkdtemp(prefix="strf_synth_")) / "mars"
        start = time.perf_counter()
        generate(root, preset=args.preset, size=(height, width), workers=8, progress=True)
        print(f"generated the {args.preset} preset in {time.perf_counter() - start:.0f} s")
    overrides = [
        f"data.root={root}",
        "data.dataset=mars",
        f"data.height={height}",
        f"data.width={width}",
        f"data.batch_p={args.batch_p}",
        f"data.batch_k={args.batch_k}",
        f"model.name={args.model}",
        f"model.strf={not args.no_strf}",
        f"device={args.device}",
        f"compile={args.compile}",
        f"output_dir={tempfile.mkdtemp(prefix='strf_run_')}",
    ]
    if args.workers is not None:
        overrides.append(f"data.workers={args.workers}")
    trainer = Trainer(load_config(None, overrides), resume=False, progress=False)
    device = trainer.device

    def sync() -> None:
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    wait = compute = 0.0
    steps = 0
    flops = None
    iterator = iter(trainer.loader)
    total = args.warmup + args.steps
    while steps < total:
        tick = time.perf_counter()
        try:
            batch = next(iterator)
        except StopIteration:  # next epoch
            iterator = iter(trainer.loader)
            continue
        got = time.perf_counter()
        if flops is None:
            flops = step_flops(trainer, batch.clip, batch.pid)
        trainer.train_step(batch.clip, batch.pid)
        sync()
        done = time.perf_counter()
        if steps >= args.warmup:
            wait += got - tick
            compute += done - got
        steps += 1
    wall = wait + compute
    batch_size = args.batch_p * args.batch_k
    peak = peak_flops(device)
    result = {
        "model": args.model + ("" if args.no_strf else " + STRF"),
        "clip": f"{batch_size} x 4x{height}x{width}",
        "steps": args.steps,
        "clips_per_s": args.steps * batch_size / wall,
        "step_s": wall / args.steps,
        "data_wait_share": wait / wall,
        "flops_per_step": flops,
        "achieved_tflops": flops * args.steps / wall / 1e12,
        "mfu": flops * args.steps / wall / peak if peak else None,
        "peak_bf16_flops": peak,
        "autocast_bf16": trainer.config.amp and device.type == "cuda",
        "workers": trainer.loader.num_workers,
    }
    mfu = f"{result['mfu']:.1%}" if result["mfu"] is not None else "n/a (no GPU peak)"
    print(f"\n## Training throughput, {device}\n")
    print(
        markdown_table(
            ["model", "batch", "clips/s", "step (s)", "TFLOP/s", "MFU", "waiting for data"],
            [
                [
                    result["model"],
                    result["clip"],
                    f"{result['clips_per_s']:.1f}",
                    f"{result['step_s']:.3f}",
                    f"{result['achieved_tflops']:.2f}",
                    mfu,
                    f"{result['data_wait_share']:.1%}",
                ]
            ],
        )
    )
    name = "train_throughput_" + ("cuda" if device.type == "cuda" else "cpu")
    path = write_json(name, {"facts": device_facts(device), "result": result}, args.out)
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()
