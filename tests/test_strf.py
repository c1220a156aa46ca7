"""The STRF unit against SPEC section 1: hand-computed branches, paths, switches, numerics."""

from __future__ import annotations

import threading

import pytest
import torch
import torch.nn.functional as F

from strf_core import BRANCH_NAMES, STRF, active_branches
from strf_core.modules import attention_mask, factorized_attention


def _clip(n=2, c=32, t=4, h=6, w=5, seed=0):
    return torch.randn(n, c, t, h, w, generator=torch.Generator().manual_seed(seed))


def _unit(seed=0, **kwargs) -> STRF:
    torch.manual_seed(seed)
    unit = STRF(32, **kwargs)
    if unit.gamma is not None:
        torch.nn.init.constant_(unit.gamma, 0.7)
    return unit.eval()


def _max_pool_by_hand(h: torch.Tensor, kernel: tuple[int, int, int]) -> torch.Tensor:
    """Stride-1 'same' max pooling as a max over shifted copies of a -inf padded tensor."""
    kt, kh, kw = kernel
    t, hh, ww = h.shape[2:]
    padded = F.pad(h, (kw // 2,) * 2 + (kh // 2,) * 2 + (kt // 2,) * 2, value=float("-inf"))
    shifts = [
        padded[:, :, a : a + t, b : b + hh, d : d + ww]
        for a in range(kt)
        for b in range(kh)
        for d in range(kw)
    ]
    return torch.stack(shifts).amax(0)


@pytest.mark.parametrize("similarity", ["cosine", "dot"])
@pytest.mark.parametrize(
    ("branch", "kernel"),
    [("s_coarse", (1, 3, 3)), ("t_static", (3, 1, 1)), ("s_fine", (1, 1, 1))],
)
def test_single_branch_matches_hand_computation(branch, kernel, similarity):
    # kappa 2.5, not the default 4: a unit that ignored its kappa would fail here.
    unit = _unit(branches=(branch,), residual=False, similarity=similarity, kappa=2.5)
    x = _clip() * 0.3
    weight = unit.branches[branch].reduce.weight[:, :, 0, 0, 0]  # (C/n, C)
    reduced = torch.einsum("oc,ncthw->nothw", weight, x)  # H_dk
    pooled = _max_pool_by_hand(reduced, kernel)  # G_dk
    n, _, _, h, w = x.shape
    keys = pooled.reshape(n, -1, h * w)  # (N, C/n*T, HW)
    if similarity == "cosine":
        keys = keys / keys.norm(dim=1, keepdim=True)
    logits = 2.5 * torch.einsum("ndi,ndj->nij", keys, keys)  # C_dk = kappa T^T T
    mask = torch.exp(logits - logits.amax(dim=1, keepdim=True))
    mask = mask / mask.sum(dim=1, keepdim=True)  # softmax over source positions i
    f_hat = x.reshape(n, -1, h * w)  # the un-reduced input
    expected = torch.einsum("nci,nij->ncj", f_hat, mask).reshape(x.shape)
    with torch.no_grad():
        torch.testing.assert_close(unit(x), expected, rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(unit.branches[branch].mask(x), mask, rtol=1e-5, atol=1e-6)


def test_mask_columns_are_distributions_over_source_positions():
    unit = _unit()
    x = _clip()
    for branch in unit.branches.values():
        mask = branch.mask(x)  # (N, HW, HW)
        assert mask.shape == (2, 30, 30)
        assert (mask >= 0).all()
        torch.testing.assert_close(mask.sum(dim=1), torch.ones(2, 30))
        # Not the row-wise reading: rows do not sum to one in general.
        assert not torch.allclose(mask.sum(dim=2), torch.ones(2, 30), atol=1e-3)


def test_output_is_convex_combination_of_input_positions():
    unit = _unit(branches=("s_coarse",), residual=False)
    x = _clip().abs()  # positive input: each output lies within the range of its inputs
    with torch.no_grad():
        out = unit(x).reshape(2, -1, 30)
    f_hat = x.reshape(2, -1, 30)
    assert (out <= f_hat.amax(dim=2, keepdim=True) + 1e-5).all()
    assert (out >= f_hat.amin(dim=2, keepdim=True) - 1e-5).all()


@pytest.mark.parametrize("similarity", ["cosine", "dot"])
@pytest.mark.parametrize("shape", [(2, 32, 4, 6, 5), (1, 32, 8, 16, 8)])
def test_fused_and_explicit_paths_agree_forward_and_backward(similarity, shape):
    x = torch.randn(*shape, generator=torch.Generator().manual_seed(1)) * 0.2
    outs, grads = [], []
    for attention in ("fused", "explicit"):
        unit = _unit(similarity=similarity, attention=attention)
        xi = x.clone().requires_grad_()
        out = unit(xi)
        out.pow(2).sum().backward()
        outs.append(out.detach())
        grads.append((xi.grad, unit.branches["s_coarse"].reduce.weight.grad))
    torch.testing.assert_close(outs[0], outs[1], rtol=1e-5, atol=1e-5)
    for g_fused, g_explicit in zip(*grads, strict=True):
        torch.testing.assert_close(g_fused, g_explicit, rtol=1e-4, atol=1e-5)


def test_factorized_attention_is_sdpa_with_scale_kappa():
    keys = F.normalize(torch.randn(3, 8, 20), dim=1)
    values = torch.randn(3, 40, 20)
    for kappa in (4.0, 2.5):
        out = factorized_attention(keys, values, kappa=kappa, fused=False)
        by_mask = values @ attention_mask(keys, kappa=kappa)
        torch.testing.assert_close(out, by_mask)
        fused = factorized_attention(keys, values, kappa=kappa, fused=True)
        torch.testing.assert_close(fused, by_mask, rtol=1e-5, atol=1e-5)
    logits = 2.5 * keys.transpose(1, 2) @ keys  # (3, 20, 20): kappa T^T T
    torch.testing.assert_close(attention_mask(keys, kappa=2.5), logits.softmax(dim=1))
    with pytest.raises(ValueError, match="share batch and position"):
        factorized_attention(keys, values[:, :, :10], kappa=4.0)


def test_zero_gamma_and_no_active_branch_are_identity():
    x = _clip()
    with torch.no_grad():
        fresh = STRF(32)  # gamma initialised to zero
        assert fresh.gamma.item() == 0.0
        assert torch.equal(fresh(x), x)
        unit = _unit()
        assert not torch.allclose(unit(x), x)
        with active_branches():
            assert torch.equal(unit(x), x)
        literal = _unit(residual=False)
        with active_branches():
            assert torch.equal(literal(x), x)


@pytest.mark.parametrize("residual", [True, False])
def test_switched_off_factorization_is_skipped_in_cascade_and_adds_nothing_in_parallel(residual):
    x = _clip()
    full = {i: _unit(integration=i, residual=residual) for i in ("t->s", "s->t", "parallel")}
    spatial_only = _unit(integration="t->s", residual=residual, branches=("s_fine", "s_coarse"))
    spatial_only.load_state_dict(full["t->s"].state_dict(), strict=False)
    with torch.no_grad():
        expected = spatial_only(x)
        for unit in full.values():
            with active_branches("s_fine", "s_coarse"):
                torch.testing.assert_close(unit(x), expected)
        # One temporal branch off: the other still runs, the switch is not all-or-nothing.
        with active_branches("t_static", "s_fine", "s_coarse"):
            assert not torch.allclose(full["t->s"](x), expected)


def test_integration_orders_follow_eq_8_and_differ():
    x = _clip()
    units = {i: _unit(integration=i, residual=False) for i in ("t->s", "s->t", "parallel")}
    b = units["t->s"].branches
    with torch.no_grad():

        def temporal(f):
            return b["t_dynamic"](f) + b["t_static"](f)

        def spatial(f):
            return b["s_fine"](f) + b["s_coarse"](f)

        outs = {i: u(x) for i, u in units.items()}
        torch.testing.assert_close(outs["t->s"], spatial(temporal(x)))
        torch.testing.assert_close(outs["s->t"], temporal(spatial(x)))
        torch.testing.assert_close(outs["parallel"], temporal(x) + spatial(x))
    assert not torch.allclose(outs["t->s"], outs["s->t"], atol=1e-4)
    assert not torch.allclose(outs["t->s"], outs["parallel"], atol=1e-4)


def test_max_and_avg_pooling_differ_only_where_r_exceeds_one():
    x = _clip()
    with torch.no_grad():
        out = {p: _unit(pool=p, residual=False) for p in ("max", "avg")}
        for name in BRANCH_NAMES:
            same = torch.allclose(out["max"].branches[name](x), out["avg"].branches[name](x))
            assert same == (name in ("t_dynamic", "s_fine")), name  # r_fine = 1 is the identity


def test_structure_and_parameter_count():
    unit = STRF(256)
    assert list(unit.branches.keys()) == list(BRANCH_NAMES)
    for branch in unit.branches.values():
        assert isinstance(branch.reduce, torch.nn.Conv3d)
        assert branch.reduce.weight.shape == (16, 256, 1, 1, 1)
        assert branch.reduce.bias is None
    assert sum(p.numel() for p in unit.parameters()) == 4 * 256 * 16 + 1
    assert STRF(256, residual=False).gamma is None
    assert list(STRF(64, branches=("t_static",)).branches) == ["t_static"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"integration": "t-s"}, "integration"),
        ({"pool": "min"}, "pool"),
        ({"similarity": "l1"}, "similarity"),
        ({"r_coarse": 2}, "r_coarse"),
        ({"branches": ("t_fast",)}, "t_fast"),
        ({"reduction": 5}, "multiple of reduction"),
        ({"attention": "flash"}, "attention"),
    ],
)
def test_bad_arguments_are_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        STRF(32, **kwargs)


def test_bad_input_shape_is_named():
    with pytest.raises(ValueError, match=r"expects \(N, 32, T, H, W\)"):
        STRF(32)(torch.randn(2, 16, 4, 6, 5))
    with pytest.raises(ValueError, match="unknown STRF branch"), active_branches("spatial"):
        pass


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
@pytest.mark.parametrize("similarity", ["dot", "cosine"])
@pytest.mark.parametrize("attention", ["fused", "explicit"])
def test_autocast_has_no_nan_or_inf_for_large_activations(dtype, similarity, attention):
    unit = _unit(similarity=similarity, attention=attention)
    x = (_clip() * 1e3).requires_grad_()
    with torch.autocast("cpu", dtype=dtype):
        out = unit(x.to(dtype))
    assert torch.isfinite(out).all()
    out.float().pow(2).mean().backward()
    assert torch.isfinite(x.grad).all()
    assert torch.isfinite(unit.gamma.grad)
    if similarity == "cosine":  # bounded logits: low precision stays close to float32
        with torch.no_grad():
            ref = unit(x.detach())
        rel = (out.float() - ref).norm() / ref.norm()
        assert rel < 2e-2


def test_dot_masks_saturate_with_scale_cosine_masks_are_scale_invariant():
    """SPEC: on raw features kappa = 4 drives the dot-product masks towards one-hot."""
    x = _clip()
    torch.manual_seed(0)
    dot, cosine = STRF(32, similarity="dot"), STRF(32, similarity="cosine")
    cosine.load_state_dict(dot.state_dict())
    with torch.no_grad():

        def peak(unit, scale):  # mean over columns of the largest weight a column gives
            return unit.branches["s_coarse"].mask(x * scale).amax(dim=1).mean().item()

        assert peak(dot, 10.0) > 0.99 > peak(dot, 1.0)
        assert abs(peak(cosine, 10.0) - peak(cosine, 1.0)) < 1e-5
        assert peak(cosine, 10.0) < 0.5


def test_active_branches_is_thread_safe_on_one_shared_unit():
    unit = _unit()
    x = _clip()
    choices = [("t_dynamic",), ("s_fine", "s_coarse"), ("t_static", "s_coarse"), ()]
    with torch.no_grad():
        expected = {}
        for names in choices:
            with active_branches(*names):
                expected[names] = unit(x)
    assert len({v.sum().item() for v in expected.values()}) == len(choices)
    barrier = threading.Barrier(len(choices))
    failures: list[str] = []

    def worker(names):
        with torch.no_grad(), active_branches(*names):
            for _ in range(15):
                barrier.wait()  # every thread is inside its own context at the same time
                if not torch.equal(unit(x), expected[names]):
                    failures.append(str(names))

    threads = [threading.Thread(target=worker, args=(names,)) for names in choices]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not failures
    # The switch never leaked into this thread, and nesting restores the outer switch.
    with torch.no_grad():
        assert torch.equal(unit(x), unit(x)) and unit.active_branch_names() == BRANCH_NAMES
        with active_branches("s_fine"):
            with active_branches("t_static"):
                assert unit.active_branch_names() == ("t_static",)
            assert unit.active_branch_names() == ("s_fine",)


def test_auto_attention_is_fused_on_cuda_and_explicit_elsewhere():
    from strf_core.modules.attention import use_fused

    assert use_fused("auto", torch.device("cuda")) and not use_fused("auto", torch.device("cpu"))
    assert use_fused("fused", torch.device("cpu")) and not use_fused(
        "explicit", torch.device("cuda")
    )
    with pytest.raises(ValueError, match="attention must be one of"):
        use_fused("sdpa", torch.device("cpu"))


def test_explicit_path_shares_one_product_per_factorization():
    """The summed-mask product equals the sum of the per-branch products (eq. 5 and 7)."""
    unit = _unit(attention="explicit", integration="parallel", residual=False)
    x = _clip()
    with torch.no_grad():
        per_branch = sum(branch(x) for branch in unit.branches.values())
        torch.testing.assert_close(unit(x), per_branch)


def test_avg_pooling_averages_real_neighbours_at_any_map_size():
    from strf_core.modules.strf import SameAvgPool3d

    x = torch.randn(2, 3, 5, 6, 7)
    ref = torch.nn.AvgPool3d((3, 3, 3), stride=1, padding=1, count_include_pad=False)(x)
    torch.testing.assert_close(SameAvgPool3d((3, 3, 3))(x), ref)
    small = torch.randn(1, 2, 4, 4, 2)  # smaller than the kernel: nn.AvgPool3d refuses it
    out = SameAvgPool3d((1, 5, 5))(small)
    torch.testing.assert_close(out[..., 2, 0], small.mean(dim=(3, 4)))  # every cell in reach
    assert STRF(32, pool="avg")(torch.randn(1, 32, 4, 4, 2)).shape == (1, 32, 4, 4, 2)
