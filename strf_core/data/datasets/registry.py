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
        **kwargs: options of the dataset class (:func:`dataset_options`: ``split_id`` for
            ``ilids_vid`` and ``prid2011``, ``protocol`` for ``mars``) and ``validate`` (all).

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


def dataset_options(name: str, **values: Any) -> dict[str, Any]:
    """The options among ``values`` that dataset ``name`` takes, for :func:`build_dataset`.

    The one place that knows which dataset takes which option: callers hold every option
    (``split_id``, ``protocol``) and pass them all.

    Example:
        ``dataset_options("ilids_vid", split_id=3, protocol="ap3d") == {"split_id": 3}``

    Raises:
        ValueError: an unknown dataset name.
    """
    options = dataset_class(name).options
    return {key: value for key, value in values.items() if key in options}


def datasets_with_option(option: str) -> list[str]:
    """Names of the datasets that take ``option`` (``"split_id"``: iLIDS-VID, PRID-2011)."""
    return [name for name in list_datasets() if option in _DATASETS[name].options]
