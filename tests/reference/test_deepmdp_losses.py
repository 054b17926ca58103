"""DeepMDP losses, gradient penalty and DBC loss: hand-computed values, gradient flow, shape checks."""

import math

import numpy as np
import ot
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from reference_impl.deepmdp.dbc import bisimulation_loss
from reference_impl.deepmdp.lipschitz import gradient_penalty
from reference_impl.deepmdp.losses import (
    deterministic_transition_loss,
    gaussian_transition_nll,
    gaussian_w2,
    reward_loss,
)

FAST = settings(max_examples=25, deadline=None, derandomize=True, database=None)


def t(values, requires_grad=False):
    return torch.tensor(values, dtype=torch.float64, requires_grad=requires_grad)


# ------------------------------------------------------------------------------------------------ reward loss
@pytest.mark.parametrize("shape", [(3,), (3, 1)])
def test_reward_loss_matches_hand_values(shape):
    predicted = t([1.0, 2.0, 4.0]).reshape(shape)
    reward = t([0.0, 2.0, 1.0]).reshape(shape)
    assert reward_loss(predicted, reward).item() == pytest.approx((1 + 0 + 9) / 3)
    assert reward_loss(predicted, reward, kind="l1").item() == pytest.approx((1 + 0 + 3) / 3)


@pytest.mark.parametrize(
    ("predicted_shape", "reward_shape"), [((4,), (4, 1)), ((4, 1), (4,)), ((4, 2), (4, 2)), ((4,), (5,)), ((0,), (0,))]
)
def test_reward_loss_rejects_mismatched_or_bad_shapes(predicted_shape, reward_shape):
    with pytest.raises(ValueError, match="shape|sample"):
        reward_loss(torch.zeros(predicted_shape), torch.zeros(reward_shape))


def test_reward_loss_rejects_unknown_kind():
    with pytest.raises(ValueError, match="kind"):
        reward_loss(torch.zeros(2), torch.zeros(2), kind="huber")


# -------------------------------------------------------------------------------------------- transition loss
def test_transition_losses_match_hand_values():
    predicted = t([[0.0, 0.0], [1.0, 1.0]])
    target = t([[3.0, 4.0], [1.0, 2.0]])
    # mse: squared error summed over latent axes, mean over the batch.
    assert deterministic_transition_loss(predicted, target).item() == pytest.approx((25 + 1) / 2)
    # w1: Euclidean distance between the Diracs, mean over the batch.
    assert deterministic_transition_loss(predicted, target, kind="w1").item() == pytest.approx((5 + 1) / 2)


@pytest.mark.parametrize("kind", ["mse", "w1"])
def test_transition_target_gets_no_gradient_and_prediction_does(kind):
    predicted = t([[0.5, -1.0], [2.0, 0.0]], requires_grad=True)
    target = t([[0.0, 1.0], [1.0, 1.0]], requires_grad=True)
    deterministic_transition_loss(predicted, target, kind=kind).backward()
    assert target.grad is None
    assert predicted.grad is not None and torch.all(predicted.grad != 0)


def test_w1_transition_gradient_is_finite_where_prediction_equals_target():
    predicted = t([[1.0, 2.0], [0.0, 0.0]], requires_grad=True)
    target = t([[1.0, 2.0], [3.0, 4.0]])
    deterministic_transition_loss(predicted, target, kind="w1").backward()
    assert torch.all(torch.isfinite(predicted.grad))
    assert torch.equal(predicted.grad[0], torch.zeros(2, dtype=torch.float64))
    assert torch.allclose(predicted.grad[1], t([-0.3, -0.4]))  # d/dz mean ||z - y|| = (z - y) / (2 ||z - y||)


@FAST
@given(
    batch=st.integers(1, 9),
    dim=st.integers(1, 5),
    seed=st.integers(0, 10_000),
)
def test_transition_losses_against_numpy(batch, dim, seed):
    rng = np.random.default_rng(seed)
    predicted, target = rng.normal(size=(batch, dim)), rng.normal(size=(batch, dim))
    mse = deterministic_transition_loss(t(predicted), t(target)).item()
    w1 = deterministic_transition_loss(t(predicted), t(target), kind="w1").item()
    assert mse == pytest.approx(((predicted - target) ** 2).sum(axis=1).mean())
    assert w1 == pytest.approx(np.linalg.norm(predicted - target, axis=1).mean())
    assert w1 <= math.sqrt(mse) + 1e-12  # Jensen: E||d|| <= sqrt(E||d||^2)


@pytest.mark.parametrize(("first", "second"), [((4, 3), (4, 2)), ((4, 3), (3, 3)), ((4,), (4,)), ((4, 1), (4,))])
def test_transition_loss_rejects_shape_mismatch(first, second):
    with pytest.raises(ValueError, match="shape"):
        deterministic_transition_loss(torch.zeros(first), torch.zeros(second))


# ----------------------------------------------------------------------------------------------- Gaussians
def test_gaussian_nll_matches_torch_distributions_and_detaches_target():
    rng = np.random.default_rng(0)
    mu = t(rng.normal(size=(5, 3)), requires_grad=True)
    sigma = t(rng.uniform(0.2, 2.0, size=(5, 3)), requires_grad=True)
    target = t(rng.normal(size=(5, 3)), requires_grad=True)
    nll = gaussian_transition_nll(mu, sigma, target)
    expected = -torch.distributions.Normal(mu, sigma).log_prob(target).sum(dim=1).mean()
    assert nll.item() == pytest.approx(expected.item())
    nll.backward()
    assert target.grad is None and mu.grad is not None and sigma.grad is not None


def test_gaussian_nll_hand_value_in_one_dimension():
    # N(0, 2^2) at 2: log 2 + 4 / 8 + 0.5 log(2 pi)
    value = gaussian_transition_nll(t([[0.0]]), t([[2.0]]), t([[2.0]])).item()
    assert value == pytest.approx(math.log(2.0) + 0.5 + 0.5 * math.log(2 * math.pi))


def test_gaussian_nll_rejects_non_positive_sigma():
    with pytest.raises(ValueError, match="positive"):
        gaussian_transition_nll(torch.zeros(2, 2), torch.zeros(2, 2), torch.zeros(2, 2))


def test_gaussian_w2_hand_values():
    mu1, sigma1 = t([[0.0, 0.0], [1.0, 1.0]]), t([[1.0, 1.0], [0.5, 0.5]])
    mu2, sigma2 = t([[3.0, 0.0], [1.0, 1.0]]), t([[1.0, 5.0], [0.5, 0.5]])
    assert torch.allclose(gaussian_w2(mu1, sigma1, mu2, sigma2), t([5.0, 0.0]))


@FAST
@given(dim=st.integers(1, 4), seed=st.integers(0, 10_000))
def test_gaussian_w2_matches_bures_wasserstein(dim, seed):
    rng = np.random.default_rng(seed)
    mu1, mu2 = rng.normal(size=dim), rng.normal(size=dim)
    sigma1, sigma2 = rng.uniform(0.1, 2.0, size=dim), rng.uniform(0.1, 2.0, size=dim)
    expected = ot.gaussian.bures_wasserstein_distance(mu1, mu2, np.diag(sigma1**2), np.diag(sigma2**2))
    got = gaussian_w2(t(mu1[None]), t(sigma1[None]), t(mu2[None]), t(sigma2[None]))
    assert got.shape == (1,)
    assert got.item() == pytest.approx(float(expected), abs=1e-6)


def test_gaussian_w2_gradient_is_zero_not_nan_at_equal_inputs():
    mu = t([[1.0, -1.0]], requires_grad=True)
    gaussian_w2(mu, t([[1.0, 1.0]]), t([[1.0, -1.0]]), t([[1.0, 1.0]])).sum().backward()
    assert torch.equal(mu.grad, torch.zeros_like(mu))


def test_gaussian_w2_rejects_negative_sigma_and_mismatch():
    with pytest.raises(ValueError, match="non-negative"):
        gaussian_w2(torch.zeros(1, 2), -torch.ones(1, 2), torch.zeros(1, 2), torch.ones(1, 2))
    with pytest.raises(ValueError, match="shape"):
        gaussian_w2(torch.zeros(1, 2), torch.ones(1, 2), torch.zeros(1, 3), torch.ones(1, 3))


# ---------------------------------------------------------------------------------------- gradient penalty
def test_gradient_penalty_of_linear_critic_and_its_parameter_gradient():
    net = torch.nn.Linear(2, 1, bias=True).double()
    with torch.no_grad():
        net.weight.copy_(t([[3.0, 4.0]]))
    inputs = t(np.random.default_rng(0).normal(size=(6, 2)))
    penalty = gradient_penalty(net, inputs)
    assert penalty.item() == pytest.approx((5.0 - 1.0) ** 2)
    penalty.backward()
    # d/dw (||w|| - 1)^2 = 2 (||w|| - 1) w / ||w||
    assert torch.allclose(net.weight.grad, 2 * 4.0 * t([[3.0, 4.0]]) / 5.0)


def test_one_sided_penalty_ignores_small_gradients():
    net = torch.nn.Linear(2, 1).double()
    with torch.no_grad():
        net.weight.copy_(t([[0.3, 0.4]]))
    inputs = torch.zeros(3, 2, dtype=torch.float64)
    assert gradient_penalty(net, inputs).item() == pytest.approx(0.25)
    assert gradient_penalty(net, inputs, one_sided=True).item() == pytest.approx(0.0, abs=1e-10)
    assert gradient_penalty(net, inputs, target_norm=0.5).item() == pytest.approx(0.0, abs=1e-10)


def test_penalty_on_vector_output_uses_the_jacobian_frobenius_norm():
    net = torch.nn.Linear(3, 2, bias=False).double()
    with torch.no_grad():
        net.weight.copy_(t([[1.0, 2.0, 0.0], [0.0, 2.0, 4.0]]))
    assert gradient_penalty(net, torch.zeros(4, 3, dtype=torch.float64)).item() == pytest.approx((5.0 - 1.0) ** 2)


def test_penalty_over_a_tuple_of_inputs_and_at_interpolates():
    def net(x, y):  # gradient (2x, y): depends on the point, so interpolation matters
        return (x**2).sum(dim=1) + 0.5 * (y**2).sum(dim=1)

    x, y = t([[1.0, 0.0], [0.0, 0.0]]), t([[0.0], [3.0]])
    expected = np.mean([(math.sqrt(4.0) - 1.0) ** 2, (math.sqrt(9.0) - 1.0) ** 2])
    assert gradient_penalty(net, (x, y)).item() == pytest.approx(expected)

    x2, y2 = torch.zeros_like(x), torch.zeros_like(y)
    eps = torch.rand(2, generator=torch.Generator().manual_seed(7), dtype=torch.float64)
    norms = torch.sqrt(4 * (eps[:, None] * x).pow(2).sum(1) + (eps[:, None] * y).pow(2).sum(1))
    got = gradient_penalty(net, (x, y), interpolate_with=(x2, y2), generator=torch.Generator().manual_seed(7))
    assert got.item() == pytest.approx((norms - 1.0).pow(2).mean().item())


def test_gradient_penalty_does_not_reach_the_inputs_producer_and_checks_shapes():
    source = t([[1.0, 2.0]], requires_grad=True)
    net = torch.nn.Linear(2, 1).double()
    gradient_penalty(net, source * 2.0).backward()
    assert source.grad is None and net.weight.grad is not None
    with pytest.raises(ValueError, match="batch"):
        gradient_penalty(lambda a, b: a.sum(1) + b.sum(1), (torch.zeros(2, 2), torch.zeros(3, 2)))
    with pytest.raises(ValueError, match="interpolate_with"):
        gradient_penalty(net, torch.zeros(2, 2), interpolate_with=torch.zeros(2, 3))


# ---------------------------------------------------------------------------------------------------- DBC
def test_bisimulation_loss_hand_value_and_gradient_only_to_z():
    z = t([[0.0, 0.0], [1.0, 2.0]], requires_grad=True)
    reward = t([1.0, 0.0])
    next_mu = t([[0.0, 0.0], [3.0, 4.0]], requires_grad=True)
    next_sigma = t([[1.0, 1.0], [1.0, 1.0]], requires_grad=True)
    permutation = torch.tensor([1, 0])
    # latent L1 distance 3; target |1 - 0| + 0.5 * W2 = 1 + 0.5 * 5 = 3.5; loss (3 - 3.5)^2 for both pairs
    loss = bisimulation_loss(z, reward, next_mu, next_sigma, 0.5, permutation)
    assert loss.item() == pytest.approx(0.25)
    loss.backward()
    assert z.grad is not None and next_mu.grad is None and next_sigma.grad is None
    # d/dz_0 of mean_i (||z_i - z_j||_1 - 3.5)^2 = 2 * (-0.5) * sign(z_0 - z_1) (two pairs, each /2, both involve z_0)
    assert torch.allclose(z.grad[0], t([1.0, 1.0]))


def test_bisimulation_loss_with_deterministic_transitions_and_identity_pairs():
    z = t([[1.0, 2.0], [3.0, 4.0]])
    reward = t([[1.0], [2.0]])
    assert bisimulation_loss(z, reward, z, None, 0.9, torch.tensor([0, 1])).item() == 0.0


@pytest.mark.parametrize(
    ("permutation", "match"), [([0, 0], "permutation"), ([0, 1, 2], "permutation"), ([0.0, 1.0], "integer")]
)
def test_bisimulation_loss_rejects_bad_permutations(permutation, match):
    with pytest.raises(ValueError, match=match):
        bisimulation_loss(torch.zeros(2, 2), torch.zeros(2), torch.zeros(2, 2), None, 0.9, torch.tensor(permutation))


def test_bisimulation_loss_rejects_reward_shape_and_discount():
    z, mu = torch.zeros(2, 2), torch.zeros(2, 2)
    with pytest.raises(ValueError, match="reward"):
        bisimulation_loss(z, torch.zeros(2, 2), mu, None, 0.9, torch.tensor([1, 0]))
    with pytest.raises(ValueError, match="discount"):
        bisimulation_loss(z, torch.zeros(2), mu, None, 1.0, torch.tensor([1, 0]))


# ------------------------------------------------------------------------ the reductions of the public code bases
def test_mse_transition_loss_is_2k_times_the_public_codes_mean_half_squared_error():
    """Our eq. 4.8 sums over the K latent axes; DBC's and mtrl's code average 1/2 delta^2 over batch and axes."""
    rng = np.random.default_rng(0)
    predicted, target = torch.from_numpy(rng.normal(size=(5, 8))), torch.from_numpy(rng.normal(size=(5, 8)))
    public = torch.mean(0.5 * (predicted - target).pow(2))  # their Gaussian NLL with sigma = 1, constants dropped
    ours = deterministic_transition_loss(predicted, target)
    assert ours.item() == pytest.approx(2 * 8 * public.item())


def test_bisimulation_loss_is_the_papers_equation_not_the_public_per_coordinate_variant():
    z = t([[0.0, 0.0], [1.0, 3.0]])
    reward = t([0.0, 2.0])
    next_mu = t([[0.0, 0.0], [0.0, 0.0]])
    permutation = torch.tensor([1, 0])
    ours = bisimulation_loss(z, reward, next_mu, None, 0.9, permutation).item()
    # Paper: (||z_i - z_j||_1 - |r_i - r_j|)^2 = (4 - 2)^2 for both pairs.
    assert ours == pytest.approx(4.0)
    # DBC's code: every coordinate against the whole (smooth-L1) reward gap, averaged over coordinates.
    huber = torch.nn.functional.smooth_l1_loss
    z_dist = huber(z, z[permutation], reduction="none")
    r_dist = huber(reward[:, None], reward[permutation][:, None], reduction="none")
    public = (z_dist - r_dist).pow(2).mean().item()
    assert public == pytest.approx(((0.5 - 1.5) ** 2 + (2.5 - 1.5) ** 2) / 2)
    assert public != pytest.approx(ours)
