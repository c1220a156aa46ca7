"""Figures the tutorials share (plotly, from the ``notebooks`` extra or ``requirements.txt``).

Nothing in the package imports this module, so ``strf_core`` itself does not need plotly.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.express as px
import plotly.graph_objects as go
from torch import Tensor

from strf_core.explain import as_images


def frame_strip(
    frames: Tensor,
    title: str,
    labels: Sequence[str] | None = None,
    *,
    max_frames: int | None = None,
    height: int = 240,
) -> go.Figure:
    """Frames as one row of images, each captioned ``t=0``, ``t=1``, ... or by ``labels``.

    Args:
        frames: uint8 frames, a clip as the loaders give it or :func:`~strf_core.explain.overlay`'s
            images.
        title: the figure's title.
        labels: one caption per frame shown.
        max_frames: show only the first ``max_frames`` frames (default: all).
        height: the figure's height in pixels.

    Returns:
        The figure (``frame_strip(...).show()`` in a notebook).

    Shape:
        frames: ``(3, T, H, W)`` or ``(T, H, W, 3)``.
    """
    images = np.stack(as_images(frames)[:max_frames])  # (T, H, W, 3)
    captions = [f"t={t}" for t in range(len(images))] if labels is None else list(labels)
    if len(captions) < len(images):
        raise ValueError(f"{len(captions)} labels for {len(images)} frames")
    fig = px.imshow(images, facet_col=0, binary_string=True)
    # plotly captions each facet "facet_col=<index>"; replace that with the frame's label
    fig.for_each_annotation(lambda a: a.update(text=captions[int(a.text.split("=")[-1])]))
    fig.update_xaxes(showticklabels=False).update_yaxes(showticklabels=False)
    fig.update_layout(title=title, height=height, margin={"l": 10, "r": 10, "t": 60, "b": 10})
    return fig
