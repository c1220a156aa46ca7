"""What an Occlusion lab sweep costs on the CPU: seconds per clip and per sweep.

For the demo models (``sample_data/models/{baseline,strf}``) on the demo world's clean queries
(:func:`strf_core.explain.sweep.pick_clean_queries`), one :func:`occlusion_sweep` per model
(a car, sizes 0.4-2.5: the lab's default), timed end to end: drawing the occluders, one
forward pass of the clean clip, one forward and Grad-CAM backward pass over the clean and
occluded clips, ranking. Reported per clip (a query at one value) and for the lab's default
sweep (4 queries, 8 clips each, 3 models). The load average at the start is recorded: on a
shared machine other processes slow every figure.

Usage::

    OMP_NUM_THREADS=1 python bench/sweep_cost.py [--queries 3] [--out FILE]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import device_facts, markdown_table, write_json

from strf_core import active_branches
from strf_core.demo import demo_dataset, demo_models, demo_world, model_gallery
from strf_core.explain.sweep import SweepQuery, SweepSettings, occlusion_sweep, pick_clean_queries
from strf_core.features import load_clip

VALUES = (0.4, 0.7, 1.0, 1.3, 1.6, 2.0, 2.5)
LAB_QUERIES, LAB_MODELS = 4, 3  # the lab's default sweep


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queries", type=int, default=3)
    parser.add_argument("--out")
    args = parser.parse_args()
    load = os.getloadavg()[0]
    root = demo_world()
    dataset = demo_dataset(root)
    pids = np.array([t.pid for t in dataset.gallery])
    cams = np.array([t.camid for t in dataset.gallery])
    has_match = [bool(((pids == t.pid) & (cams != t.camid)).any()) for t in dataset.query]
    lengths = [len(t.frames) for t in dataset.query]
    chosen = pick_clean_queries(dataset.query_subsets(), lengths, has_match, args.queries)
    queries = []
    for i in chosen:
        t = dataset.query[i]
        queries.append(SweepQuery(load_clip(t, (128, 64)), t.pid, t.camid))
    frames = sum(q.clip.shape[1] for q in queries) / len(queries)
    rows, results = [], {}
    variants = [("baseline", None), ("strf", None), ("strf", ("s_coarse", "s_fine"))]
    for label, branches in variants:
        model = demo_models()[label]
        gallery = model_gallery(dataset.gallery, model, world_root=root)
        switch = active_branches(*branches) if branches else contextlib.nullcontext()
        with switch:
            features = gallery.features(model.model)
            started = time.perf_counter()
            occlusion_sweep(
                model.model,
                queries,
                features,
                gallery.pids,
                gallery.camids,
                input_size=model.input_size,
                settings=SweepSettings("car", "size", VALUES),
            )
            seconds = time.perf_counter() - started
        clips = len(queries) * (len(VALUES) + 1)
        name = label if branches is None else f"{label}, temporal off"
        results[name] = {"seconds": seconds, "clips": clips, "seconds_per_clip": seconds / clips}
        rows.append(
            [name, len(queries), f"{frames:.1f}", clips, f"{seconds:.1f}", f"{seconds / clips:.2f}"]
        )
    per_clip = float(np.mean([r["seconds_per_clip"] for r in results.values()]))
    lab = per_clip * LAB_QUERIES * (len(VALUES) + 1) * LAB_MODELS
    print(markdown_table(["model", "queries", "mean frames", "clips", "s", "s/clip"], rows))
    print(
        f"lab default ({LAB_QUERIES} queries x {len(VALUES) + 1} clips x {LAB_MODELS} models): "
        f"~{lab:.0f} s; load average at start {load:.1f}"
    )
    path = write_json(
        "sweep_cost",
        {
            "facts": device_facts(torch.device("cpu")),
            "load_average": load,
            "queries": chosen,
            "mean_frames": frames,
            "values": VALUES,
            "results": results,
            "seconds_per_clip": per_clip,
            "lab_default_seconds": lab,
        },
        args.out,
    )
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
