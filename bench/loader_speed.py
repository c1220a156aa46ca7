"""How fast the training pipeline feeds clips: JPEG decode, transforms and DataLoader workers.

Writes its own JPEG tracklets into a temporary folder (PIL drawings of figures on textured
backgrounds with sensor noise, 256x128, quality 90, about 10 KiB a frame), then times
``build_train_loader`` (P x K = 8 x 4 batches of 4-frame clips, stride-8 sampling, flip) with
0, 1 and 2 workers for each of :data:`SETTINGS` (torchvision vs PIL decoding, float32 vs uint8
clips, 256x128 vs 128x64 output), interleaving the settings over repeats (medians); and the
pipeline's stages in one process: decoding one frame with PIL vs ``torchvision.io``, and the clip
transform. The files sit in memory (on /dev/shm where there is one), so this measures decoding
and CPU work, not the disk.

Clips per second exclude the first batch of every loader (worker start-up and the first
prefetch), which is reported on its own; the timed batches run across epoch boundaries. Torch
runs one thread per process, as in DataLoader workers, so 0 workers is one core doing it all.

Usage::

    python bench/loader_speed.py [--batches 24] [--repeats 5] [--workers 0 1 2] [--out FILE]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFilter
from torch.utils.data import DataLoader

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import device_facts, markdown_table, write_json

from strf_core.data.pipeline import build_train_loader, read_frame
from strf_core.data.tracklet import Tracklet
from strf_core.data.transforms import ClipTransform

# What varies: the decoder, the clip size (256x128 frames resized to 128x64 for tiny models),
# and float32 clips vs uint8 clips normalised on the device.
SETTINGS = [
    {"decoder": "auto", "size": (256, 128), "normalize": True},
    {"decoder": "pil", "size": (256, 128), "normalize": True},
    {"decoder": "auto", "size": (256, 128), "normalize": False},
    {"decoder": "auto", "size": (128, 64), "normalize": True},
]


def _frame(rng: np.random.Generator, look: np.ndarray, step: int, size: tuple[int, int]):
    """A figure (head, torso, legs in the identity's colours) walking over a textured scene."""
    h, w = size
    rows = np.linspace(0.0, 1.0, h)[:, None, None]
    background = (look[0] * (1 - rows) + look[1] * rows) * np.ones((h, w, 3))
    background += rng.normal(0, 25, (h // 8, w // 8, 3)).repeat(8, 0).repeat(8, 1)  # texture
    image = Image.fromarray(np.clip(background, 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(image)
    cx, swing = w // 2 + int(rng.integers(-3, 4)), int(8 * np.sin(step / 2))
    draw.ellipse([cx - w // 10, h // 12, cx + w // 10, h // 12 + h // 8], fill=tuple(look[2]))
    draw.rectangle([cx - w // 5, h // 5, cx + w // 5, h // 2], fill=tuple(look[3]))
    for side in (-1, 1):  # legs, swinging in opposite phase
        x = cx + side * w // 10 + side * swing
        draw.line([cx + side * w // 10, h // 2, x, h - h // 12], fill=tuple(look[4]), width=w // 9)
    image = image.filter(ImageFilter.GaussianBlur(1.2))
    noisy = np.asarray(image, dtype=np.float32) + rng.normal(0, 6, (h, w, 3))  # sensor noise
    return Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8))


def write_tracklets(
    root: Path,
    *,
    identities: int = 64,
    per_identity: int = 2,
    frames: int = 48,
    size: tuple[int, int] = (256, 128),
    seed: int = 0,
) -> list[Tracklet]:
    """JPEG tracklets under ``root`` (quality 90), pids ``0..identities-1``."""
    rng = np.random.default_rng(seed)
    tracklets = []
    for pid in range(identities):
        look = rng.integers(0, 256, (5, 3))
        for t in range(per_identity):
            paths = []
            for f in range(frames):
                path = root / f"{pid:04d}_{t}_{f:03d}.jpg"
                _frame(rng, look, f, size).save(path, quality=90)
                paths.append(str(path))
            tracklets.append(Tracklet(tuple(paths), pid, t % 6))
    return tracklets


def _endless(loader: DataLoader) -> Iterator:
    """Batches of epoch after epoch (an epoch here is only 8 batches)."""
    while True:
        yield from loader


def time_loader(
    tracklets: list[Tracklet],
    *,
    workers: int,
    decoder: str,
    size: tuple[int, int],
    normalize: bool,
    batches: int,
) -> tuple[float, float]:
    """Seconds of the first batch, and clips/s over the next ``batches`` batches."""
    loader = build_train_loader(
        tracklets,
        workers=workers,
        decoder=decoder,
        size=size,
        normalize=normalize,
        seed=0,
        pin_memory=False,
    )
    start = time.perf_counter()
    it = _endless(loader)
    next(it)
    first = time.perf_counter() - start
    start = time.perf_counter()
    clips = 0
    for _ in range(batches):
        clips += next(it).clip.shape[0]
    rate = clips / (time.perf_counter() - start)
    del it, loader  # shut the workers down before the next setting
    return first, rate


def time_stages(tracklets: list[Tracklet], repeats: int) -> dict[str, float]:
    """Microseconds per frame of each decoder and per clip of the transforms, one process."""
    paths = [p for t in tracklets[:8] for p in t.frames[:32]]
    out: dict[str, list[float]] = {"decode_pil_us": [], "decode_torchvision_us": []}
    frames = [read_frame(p) for p in paths[:4]]
    transforms = {
        "transform_256x128_us": ClipTransform(size=(256, 128)),
        "transform_128x64_us": ClipTransform(size=(128, 64)),
    }
    out.update({k: [] for k in transforms})
    rng = np.random.default_rng(0)
    for _ in range(repeats):
        for decoder in ("pil", "torchvision"):
            start = time.perf_counter()
            for p in paths:
                read_frame(p, decoder)
            out[f"decode_{decoder}_us"].append((time.perf_counter() - start) / len(paths) * 1e6)
        for key, transform in transforms.items():
            start = time.perf_counter()
            for _ in range(50):
                transform(frames, rng)
            out[key].append((time.perf_counter() - start) / 50 * 1e6)
    return {k: statistics.median(v) for k, v in out.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=24, help="timed batches per setting")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--workers", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--out", default=None, help="JSON path (default bench/results/)")
    args = parser.parse_args()
    # One torch thread, as in every DataLoader worker: so "0 workers" is one core doing all the
    # work, and two intra-op threads cannot stall each other when another process takes a core.
    torch.set_num_threads(1)

    # tmpfs where there is one: the page cache of a disk folder can be reclaimed under us
    # (proactive reclaim does on this VM), which times the disk instead of the decoder.
    shm = Path("/dev/shm")
    tmp_root = str(shm) if shm.is_dir() and os.access(shm, os.W_OK) else None
    with tempfile.TemporaryDirectory(prefix="strf_loader_", dir=tmp_root) as tmp:
        start = time.perf_counter()
        tracklets = write_tracklets(Path(tmp))
        files = [Path(p) for t in tracklets for p in t.frames]
        mean_kib = sum(f.stat().st_size for f in files) / len(files) / 1024
        seconds = time.perf_counter() - start
        print(f"wrote {len(files)} JPEGs (mean {mean_kib:.1f} KiB) in {seconds:.1f} s")

        stages = time_stages(tracklets, args.repeats)
        runs: dict[tuple, dict[str, list[float]]] = {}
        for _ in range(args.repeats):  # interleaved, so drift hits every setting alike
            for setting in SETTINGS:
                for workers in args.workers:
                    first, rate = time_loader(
                        tracklets, workers=workers, batches=args.batches, **setting
                    )
                    key = (*setting.values(), workers)
                    run = runs.setdefault(key, {"first": [], "rate": []})
                    run["first"].append(first)
                    run["rate"].append(rate)

    results = [
        {
            "decoder": "torchvision" if decoder == "auto" else decoder,
            "clip": f"4x{size[0]}x{size[1]}",
            "output": "float32" if normalize else "uint8",
            "workers": workers,
            "clips_per_s": statistics.median(run["rate"]),
            "clips_per_s_runs": [round(r, 1) for r in run["rate"]],
            "first_batch_s": statistics.median(run["first"]),
        }
        for (decoder, size, normalize, workers), run in runs.items()
    ]
    cores = device_facts(torch.device("cpu"))["cpu_count"]
    print(f"\n## Train loader, batches of 8 x 4 clips from 256x128 JPEGs, {cores} cores\n")
    print(
        markdown_table(
            ["decoder", "clip", "output", "workers", "clips/s", "range", "first batch (s)"],
            [
                [
                    r["decoder"],
                    r["clip"],
                    r["output"],
                    r["workers"],
                    f"{r['clips_per_s']:.0f}",
                    f"{min(r['clips_per_s_runs']):.0f}-{max(r['clips_per_s_runs']):.0f}",
                    f"{r['first_batch_s']:.2f}",
                ]
                for r in results
            ],
        )
    )
    print("\n## Stages, one process\n")
    print(markdown_table(["stage", "us"], [[k, f"{v:.0f}"] for k, v in stages.items()]))
    path = write_json(
        "loader_speed",
        {
            "facts": device_facts(torch.device("cpu")),
            "data": {"jpegs": len(files), "mean_kib": mean_kib, "frame": "256x128"},
            "batch": "8 identities x 4 tracklets, 4 frames, stride 8",
            "batches_timed": args.batches,
            "repeats": args.repeats,
            "loader": results,
            "stages_us": stages,
        },
        args.out,
    )
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()
