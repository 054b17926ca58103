"""Total variation, energy distance / norm-MMD and the energy-score transition loss: known values, properties."""

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from reference_impl.bisim import wasserstein1
from reference_impl.deepmdp.losses import deterministic_transition_loss
from reference_impl.deepmdp.probability_metrics import (
    categorical_kl,
    energy_distance,
    energy_score_loss,
    norm_mmd,
    sample_diagonal_gaussian,
    total_variation,
)

FAST = settings(max_examples=25, deadline=None, derandomize=True, database=None)


def t(values, requires_grad=False):
    return torch.tensor(values, dtype=torch.float64, requires_grad=requires_grad)


def random_distributions(seed, batch, size, zeros=True):
    rng = np.random.default_rng(seed)
    p = rng.dirichlet(np.ones(size), size=batch)
    if zeros:
        p[rng.random(p.shape) < 0.2] = 0.0
        p[:, 0] += 1e-3
        p /= p.sum(axis=1, keepdims=True)
    return torch.from_numpy(p)


# ------------------------------------------------------------------------------------------- total variation
def test_total_variation_hand_values():
    p = t([[1.0, 0.0, 0.0], [0.5, 0.5, 0.0], [0.2, 0.3, 0.5]])
    q = t([[0.0, 1.0, 0.0], [0.5, 0.0, 0.5], [0.2, 0.3, 0.5]])
    assert total_variation(p, q).tolist() == pytest.approx([1.0, 0.5, 0.0])


@FAST
@given(seed=st.integers(0, 10_000), size=st.integers(2, 7))
def test_total_variation_is_wasserstein_under_the_discrete_metric_and_bounds_by_span(seed, size):
    p, q, r = (random_distributions(seed + k, 1, size) for k in range(3))
    tv = total_variation(p, q).item()
    discrete = 1.0 - np.eye(size)
    assert tv == pytest.approx(wasserstein1(p[0].numpy(), q[0].numpy(), discrete), abs=1e-9)
    assert 0.0 <= tv <= 1.0
    assert tv == pytest.approx(total_variation(q, p).item())
    assert tv <= total_variation(p, r).item() + total_variation(r, q).item() + 1e-12
    # The IPM of functions with span <= 1: |E_p f - E_q f| <= span(f) TV(p, q).
    f = torch.from_numpy(np.random.default_rng(seed).normal(size=size))
    assert abs(float((p[0] - q[0]) @ f)) <= float(f.max() - f.min()) * tv + 1e-12


@FAST
@given(seed=st.integers(0, 10_000), size=st.integers(2, 7))
def test_pinsker_inequality(seed, size):
    p = random_distributions(seed, 4, size)
    q = random_distributions(seed + 1, 4, size, zeros=False)
    assert torch.all(total_variation(p, q) <= torch.sqrt(categorical_kl(p, q) / 2) + 1e-12)


def test_kl_hand_values_and_missing_mass():
    p, q = t([[0.5, 0.5]]), t([[0.25, 0.75]])
    assert categorical_kl(p, q).item() == pytest.approx(0.5 * math.log(2) + 0.5 * math.log(2 / 3))
    assert math.isinf(categorical_kl(t([[0.5, 0.5]]), t([[1.0, 0.0]])).item())
    assert categorical_kl(t([[1.0, 0.0]]), t([[0.5, 0.5]])).item() == pytest.approx(math.log(2))


@pytest.mark.parametrize(
    ("p", "q"),
    [([[0.5, 0.6]], [[0.5, 0.5]]), ([[1.5, -0.5]], [[0.5, 0.5]]), ([0.5, 0.5], [0.5, 0.5]), ([[1.0]], [[0.5, 0.5]])],
)
def test_total_variation_rejects_non_distributions(p, q):
    with pytest.raises(ValueError):
        total_variation(t(p), t(q))


# ---------------------------------------------------------------------------------- energy distance / norm-MMD
def test_energy_distance_of_diracs_and_norm_mmd_hand_values():
    x, y = t([[[0.0, 0.0]]]), t([[[3.0, 4.0]]])
    assert energy_distance(x, y).item() == pytest.approx(10.0)  # 2 ||x - y||
    assert norm_mmd(x, y).item() == pytest.approx(math.sqrt(5.0))  # sqrt(||x - y||)
    # Two two-point distributions on a line: {0, 2} against {1, 3}.
    x, y = t([[[0.0], [2.0]]]), t([[[1.0], [3.0]]])
    expected = 2 * (1 + 3 + 1 + 1) / 4 - (0 + 2 + 2 + 0) / 4 - (0 + 2 + 2 + 0) / 4
    assert energy_distance(x, y).item() == pytest.approx(expected)


@FAST
@given(seed=st.integers(0, 10_000), n=st.integers(1, 5), m=st.integers(1, 5), dim=st.integers(1, 3))
def test_energy_distance_properties(seed, n, m, dim):
    rng = np.random.default_rng(seed)
    x, y = torch.from_numpy(rng.normal(size=(2, n, dim))), torch.from_numpy(rng.normal(size=(2, m, dim)))
    distance = energy_distance(x, y)
    assert torch.all(distance >= -1e-12)  # the Euclidean distance is of negative type
    assert torch.allclose(distance, energy_distance(y, x))
    assert torch.allclose(energy_distance(x, x), torch.zeros(2, dtype=torch.float64), atol=1e-12)
    shift = torch.from_numpy(rng.normal(size=(1, 1, dim)))
    assert torch.allclose(energy_distance(x + shift, y + shift), distance)
    assert torch.allclose(energy_distance(3.0 * x, 3.0 * y), 3.0 * distance)  # 1-homogeneous
    # Repeating every sample does not change an empirical distribution.
    assert torch.allclose(energy_distance(x.repeat(1, 2, 1), y), distance)


def test_norm_mmd_gradient_is_finite_at_zero_distance():
    x = t([[[1.0, 2.0]]], requires_grad=True)
    norm_mmd(x, t([[[1.0, 2.0]]])).sum().backward()
    assert torch.all(torch.isfinite(x.grad))


# ----------------------------------------------------------------------------------------------- energy score
def test_energy_score_of_a_deterministic_model_is_the_w1_loss():
    prediction = t([[0.0, 0.0], [1.0, 1.0], [2.0, -1.0]], requires_grad=True)
    target = t([[3.0, 4.0], [1.0, 2.0], [2.0, -1.0]])
    samples = prediction[:, None, :].expand(-1, 4, -1)  # four identical draws
    loss = energy_score_loss(samples, target)
    assert loss.item() == pytest.approx(deterministic_transition_loss(prediction, target, kind="w1").item())
    assert loss.item() == pytest.approx((5 + 1 + 0) / 3)
    loss.backward()
    assert torch.all(torch.isfinite(prediction.grad))


def expected_energy_score_1d(mu, sigma, y):
    """E|X - y| - E|X - X'| / 2 for X ~ N(mu, sigma^2), in closed form."""
    delta = abs(mu - y)
    normal_cdf = 0.5 * (1 + math.erf(-delta / (sigma * math.sqrt(2))))
    mean_abs = sigma * math.sqrt(2 / math.pi) * math.exp(-(delta**2) / (2 * sigma**2)) + delta * (1 - 2 * normal_cdf)
    return mean_abs - sigma / math.sqrt(math.pi)


@pytest.mark.parametrize(("mu", "sigma", "y"), [(0.0, 1.0, 0.0), (0.5, 0.3, -0.2), (2.0, 0.5, 0.0)])
def test_energy_score_is_unbiased_against_the_closed_form(mu, sigma, y):
    generator = torch.Generator().manual_seed(0)
    batch = 4000
    samples = sample_diagonal_gaussian(t([[mu]] * batch), t([[sigma]] * batch), 4, generator)
    loss = energy_score_loss(samples, t([[y]] * batch)).item()
    # Standard error of the batch mean is below 0.02 for these settings.
    assert loss == pytest.approx(expected_energy_score_1d(mu, sigma, y), abs=0.05)


def test_energy_score_is_proper_and_prefers_a_dirac_for_a_dirac_target():
    # Target z' ~ N(0, 1): the expected score of a model N(0, s^2) is minimised at s = 1 (strictly proper).
    grid = np.linspace(0.3, 2.0, 35)
    rng = np.random.default_rng(0)
    targets = rng.normal(size=4000)
    scores = [np.mean([expected_energy_score_1d(0.0, s, y) for y in targets]) for s in grid]
    assert abs(grid[int(np.argmin(scores))] - 1.0) < 0.1
    # A Dirac target: the score grows with the model's spread, so sigma -> 0 is optimal (unlike the NLL's
    # preference for sigma = |mu - z'|).
    assert np.all(np.diff([expected_energy_score_1d(0.0, s, 0.0) for s in grid]) > 0)


def test_energy_score_gradient_reaches_mean_and_spread_but_not_the_target():
    mu = t([[0.2, -0.1], [1.0, 0.5]], requires_grad=True)
    sigma = t([[0.5, 0.4], [0.3, 0.2]], requires_grad=True)
    target = t([[0.0, 0.0], [1.0, 1.0]], requires_grad=True)
    samples = sample_diagonal_gaussian(mu, sigma, 6, torch.Generator().manual_seed(1))
    energy_score_loss(samples, target).backward()
    assert target.grad is None
    assert torch.all(mu.grad != 0) and torch.all(sigma.grad != 0)


def test_energy_score_and_sampler_input_checks():
    with pytest.raises(ValueError, match="at least 2"):
        energy_score_loss(torch.zeros(3, 1, 2), torch.zeros(3, 2))
    with pytest.raises(ValueError, match="next_latent"):
        energy_score_loss(torch.zeros(3, 4, 2), torch.zeros(3, 3))
    with pytest.raises(ValueError, match="shape"):
        sample_diagonal_gaussian(torch.zeros(3, 2), torch.ones(3, 1), 2)
    with pytest.raises(ValueError):
        energy_distance(torch.zeros(2, 0, 1), torch.zeros(2, 1, 1))
