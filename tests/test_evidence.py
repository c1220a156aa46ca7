"""Shares of attribution mass on person, occluder and background (the Fig. 5 measure)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from strf_core.explain.evidence import evidence_shares
from strf_core.synth.ground_truth import FrameMasks


def _masks():
    """Two 4x4 frames: the person fills the left half; in frame 1 an occluder covers the
    top-left quarter (over the person) and the top-right quarter (over the background)."""
    person = np.zeros((2, 4, 4), bool)
    person[:, :, :2] = True
    occluder = np.zeros((2, 4, 4), bool)
    occluder[1, :2, :] = True
    return FrameMasks(person, occluder)


def test_mass_on_one_pixel_goes_to_that_pixels_region_and_occluder_wins_over_person():
    maps = torch.zeros(2, 4, 4)
    maps[0, 0, 0] = 2.0  # person
    maps[1, 0, 0] = 1.0  # person pixel under the occluder: occluder
    maps[1, 3, 3] = 3.0  # background
    shares = evidence_shares(maps, _masks())
    np.testing.assert_allclose(shares.frames[0], [1.0, 0.0, 0.0])
    np.testing.assert_allclose(shares.frames[1], [0.0, 0.25, 0.75])
    np.testing.assert_allclose(shares.mass, [2.0, 4.0])
    # Over both frames the mass weighs: (2 person, 1 occluder, 3 background) of 6.
    np.testing.assert_allclose(shares.total(), [2 / 6, 1 / 6, 3 / 6])
    np.testing.assert_allclose(shares.total(np.array([False, True])), [0.0, 0.25, 0.75])


def test_a_uniform_map_scores_the_pixel_shares():
    shares = evidence_shares(torch.ones(2, 4, 4), _masks())
    np.testing.assert_allclose(shares.frames, shares.area)
    np.testing.assert_allclose(shares.area[0], [0.5, 0.0, 0.5])
    np.testing.assert_allclose(shares.area[1], [0.25, 0.5, 0.25])


def test_layer_resolution_maps_are_upsampled_and_empty_frames_are_left_out():
    maps = torch.zeros(2, 2, 2)
    maps[0, :, 0] = 1.0  # the left column of a 2x2 map: the person's half after upsampling
    shares = evidence_shares(maps, _masks())
    assert shares.frames[0, 0] > 0.85  # bilinear blurs a little across the middle
    assert np.isnan(shares.frames[1]).all() and shares.mass[1] == 0
    np.testing.assert_allclose(shares.total(), shares.frames[0])
    assert np.isnan(shares.total(np.array([False, True]))).all()


def test_bad_maps_are_refused():
    with pytest.raises(ValueError, match="do not fit masks of 2 frames"):
        evidence_shares(torch.ones(3, 4, 4), _masks())
    with pytest.raises(ValueError, match="non-negative"):
        evidence_shares(-torch.ones(2, 4, 4), _masks())
