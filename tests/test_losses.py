"""Property tests of the self-supervised loss terms (models/losses.py)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from models.losses import (
    box_prior_loss,
    css_infonce,
    dsl_loss,
    dsl_target,
    farthest_within_groups,
    gravity_loss,
    mean_of_others_within_groups,
    order_loss,
    permute_within_groups,
    scale_smoothness_loss,
    ti_far_dissimilarity,
    ti_same_similarity,
    triplet_loss,
    weak_2d_loss,
)


@pytest.fixture
def gen() -> torch.Generator:
    return torch.Generator().manual_seed(1234)


# ----------------------------------------------------------------------------- DSL


def test_dsl_target_endpoints_and_monotone():
    neg_min = 10.0
    delta = torch.linspace(0, 30, 301)
    t = dsl_target(delta, neg_min)
    assert t[0] == 1.0
    assert torch.all(t[delta >= neg_min] == 0)
    assert torch.all(t[1:] <= t[:-1]), "target must be non-increasing in delta"
    inside = (delta > 0) & (delta < neg_min)
    assert torch.all((t[inside] > 0) & (t[inside] < 1))
    assert torch.isclose(dsl_target(torch.tensor(5.0), neg_min), torch.tensor(0.5))


def test_dsl_power_bends_the_target_below_the_line_with_the_same_ends():
    delta = torch.linspace(0, 30, 301)
    line, bent = dsl_target(delta, 12.0), dsl_target(delta, 12.0, power=2.0)
    assert bent[0] == 1.0 and torch.all(bent[delta >= 12] == 0)
    inside = (delta > 0) & (delta < 12)
    assert torch.all(bent[inside] < line[inside])
    assert torch.isclose(dsl_target(torch.tensor(6.0), 12.0, 2.0), torch.tensor(0.25))
    # The loss asks near pairs for the bent target: at cos 0.25, zero loss at Δ = 6.
    a = torch.tensor([[1.0, 0.0]])
    b = torch.tensor([[0.25, (1 - 0.25 ** 2) ** 0.5]])
    assert dsl_loss(a, b, torch.tensor([6.0]), 12.0, power=2.0).item() == pytest.approx(0, abs=1e-6)
    assert dsl_loss(a, b, torch.tensor([6.0]), 12.0).item() == pytest.approx(0.25 ** 2)
    with pytest.raises(ValueError, match="power"):
        dsl_target(delta, 12.0, power=0.0)


def test_dsl_zero_when_identical_at_delta_zero(gen):
    z = torch.randn(8, 16, generator=gen)
    loss = dsl_loss(z, z.clone(), torch.zeros(8), neg_min=10)
    assert loss.item() == pytest.approx(0.0, abs=1e-10)


def test_dsl_pulls_near_pairs_together(gen):
    a = torch.randn(16, 32, generator=gen, requires_grad=True)
    b = torch.randn(16, 32, generator=gen, requires_grad=True)
    before = F.cosine_similarity(a, b).detach()
    dsl_loss(a, b, torch.zeros(16), neg_min=10).backward()
    with torch.no_grad():
        a2, b2 = a - 0.5 * a.grad, b - 0.5 * b.grad
    after = F.cosine_similarity(a2, b2)
    assert torch.all(after > before)


def test_dsl_pushes_far_pairs_to_nonpositive(gen):
    a = torch.randn(16, 32, generator=gen)
    b = a + 0.1 * torch.randn(16, 32, generator=gen)  # cosine clearly > 0
    far = torch.full((16,), 10.0)
    assert dsl_loss(a, b, far, neg_min=10).item() > 0
    assert dsl_loss(a, b, far + 50, neg_min=10).item() > 0
    # Orthogonal and anti-parallel pairs are left alone (no pull towards -1).
    ortho = torch.zeros(2, 4)
    ortho[0, 0] = ortho[1, 1] = 1
    other = torch.zeros(2, 4)
    other[0, 1] = 1
    other[1, 1] = -1
    assert dsl_loss(ortho, other, torch.full((2,), 20.0), neg_min=10).item() == 0.0

    a.requires_grad_(True)
    dsl_loss(a, b, far, neg_min=10).backward()
    with torch.no_grad():
        assert torch.all(F.cosine_similarity(a - 0.5 * a.grad, b) < F.cosine_similarity(a, b))


def test_dsl_intermediate_pulls_to_target():
    # cos = 0.5 exactly, at delta = 5 with neg_min = 10 (target 0.5): zero loss.
    a = torch.tensor([[1.0, 0.0]])
    b = torch.tensor([[0.5, 3**0.5 / 2]])
    assert dsl_loss(a, b, torch.tensor([5.0]), neg_min=10).item() == pytest.approx(0, abs=1e-12)
    assert dsl_loss(a, b, torch.tensor([2.0]), neg_min=10).item() == pytest.approx(0.3**2)


def test_dsl_shape_errors():
    with pytest.raises(ValueError, match="delta"):
        dsl_loss(torch.randn(4, 3), torch.randn(4, 3), torch.zeros(3), neg_min=5)
    with pytest.raises(ValueError, match="same shape"):
        dsl_loss(torch.randn(4, 3), torch.randn(4, 2), torch.zeros(4), neg_min=5)
    with pytest.raises(ValueError, match="neg_min"):
        dsl_target(torch.zeros(3), 0)


# ----------------------------------------------------------------------------- CSS / TCN


def test_infonce_lower_when_positive_most_similar(gen):
    ref = torch.randn(8, 16, generator=gen)
    neg = torch.randn(20, 16, generator=gen)
    good = css_infonce(ref, ref + 0.01 * torch.randn(8, 16, generator=gen), neg)
    bad = css_infonce(ref, -ref, neg)
    assert good < bad
    assert good.item() >= 0


def test_triplet_zero_when_margin_satisfied():
    ref = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    pos = ref * 3  # same direction: distance 0 after normalisation
    neg = torch.tensor([[-1.0, 0.0], [0.0, -2.0]])  # distance 4
    assert triplet_loss(ref, pos, neg, margin=0.2).item() == 0.0
    assert triplet_loss(ref, neg, pos, margin=0.2).item() == pytest.approx(4.2)


def test_ti_same_similarity():
    same = torch.tensor([[1.0, 2.0, 0.0]]).expand(4, 3)  # one clip, 4 frames, one z_ti
    z = torch.stack([same, -same])  # (2, 4, 3): two clips, each constant
    assert ti_same_similarity(z).item() == pytest.approx(0.0, abs=1e-6)
    varied = z.clone()
    varied[0, 1] = torch.tensor([0.0, 0.0, 1.0])  # orthogonal to its clip
    # 6 of the 2 x 12 ordered pairs (those with frame 1) have cos 0 -> loss 6 / 24.
    assert ti_same_similarity(varied).item() == pytest.approx(6 / 24, abs=1e-6)
    with pytest.raises(ValueError):
        ti_same_similarity(torch.rand(4, 3))


def test_ti_far_dissimilarity():
    a = torch.tensor([[1.0, 0.0], [1.0, 0.0]])
    assert ti_far_dissimilarity(a, torch.tensor([[0.0, 1.0], [-1.0, 0.0]])).item() == 0.0
    assert ti_far_dissimilarity(a, a).item() == pytest.approx(1.0)


# ----------------------------------------------------------------------------- gravity


def test_gravity_zero_on_random_parabolas(gen):
    f64 = torch.float64  # exact equidistance needs the times built in double
    k = torch.rand(64, 1, generator=gen, dtype=f64) * 5 + 0.5
    t0 = torch.randn(64, 1, generator=gen, dtype=f64) * 10
    t = t0 + k * torch.arange(4.0, dtype=f64)  # equidistant times
    a, b, c = (torch.randn(64, 1, generator=gen, dtype=f64) for _ in range(3))
    v = a * t**2 + b * t + c  # (64, 4)
    assert gravity_loss(v).item() == pytest.approx(0.0, abs=1e-10)


def test_gravity_positive_off_parabola(gen):
    t = torch.arange(4.0, dtype=torch.float64)[None]
    cubic = 0.3 * t**3 - t**2 + 2
    assert gravity_loss(cubic).item() > 1e-3
    v = torch.randn(8, 4, generator=gen)
    assert gravity_loss(v).item() > 0
    with pytest.raises(ValueError, match="v"):
        gravity_loss(torch.zeros(8, 3))


def test_order_penalises_upward_only():
    early = torch.tensor([0.0, 0.5, 0.2])
    assert order_loss(early, early + 0.1).item() == 0.0  # downward (v grows down)
    assert order_loss(early, early).item() == 0.0  # no motion
    assert order_loss(early, early - 0.1).item() == pytest.approx(0.1)  # upward
    assert order_loss(early, early, margin=0.05).item() == pytest.approx(0.05)


def test_scale_smoothness():
    s = torch.rand(5, 2)
    assert scale_smoothness_loss(s, s).item() == 0.0
    assert scale_smoothness_loss(s, s + 0.1).item() == pytest.approx(0.01)
    with pytest.raises(ValueError):
        scale_smoothness_loss(torch.zeros(5, 3), torch.zeros(5, 3))


# ----------------------------------------------------------------------------- box prior


def test_box_prior_acts_on_batch_mean_only():
    spread = torch.tensor([[0.2, 0.3], [0.8, 0.7], [0.5, 0.5]])  # mean (0.5, 0.5)
    assert box_prior_loss(spread, target=0.5).item() == pytest.approx(0.0, abs=1e-12)
    shifted = torch.full((3, 2), 0.6)
    assert box_prior_loss(shifted, target=0.5, sigma=0.1).item() == pytest.approx(1.0)


def test_box_prior_gradient_is_mean_gradient_over_b(gen):
    b = 7
    scale = torch.rand(b, 2, generator=gen).requires_grad_(True)
    box_prior_loss(scale, target=0.5, sigma=0.2).backward()
    mean_grad = (scale.detach().mean(0) - 0.5) / 0.2**2  # d loss / d mean, (2,)
    assert torch.allclose(scale.grad, (mean_grad / b).expand(b, 2))


def test_box_prior_centre():
    scale = torch.full((4, 2), 0.5)
    centre = torch.tensor([[0.3, 0.0], [-0.3, 0.0], [0.1, 0.2], [-0.1, -0.2]])  # mean 0
    assert box_prior_loss(scale, centre=centre, centre_sigma=0.1).item() == 0.0
    off = centre + 0.1
    assert box_prior_loss(scale, centre=off, centre_sigma=0.1).item() == pytest.approx(1.0)
    with pytest.raises(ValueError, match="centre"):
        box_prior_loss(scale, centre=torch.zeros(3, 2))


# ----------------------------------------------------------------------------- permutation


@pytest.mark.parametrize("n_groups,group_size", [(1, 2), (3, 2), (4, 3), (5, 8), (2, 17)])
def test_permute_within_groups_is_group_derangement(n_groups, group_size, gen):
    rows = torch.arange(n_groups * group_size)
    for _ in range(200):
        perm = permute_within_groups(n_groups, group_size, generator=gen)
        assert perm.shape == (n_groups * group_size,)
        assert perm.dtype == torch.long
        assert torch.equal(perm.sort().values, rows), "must be a permutation"
        assert torch.all(perm != rows), "no row may map to itself"
        assert torch.equal(perm // group_size, rows // group_size), "must not mix groups"


def test_permute_within_groups_varies_and_is_seeded():
    draws = {tuple(permute_within_groups(4, 5).tolist()) for _ in range(50)}
    assert len(draws) > 1
    a = permute_within_groups(4, 5, generator=torch.Generator().manual_seed(7))
    b = permute_within_groups(4, 5, generator=torch.Generator().manual_seed(7))
    assert torch.equal(a, b)


def test_permute_within_groups_rejects_singletons():
    with pytest.raises(ValueError, match="group_size"):
        permute_within_groups(4, 1)
    with pytest.raises(ValueError, match="n_groups"):
        permute_within_groups(0, 3)


def test_mean_of_others_within_groups_leaves_each_row_out_and_stays_in_its_group():
    x = torch.tensor([[0.0], [3.0], [6.0], [100.0], [200.0], [300.0]])  # 2 groups of 3
    out = mean_of_others_within_groups(x, 2)
    assert out.squeeze(1).tolist() == [4.5, 3.0, 1.5, 250.0, 200.0, 150.0]
    x = torch.randn(8, 5, requires_grad=True)
    mean_of_others_within_groups(x, 2)[0].sum().backward()
    assert x.grad[0].abs().sum() == 0 and x.grad[1:4].abs().sum() > 0  # never itself
    assert x.grad[4:].abs().sum() == 0  # nor another clip
    with pytest.raises(ValueError, match="n_groups"):
        mean_of_others_within_groups(torch.zeros(7, 2), 2)
    with pytest.raises(ValueError, match=">= 2 rows"):
        mean_of_others_within_groups(torch.zeros(2, 2), 2)


def test_farthest_within_groups_takes_the_frame_farthest_in_time():
    # (ref, near, mid, far) as the contrastive sampler draws them, far on either side.
    frame = torch.tensor([[20, 21, 26, 40], [30, 29, 24, 10], [5, 6, 9, 6]])
    perm = farthest_within_groups(frame)
    assert perm.tolist() == [3, 3, 3, 0, 7, 7, 7, 4, 10, 10, 8, 10]
    rows = torch.arange(12)
    assert torch.all(perm != rows) and torch.equal(perm // 4, rows // 4)
    f = frame.reshape(-1)
    # Every source is at least half the group's span away from its row.
    span = (frame.max(1).values - frame.min(1).values).repeat_interleave(4)
    assert torch.all(2 * (f[perm] - f).abs() >= span)


def test_farthest_within_groups_rejects_bad_shapes():
    with pytest.raises(ValueError, match="n_groups"):
        farthest_within_groups(torch.arange(4))
    with pytest.raises(ValueError, match="n_groups"):
        farthest_within_groups(torch.zeros(3, 1))


# ----------------------------------------------------------------------------- weak 2D


def test_weak_2d_ignores_nan():
    pred = torch.zeros(2, 3, 2, requires_grad=True)
    target = torch.full((2, 3, 2), float("nan"))
    target[0, 1] = torch.tensor([1.0, 2.0])  # one labelled joint
    target[1, 2, 0] = 5.0  # half-labelled joint: treated as unlabelled
    loss = weak_2d_loss(pred, target)
    assert loss.item() == pytest.approx((1 + 4) / 2)
    loss.backward()
    assert torch.isfinite(pred.grad).all()
    assert pred.grad[0, 1].abs().sum() > 0
    mask = torch.ones(2, 3, 2, dtype=torch.bool)
    mask[0, 1] = False
    assert torch.all(pred.grad[mask] == 0)


def test_weak_2d_nothing_labelled_is_zero_with_grad():
    pred = torch.randn(2, 3, 2, requires_grad=True)
    loss = weak_2d_loss(pred, torch.full((2, 3, 2), float("nan")))
    assert loss.item() == 0.0
    assert loss.requires_grad
    loss.backward()
    assert torch.all(pred.grad == 0)
