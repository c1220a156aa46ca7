"""Gallery embedding throughput (frames/s) of the tiny STRF-P3D-C, per input size and thread count.

What the dashboard's cold start waits for: the model's per-frame features over dense chunks (as
:func:`strf_core.features.extract_features` runs them, decoding excluded), in the current way
(``torch.no_grad``, contiguous tensors) and with the easy wins: ``torch.inference_mode``,
channels-last (3-D) weights and inputs, and both. Every variant must give the current features
to 1e-5. glibc's malloc is set to reuse freed blocks (:mod:`strf_core.allocator`, as the
``strf`` command sets it): otherwise page faults of fresh buffers blur the comparison
(``bench/malloc_reuse.py`` measures that setting itself). Each variant runs at every batch
size (chunks of ``--chunk-len`` frames per forward pass; the gallery embeds 8). Calls are
interleaved, medians of wall and CPU time; the thread count and the load average are written
beside each figure.

Usage::

    python bench/embed_speed.py [--sizes 64x32 128x64 256x128] [--threads 1 2]
        [--chunk-len 32] [--batches 1 8] [--repeats 5] [--out FILE]
"""

from __future__ import annotations

import argparse
import copy
import sys
from collections.abc import Callable
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (
    device_facts,
    interleaved_wall_and_cpu,
    load_average,
    markdown_table,
    write_json,
)

from strf_core import build_model
from strf_core.allocator import reuse_freed_memory
from strf_core.data.transforms import normalize_clips


def _embedder(model: torch.nn.Module, clip: torch.Tensor, grad_mode) -> Callable[[], torch.Tensor]:
    """Per-frame features of ``clip`` under ``grad_mode`` (``torch.no_grad`` or
    ``torch.inference_mode``)."""

    def run() -> torch.Tensor:
        with grad_mode():
            return model.frame_features(clip)

    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", default=["64x32", "128x64", "256x128"])
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--chunk-len", type=int, default=32)
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 8], help="chunks per pass")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    malloc_reuse = reuse_freed_memory()
    device = torch.device("cpu")
    torch.manual_seed(0)
    model = build_model("p3dc_resnet_tiny", num_classes=625, strf=True).eval()
    model_cl = copy.deepcopy(model).to(memory_format=torch.channels_last_3d)
    rows, results = [], []
    for size in args.sizes:
        height, width = (int(x) for x in size.split("x"))
        for batch in args.batches:
            shape = (batch, 3, args.chunk_len, height, width)
            clip = normalize_clips(torch.randint(0, 256, shape, dtype=torch.uint8))
            clip_cl = clip.contiguous(memory_format=torch.channels_last_3d)

            fns = {
                "no_grad": _embedder(model, clip, torch.no_grad),
                "inference_mode": _embedder(model, clip, torch.inference_mode),
                "channels_last": _embedder(model_cl, clip_cl, torch.no_grad),
                "inference_mode+channels_last": _embedder(model_cl, clip_cl, torch.inference_mode),
            }
            want = fns["no_grad"]()
            for name, fn in fns.items():
                torch.testing.assert_close(fn(), want, atol=1e-5, rtol=1e-4, msg=name)
            frames = batch * args.chunk_len
            for threads in args.threads:
                torch.set_num_threads(threads)
                before = load_average()
                wall, cpu = interleaved_wall_and_cpu(
                    fns, repeats=args.repeats, warmup=1, device=device
                )
                after = load_average()
                fps = {k: frames / v for k, v in wall.items()}
                results.append(
                    {
                        "size": [height, width],
                        "chunks_per_pass": batch,
                        "threads": threads,
                        "frames_per_call": frames,
                        "seconds": wall,
                        "cpu_seconds": cpu,
                        "frames_per_s": fps,
                        "frames_per_cpu_s": {k: frames / v for k, v in cpu.items()},
                        "gain_over_no_grad": {k: fps[k] / fps["no_grad"] for k in fps},
                        "loadavg_before": before,
                        "loadavg_after": after,
                    }
                )
                rows.append(
                    [size, batch, threads]
                    + [f"{fps[k]:.0f} ({fps[k] / fps['no_grad']:.2f}x)" for k in fns]
                    + [f"{frames / cpu['no_grad']:.0f}", f"{before} -> {after}"]
                )
    print(f"\n## Embedding throughput, frames/s (chunks of {args.chunk_len} frames)\n")
    header = ["size", "chunks/pass", "threads", *fns, "no_grad frames/CPU-s", "load"]
    print(markdown_table(header, rows))
    facts = device_facts(device) | {"threads": args.threads, "model": "p3dc_resnet_tiny + STRF"}
    facts["malloc_reuse"] = malloc_reuse
    path = write_json("embed_speed", {"facts": facts, "results": results}, args.out)
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()
