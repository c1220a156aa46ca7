"""Datasets, sampling, clip transforms and the input pipeline; uploads; dataset writers.

::

    datasets/    loaders of the real formats and a plain folder layout (MARS names: mars.py)
    samplers.py, temporal.py, transforms.py, pipeline.py   batches, clips, augmentation, loaders
    tracklet.py  the Tracklet every loader returns
    user.py      tracklets from uploads (folders, zips, images, videos)
    validation.py  a validation split carved from the training identities
    writers/     the one MARS writer, tiny trees in every format, .mat and image files

The synthetic world that writes MARS trees lives in :mod:`strf_core.synth`.
"""

from strf_core.data.tracklet import Tracklet

__all__ = ["Tracklet"]
