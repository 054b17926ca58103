"""The DeepMDP value-difference bound (eq. 4.4) on random finite MDPs, computed exactly."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reference_impl.deepmdp.bounds import (
    aggregated_latent_mdp,
    check_value_bound,
    discrete_metric,
    duplicated_mdp,
    euclidean_metric,
    lipschitz_constant,
    pushforward,
    validate_metric,
    wasserstein_1,
)
from reference_impl.mdp import FiniteMDP, random_mdp

FAST = settings(max_examples=30, deadline=None, derandomize=True, database=None)


def random_surjection(rng, n_states, n_latent):
    phi = np.concatenate([np.arange(n_latent), rng.integers(n_latent, size=n_states - n_latent)])
    return rng.permutation(phi)


@st.composite
def mdp_embedding_and_latent(draw):
    n_states = draw(st.integers(2, 6))
    n_actions = draw(st.integers(1, 3))
    n_latent = draw(st.integers(1, n_states))
    gamma = draw(st.sampled_from([0.0, 0.5, 0.9, 0.95]))
    seed = draw(st.integers(0, 10_000))
    rng = np.random.default_rng(seed)
    mdp = random_mdp(n_states, n_actions, gamma, seed=rng, n_successors=draw(st.integers(1, n_states)))
    phi = random_surjection(rng, n_states, n_latent)
    if draw(st.booleans()):
        latent = aggregated_latent_mdp(mdp, phi, n_latent)
    else:  # an arbitrary latent model, unrelated to the MDP
        latent = random_mdp(n_latent, n_actions, gamma, seed=rng)
    if draw(st.booleans()) or n_latent == 1:
        metric = discrete_metric(n_latent)
    else:
        metric = euclidean_metric(rng.normal(size=(n_latent, 2)))
    return mdp, phi, latent, metric


@FAST
@given(mdp_embedding_and_latent())
def test_value_difference_bound_holds(case):
    mdp, phi, latent, metric = case
    check = check_value_bound(mdp, phi, latent, metric)
    assert check.holds(atol=1e-9), (check.max_q_gap, check.bound)


@FAST
@given(
    n_states=st.integers(1, 5),
    n_actions=st.integers(1, 3),
    n_copies=st.integers(2, 3),
    gamma=st.sampled_from([0.0, 0.5, 0.9, 0.95]),
    seed=st.integers(0, 10_000),
)
def test_bound_is_tight_for_a_bisimulation(n_states, n_actions, n_copies, gamma, seed):
    """Copies of an MDP aggregated back into it: L_R = L_P = 0 and Q* = Q_bar* o phi, so both sides are 0."""
    quotient = random_mdp(n_states, n_actions, gamma, seed=seed)
    mdp, phi = duplicated_mdp(quotient, n_copies, seed=seed + 1)
    check = check_value_bound(mdp, phi, quotient)
    assert check.reward_loss == 0.0
    assert check.transition_loss == pytest.approx(0.0, abs=1e-12)
    assert check.bound == pytest.approx(0.0, abs=1e-10)
    assert check.max_q_gap == pytest.approx(0.0, abs=1e-10)
    # The aggregation's block-average latent MDP is the quotient itself.
    rebuilt = aggregated_latent_mdp(mdp, phi)
    np.testing.assert_allclose(rebuilt.P, quotient.P, atol=1e-12)
    np.testing.assert_allclose(rebuilt.R, quotient.R, atol=1e-12)


def test_the_transition_term_is_needed():
    """With rewards constant on blocks (L_R = 0) but dynamics that are not, Q* still differs from Q_bar* o phi:
    dropping gamma K_V L_P from (eq. 4.4) would give a false bound, so the check bites."""
    rng = np.random.default_rng(0)
    base = random_mdp(6, 2, 0.9, seed=rng)
    phi = random_surjection(rng, 6, 3)
    block_rewards = rng.uniform(size=(3, 2))
    mdp = FiniteMDP(base.P, block_rewards[phi], base.gamma)
    check = check_value_bound(mdp, phi, aggregated_latent_mdp(mdp, phi))
    assert check.reward_loss == 0.0
    assert check.max_q_gap > 1e-3
    assert check.holds()


def test_random_aggregations_are_not_trivially_exact():
    rng = np.random.default_rng(1)
    mdp = random_mdp(6, 2, 0.9, seed=rng)
    phi = random_surjection(rng, 6, 2)
    check = check_value_bound(mdp, phi, aggregated_latent_mdp(mdp, phi), euclidean_metric(np.array([[0.0], [2.0]])))
    assert check.max_q_gap > 1e-3 and check.reward_loss > 0 and check.transition_loss > 0
    assert check.value_lipschitz > 0


def test_identity_embedding_of_the_mdp_itself_gives_zero_losses():
    mdp = random_mdp(4, 2, 0.8, seed=3)
    check = check_value_bound(mdp, np.arange(4), mdp, euclidean_metric(np.random.default_rng(0).normal(size=(4, 3))))
    assert check.bound == pytest.approx(0.0, abs=1e-12) and check.max_q_gap == pytest.approx(0.0, abs=1e-12)


@FAST
@given(n_points=st.integers(2, 6), seed=st.integers(0, 10_000))
def test_wasserstein_1_on_a_line_equals_the_cdf_formula(n_points, seed):
    """On points of the real line, W_1 = integral |F_p - F_q| (an independent closed form)."""
    rng = np.random.default_rng(seed)
    points = np.sort(rng.normal(size=n_points))
    p, q = rng.dirichlet(np.ones(n_points)), rng.dirichlet(np.ones(n_points))
    expected = np.sum(np.abs(np.cumsum(p - q))[:-1] * np.diff(points))
    assert wasserstein_1(p, q, euclidean_metric(points[:, None])) == pytest.approx(expected, abs=1e-9)


def test_wasserstein_1_under_the_discrete_metric_is_total_variation():
    p, q = np.array([0.5, 0.5, 0.0]), np.array([0.2, 0.3, 0.5])
    assert wasserstein_1(p, q, discrete_metric(3)) == pytest.approx(0.5)


def test_lipschitz_constant_and_pushforward_hand_values():
    metric = euclidean_metric(np.array([[0.0], [1.0], [3.0]]))
    assert lipschitz_constant(np.array([0.0, 2.0, 3.0]), metric) == pytest.approx(2.0)
    assert lipschitz_constant(np.array([5.0]), discrete_metric(1)) == 0.0
    P = np.array([[[0.1, 0.2, 0.7], [1.0, 0.0, 0.0]]])
    np.testing.assert_allclose(pushforward(P, np.array([1, 0, 1]), 2), [[[0.2, 0.8], [0.0, 1.0]]])


def test_aggregated_latent_mdp_averages_blocks():
    P = np.array([[[0.0, 1.0, 0.0], [0.0, 0.0, 1.0], [1.0, 0.0, 0.0]]])
    R = np.array([[1.0], [3.0], [5.0]])
    latent = aggregated_latent_mdp(FiniteMDP(P, R, 0.5), np.array([0, 0, 1]))
    np.testing.assert_allclose(latent.R, [[2.0], [5.0]])
    np.testing.assert_allclose(latent.P[0], [[0.5, 0.5], [1.0, 0.0]])


def test_invalid_inputs_are_rejected():
    mdp = random_mdp(3, 2, 0.9, seed=0)
    with pytest.raises(ValueError, match="triangle"):
        validate_metric(np.array([[0, 1, 5], [1, 0, 1], [5, 1, 0]]))
    with pytest.raises(ValueError, match="symmetric"):
        validate_metric(np.array([[0, 1], [2, 0]]))
    with pytest.raises(ValueError, match="preimage"):
        aggregated_latent_mdp(mdp, np.array([0, 0, 2]), 3)
    with pytest.raises(ValueError, match="phi"):
        check_value_bound(mdp, np.array([0, 1]), random_mdp(2, 2, 0.9, seed=1))
    with pytest.raises(ValueError, match="actions"):
        check_value_bound(mdp, np.array([0, 1, 1]), random_mdp(2, 3, 0.9, seed=1))
    with pytest.raises(ValueError, match="discount"):
        check_value_bound(mdp, np.array([0, 1, 1]), random_mdp(2, 2, 0.5, seed=1))
    with pytest.raises(ValueError, match="probability"):
        wasserstein_1(np.array([0.5, 0.6]), np.array([0.5, 0.5]), discrete_metric(2))
