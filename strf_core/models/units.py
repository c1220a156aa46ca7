"""Attention units by name: what a config's ``model.attn_layer`` builds, and where.

============  ==============================  =====================================
name          in the 3D blocks (attn_layer)   after blocks 1, 3, ... (after_layer)
============  ==============================  =====================================
``strf``      :class:`~strf_core.STRF`        -
``nonlocal``  -                               :class:`~strf_core.modules.NonLocalBlock3D`
``apm``       :class:`~strf_core.modules.APM`  -
``apm_nl``    :class:`~strf_core.modules.APM`  :class:`~strf_core.modules.NonLocalBlock3D`
``none``      -                               -
============  ==============================  =====================================

Each is placed where its own paper places it, in the stages ``attn_stages`` (default 2 and 3):
``apm_nl`` on a P3D-C ResNet-50 is AP3D's ``AP3DNLResNet50``, ``apm`` its ``AP3DResNet50``,
``nonlocal`` the paper's "P3D-C + NL" (Sec. 3.3). ``model.strf: true`` is the old spelling of
``model.attn_layer: strf``; :func:`unit_name` is the one place where the two meet.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any, NamedTuple

from strf_core.models.interface import AttnLayer
from strf_core.modules import APM, STRF, NonLocalBlock3D

UNIT_NAMES = ("strf", "nonlocal", "apm", "apm_nl", "none")


class UnitLayers(NamedTuple):
    """The two factories a backbone takes (:class:`~strf_core.models.ResNet3D`)."""

    attn_layer: AttnLayer | None
    after_layer: AttnLayer | None


def unit_name(strf: bool, attn_layer: str | None) -> str:
    """The unit a model config asks for: ``attn_layer`` when given (``strf`` is then not
    read), else ``strf``, the old spelling (``True`` is ``"strf"``, ``False`` is ``"none"``).

    Raises:
        ValueError: an unknown name.
    """
    if attn_layer is None:
        return "strf" if strf else "none"
    if attn_layer not in UNIT_NAMES:
        raise ValueError(f"attn_layer must be one of {UNIT_NAMES}, got {attn_layer!r}")
    return attn_layer


def strf_layer(**strf_kwargs: Any) -> AttnLayer:
    """The :data:`AttnLayer` that builds an STRF unit with ``strf_kwargs`` (none: the defaults)."""
    return functools.partial(STRF, **strf_kwargs) if strf_kwargs else STRF


def unit_layers(name: str, strf_kwargs: Mapping[str, Any] | None = None) -> UnitLayers:
    """The factories of the unit called ``name`` (see the module's table).

    Args:
        name: one of :data:`UNIT_NAMES`.
        strf_kwargs: keyword arguments of every STRF unit (``strf`` only).

    Raises:
        ValueError: an unknown name, or ``strf_kwargs`` for a unit that is not STRF.
    """
    if name not in UNIT_NAMES:
        raise ValueError(f"attn_layer must be one of {UNIT_NAMES}, got {name!r}")
    if strf_kwargs and name != "strf":
        raise ValueError(f"strf_kwargs {dict(strf_kwargs)} given for attn_layer {name!r}")
    return UnitLayers(
        attn_layer=strf_layer(**(strf_kwargs or {}))
        if name == "strf"
        else (APM if name in ("apm", "apm_nl") else None),
        after_layer=NonLocalBlock3D if name in ("nonlocal", "apm_nl") else None,
    )
