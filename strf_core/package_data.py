"""Where the files shipped with ``strf_core`` are: the demo models, the example tracklets and the
results tables.

In the repository they are ``sample_data/`` and ``docs/results/``, beside the package; that is
where a checkout or an editable install (``pip install -e .``) reads them. A wheel
(``pip install .``) carries copies of both inside the package, as ``strf_core/_data/sample_data/``
and ``strf_core/_data/docs/results/`` (``setup.py`` maps them there), so the demo, the dashboard
and the notebooks work wherever the package is installed::

    sample_data_dir()   # .../sample_data: models/{baseline,strf}/, examples/
    results_dir()       # .../docs/results: benchmark.json, ablations.json, cells/, ...
"""

from __future__ import annotations

import os
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
# Where to look, in order: the copies inside an installed wheel, then the checkout the package
# sits in. Each holds sample_data/ and docs/results/.
DATA_ROOTS = (PACKAGE_DIR / "_data", PACKAGE_DIR.parent)


def cache_root() -> Path:
    """Where generated data (synthetic worlds, embeddings, training runs) is cached:
    ``$STRF_CACHE``, else ``~/.cache/strf``."""
    return Path(os.environ.get("STRF_CACHE", "~/.cache/strf")).expanduser()


class PackageDataError(FileNotFoundError):
    """The shipped files are neither inside the installed package nor beside it."""


def data_root() -> Path:
    """The folder holding ``sample_data/`` and ``docs/results/``.

    Raises:
        PackageDataError: neither the installed package nor a checkout around it has them
            (a wheel built without its data); the message says where it looked and what to do.
    """
    for root in DATA_ROOTS:
        if (root / "sample_data" / "models").is_dir():
            return root
    looked = ", ".join(str(root / "sample_data") for root in DATA_ROOTS)
    raise PackageDataError(
        f"strf_core's shipped files (sample_data/, docs/results/) are missing: looked in {looked}. "
        "Install the package from a full checkout of the repository (`pip install .` or "
        "`pip install -e .` in it), which ships them."
    )


def sample_data_dir() -> Path:
    """``sample_data/``: the demo models (``models/``) and example tracklets (``examples/``)."""
    return data_root() / "sample_data"


def results_dir() -> Path:
    """``docs/results/``: the benchmark, ablation and recipe tables and their ``cells/``."""
    return data_root() / "docs" / "results"
