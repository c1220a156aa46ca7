"""strf_core.plotting: the tutorials' frame strip."""

from __future__ import annotations

import pytest
import torch

pytest.importorskip("plotly")
from strf_core.plotting import frame_strip


def _clip(frames: int = 5) -> torch.Tensor:
    """A uint8 clip (3, T, 8, 4) whose frame t is filled with t."""
    return torch.arange(frames, dtype=torch.uint8).view(1, frames, 1, 1).expand(3, -1, 8, 4)


def _captions(fig) -> list[str]:
    return [a.text for a in sorted(fig.layout.annotations, key=lambda a: a.x)]


def test_a_clip_is_one_row_captioned_by_frame():
    fig = frame_strip(_clip(), "a clip")
    assert len(fig.data) == 5 and fig.layout.title.text == "a clip"
    assert _captions(fig) == [f"t={t}" for t in range(5)]
    assert len({a.y for a in fig.layout.annotations}) == 1  # one row
    assert fig.layout.height == 240


def test_both_layouts_give_the_same_figure():
    clip = _clip()
    images = clip.permute(1, 2, 3, 0)  # (T, H, W, 3), as overlay() returns
    a, b = frame_strip(clip, "x"), frame_strip(images, "x")
    assert [d.source for d in a.data] == [d.source for d in b.data]


def test_labels_max_frames_and_height():
    fig = frame_strip(_clip(), "x", ["a", "b", "c", "d", "e"], max_frames=3, height=250)
    assert _captions(fig) == ["a", "b", "c"] and fig.layout.height == 250
    with pytest.raises(ValueError, match="2 labels for 5 frames"):
        frame_strip(_clip(), "x", ["a", "b"])
