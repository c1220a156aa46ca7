"""Ground-truth masks of the synthetic world line up with the frames they describe."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from PIL import Image
from scipy.ndimage import binary_dilation, binary_erosion

from strf_core.data.datasets import build_dataset
from strf_core.data.datasets.mars import SPLIT_DIRS, pid_folder
from strf_core.data.writers.mars import layout_split
from strf_core.synth import PRESETS, generate, plan_world
from strf_core.synth.ground_truth import (
    GroundTruthError,
    load_masks,
    mask_path,
    write_masks,
)
from strf_core.synth.render import TrackletRenderer

SIZE = (128, 64)
EIGHT = np.ones((3, 3), bool)  # 8-connected neighbourhood


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("gt") / "mars"
    generate(root, preset="tiny", seed=2, size=SIZE, workers=1, progress=False)
    return root


def _planned(root):
    """Every planned tracklet with its frame paths on disk, from the generator's own plan."""
    world = plan_world(PRESETS["tiny"], 2)
    for split in ("train", "test"):
        tracks = world.split(split)
        layout = layout_split([(t.pid, t.camera, t.spec.num_frames) for t in tracks])
        for tracklet, names in zip(tracks, layout.frame_names, strict=True):
            folder = root / SPLIT_DIRS[split] / pid_folder(tracklet.pid)
            yield tracklet, [folder / n for n in names]


def test_stored_masks_are_the_renderers_masks_for_every_tracklet(world):
    dataset = build_dataset("mars", world)
    by_first = {t.frames[0]: t for t in [*dataset.train, *dataset.query, *dataset.gallery]}
    checked = 0
    for tracklet, paths in _planned(world):
        renderer = TrackletRenderer(tracklet.spec, SIZE)
        stored = np.load(mask_path(world, paths[0]))
        assert tuple(stored["shape"]) == (len(paths), *SIZE)
        if str(paths[0]) in by_first:  # junk is dropped by the loader: read its file directly
            masks = load_masks(world, by_first[str(paths[0])])
            for t in range(len(paths)):
                frame = renderer.render(t, masks=True)
                assert np.array_equal(masks.person[t], frame.person_mask)
                expected = frame.occluder_mask
                if expected is None:
                    expected = np.zeros(SIZE, bool)
                assert np.array_equal(masks.occluder[t], expected)
            checked += 1
    assert checked == len(by_first)


def _pixels(image: Image.Image) -> np.ndarray:
    return np.asarray(image, np.int16)


def test_masks_cover_what_is_drawn_and_nothing_else(world):
    """Against the same frame drawn without the person (or without the occluder): pixels
    outside a mask (widened by the blur's reach) are untouched, pixels well inside it are not
    background-coloured."""
    occluded = person_frames = 0
    for tracklet, _ in _planned(world):
        spec = tracklet.spec
        if spec.appearance is None:
            continue
        # Each blur pass spreads paint by one pixel (8-connected); low-res cameras halve and
        # re-double the frame, which spreads it by up to two more.
        reach = spec.camera.blur + (2 if spec.camera.low_res else 0)
        full = TrackletRenderer(spec, SIZE)
        empty = TrackletRenderer(replace(spec, appearance=None, occluder=None), SIZE)
        for t in range(spec.num_frames):
            frame = full.render(t, masks=True)
            person = frame.person_mask
            occ = frame.occluder_mask if frame.occluder_mask is not None else np.zeros(SIZE, bool)
            diff = np.abs(_pixels(frame.image) - _pixels(empty.render(t).image)).max(axis=-1)
            outside = ~binary_dilation(person | occ, EIGHT, iterations=reach)
            assert not diff[outside].any(), f"{tracklet.pid} frame {t}: paint outside its masks"
            core = binary_erosion(person & ~occ, EIGHT, iterations=reach)
            if core.sum() >= 20:
                # The walker's own colours may touch the background's in a few pixels, not more.
                assert (diff[core] == 0).mean() < 0.05, f"{tracklet.pid} frame {t}"
                person_frames += 1
            if frame.occluder_mask is not None:
                bare = full.render(t, occluder=False).image
                occ_diff = np.abs(_pixels(frame.image) - _pixels(bare)).max(axis=-1)
                assert not occ_diff[~binary_dilation(occ, EIGHT, iterations=reach)].any()
                occluded += 1
    assert person_frames > 100 and occluded > 10


def test_written_jpeg_frames_show_the_person_where_the_masks_say(world):
    """On the files as written (JPEG): the frame departs from the empty scene inside the person
    mask far more than outside both masks."""
    inside, outside = [], []
    for tracklet, paths in _planned(world):
        if tracklet.spec.appearance is None:
            continue
        empty = TrackletRenderer(replace(tracklet.spec, appearance=None, occluder=None), SIZE)
        masks = np.load(mask_path(world, paths[0]))
        person = np.unpackbits(masks["person"], axis=-1, count=SIZE[1]).astype(bool)
        occ = np.unpackbits(masks["occluder"], axis=-1, count=SIZE[1]).astype(bool)
        for t, path in enumerate(paths):
            diff = np.abs(_pixels(Image.open(path)) - _pixels(empty.render(t).image)).mean(-1)
            core = binary_erosion(person[t] & ~occ[t], iterations=2)
            far = ~binary_dilation(person[t] | occ[t], iterations=8)
            inside.append(diff[core].mean() if core.any() else np.nan)
            outside.append(diff[far].mean())
    inside_mean, outside_mean = np.nanmean(inside), np.mean(outside)
    assert outside_mean < 5.0 and inside_mean > 8 * outside_mean, (inside_mean, outside_mean)


def test_worlds_without_masks_and_mismatched_masks_are_named(world, tmp_path):
    dataset = build_dataset("mars", world)
    query = dataset.query[0]
    with pytest.raises(GroundTruthError, match="generated before ground-truth masks"):
        load_masks(tmp_path, query)
    wrong = query._replace(frames=query.frames[:-1])
    with pytest.raises(GroundTruthError, match=r"holds \d+ frames but the tracklet"):
        load_masks(world, wrong)
    gone = query._replace(frames=(str(world / "bbox_test" / "0999" / "0999C1T0001F001.jpg"),))
    with pytest.raises(GroundTruthError, match=r"0999C1T0001\.npz is missing"):
        load_masks(world, gone)


def test_mask_files_are_byte_identical_for_equal_masks(tmp_path):
    rng = np.random.default_rng(0)
    person, occ = rng.random((3, 16, 13)) > 0.5, rng.random((3, 16, 13)) > 0.8
    write_masks(tmp_path / "a.npz", person, occ)
    write_masks(tmp_path / "b.npz", person, occ)
    assert (tmp_path / "a.npz").read_bytes() == (tmp_path / "b.npz").read_bytes()
    with pytest.raises(ValueError, match="two"):
        write_masks(tmp_path / "c.npz", person, occ[:2])
