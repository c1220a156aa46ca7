"""Datasets, the synthetic tracklet world, sampling and clip transforms."""

from strf_core.data.tracklet import Tracklet

__all__ = ["Tracklet"]
