"""Shipped embeddings: one model's embeddings of a synthetic world's tracklets under every STRF
branch set, in one file, so that a gallery starts without embedding anything.

::

    sample_data/models/<name>/embeddings.safetensors            BUNDLE_NAME
      tensors   "branches:s_coarse+t_dynamic" ...   (N, D) float16, one per branch set: all
                subsets of an STRF model's branches ("branches:none": all off), or
                "branches:*" for a model without STRF
      metadata  format, weights (weights_digest), architecture (each STRF unit's branches
                with kappa and similarity), world {"preset", "seed", "size"}, settings
                (Gallery.settings), rows (16 hex digits per tracklet: a digest of its frame
                paths relative to the world root, in row order), tracklets (SHA-256 of rows),
                checksum (SHA-256 of the tensors)

    write_bundle(path, model, gallery, root=..., world=...)      -> path  (strf demo
                                                                   --write-embeddings)
    install_bundle(gallery, model, path, root=..., world=...)    -> BundleCheck(used, reason)

The key holds no absolute path and no file time: the world is regenerated from its seed, byte
for byte, on every machine, under another root. A gallery may hold any of the bundle's
tracklets, in any order (the demo's gallery, or its queries). A bundle that does not fit (other
weights, architecture, world, settings or tracklets; a damaged file) is not installed: the
reason is returned and logged, and the gallery embeds as it would without it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import safe_open, save_file
from torch import Tensor
from tqdm import tqdm

from strf_core.atomic import atomic_path
from strf_core.data.tracklet import Tracklet
from strf_core.models.interface import ReIDModel
from strf_core.modules import active_branches
from strf_core.retrieval.gallery import Gallery, all_branch_sets
from strf_core.retrieval.keys import architecture, weights_digest

BUNDLE_NAME = "embeddings.safetensors"
FORMAT = "strf-embedding-bundle/1"
ROW_DIGITS = 16  # hex digits of a tracklet's key: 64 bits, no collision among thousands
FP16_MAX = float(torch.finfo(torch.float16).max)

logger = logging.getLogger(__name__)


class BundleError(ValueError):
    """Embeddings that cannot be written as a bundle (the message says why)."""


@dataclass(frozen=True)
class BundleCheck:
    """What :func:`install_bundle` did.

    Attributes:
        path: the bundle file.
        branch_sets: branch sets installed (0 when refused).
        reason: why the bundle was not used (``None``: it was).
    """

    path: Path
    branch_sets: int
    reason: str | None

    @property
    def used(self) -> bool:
        return self.reason is None


def tensor_name(branches: Sequence[str] | None) -> str:
    """``("t_dynamic", "s_fine") -> "branches:s_fine+t_dynamic"``; ``() -> "branches:none"``;
    ``None`` (a model without STRF) ``-> "branches:*"``."""
    if branches is None:
        return "branches:*"
    return "branches:" + ("+".join(sorted(branches)) or "none")


def tracklet_key(tracklet: Tracklet, root: str | os.PathLike[str]) -> str:
    """A digest of the tracklet's frame paths relative to ``root``, in order.

    Raises:
        ValueError: a frame is not under ``root``.
    """
    # Text, not pathlib: a gallery has tens of thousands of frames (dataset loaders build the
    # paths as root + separator + name, and resolve_root makes the root absolute the same way).
    prefix = os.path.join(Path(root).expanduser().absolute(), "")
    relative = []
    for frame in tracklet.frames:
        frame = os.fspath(frame)
        if not frame.startswith(prefix):
            raise ValueError(f"{frame} is not under {prefix}")
        relative.append(frame[len(prefix) :].replace(os.sep, "/"))
    return hashlib.sha256("\n".join(relative).encode()).hexdigest()[:ROW_DIGITS]


def write_bundle(
    path: str | os.PathLike[str],
    model: ReIDModel,
    gallery: Gallery,
    *,
    root: str | os.PathLike[str],
    world: Mapping[str, object],
    progress: bool = False,
) -> Path:
    """Embed ``gallery`` with ``model`` under every branch set and write the bundle atomically.

    Args:
        path: the file to write (``<checkpoint>/embeddings.safetensors``).
        model: the model, in eval mode.
        gallery: the tracklets to cover, with the extraction settings the bundle is for.
        root: the world's root, which the frame paths are recorded relative to.
        world: the world's ``{"preset", "seed", "size"}``.
        progress: a progress bar over the branch sets.

    Returns:
        ``path``.

    Raises:
        BundleError: a frame outside ``root``, or an embedding beyond float16's range.
    """
    path = Path(path)
    try:
        rows = "".join(tracklet_key(t, root) for t in gallery.tracklets)
    except ValueError as err:
        raise BundleError(f"cannot key the tracklets by their paths under {root}: {err}") from None
    tensors = {}
    sets = all_branch_sets(model)
    for names in tqdm(sets, desc=f"embeddings {path.parent.name}", disable=not progress):
        with _switch(names):
            features = gallery.features(model)  # (N, D) float32
        if not bool(torch.isfinite(features).all()) or features.abs().max() > FP16_MAX:
            raise BundleError(f"{tensor_name(names)}: embeddings beyond float16's range")
        tensors[tensor_name(names)] = features.half().contiguous()
    meta = {
        "format": FORMAT,
        "weights": weights_digest(model),
        "architecture": _architecture(model),
        "world": _world_text(world),
        "settings": json.dumps(gallery.settings, sort_keys=True),
        "rows": rows,
        "tracklets": hashlib.sha256(rows.encode()).hexdigest(),
        "checksum": _checksum(tensors),
    }
    with atomic_path(path) as tmp:
        save_file(tensors, tmp, metadata=meta)
    return path


def install_bundle(
    gallery: Gallery,
    model: ReIDModel,
    path: str | os.PathLike[str],
    *,
    root: str | os.PathLike[str],
    world: Mapping[str, object],
) -> BundleCheck:
    """Install a bundle's embeddings into ``gallery`` (:meth:`Gallery.install`) if it fits.

    Every key is checked first: the model's weights and architecture, the world, the gallery's
    extraction settings, and that each of the gallery's tracklets (its frame paths relative to
    ``root``) is one of the bundle's rows; the file's checksum too. Nothing is installed unless
    everything fits.

    Args:
        gallery: the gallery to serve.
        model: the model it serves, in the state the bundle is for.
        path: the bundle file.
        root: the world's root the gallery's tracklets are under.
        world: the world's ``{"preset", "seed", "size"}`` (read from the world itself).

    Returns:
        How many branch sets were installed, or why none was (also logged as a warning).
    """
    path = Path(path)
    try:
        meta, tensors = _read(path)
        rows = _rows_for(gallery, model, meta, tensors, root, world)
    except _RefusedError as refused:
        logger.warning("shipped embeddings %s not used: %s", path, refused)
        return BundleCheck(path, 0, str(refused))
    sets = all_branch_sets(model)
    for names in sets:
        with _switch(names):
            gallery.install(model, tensors[tensor_name(names)][rows].float())
    return BundleCheck(path, len(sets), None)


class _RefusedError(Exception):
    """A bundle that does not fit; the message is the reason."""


def _read(path: Path) -> tuple[dict[str, str], dict[str, Tensor]]:
    try:
        with safe_open(path, framework="pt") as f:
            meta = f.metadata() or {}
            tensors = {name: f.get_tensor(name) for name in f.keys()}  # noqa: SIM118
    except FileNotFoundError:
        raise _RefusedError(f"{path} not found") from None
    except (OSError, SafetensorError, ValueError, RuntimeError) as err:
        raise _RefusedError(f"{path} is not a readable safetensors file ({err})") from None
    if meta.get("format") != FORMAT:
        raise _RefusedError(f"format {meta.get('format')!r}, expected {FORMAT!r}")
    missing = [k for k in ("weights", "architecture", "world", "settings", "rows") if k not in meta]
    if missing:
        raise _RefusedError(f"its metadata lacks {', '.join(missing)}")
    if meta.get("checksum") != _checksum(tensors):
        raise _RefusedError("the embeddings do not match their checksum: the file is damaged")
    if meta.get("tracklets") != hashlib.sha256(meta["rows"].encode()).hexdigest():
        raise _RefusedError("its tracklet rows do not match their digest: the file is damaged")
    return meta, tensors


def _rows_for(
    gallery: Gallery,
    model: ReIDModel,
    meta: dict[str, str],
    tensors: dict[str, Tensor],
    root: str | os.PathLike[str],
    world: Mapping[str, object],
) -> Tensor:
    """The bundle row of each gallery tracklet, once every key has been checked."""
    if meta["weights"] != weights_digest(model):
        raise _RefusedError("written for other weights (the model's weights digest differs)")
    if meta["architecture"] != _architecture(model):
        raise _RefusedError("written for another architecture (STRF units, branches, kappa)")
    if meta["world"] != _world_text(world):
        raise _RefusedError(f"written for the world {meta['world']}, not {_world_text(world)}")
    settings = json.dumps(gallery.settings, sort_keys=True)
    if meta["settings"] != settings:
        raise _RefusedError(f"written with extraction settings {meta['settings']}, not {settings}")
    wanted = {tensor_name(names) for names in all_branch_sets(model)}
    if set(tensors) != wanted:
        raise _RefusedError(f"holds {len(tensors)} branch sets, not the model's {len(wanted)}")
    rows = meta["rows"]
    index = {rows[i : i + ROW_DIGITS]: i // ROW_DIGITS for i in range(0, len(rows), ROW_DIGITS)}
    if any(len(t.shape) != 2 or len(t) != len(index) for t in tensors.values()):
        raise _RefusedError(f"its tensors are not ({len(index)}, D), one row per tracklet")
    try:
        keys = [tracklet_key(t, root) for t in gallery.tracklets]
    except ValueError as err:
        raise _RefusedError(f"the gallery's frames are not under the world root: {err}") from None
    absent = [i for i, key in enumerate(keys) if key not in index]
    if absent:
        first = Path(gallery.tracklets[absent[0]].frames[0]).name
        raise _RefusedError(
            f"{len(absent)} of the gallery's {len(keys)} tracklets are not in it "
            f"(the first: the one starting at {first})"
        )
    return torch.tensor([index[key] for key in keys], dtype=torch.long)


def _architecture(model: ReIDModel) -> str:
    """What besides the weights decides the embeddings, in a form stable across torch versions
    (no module ``repr``): the model's class and each STRF unit's branches."""
    arch = architecture(model)
    units = {name: unit["branches"] for name, unit in arch["strf"].items()}
    return json.dumps({"class": arch["class"], "strf": units}, sort_keys=True)


def _world_text(world: Mapping[str, object]) -> str:
    size = [int(x) for x in world["size"]]  # type: ignore[union-attr]
    spec = {"preset": str(world["preset"]), "seed": int(world["seed"]), "size": size}  # type: ignore[arg-type]
    return json.dumps(spec, sort_keys=True)


def _checksum(tensors: Mapping[str, Tensor]) -> str:
    h = hashlib.sha256()
    for name in sorted(tensors):
        t = tensors[name].contiguous()
        h.update(f"{name}|{t.dtype}|{tuple(t.shape)}|".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


@contextlib.contextmanager
def _switch(names: Sequence[str] | None) -> Iterator[None]:
    if names is None:
        yield
    else:
        with active_branches(*names):
            yield
