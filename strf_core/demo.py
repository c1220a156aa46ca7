"""The shipped demo: the demo models, the synthetic world they were evaluated on, the examples.

The dashboard and the notebooks start here::

    models = demo_models()              # {"baseline": DemoModel, "strf": DemoModel}
    root = demo_world()                 # its test split, generated once into the cache
    data = demo_dataset(root)           # its query / gallery split, with the models' protocol
    gallery = model_gallery(data.gallery, models["strf"], world_root=root)  # shipped embeddings
    examples = example_tracklets()      # {"occluded": path, ...} to read with read_tracklet
    prepare_demo()                      # `strf demo`: the world, both galleries ready
    write_demo_embeddings()             # `strf demo --write-embeddings`: the shipped bundles

The models and examples are read from ``sample_data/`` (:mod:`strf_core.package_data`: the
checkout's, or an installed wheel's copy). The world is regenerated deterministically from the
preset, seed and frame size recorded in the models' ``eval.json`` (nothing large is shipped):
its test split only, which is all the dashboard reads, unless a whole world of the same spec is
in the cache already. Each model folder ships its embeddings of that split under every branch
set (``embeddings.safetensors``, :mod:`strf_core.retrieval.bundle`), so no gallery is embedded
at start. The cache folder is ``$STRF_CACHE`` or ``~/.cache/strf``, shared with
``strf benchmark``.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from torch import nn

from strf_core.data.datasets import DatasetError, ReIDDataset, build_dataset
from strf_core.data.datasets.synthetic import drawn_splits
from strf_core.data.tracklet import Tracklet
from strf_core.engine.checkpoint import load_trained_model
from strf_core.engine.config import load_config
from strf_core.package_data import cache_root, sample_data_dir
from strf_core.retrieval import BUNDLE_NAME, BundleCheck, Gallery, install_bundle, write_bundle
from strf_core.synth import META_NAME, generate, load_metadata

SAMPLE_DATA = sample_data_dir()  # in the checkout, or inside an installed wheel
MODELS_DIR = SAMPLE_DATA / "models"
EXAMPLES_DIR = SAMPLE_DATA / "examples"
DEMO_MODEL_NAMES = ("baseline", "strf")

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class DemoModel:
    """A trained model with what it needs to be used.

    Attributes:
        name: ``"baseline"`` or ``"strf"`` (or a user's label).
        model: the network, in eval mode on the CPU.
        config: its training config (:class:`~strf_core.engine.config.TrainConfig`).
        input_size: the ``(H, W)`` its clips are resized to.
        record: its ``eval.json`` (metrics, world, protocol), ``{}`` when absent.
        directory: the checkpoint folder it was read from (its ``embeddings.safetensors``, if
            any, are its shipped embeddings).
    """

    name: str
    model: nn.Module
    config: Any
    input_size: tuple[int, int]
    record: dict
    directory: Path | None = None

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
        directory=directory,
    )


def demo_models() -> dict[str, DemoModel]:
    """The shipped baseline and STRF models (tiny P3D-C, trained on the demo world)."""
    return {name: load_model(MODELS_DIR / name, name) for name in DEMO_MODEL_NAMES}


def world_spec() -> dict:
    """The demo world the models were evaluated on: ``{"preset", "seed", "size"}``.

    Raises:
        ValueError: the demo models' ``eval.json`` files record different worlds.
    """
    specs = {}
    for name in DEMO_MODEL_NAMES:
        world = json.loads((MODELS_DIR / name / "eval.json").read_text())["world"]
        specs[name] = {
            "preset": world["preset"],
            "seed": int(world["seed"]),
            "size": tuple(world["size"]),
        }
    if len({json.dumps(spec) for spec in specs.values()}) > 1:
        raise ValueError(f"the demo models' eval.json record different worlds: {specs}")
    return specs[DEMO_MODEL_NAMES[-1]]


def world_of(root: str | os.PathLike[str]) -> dict:
    """The ``{"preset", "seed", "size"}`` a synthetic world at ``root`` was generated with, as
    its own metadata records it.

    Raises:
        DatasetError: ``root`` is not a synthetic world.
    """
    generator = load_metadata(root)["generator"]
    return {
        "preset": generator["preset"],
        "seed": int(generator["seed"]),
        "size": tuple(generator["size"]),
    }


def _holds(root: Path, splits: Sequence[str]) -> bool:
    """Whether ``root`` is a synthetic world holding ``splits``."""
    return (root / META_NAME).is_file() and set(splits) <= set(drawn_splits(root))


def demo_world(
    root: str | os.PathLike[str] | None = None,
    *,
    splits: Sequence[str] = ("test",),
    progress: bool = False,
    workers: int = 1,
) -> Path:
    """The demo world's MARS tree, generated from its seed if absent.

    Args:
        root: where it is or goes. Default: the cache, as ``strf benchmark`` puts it
            (``synth/<preset>-seed<seed>-<H>x<W>``); the test split alone goes to a folder of
            its own (the same name with ``-test``), and the whole world, when there, serves too.
        splits: ``("test",)`` (query and gallery: what the dashboard and evaluation read) or
            ``("train", "test")`` (the whole world, to train on).
        progress: show a progress bar while generating.
        workers: generator processes. One by default: the dashboard (a threaded server) and
            Jupyter kernels call this from threads, and forking a pool there hung the
            dashboard's first start; give more only from a plain single-threaded script.
    """
    spec = world_spec()
    height, width = spec["size"]
    splits = ("train", "test") if "train" in splits else ("test",)
    if root is None:
        whole = cache_root() / "synth" / f"{spec['preset']}-seed{spec['seed']}-{height}x{width}"
        if _holds(whole, splits):
            return whole
        root = whole if "train" in splits else whole.with_name(whole.name + "-test")
    root = Path(root)
    if not _holds(root, splits):
        generate(
            root,
            preset=spec["preset"],
            seed=spec["seed"],
            size=(height, width),
            workers=workers,
            overwrite=root.exists(),
            progress=progress,
            splits=splits,
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


def demo_tracklets(data: ReIDDataset) -> list[Tracklet]:
    """The test tracklets the dashboard embeds: the gallery, then the queries not in it (none
    under the AP3D protocol, whose gallery holds the queries). What the shipped embeddings
    cover."""
    gallery = set(data.gallery)
    return [*data.gallery, *(t for t in data.query if t not in gallery)]


def model_gallery(
    tracklets: Sequence[Any],
    model: DemoModel,
    cache_dir: str | os.PathLike[str] | None = None,
    *,
    world_root: str | os.PathLike[str] | None = None,
) -> Gallery:
    """``tracklets`` as a gallery embedded with ``model``'s own evaluation settings (frame
    size, dense or clip features), its embeddings cached on disk (default: the cache's
    ``embeddings/``, where the dashboard looks).

    Args:
        world_root: the synthetic world the tracklets come from: the model's shipped
            embeddings, if it has any and they fit, are installed (:func:`install_shipped`).
    """
    cache_dir = cache_root() / "embeddings" if cache_dir is None else cache_dir
    gallery = Gallery(tracklets, cache_dir=cache_dir, **_extraction(model))
    if world_root is not None:
        install_shipped(gallery, model, world_root)
    return gallery


def _extraction(model: DemoModel) -> dict[str, Any]:
    """The model's own evaluation settings, as :class:`Gallery` takes them."""
    data = model.config.data
    return {
        "size": model.input_size,
        "mode": data.test_mode,
        "chunk_len": data.chunk_len,
        "seq_len": data.seq_len,
    }


def install_shipped(
    gallery: Gallery, model: DemoModel, world_root: str | os.PathLike[str]
) -> BundleCheck | None:
    """Serve ``gallery`` from ``model``'s shipped embeddings (``<its folder>/embeddings.
    safetensors``) when they fit the model, the world at ``world_root`` and the gallery.

    Returns:
        What happened (a refusal's reason is also logged), ``None`` when the model ships none.
    """
    path = None if model.directory is None else model.directory / BUNDLE_NAME
    if path is None or not path.is_file():
        return None
    try:
        world = world_of(world_root)
    except DatasetError as err:
        logger.warning("shipped embeddings %s not used: %s", path, err)
        return BundleCheck(path, 0, str(err))
    return install_bundle(gallery, model.model, path, root=world_root, world=world)


def prepare_demo(
    *,
    workers: int | None = None,
    all_branch_sets: bool = False,
    progress: bool = False,
    log: Callable[[str], None] = print,
) -> dict[str, float]:
    """Make what the dashboard's first page needs, once, from a plain process: the demo
    world's test split, and each demo model's gallery embeddings: the shipped ones when they
    fit, else embedded and cached on disk (all branches on; with ``all_branch_sets``, all 16
    branch sets of the STRF model, as the dashboard's toggles use them). Finished steps are
    read back, not redone.

    Args:
        workers: generator processes (default: every core). Safe here, in a command-line
            process; the dashboard itself generates with one (see :func:`demo_world`).

    Returns:
        Wall seconds of each step (``"world"``, ``"embeddings baseline"``,
        ``"embeddings strf"``).
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
        check = install_shipped(gallery, model, root)
        if check is not None and check.used:
            what = f"shipped embeddings, {check.branch_sets} branch set(s)"
        else:
            if check is not None:
                log(f"{name}: shipped embeddings not used: {check.reason}")
            if all_branch_sets and model.has_strf:
                gallery.precompute(model.model, progress=progress)
            else:
                gallery.features(model.model, progress=progress)
            what = "embedded"
        seconds[f"embeddings {name}"] = time.perf_counter() - started
        took = seconds[f"embeddings {name}"]
        log(f"{name}: {len(gallery)} gallery tracklets, {what} ({took:.1f} s)")
    return seconds


def write_demo_embeddings(
    names: Sequence[str] | None = None,
    *,
    workers: int | None = None,
    progress: bool = False,
    log: Callable[[str], None] = print,
) -> dict[str, Path]:
    """Embed the demo world's test tracklets (:func:`demo_tracklets`) with each demo model
    under every branch set and write its ``embeddings.safetensors`` beside its weights
    (atomically), then check that the file is accepted. For maintainers, after the models
    change (``strf demo --write-embeddings``).

    Args:
        names: the demo models (default: all of :data:`DEMO_MODEL_NAMES`).
        workers: generator processes for the world (default: every core).

    Returns:
        The written file of each model.

    Raises:
        ValueError: an unknown model name, or a written bundle that is then refused.
    """
    names = list(DEMO_MODEL_NAMES if names is None else names)
    unknown = [n for n in names if n not in DEMO_MODEL_NAMES]
    if unknown or not names:
        raise ValueError(
            f"unknown demo model(s) {', '.join(map(repr, unknown)) or '(none given)'}; the "
            f"shipped ones are {', '.join(DEMO_MODEL_NAMES)} (in {MODELS_DIR})"
        )
    root = demo_world(workers=workers or os.cpu_count() or 1, progress=progress)
    world = world_of(root)
    tracklets = demo_tracklets(demo_dataset(root))
    written = {}
    for name in names:
        model = load_model(MODELS_DIR / name, name)
        started = time.perf_counter()
        gallery = Gallery(tracklets, **_extraction(model))  # in memory only
        path = write_bundle(
            MODELS_DIR / name / BUNDLE_NAME,
            model.model,
            gallery,
            root=root,
            world=world,
            progress=progress,
        )
        check = install_shipped(Gallery(tracklets, **_extraction(model)), model, root)
        if check is None or not check.used:
            raise ValueError(f"{path} was written but is refused: {check and check.reason}")
        size = path.stat().st_size / 2**20
        took = time.perf_counter() - started
        log(f"{name}: {path} ({check.branch_sets} branch sets, {size:.1f} MB, {took:.0f} s)")
        written[name] = path
    return written
