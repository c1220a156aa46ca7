"""Loaders of the real video re-ID datasets and of a plain folder layout.

``build_dataset(name, root, **kwargs)`` returns an object with ``.train``, ``.query`` and
``.gallery`` lists of :class:`~strf_core.data.tracklet.Tracklet`: frames in temporal order,
train pids relabelled ``0..N-1``, camids 0-based, the same splits as torchreid's loaders.
Folders that do not follow their format raise :class:`DatasetError`, naming the problem.
"""

from strf_core.data.datasets.base import DatasetError, ReIDDataset, SplitStats
from strf_core.data.datasets.dukemtmc_vid import DukeMTMCVideoReID
from strf_core.data.datasets.folder import TrackletFolder
from strf_core.data.datasets.ilids_vid import ILIDSVID
from strf_core.data.datasets.mars import Mars
from strf_core.data.datasets.prid2011 import PRID2011
from strf_core.data.datasets.registry import (
    build_dataset,
    dataset_class,
    dataset_options,
    datasets_with_option,
    list_datasets,
)

__all__ = [
    "ILIDSVID",
    "PRID2011",
    "DatasetError",
    "DukeMTMCVideoReID",
    "Mars",
    "ReIDDataset",
    "SplitStats",
    "TrackletFolder",
    "build_dataset",
    "dataset_class",
    "dataset_options",
    "datasets_with_option",
    "list_datasets",
]
