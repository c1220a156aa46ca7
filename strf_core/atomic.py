"""Files and folders that appear whole or not at all: the one implementation of "write to a
temporary sibling, then rename" that checkpoints, results, caches, exports and the synthetic
world share.

::

    with atomic_path(path) as tmp:   # write tmp (any writer: safetensors, onnx, text)
        ...                          # -> renamed onto path; removed if the block raises
    write_text_atomic(path, text)    # text, flushed to disk first
    replace_dir(tmp_dir, target)     # a finished folder swapped in (the old one removed after)

Temporary names are unique per call, so two processes writing the same file (two dashboards
embedding one gallery) never write into each other's temporary file.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def temporary_sibling(path: Path, kind: str = "tmp") -> Path:
    """A unique hidden name beside ``path`` (``.name.<kind>-<hex>``)."""
    return path.with_name(f".{path.name}.{kind}-{uuid.uuid4().hex[:12]}")


@contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary sibling of ``path`` to write; rename it onto ``path`` when the block
    ends, or remove it when the block raises."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temporary_sibling(path)
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_text_atomic(path: str | os.PathLike[str], text: str) -> None:
    """Write ``text`` to ``path`` atomically, flushed to disk before the rename."""
    with atomic_path(path) as tmp, open(tmp, "w") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())


def fsync_files(folder: Path) -> None:
    """Flush the files of ``folder`` to disk (before a rename makes them visible)."""
    for file in folder.iterdir():
        if file.is_file():
            with open(file, "rb") as f:
                os.fsync(f.fileno())


def replace_dir(tmp: Path, target: Path, *, old: Path | None = None) -> None:
    """Swap the finished folder ``tmp`` in as ``target``.

    An existing ``target`` is first renamed to ``old`` (default: a unique hidden sibling) and
    removed only after the swap, so a crash leaves the old folder or the new one, never neither
    (a reader that knows ``old``'s name, as checkpoints do with ``<name>.old``, finds it).
    """
    old = temporary_sibling(target, "old") if old is None else old
    shutil.rmtree(old, ignore_errors=True)
    if target.exists():
        target.rename(old)
    tmp.rename(target)
    shutil.rmtree(old, ignore_errors=True)
