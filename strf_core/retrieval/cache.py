"""Gallery embeddings on disk, one safetensors file per (model key, data key).

A file is written to a temporary name and renamed into place, so a reader sees a complete file
or none; two processes embedding the same gallery at once both write the same bytes. The full
keys are stored in the file's metadata and checked on load, so a shortened file name can never
serve the wrong embeddings.
"""

from __future__ import annotations

import os
from pathlib import Path

from safetensors import SafetensorError
from safetensors.torch import load_file, safe_open, save_file
from torch import Tensor

from strf_core.atomic import atomic_path

FORMAT = "strf-gallery-embeddings/1"


class EmbeddingCache:
    """A folder of cached gallery embeddings.

    Args:
        directory: where the files go (created on first write).
    """

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = Path(directory)

    def path(self, model_key: str, data_key: str) -> Path:
        return self.directory / f"{model_key[:24]}-{data_key[:24]}.safetensors"

    def load(self, model_key: str, data_key: str, count: int) -> Tensor | None:
        """The cached ``(count, D)`` embeddings, or ``None`` (absent, stale or unreadable)."""
        path = self.path(model_key, data_key)
        if not path.is_file():
            return None
        try:
            with safe_open(path, framework="pt") as f:
                meta = f.metadata() or {}
            if (meta.get("format"), meta.get("model_key"), meta.get("data_key")) != (
                FORMAT,
                model_key,
                data_key,
            ):
                return None
            features = load_file(path)["features"]
        except (OSError, SafetensorError, KeyError):
            return None  # a damaged file is recomputed and overwritten
        return features if features.dim() == 2 and len(features) == count else None

    def save(self, model_key: str, data_key: str, features: Tensor) -> Path:
        """Write the embeddings atomically and return the file's path."""
        path = self.path(model_key, data_key)
        meta = {"format": FORMAT, "model_key": model_key, "data_key": data_key}
        with atomic_path(path) as tmp:
            save_file({"features": features.detach().cpu().contiguous()}, tmp, metadata=meta)
        return path
