"""How hard the synthetic world is: a non-learned colour-histogram matcher on the demo preset.

Scores :mod:`strf_core.baselines.histogram` (torchreid MARS protocol, every frame's central
half, grey-world colour normalisation, stripe HSV histograms) overall and on the query subsets,
beside chance (a random ranking of the same galleries). ``within_group`` ranks each look-alike
query against its group's tracklets in other cameras only: there it must sit at chance.

Usage::

    python bench/histogram_baseline.py [ROOT] [--preset demo] [--seed 0] [--size 128x64]

Without ROOT, the preset is generated into a temporary folder first.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import markdown_table, write_json

from strf_core.baselines.histogram import evaluate
from strf_core.synth import generate, load_metadata, parse_size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root", nargs="?", help="a synthetic MARS tree (default: generate one)")
    parser.add_argument("--preset", default="demo")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--size", default="128x64")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", default=None, help="JSON path (default bench/results/)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="hist_baseline_") as tmp:
        root = Path(args.root) if args.root else Path(tmp) / args.preset
        if not args.root:
            generate(
                root,
                preset=args.preset,
                seed=args.seed,
                size=parse_size(args.size),
                workers=args.workers,
            )
        generator = load_metadata(root)["generator"]
        results = evaluate(root)
    height, width = generator["size"]
    name = f"{generator['preset']} seed {generator['seed']}, {height}x{width}"
    print(f"\n## Colour-histogram matcher, {name}, torchreid protocol\n")
    print(
        markdown_table(
            ["queries", "n", "mAP", "rank-1", "rank-5", "chance mAP", "chance rank-1"],
            [
                [
                    subset,
                    r["queries"],
                    f"{100 * r['mAP']:.1f}",
                    f"{100 * r['rank1']:.1f}",
                    f"{100 * r['rank5']:.1f}",
                    f"{100 * r['chance_mAP']:.1f}",
                    f"{100 * r['chance_rank1']:.1f}",
                ]
                for subset, r in results.items()
                if r["queries"]
            ],
        )
    )
    path = write_json(
        f"histogram_baseline_{generator['preset']}",
        {"generator": generator, "results": results},
        args.out,
    )
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()
