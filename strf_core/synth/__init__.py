"""The synthetic world: a procedural MARS-format dataset of walking people with built-in hard
cases (look-alikes told apart only by gait, occluders, misaligned boxes), for training, tests
and the demo (``strf synth``).

::

    specs.py      what is drawn: Appearance, Gait, CameraLook, Occluder, RenderSpec
    sample.py     random draws of those parts (looks, gaits, cameras, occluders)
    plan.py       WorldConfig, PRESETS, plan_world: every tracklet's spec, nothing drawn
    walker.py     an articulated walker posed by its gait, as shapes
    occluders.py  pole, bicycle, car, passer-by, as shapes
    scene.py      the cameras' backgrounds
    shapes.py     Shape, paint, paint_mask
    render.py     TrackletRenderer: the frames of one spec (scene, walker, occluder, optics)
    metadata.py   synthetic_meta.json: written beside the tree, read back (subsets, groups)
    generator.py  generate: plan, draw in parallel, write the MARS tree and the metadata
    occlude.py    draw one of the world's occluders into any clip (what-if occlusion; the one
                  module that needs torch, so imported on its own: strf_core.synth.occlude)
"""

from strf_core.synth.generator import SynthSummary, generate, parse_size
from strf_core.synth.metadata import META_NAME, load_metadata, lookalike_groups, subset_masks
from strf_core.synth.plan import (
    PRESETS,
    SUBSETS,
    SynthError,
    World,
    WorldConfig,
    plan_world,
    resolve_config,
)
from strf_core.synth.render import FrameRender, TrackletRenderer, render_tracklet
from strf_core.synth.sample import GAIT_RANGES, lookalike_gaits
from strf_core.synth.specs import (
    OCCLUDER_KINDS,
    Appearance,
    CameraLook,
    Gait,
    Occluder,
    RenderSpec,
)

__all__ = [
    "GAIT_RANGES",
    "META_NAME",
    "OCCLUDER_KINDS",
    "PRESETS",
    "SUBSETS",
    "Appearance",
    "CameraLook",
    "FrameRender",
    "Gait",
    "Occluder",
    "RenderSpec",
    "SynthError",
    "SynthSummary",
    "TrackletRenderer",
    "World",
    "WorldConfig",
    "generate",
    "load_metadata",
    "lookalike_gaits",
    "lookalike_groups",
    "parse_size",
    "plan_world",
    "render_tracklet",
    "resolve_config",
    "subset_masks",
]
