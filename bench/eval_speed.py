"""Speed of ``evaluate_rank`` on MARS-sized problems against a per-query NumPy loop.

Two problems with MARS-like labels (636 test identities over 6 cameras, distractors with pid 0,
1980 queries): the torchreid protocol's 1980 x 9330 and the AP3D protocol's 1980 x 11310 (query +
gallery). Both evaluators run on the same distance matrix in the same process; the results must
agree. Medians of interleaved repeats; peak memory beyond the distance matrix after the timings.

Usage::

    python bench/eval_speed.py [--repeats 5] [--out FILE]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (
    device_facts,
    interleaved_medians,
    markdown_table,
    peak_memory_bytes,
    write_json,
)

from strf_core.metrics import evaluate_rank
from strf_core.metrics.reference import evaluate_rank_loop


def mars_like_problem(num_gallery: int, *, num_queries: int = 1980, seed: int = 0):
    """Labels shaped like MARS's test split and distances where true matches tend to be close."""
    rng = np.random.default_rng(seed)
    num_ids, num_cams = 636, 6
    q_pids = rng.integers(1, num_ids + 1, num_queries)
    q_cams = rng.integers(0, num_cams, num_queries)
    num_distractors = num_gallery // 10
    g_pids = np.concatenate(
        [
            rng.integers(1, num_ids + 1, num_gallery - num_distractors),
            np.zeros(num_distractors, int),
        ]
    )
    g_cams = rng.integers(0, num_cams, num_gallery)
    dist = rng.random((num_queries, num_gallery), dtype=np.float32)
    dist[q_pids[:, None] == g_pids[None, :]] *= 0.3  # true matches closer, not always first
    return dist, q_pids, g_pids, q_cams, g_cams


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    device = torch.device("cpu")
    rows, results = [], []
    for protocol, num_gallery in (("torchreid", 9330), ("ap3d", 11310)):
        problem = mars_like_problem(num_gallery)
        fns = {
            "evaluate_rank": lambda p=problem: evaluate_rank(*p),
            "per-query loop": lambda p=problem: evaluate_rank_loop(*p),
        }
        fast, slow = fns["evaluate_rank"](), fns["per-query loop"]()
        assert fast["num_valid"] == slow["num_valid"] and abs(fast["mAP"] - slow["mAP"]) < 1e-9
        seconds = interleaved_medians(fns, repeats=args.repeats, warmup=1, device=device)
        peak = peak_memory_bytes(fns["evaluate_rank"], device)
        result = {
            "protocol": protocol,
            "shape": [1980, num_gallery],
            "seconds": seconds,
            "speedup": seconds["per-query loop"] / seconds["evaluate_rank"],
            "peak_bytes_evaluate_rank": peak,
            "distmat_bytes": problem[0].nbytes,
            "mAP": fast["mAP"],
            "num_valid": fast["num_valid"],
        }
        results.append(result)
        rows.append(
            [
                f"1980 x {num_gallery} ({protocol})",
                f"{seconds['evaluate_rank']:.3f}",
                f"{seconds['per-query loop']:.3f}",
                f"{result['speedup']:.1f}x",
                f"{peak / 2**20:.0f} (distmat {problem[0].nbytes / 2**20:.0f})",
            ]
        )
    print(f"\n## evaluate_rank vs per-query loop, {torch.get_num_threads()} threads\n")
    print(
        markdown_table(
            ["problem", "evaluate_rank (s)", "per-query loop (s)", "speed-up", "peak MiB"], rows
        )
    )
    path = write_json("eval_speed", {"facts": device_facts(device), "results": results}, args.out)
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()
