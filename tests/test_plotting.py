"""strf_core.plotting: the tutorials' frame strip, mask panels and unit diagram."""

from __future__ import annotations

import base64
import io

import numpy as np
import pytest
import torch
from PIL import Image

pytest.importorskip("plotly")
from strf_core import STRF
from strf_core.plotting import clip_animation, frame_strip, mask_panels, strf_unit_figure


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


def _texts(fig) -> list[str]:
    return [a.text for a in fig.layout.annotations]


def test_the_unit_figure_reads_every_label_from_the_unit():
    unit = STRF(32, reduction=8, kappa=2.0, r_coarse=5, pool="avg", integration="s->t")
    unit.branches.pop("s_fine")
    text = " ".join(_texts(strf_unit_figure(unit)))
    assert "s_fine" not in text and "s → t" in text
    assert "H: 32→4, G: avg 5x1x1" in text  # t_static: pooled over 5 frames
    assert "G: avg 1x5x5" in text and "κ=2" in text
    boxes = {a.text.split("<br>")[0]: a.x for a in strf_unit_figure(unit).layout.annotations}
    # s->t: the spatial branch is drawn before (left of) the temporal ones
    assert boxes["<b>s_coarse</b>"] < boxes["<b>t_dynamic</b>"] == boxes["<b>t_static</b>"]


def test_the_unit_figure_shows_gamma_or_no_residual():
    unit = STRF(16, reduction=4)
    with torch.no_grad():
        unit.gamma.fill_(0.25)
    assert any("γ = 0.25" in t for t in _texts(strf_unit_figure(unit)))
    plain = " ".join(_texts(strf_unit_figure(STRF(16, reduction=4, residual=False))))
    assert "no residual" in plain and "γ" not in plain


def test_the_unit_figure_of_a_unit_without_fam():
    """fam=False has no reduction H and no pooling G: the figure says so instead of failing."""
    unit = STRF(32, reduction=8, fam=False)
    fig = strf_unit_figure(unit)
    text = " ".join(_texts(fig))
    assert text.count("no H, no G: T = f") == 4 and "H: 32→" not in text
    assert "without FAM" in fig.layout.title.text
    assert "without FAM" not in strf_unit_figure(STRF(32, reduction=8)).layout.title.text


def test_mask_panels_show_where_each_cell_draws_from():
    h, w = 3, 2
    source = torch.tensor([5, 0, 1, 2, 3, 4])  # column j draws everything from position source[j]
    mask = torch.zeros(h * w, h * w)
    mask[source, torch.arange(h * w)] = 1.0
    cells = {"a": (0, 0), "b": (2, 1)}
    fig = mask_panels({"m": mask, "uniform": torch.full_like(mask, 1 / 6)}, (h, w), cells, title="")
    assert len(fig.data) == 4
    for trace, (row, col) in zip(fig.data[:2], cells.values(), strict=True):
        z = torch.tensor(trace.z)
        assert z.sum() == 1 and z.flatten().argmax() == source[row * w + col]
    assert torch.allclose(torch.tensor(fig.data[2].z), torch.full((h, w), 1 / 6))
    outlined = [(s.x0 + 0.5, s.y0 + 0.5) for s in fig.layout.shapes]
    assert outlined == [(0, 0), (1, 2)] * 2  # (x = col, y = row) of each queried cell


def test_mask_panels_name_a_bad_mask_or_cell():
    mask = torch.eye(6)
    with pytest.raises(ValueError, match="mask 'm' \\(6, 6\\) does not fit a 4x2 grid"):
        mask_panels({"m": mask}, (4, 2), {"a": (0, 0)}, title="")
    with pytest.raises(ValueError, match="cell 'a' \\(3, 0\\) lies outside the 3x2 grid"):
        mask_panels({"m": mask}, (3, 2), {"a": (3, 0)}, title="")


def _pixel(source: str) -> int:
    """The top-left red value of a plotly image trace's PNG data URI."""
    png = base64.b64decode(source.split(",", 1)[1])
    return int(np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))[0, 0, 0])


def test_clip_animation_plays_clips_side_by_side_and_loops_the_shorter():
    long, short = _clip(5), _clip(3) * 10  # frame t of each is filled with t (x 10)
    fig = clip_animation({"long": long, "short": short}, "gait", fps=4)
    assert len(fig.frames) == 5  # one step per frame of the longest clip
    assert sorted(a.text for a in fig.layout.annotations) == ["long", "short"]
    for step, frame in enumerate(fig.frames):
        first, second = (_pixel(trace.source) for trace in frame.data)
        assert first == step and second == 10 * (step % 3), step  # the short clip loops
    play = fig.layout.updatemenus[0].buttons[0]
    assert play.args[1]["frame"]["duration"] == 250  # 4 frames per second
    assert "long: 5, short: 3" in fig.layout.title.text


def test_clip_animation_names_bad_input():
    with pytest.raises(ValueError, match="one frame size"):
        clip_animation({"a": _clip(), "b": _clip()[:, :, :4]}, "x")
    with pytest.raises(ValueError, match="fps > 0"):
        clip_animation({"a": _clip()}, "x", fps=0)


def test_mask_panels_over_a_frame_put_each_cell_on_its_pixels():
    h, w = 2, 2
    mask = torch.full((h * w, h * w), 0.25)
    frame = _clip(1)[:, 0]  # (3, 8, 4): cells of 4 x 2 pixels
    fig = mask_panels({"m": mask}, (h, w), {"c": (1, 0)}, title="", frame=frame, opacity=0.5)
    image, heatmap = fig.data
    assert image.type == "image" and heatmap.type == "heatmap" and heatmap.opacity == 0.5
    # cell centres: column c at pixel 2c + 0.5, row r at pixel 4r + 1.5
    assert (heatmap.x0, heatmap.dx, heatmap.y0, heatmap.dy) == (0.5, 2.0, 1.5, 4.0)
    box = fig.layout.shapes[0]  # cell (1, 0): rows 4-7, columns 0-1 of the pixels
    assert (box.x0, box.x1, box.y0, box.y1) == (-0.5, 1.5, 3.5, 7.5)
    assert fig.layout.coloraxis.colorbar.title.text == "weight"
