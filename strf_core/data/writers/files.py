"""Single files of a dataset tree: a frame, a solid-colour image, a MATLAB ``.mat`` matrix."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image

FrameLike = Image.Image | np.ndarray | bytes

# The module that first wrote it: kept, so that the same worlds keep their bytes (and the
# embedding caches keyed on them stay valid).
_MAT_HEADER = b"MATLAB 5.0 MAT-file, written by strf_core.data.mars_format"


def save_frame(frame: FrameLike, path: Path, *, quality: int = 90) -> None:
    """Write one frame as JPEG (bytes are written as they are)."""
    if isinstance(frame, bytes):
        path.write_bytes(frame)
        return
    if isinstance(frame, np.ndarray):
        frame = Image.fromarray(np.ascontiguousarray(frame, dtype=np.uint8))
    frame.convert("RGB").save(path, format="JPEG", quality=quality)


def write_image(path: Path, color: tuple[int, int, int], size: tuple[int, int] = (16, 8)) -> None:
    """Write a small solid-colour image; the format follows the suffix (``.jpg``, ``.png``).

    Args:
        path: the file to write; parent folders are created.
        color: RGB.
        size: ``(height, width)``.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (size[1], size[0]), color).save(path)


def write_mat(path: Path, variable: str, array: np.ndarray) -> None:
    """Write one matrix as a MATLAB 5 ``.mat`` file, as the releases ship their index tables.

    The header carries no timestamp (scipy writes one), so the same matrix gives the same bytes.
    One-dimensional arrays are written as ``(1, N)`` rows. Parent folders are created.
    """
    # Imported here: scipy.io is slow to import and only .mat writers use it.
    import scipy.io

    buffer = io.BytesIO()
    scipy.io.savemat(buffer, {variable: array}, format="5", oned_as="row")
    data = bytearray(buffer.getvalue())
    # The 116-byte description holds scipy's "Created on: <time>": fix it for reproducibility.
    data[:116] = _MAT_HEADER.ljust(116, b" ")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(bytes(data))
