"""Speed of ``evaluate_rank`` against torchreid's Cython ranking, on one thread and two.

Problems with MARS-like labels (636 test identities over 6 cameras, distractors with pid 0, 1980
queries): the torchreid protocol's 1980 x 9330 and the AP3D protocol's 1980 x 11310 (query +
gallery); ``--problems large`` is 10,000 x 100,000 (6,360 identities), timed once: torchreid's
ranking needs 24 bytes an entry (22 GiB there), so where it cannot hold the whole matrix both
rankings also run on the first queries it can hold (each query is ranked on its own row, so the
time grows with the queries), which gives the ratio, and ours on the whole. Both rankings
run on the same distance matrix in the same process, calls interleaved, medians; the results must
agree to 1e-6 (torchreid accumulates in float32), and on the MARS-sized problems ours must equal
the per-query NumPy loop. torchreid's ``rank_cy.pyx`` is compiled when Cython is installed (see
``_torchreid_cy.py``); otherwise the table says so and shows ours alone. Peak memory beyond the
distance matrix is measured after all timings; the load average is written beside each figure.

Usage::

    python bench/eval_speed.py [--threads 1 2] [--repeats 5] [--rank-cy PATH] [--out FILE]
    python bench/eval_speed.py --problems large --out bench/results/eval_speed_large.json
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
    load_average,
    markdown_table,
    peak_memory_bytes,
    write_json,
)
from _torchreid_cy import torchreid_cython

from strf_core.metrics import evaluate_rank
from strf_core.metrics.reference import evaluate_rank_loop

MAX_RANK = 50
PROBLEMS = {  # name: (queries, gallery, identities)
    "torchreid": (1980, 9330, 636),
    "ap3d": (1980, 11310, 636),
    "large": (10_000, 100_000, 6360),
}


def mars_like_problem(
    num_gallery: int, *, num_queries: int = 1980, num_ids: int = 636, seed: int = 0
) -> tuple[np.ndarray, ...]:
    """Labels shaped like MARS's test split and distances where true matches tend to be close."""
    rng = np.random.default_rng(seed)
    num_cams = 6
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
    for start in range(0, num_queries, 1024):  # true matches closer, not always first
        rows = slice(start, start + 1024)
        dist[rows][q_pids[rows, None] == g_pids[None, :]] *= 0.3
    return dist, q_pids, g_pids, q_cams, g_cams


def available_bytes() -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemAvailable:"):
            return int(line.split()[1]) * 1024
    return 0


def peer_queries(shape: tuple[int, int]) -> int:
    """How many query rows of a ``shape`` problem torchreid's Cython ranking can hold in memory
    (all of them, or fewer): it holds an int64 argsort of the whole matrix, the gathered pids
    (int64) and an int64 match matrix, 24 bytes an entry, and half the memory is left spare."""
    fit = int(available_bytes() / (24 * shape[1] * 2))
    return min(shape[0], fit // 100 * 100)


def agree(ours: dict, peer: dict, tol: float) -> bool:
    return (
        ours["num_valid"] == peer["num_valid"]
        and abs(ours["mAP"] - peer["mAP"]) <= tol
        and float(np.abs(ours["cmc"] - peer["cmc"]).max()) <= tol
    )


def measure(
    label: str,
    problem: tuple[np.ndarray, ...],
    large: bool,
    evaluate_cy,
    args: argparse.Namespace,
    rows: list,
    results: list,
) -> None:
    """Time ours (and the peer where it fits) on ``problem`` at each thread count; append rows."""
    device = torch.device("cpu")
    num_queries, num_gallery = problem[0].shape
    ours = evaluate_rank(*problem, MAX_RANK)
    check = {"ours_vs_loop": None, "ours_vs_torchreid_cy": None}
    if not large:
        check["ours_vs_loop"] = agree(ours, evaluate_rank_loop(*problem, MAX_RANK), 1e-9)
    fns = {"ours": lambda p=problem: evaluate_rank(*p, MAX_RANK)}
    run_peer = evaluate_cy is not None and peer_queries(problem[0].shape) >= num_queries
    if run_peer:
        fns["torchreid_cy"] = lambda p=problem: evaluate_cy(*p, MAX_RANK)
        cmc, mean_ap = fns["torchreid_cy"]()
        peer = {"num_valid": ours["num_valid"], "mAP": float(mean_ap), "cmc": cmc}
        check["ours_vs_torchreid_cy"] = agree(ours, peer, 1e-6)
    if False in check.values():
        raise SystemExit(f"{label}: results disagree: {check}")
    found = []
    for threads in args.threads:
        torch.set_num_threads(threads)
        before = load_average()
        seconds = interleaved_medians(
            fns, repeats=1 if large else args.repeats, warmup=0 if large else 1, device=device
        )
        after = load_average()
        ratio = seconds["ours"] / seconds["torchreid_cy"] if run_peer else None
        found.append(
            {
                "protocol": label,
                "shape": [num_queries, num_gallery],
                "threads": threads,
                "seconds": seconds,
                "ratio_ours_to_torchreid_cy": ratio,
                "loadavg_before": before,
                "loadavg_after": after,
                "checks": check,
                "mAP": ours["mAP"],
                "num_valid": ours["num_valid"],
            }
        )
        rows.append(
            [
                f"{num_queries} x {num_gallery} ({label})",
                threads,
                f"{seconds['ours']:.3f}",
                f"{seconds['torchreid_cy']:.3f}" if run_peer else "n/a",
                f"{ratio:.2f}x" if ratio else "n/a",
                f"{before} -> {after}",
            ]
        )
    torch.set_num_threads(max(args.threads))
    memory = {"distmat_bytes": problem[0].nbytes}
    memory["peak_bytes_ours"] = peak_memory_bytes(fns["ours"], device)
    if run_peer:
        memory["peak_bytes_torchreid_cy"] = peak_memory_bytes(fns["torchreid_cy"], device)
    for result in found:
        result["memory"] = memory | {"threads": max(args.threads)}
    results.extend(found)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument(
        "--problems", nargs="+", choices=sorted(PROBLEMS), default=["torchreid", "ap3d"]
    )
    parser.add_argument("--rank-cy", default=None, help="path to torchreid's rank_cy.pyx")
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    device = torch.device("cpu")
    evaluate_cy, peer_note = torchreid_cython(args.rank_cy)
    print(f"torchreid Cython: {peer_note}")

    rows, results = [], []
    for protocol in args.problems:
        num_queries, num_gallery, num_ids = PROBLEMS[protocol]
        problem = mars_like_problem(num_gallery, num_queries=num_queries, num_ids=num_ids)
        parts = [(protocol, problem)]
        share = peer_queries(problem[0].shape)
        if evaluate_cy is not None and share < num_queries:
            # The peer cannot hold the whole matrix: both run on the first queries it can hold
            # (each ranks a query on its own row, so time grows with the queries), ours also on
            # the whole.
            print(f"{protocol}: torchreid's Cython ranking gets the first {share} queries")
            if share > 0:
                dist, q_pids, g_pids, q_cams, g_cams = problem
                head = (dist[:share], q_pids[:share], g_pids, q_cams[:share], g_cams)
                parts.append((f"{protocol}, first {share} queries", head))
        for label, part in parts:
            measure(label, part, protocol == "large", evaluate_cy, args, rows, results)
        del problem, parts
    print("\n## evaluate_rank vs torchreid's Cython ranking (medians of interleaved calls)\n")
    header = ["problem", "threads", "ours (s)", "torchreid Cython (s)", "ratio", "load avg"]
    print(markdown_table(header, rows))
    print("\npeak memory beyond the distance matrix (MiB):")
    for result in results:
        if result["threads"] == max(args.threads):
            mem = result["memory"]
            peer = mem.get("peak_bytes_torchreid_cy")
            print(
                f"  {result['protocol']}: ours {mem['peak_bytes_ours'] / 2**20:.0f}, torchreid "
                f"Cython {'n/a' if peer is None else f'{peer / 2**20:.0f}'} (distmat "
                f"{mem['distmat_bytes'] / 2**20:.0f})"
            )
    facts = device_facts(device) | {"threads": args.threads, "torchreid_cy": peer_note}
    path = write_json("eval_speed", {"facts": facts, "results": results}, args.out)
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()
