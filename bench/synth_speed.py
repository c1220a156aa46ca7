"""How fast ``strf synth`` writes frames: frames/s at 128x64 and 256x128, by worker count.

1. End to end: ``generate()`` of a demo-like world (planning, drawing, JPEG encoding, one file
   per frame, ``info/``, metadata) into a fresh temporary folder, 1 worker and ``--workers``.
   Goal: >= 1,000 frames/s at 128x64 on 2 cores.
2. Where a frame's time goes, on one core: drawing (scene crop, walker, occluder, blur, noise),
   JPEG encoding to memory, and creating and writing the file.

Usage::

    python bench/synth_speed.py [--ids 40] [--workers 2] [--repeats 3] [--out FILE]

The machine is shared by whatever else runs: the best of the repeats is the least disturbed.
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import device_facts, markdown_table, write_json

from strf_core.synth import TrackletRenderer, WorldConfig, generate, plan_world

SIZES = ((128, 64), (256, 128))


def world_config(ids: int) -> WorldConfig:
    """The demo preset's tracklet mix, scaled to ``ids`` identities per split."""
    return WorldConfig(
        train_ids=ids,
        test_ids=ids,
        cameras_per_id=(2, 4),
        tracklets_per_camera=(1, 2),
        length=(8, 32),
        distractors=ids // 4,
        junk=ids // 8,
    )


def end_to_end(
    config: WorldConfig, size: tuple[int, int], workers: int, repeats: int, scratch: Path
) -> dict:
    rates, frames = [], 0
    for repeat in range(repeats):  # the same world each time (seed 0), each in a fresh folder
        # Every run writes a fresh tree, and nothing is deleted until the end: on a disk mounted
        # with "discard", deleting a tree slows the writes that follow it.
        os.sync()
        summary = generate(
            scratch / f"{size[0]}x{size[1]}_w{workers}_{repeat}",
            preset=config,
            seed=0,
            size=size,
            workers=workers,
            progress=False,
        )
        frames = summary.frames
        rates.append(summary.frames / summary.seconds)
    return {
        "frames": frames,
        "frames_per_s": statistics.median(rates),
        "best_frames_per_s": max(rates),
        "runs": rates,
    }


def stage_times(
    config: WorldConfig, size: tuple[int, int], scratch: Path, max_frames: int = 2000
) -> dict:
    """Microseconds per frame of drawing, JPEG encoding and file writing, on one core."""
    world = plan_world(config, seed=0)
    draw = encode = write = 0.0
    count = 0
    tmp = scratch / f"stages_{size[0]}x{size[1]}"
    tmp.mkdir()
    os.sync()
    for k, tracklet in enumerate(world.tracklets):
        start = time.perf_counter()
        renderer = TrackletRenderer(tracklet.spec, size)
        draw += time.perf_counter() - start
        for t in range(tracklet.spec.num_frames):
            start = time.perf_counter()
            image = renderer.render(t).image
            mid = time.perf_counter()
            buffer = io.BytesIO()
            image.save(buffer, format="JPEG", quality=config.jpeg_quality)
            end = time.perf_counter()
            fd = os.open(f"{tmp}/{k}_{t}.jpg", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            os.write(fd, buffer.getvalue())
            os.close(fd)
            write += time.perf_counter() - end
            draw, encode = draw + mid - start, encode + end - mid
            count += 1
        if count >= max_frames:
            break
    us = 1e6 / count
    return {"frames": count, "draw_us": draw * us, "encode_us": encode * us, "write_us": write * us}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ids", type=int, default=40, help="identities per split (40: ~6k frames)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", default=None, help="JSON path (default bench/results/)")
    args = parser.parse_args()
    config = world_config(args.ids)

    rows, results = [], []
    scratch = tempfile.TemporaryDirectory(prefix="synth_speed_")
    for size in SIZES:
        for workers in sorted({1, args.workers}):
            r = end_to_end(config, size, workers, args.repeats, Path(scratch.name))
            results.append({"size": f"{size[0]}x{size[1]}", "workers": workers, **r})
            runs = ", ".join(f"{x:.0f}" for x in r["runs"])
            rows.append(
                [
                    f"{size[0]}x{size[1]}",
                    workers,
                    r["frames"],
                    f"{r['frames_per_s']:.0f}",
                    f"{r['best_frames_per_s']:.0f}",
                    runs,
                ]
            )

    print(f"\n## strf synth, end to end ({os.cpu_count()} CPU cores)\n")
    header = ["size", "workers", "frames", "frames/s (median)", "best", "runs"]
    print(markdown_table(header, rows))

    stages = {f"{h}x{w}": stage_times(config, (h, w), Path(scratch.name)) for h, w in SIZES}
    scratch.cleanup()
    print("\n## One core: microseconds per frame\n")
    print(
        markdown_table(
            ["size", "draw", "JPEG encode", "file write", "total", "frames/s"],
            [
                [
                    size,
                    f"{s['draw_us']:.0f}",
                    f"{s['encode_us']:.0f}",
                    f"{s['write_us']:.0f}",
                    f"{s['draw_us'] + s['encode_us'] + s['write_us']:.0f}",
                    f"{1e6 / (s['draw_us'] + s['encode_us'] + s['write_us']):.0f}",
                ]
                for size, s in stages.items()
            ],
        )
    )
    path = write_json(
        "synth_speed",
        {
            "facts": device_facts(torch.device("cpu")),
            "config": config.__dict__,
            "repeats": args.repeats,
            "end_to_end": results,
            "stages_one_core": stages,
        },
        args.out,
    )
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()
