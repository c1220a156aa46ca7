"""What STRF costs: a train step of P3D-C vs STRF-P3D-C ResNet-50, and fused vs explicit masks.

Measured in one run, medians of interleaved repeats (so machine drift hits both sides alike):

1. train step (forward, backward, Adam) of ``p3dc_resnet50`` with and without STRF at stages 2-3
   on 4x256x128 clips: batch 2 on the CPU, 32 on a GPU (bf16 autocast there);
2. one STRF unit (four branches, t->s), forward and backward, with the fused mask product
   (``scaled_dot_product_attention``) vs the explicit one (matmul + softmax), at the STRF input
   sizes of layer2 and layer3 for 4x256x128 and 8x256x128 clips: time, peak memory, the bytes
   autograd keeps for the backward pass (against one float32 ``HW x HW`` mask), and which SDPA
   kernel ran (read off the autograd graph; "math" leaves plain matmul and softmax nodes).

Usage::

    python bench/strf_overhead.py [--device auto|cpu|cuda] [--repeats 7] [--out FILE]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (
    device_facts,
    interleaved_medians,
    markdown_table,
    peak_memory_bytes,
    pick_device,
    write_json,
)

from strf_core import STRF, build_model

# STRF input (bottleneck width, H, W) at a 256x128 clip: layer2 at 1/8, layer3 at 1/16 resolution.
STRF_SITES = {"layer2": (128, 32, 16), "layer3": (256, 16, 8)}
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


def bench_train_step(device: torch.device, batch: int, repeats: int) -> dict[str, dict]:
    torch.manual_seed(0)
    clips = torch.randn(batch, 3, 4, 256, 128, device=device)
    labels = torch.randint(0, 625, (batch,), device=device)
    steps, params = {}, {}
    for key, strf in (("P3D-C", False), ("STRF-P3D-C", True)):
        model = build_model("p3dc_resnet50", num_classes=625, strf=strf).to(device).train()
        optimizer = torch.optim.Adam(model.parameters(), lr=3e-4, weight_decay=5e-4)

        def step(model=model, optimizer=optimizer):
            optimizer.zero_grad(set_to_none=True)
            with _autocast(device):
                logits = model(clips).logits
            F.cross_entropy(logits.float(), labels).backward()
            optimizer.step()

        steps[key] = step
        params[key] = sum(p.numel() for p in model.parameters())
    seconds = interleaved_medians(steps, repeats=repeats, warmup=2, device=device)
    return {
        key: {
            "seconds": seconds[key],
            "clips_per_s": batch / seconds[key],
            "peak_bytes": peak_memory_bytes(steps[key], device),
            "params": params[key],
        }
        for key in steps
    }


def _unit_inputs(site: str, frames: int, batch: int, device: torch.device):
    channels, h, w = STRF_SITES[site]
    dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
    g = torch.Generator(device=device).manual_seed(0)
    x = torch.randn(batch, channels, frames, h, w, device=device, generator=g, dtype=dtype)
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


def bench_mask_product(device: torch.device, batch: int, repeats: int) -> list[dict]:
    """One STRF unit (four branches, t->s), forward and backward, fused vs explicit."""
    rows = []
    for frames in (4, 8):
        for site, (channels, h, w) in STRF_SITES.items():
            x = _unit_inputs(site, frames, batch, device)
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
            seconds = interleaved_medians(steps, repeats=repeats, warmup=2, device=device)
            for path in steps:
                rows.append(
                    {
                        "clip": f"{frames}x256x128",
                        "site": site,
                        "shape": f"N={batch} C={channels} T={frames} HW={h}x{w}",
                        "path": path,
                        "seconds": seconds[path],
                        "peak_bytes": peak_memory_bytes(steps[path], device),
                        "saved_for_backward_bytes": _saved_for_backward_bytes(forwards[path]),
                        "hw_x_hw_bytes": batch * (h * w) ** 2 * 4,  # one float32 mask
                        "kernel": _kernel(forwards[path]()),
                    }
                )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="auto")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--out", default=None, help="JSON path (default bench/results/)")
    args = parser.parse_args()
    device = pick_device(args.device)
    batch = 32 if device.type == "cuda" else 2
    torch.backends.cudnn.benchmark = True

    train = bench_train_step(device, batch, args.repeats)
    base, strf = train["P3D-C"], train["STRF-P3D-C"]
    time_ratio = strf["seconds"] / base["seconds"]
    mem_ratio = strf["peak_bytes"] / base["peak_bytes"]
    mib = 2**20
    print(f"\n## Train step, p3dc_resnet50, batch {batch} x 4x256x128, {device}\n")
    print(
        markdown_table(
            ["model", "params", "step (s)", "clips/s", "peak memory (MiB)"],
            [
                [
                    k,
                    f"{v['params']:,}",
                    f"{v['seconds']:.3f}",
                    f"{v['clips_per_s']:.2f}",
                    f"{v['peak_bytes'] / mib:.0f}",
                ]
                for k, v in train.items()
            ]
            + [["STRF / baseline", "", f"{time_ratio:.3f}", "", f"{mem_ratio:.3f}"]],
        )
    )

    masks = bench_mask_product(device, batch, args.repeats)
    print(f"\n## STRF unit, fused vs explicit, forward + backward, batch {batch}, {device}\n")
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
    path = write_json(
        "strf_overhead" + ("_cuda" if device.type == "cuda" else "_cpu"),
        {
            "facts": device_facts(device),
            "batch": batch,
            "repeats": args.repeats,
            "train_step": train,
            "train_step_ratio": {"time": time_ratio, "memory": mem_ratio},
            "mask_product": masks,
            "mask_product_ratio_fused_over_explicit": ratios,
        },
        args.out,
    )
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()
