"""The FAM step by step (strf_core.explain.steps) against the STRF unit's own forward pass."""

from __future__ import annotations

import pytest
import torch

from strf_core import STRF, active_branches
from strf_core.explain import fam_steps, unit_steps


def _unit(**kwargs) -> STRF:
    torch.manual_seed(0)
    unit = STRF(32, **kwargs).eval()
    if unit.gamma is not None:
        with torch.no_grad():
            unit.gamma.fill_(0.7)  # gamma = 0 (the init) would hide the branches entirely
    return unit


@pytest.mark.parametrize("similarity", ["cosine", "dot"])
@pytest.mark.parametrize("pool", ["max", "avg"])
def test_steps_reproduce_each_branch(similarity, pool):
    unit = _unit(similarity=similarity, pool=pool)
    x = torch.randn(2, 32, 4, 6, 3)
    for name, branch in unit.branches.items():
        steps = fam_steps(branch, x)
        with torch.no_grad():
            expected = branch(x)
        torch.testing.assert_close(steps.output, expected, atol=1e-5, rtol=1e-5)
        # shapes at every step: C/n = 2 channels, HW = 18 positions, T = 4 frames
        assert steps.reduced.shape == steps.pooled.shape == (2, 2, 4, 6, 3)
        assert steps.keys.shape == (2, 8, 18)
        assert steps.logits.shape == steps.mask.shape == (2, 18, 18)
        assert steps.frame_logits.shape == (2, 4, 18, 18)
        assert steps.values.shape == (2, 32 * 4, 18)
        torch.testing.assert_close(steps.mask.sum(dim=1), torch.ones(2, 18))
        torch.testing.assert_close(steps.frame_logits.sum(dim=1), steps.logits)
        torch.testing.assert_close(steps.mask, branch.mask(x))
        assert steps.similarity == similarity and steps.kappa == 4.0
        expected_kernel = (3, 1, 1) if name == "t_static" else (1, 3, 3)
        if name in ("t_dynamic", "s_fine"):
            expected_kernel = (1, 1, 1)
        assert steps.pool_kernel == expected_kernel


def test_overrides_change_the_mask_like_a_rebuilt_branch():
    unit = _unit()
    x = torch.randn(1, 32, 4, 6, 3)
    rebuilt = STRF(32, r_coarse=5, kappa=10.0, similarity="dot").eval()
    rebuilt.load_state_dict(unit.state_dict())
    for name, kernel in (("t_static", (5, 1, 1)), ("s_coarse", (1, 5, 5))):
        steps = fam_steps(unit.branches[name], x, kappa=10.0, similarity="dot", pool_kernel=kernel)
        torch.testing.assert_close(steps.mask, rebuilt.branches[name].mask(x))
        assert steps.pool_kernel == kernel
    cosine = fam_steps(unit.branches["s_coarse"], x).mask
    assert not torch.allclose(cosine, fam_steps(unit.branches["s_coarse"], x, kappa=10.0).mask)
    with pytest.raises(ValueError, match="odd"):
        fam_steps(unit.branches["s_coarse"], x, pool_kernel=(1, 2, 2))
    with pytest.raises(ValueError, match="similarity"):
        fam_steps(unit.branches["s_coarse"], x, similarity="euclid")


@pytest.mark.parametrize("integration", ["t->s", "s->t", "parallel"])
@pytest.mark.parametrize(
    "active", [None, ("s_fine", "s_coarse"), ("t_static",), ("t_dynamic", "s_coarse"), ()]
)
def test_unit_steps_reproduce_the_unit(integration, active):
    unit = _unit(integration=integration)
    x = torch.randn(2, 32, 4, 6, 3)
    if active is None:
        steps = unit_steps(unit, x)
        with torch.no_grad():
            expected = unit(x)
    else:
        with active_branches(*active), torch.no_grad():
            steps = unit_steps(unit, x)
            expected = unit(x)
    torch.testing.assert_close(steps.output, expected, atol=1e-5, rtol=1e-5)
    ran = set(unit.branches) if active is None else set(active)
    assert set(steps.branches) == ran
    if not ran:
        assert steps.temporal is None and steps.spatial is None
        torch.testing.assert_close(steps.output, x)


def test_unit_steps_without_residual():
    unit = _unit(residual=False)
    x = torch.randn(1, 32, 4, 6, 3)
    steps = unit_steps(unit, x)
    with torch.no_grad():
        torch.testing.assert_close(steps.output, unit(x), atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(steps.output, steps.combined)
    # t->s: the spatial branches attend over the temporal factorization's output
    torch.testing.assert_close(
        steps.branches["s_fine"].values.reshape(steps.temporal.shape), steps.temporal
    )


@pytest.mark.parametrize("integration", ["t->s", "parallel"])
def test_steps_of_a_unit_without_fam(integration):
    """fam=False (Fig. 6a, SPEC section 5): keys are the input itself, no H and no G. The steps
    rebuild the unit and its one mask, M = softmax(kappa norm(f)^T norm(f)), computed here
    from the input alone."""
    unit = _unit(fam=False, integration=integration, kappa=3.0)
    x = torch.randn(2, 32, 4, 6, 3)
    keys = torch.nn.functional.normalize(x.reshape(2, 32 * 4, 18), dim=1)  # (N, C*T, HW)
    expected_mask = torch.softmax(3.0 * keys.transpose(1, 2) @ keys, dim=1)
    for branch in unit.branches.values():
        steps = fam_steps(branch, x)
        assert not steps.fam and steps.pool_kernel == (1, 1, 1)
        torch.testing.assert_close(steps.reduced, x)  # no reduction: C keys per frame
        torch.testing.assert_close(steps.mask, expected_mask)
        with torch.no_grad():
            torch.testing.assert_close(steps.output, branch(x), atol=1e-5, rtol=1e-5)
    steps = unit_steps(unit, x)
    with torch.no_grad():
        torch.testing.assert_close(steps.output, unit(x), atol=1e-5, rtol=1e-5)
    # No pooling to resize: a kernel that would pool is refused, not applied to the input.
    with pytest.raises(ValueError, match="without FAM"):
        fam_steps(unit.branches["s_coarse"], x, pool_kernel=(1, 3, 3))
    assert fam_steps(unit.branches["s_coarse"], x, pool_kernel=(1, 1, 1)).fam is False
    assert fam_steps(_unit().branches["s_coarse"], x).fam is True
