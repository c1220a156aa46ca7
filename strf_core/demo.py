"""The shipped demo: the demo models, the synthetic world they were evaluated on, the examples.

The dashboard and the notebooks start here::

    models = demo_models()              # {"baseline": DemoModel, "strf": DemoModel}
    root = demo_world()                 # the demo world, generated once into the cache
    data = demo_dataset(root)           # its query / gallery split, with the models' protocol
    gallery = model_gallery(data.gallery, models["strf"])   # embeddings cached on disk
    examples = example_tracklets()      # {"occluded": path, ...} to read with read_tracklet
    prepare_demo()                      # `strf demo`: world + both galleries, ahead of time

The models and examples are read from ``sample_data/`` (:mod:`strf_core.package_data`: the
checkout's, or an installed wheel's copy). The world is regenerated deterministically from the
preset, seed and frame size recorded in the models' ``eval.json`` (nothing large is shipped); the
cache folder is ``$STRF_CACHE`` or ``~/.cache/strf``, shared with ``strf benchmark``.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from torch import nn

from strf_core.data.datasets import ReIDDataset, build_dataset
from strf_core.engine.checkpoint import load_trained_model
from strf_core.engine.config import load_config
from strf_core.package_data import cache_root, sample_data_dir
from strf_core.retrieval import Gallery
from strf_core.synth import META_NAME, generate

SAMPLE_DATA = sample_data_dir()  # in the checkout, or inside an installed wheel
MODELS_DIR = SAMPLE_DATA / "models"
EXAMPLES_DIR = SAMPLE_DATA / "examples"
DEMO_MODEL_NAMES = ("baseline", "strf")


@dataclass(frozen=True)
class DemoModel:
    """A trained model with what it needs to be used.

    Attributes:
        name: ``"baseline"`` or ``"strf"`` (or a user's label).
        model: the network, in eval mode on the CPU.
        config: its training config (:class:`~strf_core.engine.config.TrainConfig`).
        input_size: the ``(H, W)`` its clips are resized to.
        record: its ``eval.json`` (metrics, world, protocol), ``{}`` when absent.
    """

    name: str
    model: nn.Module
    config: Any
    input_size: tuple[int, int]
    record: dict

    @property
    def has_strf(self) -> bool:
        return bool(self.model.strf_units())


def load_model(directory: str | os.PathLike[str], name: str | None = None) -> DemoModel:
    """A checkpoint of ``strf train`` (or a demo model) with its config and evaluation record.

    Raises:
        CheckpointError: the folder is not a complete checkpoint (named in the message).
    """
    directory = Path(directory)
    model, config = load_trained_model(directory)
    record_path = directory / "eval.json"
    record = json.loads(record_path.read_text()) if record_path.is_file() else {}
    return DemoModel(
        name=name or directory.name,
        model=model,
        config=config,
        input_size=(config.data.height, config.data.width),
        record=record,
    )


def demo_models() -> dict[str, DemoModel]:
    """The shipped baseline and STRF models (tiny P3D-C, trained on the demo world)."""
    return {name: load_model(MODELS_DIR / name, name) for name in DEMO_MODEL_NAMES}


def world_spec() -> dict:
    """The demo world the models were evaluated on: ``{"preset", "seed", "size"}``."""
    record = json.loads((MODELS_DIR / "strf" / "eval.json").read_text())
    world = record["world"]
    return {"preset": world["preset"], "seed": int(world["seed"]), "size": tuple(world["size"])}


def demo_world(
    root: str | os.PathLike[str] | None = None, *, progress: bool = False, workers: int = 1
) -> Path:
    """The demo world's MARS tree, generated from its seed if absent.

    Args:
        root: where it is or goes (default: the cache, as ``strf benchmark`` puts it).
        progress: show a progress bar while generating.
        workers: generator processes. One by default: the dashboard (a threaded server) and
            Jupyter kernels call this from threads, and forking a pool there hung the
            dashboard's first start; give more only from a plain single-threaded script.
    """
    spec = world_spec()
    height, width = spec["size"]
    if root is None:
        root = cache_root() / "synth" / f"{spec['preset']}-seed{spec['seed']}-{height}x{width}"
    root = Path(root)
    if not (root / META_NAME).is_file():
        generate(
            root,
            preset=spec["preset"],
            seed=spec["seed"],
            size=(height, width),
            workers=workers,
            overwrite=root.exists(),
            progress=progress,
        )
    return root


def demo_dataset(root: str | os.PathLike[str] | None = None) -> ReIDDataset:
    """The demo world's split with the demo models' protocol (generated if absent)."""
    protocol = load_config(MODELS_DIR / "strf" / "config.yaml").data.protocol
    return build_dataset("mars", demo_world(root), protocol=protocol)


def example_tracklets() -> dict[str, Path]:
    """The ready-to-upload examples in ``sample_data/examples/`` by name (``"occluded"``, a
    frame folder; ``"occluded.mp4"``, a video; ``"misaligned.zip"``, a zip; ...)."""
    return {p.name: p for p in sorted(EXAMPLES_DIR.iterdir()) if not p.name.startswith(".")}


def model_gallery(
    tracklets: Sequence[Any], model: DemoModel, cache_dir: str | os.PathLike[str] | None = None
) -> Gallery:
    """``tracklets`` as a gallery embedded with ``model``'s own evaluation settings (frame
    size, dense or clip features), its embeddings cached on disk (default: the cache's
    ``embeddings/``, where the dashboard looks)."""
    data = model.config.data
    return Gallery(
        tracklets,
        cache_dir=cache_root() / "embeddings" if cache_dir is None else cache_dir,
        size=model.input_size,
        mode=data.test_mode,
        chunk_len=data.chunk_len,
        seq_len=data.seq_len,
    )


def prepare_demo(
    *,
    workers: int | None = None,
    all_branch_sets: bool = False,
    progress: bool = False,
    log: Callable[[str], None] = print,
) -> dict[str, float]:
    """Make what the dashboard's first page needs, once, from a plain process: the demo world
    and each demo model's gallery embeddings (all branches on; with ``all_branch_sets``, all 16
    branch sets of the STRF model, as the dashboard's toggles use them). Finished steps are
    read back, not redone.

    Args:
        workers: generator processes (default: every core). Safe here, in a command-line
            process; the dashboard itself generates with one (see :func:`demo_world`).

    Returns:
        Wall seconds of each step (``"world"``, ``"embed baseline"``, ``"embed strf"``).
    """
    seconds: dict[str, float] = {}
    started = time.perf_counter()
    root = demo_world(workers=workers or os.cpu_count() or 1, progress=progress)
    seconds["world"] = time.perf_counter() - started
    log(f"demo world: {root} ({seconds['world']:.1f} s)")
    data = demo_dataset(root)
    for name, model in demo_models().items():
        started = time.perf_counter()
        gallery = model_gallery(data.gallery, model)
        if all_branch_sets and model.has_strf:
            gallery.precompute(model.model, progress=progress)
        else:
            gallery.features(model.model, progress=progress)
        seconds[f"embed {name}"] = time.perf_counter() - started
        log(f"{name}: {len(gallery)} gallery tracklets embedded ({seconds[f'embed {name}']:.1f} s)")
    return seconds
