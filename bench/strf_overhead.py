"""What STRF costs: a train step of P3D-C vs STRF-P3D-C, and fused vs explicit masks.

Measured in one run, medians of interleaved repeats (so machine drift hits every variant alike),
with the thread count and the load average written beside the figures:

glibc's malloc is set as the ``strf`` command sets it (``strf_core.allocator``; what that changes
is ``bench/malloc_reuse.py``'s to measure).

1. train step (forward, backward, Adam) of ``--model`` (default ``p3dc_resnet50``) without STRF,
   with STRF at stages 2-3 on the explicit mask product and on the fused one, per clip size:
   wall and CPU seconds, GFLOP/s (FLOPs counted once with ``torch.utils.flop_counter``), peak
   memory; batch 2 on the CPU and 32 on a GPU by default (bf16 autocast there);
2. one STRF unit (four branches, t->s), forward and backward, with the fused mask product
   (``scaled_dot_product_attention``) vs the explicit one, at the input of the model's first
   STRF unit in layer2 and in layer3 (recorded by a forward hook), per clip size and frame
   count: time, peak memory, the bytes autograd keeps for the backward pass (against one
   float32 ``HW x HW`` mask), and which SDPA kernel ran (read off the autograd graph; "math"
   leaves plain matmul and softmax nodes).

Usage::

    python bench/strf_overhead.py [--device auto|cpu|cuda] [--repeats 7] [--out FILE]
    python bench/strf_overhead.py --model p3dc_resnet_tiny --batch 32 --sizes 128x64 256x128 \
        --unit-frames 4 --repeats 5        # the tiny model of the CPU work (issue 18)
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch
import torch.nn.functional as F
from torch.utils.flop_counter import FlopCounterMode

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (
    device_facts,
    interleaved_medians,
    interleaved_wall_and_cpu,
    load_average,
    markdown_table,
    peak_memory_bytes,
    pick_device,
    write_json,
)

from strf_core import STRF, build_model
from strf_core.allocator import reuse_freed_memory

# The train step's variants: name -> STRF's mask product (None: no STRF).
VARIANTS = {"P3D-C": None, "STRF-P3D-C explicit": "explicit", "STRF-P3D-C fused": "fused"}
# Backward nodes of the fused SDPA kernels; SDPA's math kernel (and the explicit path) leave
# plain matmul and softmax nodes.
KERNEL_NODES = {
    "ScaledDotProductFlashAttentionForCpuBackward": "flash (CPU)",
    "ScaledDotProductFlashAttentionBackward": "flash (CUDA)",
    "ScaledDotProductEfficientAttentionBackward": "memory-efficient (CUDA)",
    "ScaledDotProductCudnnAttentionBackward": "cuDNN",
}


def _autocast(device: torch.device):
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda")


def _build(model_name: str, attention: str | None, device: torch.device) -> torch.nn.Module:
    torch.manual_seed(0)
    kwargs = {"strf": attention is not None}
    if attention is not None:
        kwargs["strf_kwargs"] = {"attention": attention}
    return build_model(model_name, num_classes=625, **kwargs).to(device).train()


def bench_train_step(
    model_name: str,
    size: tuple[int, int],
    batch: int,
    device: torch.device,
    repeats: int,
) -> dict[str, dict]:
    """Train steps of the variants in :data:`VARIANTS` on ``batch`` clips of 4 frames."""
    torch.manual_seed(0)
    clips = torch.randn(batch, 3, 4, *size, device=device)
    labels = torch.randint(0, 625, (batch,), device=device)
    steps, params, flops = {}, {}, {}
    for key, attention in VARIANTS.items():
        model = _build(model_name, attention, device)
        optimizer = torch.optim.Adam(model.parameters(), lr=3e-4, weight_decay=5e-4)

        def step(model=model, optimizer=optimizer):
            optimizer.zero_grad(set_to_none=True)
            with _autocast(device):
                logits = model(clips).logits
            F.cross_entropy(logits.float(), labels).backward()
            optimizer.step()

        with FlopCounterMode(display=False) as counter:  # forward and backward
            with _autocast(device):
                logits = model(clips).logits
            F.cross_entropy(logits.float(), labels).backward()
        model.zero_grad(set_to_none=True)
        steps[key], flops[key] = step, counter.get_total_flops()
        params[key] = sum(p.numel() for p in model.parameters())
    reuse_freed_memory()  # again: peak_memory_bytes() sets glibc's malloc to return memory
    load_before = load_average()
    wall, cpu = interleaved_wall_and_cpu(steps, repeats=repeats, warmup=1, device=device)
    load_after = load_average()
    return {
        key: {
            "seconds": wall[key],
            "cpu_seconds": cpu[key],
            "clips_per_s": batch / wall[key],
            "flops": flops[key],
            "gflop_per_s": flops[key] / wall[key] / 1e9,
            "peak_bytes": peak_memory_bytes(steps[key], device),
            "params": params[key],
            "loadavg_before": load_before,
            "loadavg_after": load_after,
        }
        for key in steps
    }


def strf_sites(model_name: str, size: tuple[int, int], frames: int, batch: int) -> dict:
    """Input shape ``(N, C, T, H, W)`` of the first STRF unit of layer2 and of layer3."""
    model = _build(model_name, "explicit", torch.device("cpu")).eval()
    shapes: dict[str, tuple[int, ...]] = {}
    for name, unit in model.strf_units().items():
        layer = name.split(".")[0]

        def record(module, args, layer=layer):
            shapes.setdefault(layer, tuple(args[0].shape))

        unit.register_forward_pre_hook(record)
    with torch.no_grad():
        model(torch.zeros(1, 3, frames, *size))
    return {layer: (batch, *shape[1:]) for layer, shape in sorted(shapes.items())}


def _unit_inputs(shape: tuple[int, ...], device: torch.device) -> torch.Tensor:
    dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
    g = torch.Generator(device=device).manual_seed(0)
    x = torch.randn(*shape, device=device, generator=g, dtype=dtype)
    return x.requires_grad_()


def _saved_for_backward_bytes(forward) -> int:
    """Bytes of the distinct tensors autograd keeps for the backward pass of ``forward()``."""
    storages: dict[int, int] = {}

    def pack(t):
        storage = t.untyped_storage()
        storages[storage.data_ptr()] = storage.nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        forward()
    return sum(storages.values())


def _kernel(out: torch.Tensor) -> str:
    """The SDPA kernel in ``out``'s autograd graph, read off its backward node names."""
    seen, stack = set(), [out.grad_fn]
    while stack:
        node = stack.pop()
        if node is None or node in seen:
            continue
        seen.add(node)
        for key, label in KERNEL_NODES.items():
            if node.name().startswith(key):
                return label
        stack.extend(next_fn for next_fn, _ in node.next_functions)
    return "math"


def bench_mask_product(
    model_name: str,
    sizes: list[tuple[int, int]],
    frames: list[int],
    batch: int,
    device: torch.device,
    repeats: int,
) -> list[dict]:
    """One STRF unit (four branches, t->s), forward and backward, fused vs explicit."""
    rows = []
    for size in sizes:
        for t in frames:
            for site, shape in strf_sites(model_name, size, t, batch).items():
                n, channels, _, h, w = shape
                x = _unit_inputs(shape, device)
                grad = torch.ones_like(x)
                forwards, steps = {}, {}
                for path in ("fused", "explicit"):
                    torch.manual_seed(0)
                    unit = STRF(channels, attention=path).to(device)
                    torch.nn.init.constant_(unit.gamma, 0.5)

                    def forward(unit=unit, x=x):
                        return unit(x)

                    def step(forward=forward, unit=unit, x=x, grad=grad):
                        forward().backward(grad)
                        x.grad = None
                        unit.zero_grad(set_to_none=True)

                    forwards[path], steps[path] = forward, step
                reuse_freed_memory()  # again, after peak_memory_bytes()
                seconds = interleaved_medians(steps, repeats=repeats, warmup=2, device=device)
                for path in steps:
                    rows.append(
                        {
                            "clip": f"{t}x{size[0]}x{size[1]}",
                            "site": site,
                            "shape": f"N={n} C={channels} T={t} HW={h}x{w}",
                            "path": path,
                            "seconds": seconds[path],
                            "peak_bytes": peak_memory_bytes(steps[path], device),
                            "saved_for_backward_bytes": _saved_for_backward_bytes(forwards[path]),
                            "hw_x_hw_bytes": n * (h * w) ** 2 * 4,  # one float32 mask
                            "kernel": _kernel(forwards[path]()),
                        }
                    )
    return rows


def _size(text: str) -> tuple[int, int]:
    height, width = (int(v) for v in text.split("x"))
    return height, width


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="auto")
    parser.add_argument("--model", default="p3dc_resnet50")
    parser.add_argument("--sizes", nargs="+", default=["256x128"], help="clip H x W")
    parser.add_argument("--batch", type=int, default=None, help="default: 32 on CUDA, 2 on CPU")
    parser.add_argument("--unit-frames", type=int, nargs="+", default=[4, 8])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--out", default=None, help="JSON path (default bench/results/)")
    args = parser.parse_args()
    malloc_reuse = reuse_freed_memory()  # as the strf command runs (bench/malloc_reuse.py)
    device = pick_device(args.device)
    batch = args.batch or (32 if device.type == "cuda" else 2)
    sizes = [_size(text) for text in args.sizes]
    torch.backends.cudnn.benchmark = True
    threads = torch.get_num_threads()
    mib = 2**20

    train, train_ratios, rows = {}, {}, []
    for size in sizes:
        clip = f"4x{size[0]}x{size[1]}"
        train[clip] = bench_train_step(args.model, size, batch, device, args.repeats)
        train_ratios[clip] = {}
        for key, v in train[clip].items():
            base = train[clip]["P3D-C"]
            ratio = {
                "time": v["seconds"] / base["seconds"],
                "cpu_time": v["cpu_seconds"] / base["cpu_seconds"],
                "flops": v["flops"] / base["flops"],
                "memory": v["peak_bytes"] / base["peak_bytes"],
            }
            if v is not base:
                train_ratios[clip][key] = ratio
            rows.append(
                [
                    clip,
                    key,
                    f"{v['params']:,}",
                    f"{v['seconds']:.3f}",
                    f"{v['cpu_seconds']:.3f}",
                    f"{ratio['time']:.3f}",
                    f"{ratio['cpu_time']:.3f}",
                    f"{ratio['flops']:.3f}",
                    f"{v['gflop_per_s']:.1f}",
                    f"{v['peak_bytes'] / mib:.0f}",
                    f"{v['loadavg_before']} -> {v['loadavg_after']}",
                ]
            )
    print(f"\n## Train step, {args.model}, batch {batch}, {device}, {threads} threads\n")
    print(
        markdown_table(
            [
                "clip",
                "model",
                "params",
                "step (s)",
                "CPU (s)",
                "time / P3D-C",
                "CPU / P3D-C",
                "FLOPs / P3D-C",
                "GFLOP/s",
                "peak MiB",
                "load avg (1/5/15 min)",
            ],
            rows,
        )
    )

    masks = bench_mask_product(args.model, sizes, args.unit_frames, batch, device, args.repeats)
    print(f"\n## STRF unit, fused vs explicit, forward + backward, {device}, {threads} threads\n")
    rows, ratios = [], []
    for fused, explicit in zip(masks[::2], masks[1::2], strict=True):
        t_ratio = fused["seconds"] / explicit["seconds"]
        m_ratio = fused["peak_bytes"] / max(explicit["peak_bytes"], 1)
        ratios.append(
            {"clip": fused["clip"], "site": fused["site"], "time": t_ratio, "memory": m_ratio}
        )
        rows.append(
            [
                fused["clip"],
                fused["site"],
                fused["shape"],
                f"{fused['seconds'] * 1e3:.2f}",
                f"{explicit['seconds'] * 1e3:.2f}",
                f"{t_ratio:.2f}",
                f"{fused['peak_bytes'] / mib:.1f}",
                f"{explicit['peak_bytes'] / mib:.1f}",
                f"{m_ratio:.2f}",
                fused["kernel"],
                f"{fused['saved_for_backward_bytes'] / mib:.1f} / "
                f"{explicit['saved_for_backward_bytes'] / mib:.1f}",
            ]
        )
    print(
        markdown_table(
            [
                "clip",
                "site",
                "shape",
                "fused ms",
                "explicit ms",
                "time ratio",
                "fused MiB",
                "explicit MiB",
                "memory ratio",
                "fused kernel",
                "saved for backward MiB (fused / explicit)",
            ],
            rows,
        )
    )
    name = f"strf_overhead_{args.model}_{'cuda' if device.type == 'cuda' else 'cpu'}"
    path = write_json(
        name,
        {
            "facts": device_facts(device),
            "model": args.model,
            "malloc_reuse": malloc_reuse,
            "batch": batch,
            "repeats": args.repeats,
            "train_step": train,
            "train_step_ratio": train_ratios,
            "mask_product": masks,
            "mask_product_ratio_fused_over_explicit": ratios,
            "loadavg_end": load_average(),
        },
        args.out,
    )
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()
