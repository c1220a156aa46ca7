"""Dataset names for :func:`build_dataset`, over a plain dict."""

from __future__ import annotations

import os
from typing import Any

from strf_core.data.datasets.base import ReIDDataset
from strf_core.data.datasets.dukemtmc_vid import DukeMTMCVideoReID
from strf_core.data.datasets.folder import TrackletFolder
from strf_core.data.datasets.ilids_vid import ILIDSVID
from strf_core.data.datasets.mars import Mars
from strf_core.data.datasets.prid2011 import PRID2011

_DATASETS: dict[str, type[ReIDDataset]] = {
    cls.name: cls for cls in (Mars, DukeMTMCVideoReID, ILIDSVID, PRID2011, TrackletFolder)
}


def list_datasets() -> list[str]:
    """Names accepted by :func:`build_dataset`."""
    return sorted(_DATASETS)


def build_dataset(name: str, root: str | os.PathLike[str], **kwargs: Any) -> ReIDDataset:
    """Load a dataset by name.

    Args:
        name: one of :func:`list_datasets`.
        root: the dataset folder.
        **kwargs: options of the dataset class: ``split_id`` (``ilids_vid``, ``prid2011``),
            ``protocol`` (``mars``), ``validate`` (all).

    Returns:
        The dataset, with ``.train``, ``.query`` and ``.gallery`` lists of tracklets.

    Raises:
        ValueError: an unknown name (the message lists the available ones).
        DatasetError: a folder that does not follow the dataset's format.
    """
    return dataset_class(name)(root, **kwargs)


def dataset_class(name: str) -> type[ReIDDataset]:
    """The class registered under ``name``.

    Raises:
        ValueError: an unknown name (the message lists the available ones).
    """
    if name not in _DATASETS:
        raise ValueError(f"unknown dataset {name!r}; available: {', '.join(list_datasets())}")
    return _DATASETS[name]
