"""Finite-MDP solvers: fixed known values, properties over random MDPs, and clear errors on bad input."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reference_impl.mdp import (
    FiniteMDP,
    MDPValidationError,
    as_policy_matrix,
    bellman_expectation_backup,
    bellman_optimality_backup,
    greedy_policy,
    policy_evaluation,
    policy_iteration,
    q_from_v,
    random_mdp,
    value_iteration,
)

PROPERTY = settings(max_examples=40, deadline=None, derandomize=True, database=None)


@st.composite
def mdps(draw, max_states=6, max_actions=3):
    n_states = draw(st.integers(1, max_states))
    n_actions = draw(st.integers(1, max_actions))
    gamma = draw(st.sampled_from([0.0, 0.5, 0.9, 0.99]))
    seed = draw(st.integers(0, 2**16))
    sparse = draw(st.booleans())
    return random_mdp(n_states, n_actions, gamma, seed=seed, n_successors=1 if sparse else None)


def two_state_mdp(gamma=0.9):
    # Action 0 stays, action 1 switches. Reward 1 for staying in state 1, 0 otherwise.
    P = np.array([np.eye(2), [[0.0, 1.0], [1.0, 0.0]]])
    R = np.array([[0.0, 0.0], [1.0, 0.0]])
    return FiniteMDP(P, R, gamma)


def test_known_values_on_a_two_state_mdp():
    mdp = two_state_mdp(0.9)
    result = value_iteration(mdp, tol=1e-10)
    # Optimal: in state 1 stay forever (1 / (1 - 0.9) = 10); in state 0 switch then stay (0.9 * 10 = 9).
    np.testing.assert_allclose(result.V, [9.0, 10.0], atol=1e-9)
    np.testing.assert_array_equal(result.policy, [1, 0])
    np.testing.assert_allclose(policy_evaluation(mdp, np.array([0, 0])), [0.0, 10.0])
    np.testing.assert_allclose(q_from_v(mdp, result.V), [[8.1, 9.0], [10.0, 8.1]], atol=1e-8)


def test_uniform_policy_evaluation_known_value():
    mdp = two_state_mdp(0.5)
    pi = np.full((2, 2), 0.5)
    # V = r_pi + 0.5 * P_pi V with r_pi = [0, 0.5] and every row of P_pi = [0.5, 0.5] -> V = [1/4, 3/4].
    np.testing.assert_allclose(policy_evaluation(mdp, pi), [0.25, 0.75])


@PROPERTY
@given(mdps())
def test_value_iteration_reaches_the_optimal_fixed_point_within_its_bound(mdp):
    tol = 1e-6
    result = value_iteration(mdp, tol=tol)
    exact = policy_iteration(mdp).V
    assert np.max(np.abs(result.V - exact)) <= tol
    # The fixed point of T*: one more backup changes V by at most tol * (1 + gamma).
    assert np.max(np.abs(bellman_optimality_backup(mdp, result.V) - result.V)) <= tol * (1 + mdp.gamma) + 1e-12
    assert result.n_iterations == len(result.residuals) >= 1


@PROPERTY
@given(mdps())
def test_policy_iteration_and_value_iteration_agree(mdp):
    pi_result = policy_iteration(mdp)
    vi_result = value_iteration(mdp, tol=1e-9)
    np.testing.assert_allclose(pi_result.V, vi_result.V, atol=1e-7)
    # Both greedy policies are optimal: their values coincide with V*.
    np.testing.assert_allclose(policy_evaluation(mdp, vi_result.policy), pi_result.V, atol=1e-6)


@PROPERTY
@given(mdps(), st.integers(0, 2**16))
def test_exact_and_iterative_policy_evaluation_agree(mdp, seed):
    pi = np.random.default_rng(seed).dirichlet(np.ones(mdp.n_actions), size=mdp.n_states)
    exact = policy_evaluation(mdp, pi, method="exact")
    iterative = policy_evaluation(mdp, pi, method="iterative", tol=1e-9)
    np.testing.assert_allclose(exact, iterative, atol=1e-8)
    np.testing.assert_allclose(bellman_expectation_backup(mdp, exact, pi), exact, atol=1e-8)


@PROPERTY
@given(mdps(), st.integers(0, 2**16))
def test_bellman_operators_contract_by_gamma_in_sup_norm(mdp, seed):
    rng = np.random.default_rng(seed)
    U, W = rng.normal(scale=5.0, size=(2, mdp.n_states))
    pi = rng.dirichlet(np.ones(mdp.n_actions), size=mdp.n_states)
    distance = np.max(np.abs(U - W))
    for backup in (lambda V: bellman_optimality_backup(mdp, V), lambda V: bellman_expectation_backup(mdp, V, pi)):
        assert np.max(np.abs(backup(U) - backup(W))) <= mdp.gamma * distance + 1e-9


def test_greedy_policy_breaks_ties_towards_the_lowest_action():
    np.testing.assert_array_equal(greedy_policy(np.array([[1.0, 1.0], [0.0, 2.0]])), [0, 1])


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"P": np.ones((1, 2, 3)), "R": np.zeros((2, 1)), "gamma": 0.9}, "shape \\[A, S, S\\]"),
        ({"P": np.full((1, 2, 2), 0.4), "R": np.zeros((2, 1)), "gamma": 0.9}, "sum to 1"),
        ({"P": np.array([[[1.5, -0.5], [0, 1]]]), "R": np.zeros((2, 1)), "gamma": 0.9}, "negative"),
        ({"P": np.array([np.eye(2)]), "R": np.zeros((1, 2)), "gamma": 0.9}, "R must have shape"),
        ({"P": np.array([np.eye(2)]), "R": np.zeros((2, 1)), "gamma": 1.0}, "0 <= gamma < 1"),
        ({"P": np.array([np.eye(2)]), "R": np.full((2, 1), np.nan), "gamma": 0.5}, "finite"),
    ],
)
def test_invalid_mdps_raise_clear_errors(kwargs, message):
    with pytest.raises(MDPValidationError, match=message):
        FiniteMDP(**kwargs)


def test_invalid_policies_raise_clear_errors():
    with pytest.raises(MDPValidationError, match="integer"):
        as_policy_matrix(np.array([0.5, 0.5]), 2)
    with pytest.raises(MDPValidationError, match="lie in"):
        as_policy_matrix(np.array([0, 2]), 2)
    with pytest.raises(MDPValidationError, match="probability distribution"):
        as_policy_matrix(np.array([[0.5, 0.6]]), 2)


def test_mdp_arrays_are_read_only():
    mdp = two_state_mdp()
    with pytest.raises(ValueError):
        mdp.P[0, 0, 0] = 0.5
