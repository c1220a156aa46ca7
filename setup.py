"""Package data that lives outside the package: a wheel (``pip install .``) carries the
repository's ``sample_data/`` (demo models, example tracklets) and ``docs/results/`` (the
benchmark tables) as ``strf_core/_data/sample_data/`` and ``strf_core/_data/docs/results/``,
where :mod:`strf_core.package_data` finds them. Everything else is in ``pyproject.toml``.

The folders stay where a reader of the repository looks for them; ``package_dir`` maps each onto
data-only packages of the wheel (no ``__init__.py``: nothing there is imported). This file exists
because ``pyproject.toml`` takes either a found package list or a written one, not both.
"""

from setuptools import find_namespace_packages, find_packages, setup

SHIPPED = {
    "strf_core._data.sample_data": "sample_data",
    "strf_core._data.docs.results": "docs/results",
}

# Every folder of the shipped trees, as the data-only package setuptools wants it to be.
data_packages = [
    f"{name}.{sub}" if sub else name
    for name, folder in SHIPPED.items()
    for sub in ["", *find_namespace_packages(where=folder)]
]
setup(
    packages=[*find_packages(include=["strf_core", "strf_core.*"]), *data_packages],
    package_dir=dict(SHIPPED),
    package_data={name: ["*"] for name in data_packages},
)
