"""The paper's Table 2 numbers in strf_core.paper agree with the configs' recorded numbers."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from strf_core.paper import TABLE2, paper_millions

CONFIGS = Path(__file__).resolve().parents[1] / "configs"


@pytest.mark.parametrize(("name", "strf"), sorted(TABLE2))
def test_table2_matches_the_configs(name, strf):
    kind = name.split("_")[0]
    row = TABLE2[(name, strf)]
    for dataset, (map_, rank1) in (
        ("mars", (row.mars_map, row.mars_rank1)),
        ("duke", (row.duke_map, row.duke_rank1)),
    ):
        path = CONFIGS / f"{dataset}_{'strf_' if strf else ''}{kind}.yaml"
        if not path.is_file():  # Duke configs exist for P3D-C only
            continue
        found = re.search(r"mAP (\d+\.\d) / R@1 (\d+\.\d)", path.read_text())
        assert found, path
        assert (float(found[1]), float(found[2])) == (map_, rank1)


def test_paper_millions_truncates_like_the_paper():
    assert paper_millions(28_921_521) == 28.92
    assert paper_millions(25_538_230) == 25.53
    assert paper_millions(57_344) == 0.05
    assert paper_millions(28_978_870) == 28.97  # I3D + STRF
