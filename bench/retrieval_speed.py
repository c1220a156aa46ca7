"""Top-k retrieval for one query against the floor, from 1e3 to 1e6 gallery entries.

The floor is what an exact search cannot avoid: one matrix-vector product over a gallery
normalised beforehand and a ``topk``. Ours is :class:`~strf_core.retrieval.BruteForceIndex`
(the gallery as given, its norms computed once, ties in gallery order) and, where installed,
:class:`~strf_core.retrieval.FaissIndex`; the answers must agree with the floor's. Calls are
interleaved, medians; index build times and the memory each keeps are stated; the load average
is written beside each figure. A search stops being interactive at 0.1 s.

Usage::

    python bench/retrieval_speed.py [--sizes 1000 10000 100000 1000000] [--dim 512]
        [--threads 1 2] [--repeats 7] [--out FILE]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import device_facts, interleaved_medians, load_average, markdown_table, write_json

from strf_core.retrieval import BruteForceIndex, FaissIndex, faiss_available

K = 10


def timed(fn):
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10_000, 100_000, 1_000_000])
    parser.add_argument("--dim", type=int, default=512)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    device = torch.device("cpu")
    use_faiss = faiss_available()
    rows, results = [], []
    for size in args.sizes:
        g = torch.Generator().manual_seed(size)
        gallery = torch.randn(size, args.dim, generator=g)
        query = torch.randn(1, args.dim, generator=g)
        normalised = F.normalize(gallery, dim=1)  # the floor's own copy, made before timing

        def floor(normalised=normalised, query=query):
            return torch.topk(normalised @ F.normalize(query, dim=1)[0], K)

        brute, brute_build = timed(lambda gallery=gallery: BruteForceIndex(gallery))
        fns = {"floor": floor, "brute": lambda b=brute, q=query: b.search(q, K)}
        build = {"brute": brute_build}
        kept = {"brute": 4 * size}  # its norms; the gallery itself is the caller's
        index = None
        if use_faiss:
            index, build["faiss"] = timed(lambda gallery=gallery: FaissIndex(gallery))
            fns["faiss"] = lambda i=index, q=query: i.search(q, K)
            kept["faiss"] = 4 * size * (args.dim + 1)  # the normalised store and the norms
        want = floor().indices
        for name in fns:
            if name != "floor" and not torch.equal(fns[name]()[1][0], want):
                raise SystemExit(f"{name} disagrees with the floor at {size} entries")
        for threads in args.threads:
            torch.set_num_threads(threads)
            before = load_average()
            seconds = interleaved_medians(fns, repeats=args.repeats, warmup=1, device=device)
            after = load_average()
            result = {
                "gallery": size,
                "dim": args.dim,
                "threads": threads,
                "seconds": seconds,
                "ratio_to_floor": {k: seconds[k] / seconds["floor"] for k in fns if k != "floor"},
                "build_seconds": build,
                "bytes_kept_beside_gallery": kept,
                "gallery_bytes": gallery.nbytes,
                "loadavg_before": before,
                "loadavg_after": after,
            }
            results.append(result)
            rows.append(
                [
                    f"{size:,}",
                    threads,
                    f"{seconds['floor'] * 1e3:.2f}",
                    f"{seconds['brute'] * 1e3:.2f} ({result['ratio_to_floor']['brute']:.2f}x)",
                    f"{seconds['faiss'] * 1e3:.2f} ({result['ratio_to_floor']['faiss']:.2f}x)"
                    if use_faiss
                    else "not installed",
                    ", ".join(f"{k} {v:.2f}" for k, v in build.items()),
                    f"{before} -> {after}",
                ]
            )
        del gallery, normalised, fns, brute, index
    print(f"\n## Top-{K} of one query, {args.dim}-d embeddings (medians of interleaved calls)\n")
    header = ["gallery", "threads", "floor (ms)", "brute (ms)", "FAISS (ms)", "build (s)", "load"]
    print(markdown_table(header, rows))
    facts = device_facts(device) | {"threads": args.threads, "faiss": use_faiss}
    path = write_json("retrieval_speed", {"facts": facts, "results": results}, args.out)
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()
