"""The paper's reported numbers that the tutorials and reports set beside ours.

Aich et al., ICCV 2021, Table 2 (baseline improvement): model size ``P(M)`` in millions of
parameters and MARS / DukeMTMC-VideoReID mAP and R@1 (%), for each 3D baseline with and
without STRF (ResNet-50, STRF in stages 2-3). The paper gives no row for C2D. The ablation
numbers (Table 4, Table 5, Fig. 4) live beside their cells in :mod:`strf_core.benchmark`.
"""

from __future__ import annotations

from typing import NamedTuple


class Table2Row(NamedTuple):
    """One row of Table 2: ``P(M)`` and the two datasets' mAP and R@1 (%)."""

    params_m: float
    mars_map: float
    mars_rank1: float
    duke_map: float
    duke_rank1: float


# Keyed by (model name, with STRF), as ``build_model`` names the backbones.
TABLE2: dict[tuple[str, bool], Table2Row] = {
    ("i3d_resnet50", False): Table2Row(28.92, 82.7, 88.5, 95.2, 95.4),
    ("i3d_resnet50", True): Table2Row(28.97, 83.1, 88.7, 95.2, 95.9),
    ("p3da_resnet50", False): Table2Row(25.48, 83.2, 88.9, 95.0, 95.0),
    ("p3da_resnet50", True): Table2Row(25.53, 85.4, 89.8, 95.6, 96.0),
    ("p3db_resnet50", False): Table2Row(25.48, 83.0, 88.8, 95.4, 95.3),
    ("p3db_resnet50", True): Table2Row(25.53, 85.6, 90.3, 96.4, 97.4),
    ("p3dc_resnet50", False): Table2Row(25.48, 83.1, 88.5, 95.3, 95.3),
    ("p3dc_resnet50", True): Table2Row(25.53, 86.1, 90.3, 96.2, 97.2),
}


def paper_millions(count: int) -> float:
    """A parameter count as the paper's ``P(M)`` column prints it: millions, truncated to two
    decimals (57,344 added weights print as "+0.05 M")."""
    return int(count // 10_000) / 100
