"""What the dashboard waits for: ranking, per-frame Grad-CAM and a branch toggle, on the CPU.

For a 16-frame query tracklet and the demo gallery (the ``demo`` synthetic preset at 128x64,
generated into a temporary folder), with ``p3dc_resnet_tiny`` as the baseline and with STRF:

a. embed the query and rank the gallery (gallery embeddings cached);
b. per-frame Grad-CAM (similarity to the top hit, ``layer4``) for the baseline and for STRF;
c. after a branch toggle, recompute both: the STRF ranking and both models' Grad-CAM maps.
   "warm": the toggled branch set's gallery embeddings were computed ahead of time
   (``Gallery.precompute``; here the toggled set, embedded once before timing); "cold": the
   gallery is embedded again.

Also measured: how one shared model serves concurrent Grad-CAM calls (the dashboard's
sessions are threads) with a per-call shared-weight copy vs a lock, and integrated gradients.
Times are medians of interleaved repeats (the machine is shared: drift hits all sides alike).

Usage::

    python bench/explain_latency.py [--repeats 7] [--threads 4] [--root DIR] [--out FILE]
        [--baseline-checkpoint DIR --strf-checkpoint DIR | --untrained]

Weights: the checkpoints given, else the demo models in ``sample_data/models/`` when present,
else untrained ``p3dc_resnet_tiny`` models (latency does not depend on the weights).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import device_facts, interleaved_medians, markdown_table, write_json

from strf_core import active_branches, build_model
from strf_core.data.datasets import build_dataset
from strf_core.data.tracklet import Tracklet
from strf_core.engine.checkpoint import load_trained_model
from strf_core.explain import similarity_gradcam
from strf_core.retrieval import Gallery, load_clip
from strf_core.synth import generate

SIZE = (128, 64)
QUERY_FRAMES = 16
TOGGLE = ("s_fine", "s_coarse")  # the spatial branches only (Table 4's "spatial" model)


SAMPLE_MODELS = Path(__file__).resolve().parent.parent / "sample_data" / "models"


def load_models(args, num_classes: int) -> tuple[torch.nn.Module, torch.nn.Module, str]:
    """The checkpoints given, else the shipped demo models, else untrained tiny models."""
    baseline_dir, strf_dir = args.baseline_checkpoint, args.strf_checkpoint
    shipped = (SAMPLE_MODELS / "baseline").is_dir() and (SAMPLE_MODELS / "strf").is_dir()
    if not (baseline_dir and strf_dir) and not args.untrained and shipped:
        baseline_dir, strf_dir = SAMPLE_MODELS / "baseline", SAMPLE_MODELS / "strf"
    if baseline_dir and strf_dir:
        baseline, _ = load_trained_model(baseline_dir)
        strf, _ = load_trained_model(strf_dir)
        return baseline, strf, f"trained ({baseline_dir}, {strf_dir})"
    torch.manual_seed(0)
    baseline = build_model("p3dc_resnet_tiny", num_classes=num_classes).eval()
    strf = build_model("p3dc_resnet_tiny", num_classes=num_classes, strf=True).eval()
    for unit in strf.strf_units().values():
        torch.nn.init.constant_(unit.gamma, 0.5)  # untrained gamma = 0 would hide the branches
    return baseline, strf, "untrained"


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def concurrency(model, clips, feature, threads: int, calls: int, isolation: str) -> dict:
    """Wall time of ``threads`` threads making ``calls`` Grad-CAM calls each on one model."""
    latencies: list[float] = []
    barrier = threading.Barrier(threads)

    def worker(i: int) -> None:
        barrier.wait()
        branches = [(), ("s_fine",), ("t_dynamic", "t_static"), None][i % 4]
        for _ in range(calls):
            start = time.perf_counter()
            if branches is None:
                similarity_gradcam(model, clips[i % len(clips)], feature, isolation=isolation)
            else:
                with active_branches(*branches):
                    similarity_gradcam(model, clips[i % len(clips)], feature, isolation=isolation)
            latencies.append(time.perf_counter() - start)

    pool = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
    start = time.perf_counter()
    for th in pool:
        th.start()
    for th in pool:
        th.join()
    wall = time.perf_counter() - start
    return {
        "wall_s": wall,
        "calls_per_s": threads * calls / wall,
        "latency_median_s": statistics.median(latencies),
        "latency_max_s": max(latencies),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--root", help="an existing demo world at 128x64 (default: generate one)")
    parser.add_argument("--baseline-checkpoint")
    parser.add_argument("--strf-checkpoint")
    parser.add_argument(
        "--untrained", action="store_true", help="ignore sample_data/models/, use random weights"
    )
    parser.add_argument(
        "--torch-threads",
        type=int,
        help="torch's intra-op threads (default: torch's choice, one per core); on a shared "
        "2-core machine 1 thread can be far faster than 2",
    )
    parser.add_argument(
        "--precompute-all",
        action="store_true",
        help="also time Gallery.precompute over all 16 STRF branch sets",
    )
    parser.add_argument("--out")
    args = parser.parse_args()
    if args.torch_threads:
        torch.set_num_threads(args.torch_threads)

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(args.root) if args.root else Path(tmp) / "demo"
        generate_s = 0.0
        if not args.root:
            generate_s = timed(
                lambda: generate(root, preset="demo", size=SIZE, workers=2, progress=False)
            )
        data = build_dataset("mars", root)
        baseline, strf, weights = load_models(args, len({t.pid for t in data.train}))
        models = {"baseline": baseline, "strf": strf}
        long_queries = [t for t in data.query if len(t.frames) >= QUERY_FRAMES]
        query = long_queries[0]
        query = Tracklet(query.frames[:QUERY_FRAMES], query.pid, query.camid)
        clip = load_clip(query, SIZE)  # (3, 16, 128, 64)
        frames = sum(len(t.frames) for t in data.gallery)
        print(
            f"demo world: {len(data.gallery)} gallery tracklets ({frames} frames), generated in "
            f"{generate_s:.1f} s; query {QUERY_FRAMES} frames; {weights} weights"
        )

        galleries = {
            k: Gallery(data.gallery, size=SIZE, cache_dir=Path(tmp) / "cache") for k in models
        }
        gallery_s = {k: timed(lambda k=k: galleries[k].features(models[k])) for k in models}
        with active_branches(*TOGGLE):
            cold_toggle_s = timed(lambda: galleries["strf"].features(strf))
        precompute_s = None
        if args.precompute_all:
            precompute_s = timed(lambda: galleries["strf"].precompute(strf))
        top = {k: galleries[k].rank(models[k], clip, k=1).hits[0].index for k in models}
        target = {k: galleries[k].features(models[k])[top[k]] for k in models}

        def rank(k):
            return lambda: galleries[k].rank(models[k], clip, k=10)

        def gradcam(k):
            return lambda: similarity_gradcam(models[k], clip, target[k])

        def toggled(fn):
            def run():
                with active_branches(*TOGGLE):
                    fn()

            return run

        def toggle_both():
            # What the dashboard redoes after a toggle: the STRF ranking and both maps.
            with active_branches(*TOGGLE):
                galleries["strf"].rank(strf, clip, k=10)
                similarity_gradcam(strf, clip, target["strf"])
                similarity_gradcam(baseline, clip, target["baseline"])

        steps = {
            "a_rank_baseline": rank("baseline"),
            "a_rank_strf": rank("strf"),
            "b_gradcam_baseline": gradcam("baseline"),
            "b_gradcam_strf": gradcam("strf"),
            "c_rank_strf_toggled": toggled(rank("strf")),
            "c_gradcam_strf_toggled": toggled(gradcam("strf")),
            "c_toggle_total_warm": toggle_both,
        }
        device = torch.device("cpu")
        medians = interleaved_medians(steps, repeats=args.repeats, warmup=1, device=device)
        ig_s = interleaved_medians(
            {
                "ig": lambda: similarity_gradcam(
                    strf, clip, target["strf"], method="integrated_gradients", n_steps=16
                )
            },
            repeats=max(1, args.repeats // 3),
            warmup=0,
            device=device,
        )["ig"]

        clips = [
            load_clip(Tracklet(t.frames[:QUERY_FRAMES], t.pid, t.camid), SIZE)
            for t in long_queries[:4]
        ]
        contention = {}
        for isolation in ("copy", "lock", "copy", "lock"):  # interleaved twice
            result = concurrency(strf, clips, target["strf"], args.threads, 3, isolation)
            contention.setdefault(isolation, []).append(result)
        contention = {
            iso: {key: statistics.median(r[key] for r in runs) for key in runs[0]}
            for iso, runs in contention.items()
        }

    cold_total = cold_toggle_s + medians["c_gradcam_strf_toggled"] + medians["b_gradcam_baseline"]
    rows = [
        ["(a) embed query + rank, baseline", f"{medians['a_rank_baseline'] * 1e3:.0f} ms"],
        ["(a) embed query + rank, STRF", f"{medians['a_rank_strf'] * 1e3:.0f} ms"],
        ["(b) Grad-CAM 16 frames, baseline", f"{medians['b_gradcam_baseline'] * 1e3:.0f} ms"],
        ["(b) Grad-CAM 16 frames, STRF", f"{medians['b_gradcam_strf'] * 1e3:.0f} ms"],
        [
            "(c) after toggle: STRF rank (precomputed)",
            f"{medians['c_rank_strf_toggled'] * 1e3:.0f} ms",
        ],
        ["(c) after toggle: STRF Grad-CAM", f"{medians['c_gradcam_strf_toggled'] * 1e3:.0f} ms"],
        [
            "(c) after toggle: rank + both maps, warm",
            f"{medians['c_toggle_total_warm'] * 1e3:.0f} ms",
        ],
        ["(c) after toggle: rank + both maps, cold", f"{cold_total:.2f} s"],
        ["gallery embedding, baseline (once)", f"{gallery_s['baseline']:.2f} s"],
        ["gallery embedding, STRF (once per branch set)", f"{gallery_s['strf']:.2f} s"],
        [
            "precompute all 16 STRF branch sets",
            f"{precompute_s:.1f} s" if precompute_s is not None else "not run (--precompute-all)",
        ],
        ["integrated gradients, 16 steps, STRF", f"{ig_s:.2f} s"],
    ]
    for iso, r in contention.items():
        rows.append(
            [
                f"{args.threads} threads x 3 Grad-CAM calls, {iso}",
                f"{r['wall_s']:.2f} s wall, {r['calls_per_s']:.1f} calls/s, "
                f"median latency {r['latency_median_s'] * 1e3:.0f} ms",
            ]
        )
    print(markdown_table(["step", "time"], rows))
    goal = medians["c_toggle_total_warm"] < 1.0
    print(
        f"goal (c) < 1 s on {torch.get_num_threads()} threads: {'met' if goal else 'missed'} (warm)"
    )
    path = write_json(
        "explain_latency",
        {
            "facts": device_facts(device),
            "weights": weights,
            "size": list(SIZE),
            "query_frames": QUERY_FRAMES,
            "toggle": list(TOGGLE),
            "gallery_tracklets": len(data.gallery),
            "gallery_frames": frames,
            "generate_s": generate_s,
            "medians_s": medians,
            "gallery_embedding_s": gallery_s,
            "cold_toggle_gallery_s": cold_toggle_s,
            "cold_toggle_total_s": cold_total,
            "precompute_s": precompute_s,
            "integrated_gradients_s": ig_s,
            "concurrency": {"threads": args.threads, "calls_per_thread": 3, **contention},
            "goal_c_under_1s_warm": goal,
        },
        args.out,
    )
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
