"""The paper's reported numbers that the tutorials and reports set beside ours.

Aich et al., ICCV 2021, Table 2 (baseline improvement): model size ``P(M)`` in millions of
parameters and MARS / DukeMTMC-VideoReID mAP and R@1 (%), for each 3D baseline with and
without STRF (ResNet-50, STRF in stages 2-3). The paper gives no row for C2D.

The ablations' MARS numbers (Table 4, Table 5, Fig. 4), which the experiment grids of
:mod:`strf_core.experiments` set beside their rows, follow Table 2.
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


# --------------------------------------------------------------------------- ablations


class MarsScore(NamedTuple):
    """The paper's MARS mAP and R@1 (%) of one row; ``None`` where it gives no number."""

    mAP: float | None  # noqa: N815 (the metric's name)
    rank1: float | None


NO_NUMBER = MarsScore(None, None)
P3DC_BASELINE = MarsScore(*TABLE2[("p3dc_resnet50", False)][1:3])
# STRF-P3D-C with every default: all four branches, stages 2-3, (r_fine, r_coarse) = (1, 3), max
# pooling, t->s. The reference row of every ablation.
STRF_P3DC = MarsScore(*TABLE2[("p3dc_resnet50", True)][1:3])

# Table 4 (which branches): (row, branches, score). Its check marks are garbled in our text of
# the paper; the rows follow its printed order (singles s_fine, s_coarse, t_dynamic, t_static;
# then spatial pair, temporal pair, the two cross pairs), read from the visible marks. All four
# is :data:`STRF_P3DC`.
TABLE4: tuple[tuple[str, tuple[str, ...], MarsScore], ...] = (
    ("s_fine", ("s_fine",), MarsScore(85.2, 89.7)),
    ("s_coarse", ("s_coarse",), MarsScore(85.1, 89.9)),
    ("t_dynamic", ("t_dynamic",), MarsScore(85.2, 89.9)),
    ("t_static", ("t_static",), MarsScore(85.1, 90.0)),
    ("spatial (s_fine+s_coarse)", ("s_fine", "s_coarse"), MarsScore(85.5, 90.1)),
    ("temporal (t_dynamic+t_static)", ("t_dynamic", "t_static"), MarsScore(85.3, 89.7)),
    ("s_fine+t_dynamic", ("s_fine", "t_dynamic"), MarsScore(85.4, 90.0)),
    ("s_coarse+t_static", ("s_coarse", "t_static"), MarsScore(85.7, 90.1)),
)

# Table 5 (after which stages): (row, stages, score). Stages 2-3 is :data:`STRF_P3DC`.
TABLE5: tuple[tuple[str, tuple[int, ...], MarsScore], ...] = (
    ("1", (1,), MarsScore(83.4, 88.8)),
    ("1-2", (1, 2), MarsScore(83.6, 89.0)),
    ("1-2-3", (1, 2, 3), MarsScore(84.7, 89.3)),
    ("2-3-4", (2, 3, 4), MarsScore(85.5, 90.0)),
    ("1-2-3-4", (1, 2, 3, 4), MarsScore(83.7, 88.7)),
)

# Fig. 4 is a plot: only the values its text states are typed in (best 86.1 at (1, 3), max
# pooling and t->s; (1, 5) 0.2 and (3, 5) 0.4 lower; parallel about 0.4 lower).
FIG4A: dict[tuple[int, int], MarsScore] = {
    (1, 1): NO_NUMBER,
    (1, 3): STRF_P3DC,
    (1, 5): MarsScore(85.9, None),
    (3, 5): MarsScore(85.7, None),
}
FIG4B: dict[str, MarsScore] = {"max": STRF_P3DC, "avg": NO_NUMBER}
FIG4C: dict[str, MarsScore] = {
    "t->s": STRF_P3DC,
    "s->t": NO_NUMBER,
    "parallel": MarsScore(85.7, None),
}


# --------------------------------------------------------------------------- other units

# Sec. 3.3 (FFM vs NL): non-local blocks on the P3D-C baseline, MARS, and "NL's ~5 million
# additional parameters" (against STRF's, where its "~0.5 M" is Table 2's 0.05 M).
NL_P3DC = MarsScore(84.8, 89.9)
NL_ADDED_M = 5.0
# Table 3: AP3D [14] on MARS (85.6 / 90.7, its model with non-local blocks, AP3DNLResNet50);
# Fig. 6b: STRF has "~6 million" fewer parameters than AP3D.
AP3D_MARS = MarsScore(85.6, 90.7)
AP3D_MORE_THAN_STRF_M = 6.0
