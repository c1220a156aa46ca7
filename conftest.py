"""Session settings shared by the tests and the notebooks that ``pytest --nbmake`` runs.

The notebooks' kernels inherit this environment: ``STRF_FAST=1`` selects their fast mode (small
slices of data, short training, the same plots), which CI runs on 2 CPU cores.
"""

import os

os.environ.setdefault("STRF_FAST", "1")
