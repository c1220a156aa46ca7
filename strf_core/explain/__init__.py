"""Explanations the dashboard and notebooks show: per-frame Grad-CAM, FAM masks, contributions,
and the attention of the other units (non-local, APM) in one form (:func:`unit_attention`).

Everything here reads the model from outside (forward hooks by module name) and honours the
branch switches of :func:`strf_core.active_branches`, so maps can be recomputed with any subset
of STRF branches. Calls are safe on a model shared between threads (see
:mod:`strf_core.explain.isolation`).
"""

from strf_core.explain.attention import (
    AttentionMap,
    PositionAttention,
    attention_units,
    position_attention,
    unit_attention,
)
from strf_core.explain.contributions import BranchContribution, branch_contributions
from strf_core.explain.fam import (
    MaskStats,
    UnitInspection,
    cell_at,
    fam_masks,
    inspect_unit,
    mask_stats,
    mask_view,
    relative_log2,
    relative_weights,
    strf_unit,
)
from strf_core.explain.frames import evidence_frames, frame_evidence
from strf_core.explain.gradcam import (
    FrameGradCam,
    FrameMaps,
    chosen_similarity_gradcam,
    identity_gradcam,
    normalize_maps,
    prepare_clip,
    similarity_gradcam,
)
from strf_core.explain.hooks import capture_inputs, get_module
from strf_core.explain.isolation import isolated, model_lock, shared_weight_copy
from strf_core.explain.overlay import COLORMAPS, as_images, colorize, overlay
from strf_core.explain.steps import FamSteps, UnitSteps, fam_steps, unit_steps

__all__ = [
    "COLORMAPS",
    "AttentionMap",
    "BranchContribution",
    "FamSteps",
    "FrameGradCam",
    "FrameMaps",
    "MaskStats",
    "PositionAttention",
    "UnitInspection",
    "UnitSteps",
    "as_images",
    "attention_units",
    "branch_contributions",
    "capture_inputs",
    "cell_at",
    "chosen_similarity_gradcam",
    "colorize",
    "evidence_frames",
    "fam_masks",
    "fam_steps",
    "frame_evidence",
    "get_module",
    "identity_gradcam",
    "inspect_unit",
    "isolated",
    "mask_stats",
    "mask_view",
    "model_lock",
    "normalize_maps",
    "overlay",
    "position_attention",
    "prepare_clip",
    "relative_log2",
    "relative_weights",
    "shared_weight_copy",
    "similarity_gradcam",
    "strf_unit",
    "unit_attention",
    "unit_steps",
]
