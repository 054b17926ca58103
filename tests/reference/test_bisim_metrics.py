"""Bisimulation metrics (chapter 3): Ferns et al., on-policy, Castro's deterministic and sampled forms, MICo."""

import tracemalloc

import numpy as np
import ot
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reference_impl.bisim import (
    bisimulation_metric,
    bisimulation_partition,
    deterministic_bisimulation_metric,
    deterministic_pi_bisimulation_metric,
    deterministic_pi_bisimulation_metric_from_dynamics,
    kantorovich_fixed_point,
    metric_weights,
    mico_distance,
    mico_distance_from_dynamics,
    pi_bisimulation_metric,
    pi_bisimulation_metric_from_dynamics,
    pi_bisimulation_partition,
    reduced_mico,
    sampled_deterministic_metric,
    stopping_threshold,
)
from reference_impl.bisim.fixed_point import _KantorovichOperator
from reference_impl.mdp import FiniteMDP, policy_evaluation, policy_iteration, random_mdp

PROPERTY = settings(max_examples=30, deadline=None, derandomize=True, database=None)
TIGHT = 1e-10


@st.composite
def mdps(draw, max_states=6, max_actions=3):
    n_states = draw(st.integers(1, max_states))
    return random_mdp(
        n_states,
        draw(st.integers(1, max_actions)),
        draw(st.sampled_from([0.0, 0.5, 0.9])),
        seed=draw(st.integers(0, 2**16)),
        n_successors=draw(st.sampled_from([None, 1, 2])) if n_states > 2 else None,
    )


@st.composite
def lifted_mdps(draw):
    """Random MDPs with bisimilar states: each state of a small MDP is copied, copies split the block mass."""
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    sizes = draw(st.lists(st.integers(1, 2), min_size=1, max_size=3))
    n_actions = draw(st.integers(1, 3))
    gamma = draw(st.sampled_from([0.5, 0.9]))
    small = random_mdp(len(sizes), n_actions, gamma, seed=rng, n_successors=1 if draw(st.booleans()) else None)
    block_of = np.repeat(np.arange(len(sizes)), sizes)
    P = np.zeros((n_actions, len(block_of), len(block_of)))
    for a in range(n_actions):
        for s in range(len(block_of)):
            for c in range(len(sizes)):
                members = np.flatnonzero(block_of == c)
                P[a, s, members] = small.P[a, block_of[s], c] * rng.dirichlet(np.ones(len(members)))
    R = np.round(small.R) if draw(st.booleans()) else small.R
    return FiniteMDP(P, R[block_of], gamma)


def random_policy(mdp, seed, deterministic=False):
    rng = np.random.default_rng(seed)
    if deterministic:
        return rng.integers(mdp.n_actions, size=mdp.n_states)
    return rng.dirichlet(np.ones(mdp.n_actions), size=mdp.n_states)


def assert_pseudometric(d, atol=1e-9):
    assert np.all(d >= 0)
    np.testing.assert_array_equal(d, d.T)
    np.testing.assert_array_equal(np.diag(d), 0.0)
    assert np.all(d[:, None, :] <= d[:, :, None] + d[None, :, :] + atol)  # d(i,k) <= d(i,j) + d(j,k)


# ------------------------------------------------------------------------------------------- Ferns et al.


@PROPERTY
@given(mdps(), st.sampled_from(["standard", "unnormalised"]))
def test_bisimulation_metric_is_a_pseudometric(mdp, weights):
    assert_pseudometric(bisimulation_metric(mdp, weights=weights, tol=1e-8))


def naive_metric(mdp, c_R, c_T, tol):
    """Eq. 3.3 from d_0 = 0 with one ``ot.emd2`` call per (s, t, a) per iteration, stopped by eq. 3.4."""
    S, A = mdp.n_states, mdp.n_actions
    d = np.zeros((S, S))
    for _ in range(10_000):
        d_new = np.array([[max(c_R * abs(mdp.R[s, a] - mdp.R[t, a]) + c_T * ot.emd2(mdp.P[a, s], mdp.P[a, t], d)
                               for a in range(A)) for t in range(S)] for s in range(S)])
        residual, d = np.max(np.abs(d_new - d)), d_new
        if residual <= stopping_threshold(tol, c_T):
            return d
    raise RuntimeError("no convergence")


@settings(max_examples=15, deadline=None, derandomize=True, database=None)
@given(mdps(max_states=5), st.sampled_from(["standard", "unnormalised"]))
def test_plain_and_accelerated_iterations_reach_the_naive_fixed_point(mdp, weights):
    c_R, c_T = metric_weights(mdp.gamma, weights)
    naive = naive_metric(mdp, c_R, c_T, tol=2e-13)
    plain = kantorovich_fixed_point(mdp.P, mdp.R, c_R, c_T, tol=2e-13, accelerate=False)
    fast = kantorovich_fixed_point(mdp.P, mdp.R, c_R, c_T, tol=2e-13)
    np.testing.assert_allclose(plain.distance, naive, rtol=0, atol=1e-12)
    np.testing.assert_allclose(fast.distance, naive, rtol=0, atol=1e-12)


def test_plain_iteration_computes_the_naive_iterates():
    mdp = random_mdp(6, 2, 0.9, seed=5)
    plain = kantorovich_fixed_point(mdp.P, mdp.R, 0.1, 0.9, tol=1e-4, accelerate=False)
    np.testing.assert_allclose(plain.distance, naive_metric(mdp, 0.1, 0.9, tol=1e-4), rtol=0, atol=1e-14)


def test_accelerated_iteration_on_a_larger_dense_mdp():
    mdp = random_mdp(16, 3, 0.9, seed=3)
    exact = kantorovich_fixed_point(mdp.P, mdp.R, 0.1, 0.9, tol=1e-13, accelerate=False).distance
    for tol in (1e-3, 1e-7):
        fast = kantorovich_fixed_point(mdp.P, mdp.R, 0.1, 0.9, tol=tol)
        plain = kantorovich_fixed_point(mdp.P, mdp.R, 0.1, 0.9, tol=tol, accelerate=False)
        assert np.max(np.abs(fast.distance - exact)) <= tol
        assert fast.n_lp_solves < plain.n_lp_solves / 2  # only the actions that can be the maximum are solved
    assert fast.n_certified > 0  # late iterations reuse values the Lipschitz bound settles


def test_accelerated_iteration_stops_by_the_measured_contraction():
    """kappa = c_T max TV(P(.|s, a), P(.|t, a)) (fact 3): below c_T for dense dynamics, so fewer iterations, and the
    result is still within tol; with a deterministic MDP (TV in {0, 1}) kappa is c_T itself."""
    mdp = random_mdp(16, 3, 0.9, seed=3)
    tv = 0.5 * np.abs(mdp.P[:, :, None, :] - mdp.P[:, None, :, :]).sum(axis=-1)
    assert _KantorovichOperator(mdp.P, mdp.R, 0.1, 0.9).contraction == pytest.approx(0.9 * tv.max(), abs=1e-15)
    assert 0.9 * tv.max() < 0.8
    exact = kantorovich_fixed_point(mdp.P, mdp.R, 0.1, 0.9, tol=1e-13, accelerate=False).distance
    fast = kantorovich_fixed_point(mdp.P, mdp.R, 0.1, 0.9, tol=1e-3)
    plain = kantorovich_fixed_point(mdp.P, mdp.R, 0.1, 0.9, tol=1e-3, accelerate=False)  # stops by c_T (eq. 3.4)
    assert fast.n_iterations < plain.n_iterations and np.max(np.abs(fast.distance - exact)) <= 1e-3
    deterministic = random_mdp(8, 2, 0.9, seed=1, n_successors=1)
    assert _KantorovichOperator(deterministic.P, deterministic.R, 0.1, 0.9).contraction == pytest.approx(0.9)


def test_accelerated_iteration_memory_is_quadratic_in_the_states():
    """Peak memory O(|A| |S|^2): no per-pair plans or cost sub-matrices kept for all pairs (was O(|A| |S|^3))."""
    mdp = random_mdp(40, 2, 0.9, seed=0)
    tracemalloc.start()
    kantorovich_fixed_point(mdp.P, mdp.R, 0.1, 0.9, tol=1e-2)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak <= 16 * mdp.P.nbytes  # a few arrays of |A| |S|^2 / 2 entries and copies of P (was 120x P here)


def test_stopping_rule_bounds_the_error():
    mdp = random_mdp(5, 2, 0.9, seed=4)
    exact = bisimulation_metric(mdp, tol=1e-12)
    loose = kantorovich_fixed_point(mdp.P, mdp.R, 0.1, 0.9, tol=1e-3, accelerate=False)
    assert np.max(np.abs(loose.distance - exact)) <= 1e-3
    assert loose.residuals[-1] <= 1e-3 * 0.1 / 0.9 < loose.residuals[-2]
    fast = kantorovich_fixed_point(mdp.P, mdp.R, 0.1, 0.9, tol=1e-3)
    assert np.max(np.abs(fast.distance - exact)) <= 1e-3


@PROPERTY
@given(lifted_mdps())
def test_metric_vanishes_exactly_on_bisimilar_pairs(mdp):
    labels = bisimulation_partition(mdp)
    same = labels[:, None] == labels[None, :]
    for weights in ("standard", "unnormalised"):
        d = bisimulation_metric(mdp, weights=weights, tol=1e-8)
        assert np.all(d[same] <= 1e-8)
        assert np.all(d[~same] > 1e-6)


@PROPERTY
@given(mdps())
def test_value_difference_bounds(mdp):
    V = policy_iteration(mdp).V
    gap = np.abs(V[:, None] - V[None, :])
    gamma = mdp.gamma
    # eq. 3.5: c_R |V*(s) - V*(t)| <= d(s, t) whenever c_T >= gamma.
    assert np.all((1 - gamma) * gap <= bisimulation_metric(mdp, weights="standard", tol=TIGHT) + 1e-8)
    assert np.all(gap <= bisimulation_metric(mdp, weights="unnormalised", tol=TIGHT) + 1e-8)
    c_T = min(1.0, gamma + 0.05) if gamma > 0 else 0.0
    if c_T < 1.0:
        assert np.all(0.5 * gap <= bisimulation_metric(mdp, weights=(0.5, c_T), tol=TIGHT) + 1e-8)


def test_gamma_zero_gives_the_reward_distance():
    mdp = random_mdp(4, 3, 0.0, seed=5)
    expected = np.max(np.abs(mdp.R[:, None, :] - mdp.R[None, :, :]), axis=2)
    np.testing.assert_allclose(bisimulation_metric(mdp, weights="unnormalised"), expected)
    np.testing.assert_allclose(bisimulation_metric(mdp), expected)  # (1 - 0, 0)


# ------------------------------------------------------------------------------------------------ on-policy


def test_pi_bisimulation_fixed_example():
    P_pi = np.array([[0, 0, 0.5, 0.5], [0, 0, 1, 0], [0, 0, 1, 0], [0, 0, 0, 1.0]])
    r_pi = np.array([0.0, 0, 0, 1])
    expected = np.array([[0, 4.5, 4.5, 5.5], [4.5, 0, 0, 10], [4.5, 0, 0, 10], [5.5, 10, 10, 0]])
    np.testing.assert_allclose(pi_bisimulation_metric_from_dynamics(P_pi, r_pi, 0.9, tol=1e-9), expected, atol=1e-6)
    mdp = FiniteMDP(P_pi[None], r_pi[:, None], 0.9)
    np.testing.assert_allclose(pi_bisimulation_metric(mdp, np.zeros(4, dtype=int), tol=1e-9), expected, atol=1e-6)


@PROPERTY
@given(mdps(), st.integers(0, 2**16))
def test_pi_bisimulation_metric_properties(mdp, seed):
    policy = random_policy(mdp, seed)
    d = pi_bisimulation_metric(mdp, policy, tol=TIGHT)
    assert_pseudometric(d)
    V = policy_evaluation(mdp, policy)
    assert np.all(np.abs(V[:, None] - V[None, :]) <= d + 1e-8)  # eq. 3.7
    labels = pi_bisimulation_partition(mdp, policy)
    same = labels[:, None] == labels[None, :]
    assert np.all(d[same] <= 1e-8)
    assert np.all(d[~same] > 1e-6)


# --------------------------------------------------------------------------------------- deterministic MDPs


@PROPERTY
@given(st.integers(1, 6), st.integers(1, 3), st.sampled_from([0.0, 0.5, 0.9]), st.integers(0, 2**16))
def test_deterministic_metrics_equal_the_kantorovich_ones(n_states, n_actions, gamma, seed):
    mdp = random_mdp(n_states, n_actions, gamma, seed=seed, n_successors=1)
    policy = random_policy(mdp, seed, deterministic=True)
    np.testing.assert_allclose(
        deterministic_pi_bisimulation_metric(mdp, policy, tol=1e-9),
        pi_bisimulation_metric(mdp, policy, tol=1e-9),
        atol=1e-7,
    )
    np.testing.assert_allclose(
        deterministic_bisimulation_metric(mdp, tol=1e-9),
        bisimulation_metric(mdp, weights="unnormalised", tol=1e-9),
        atol=1e-7,
    )


def test_deterministic_metric_from_successors():
    # A 3-cycle 0 -> 1 -> 2 -> 0 with reward 1 only in state 2.
    d = deterministic_pi_bisimulation_metric_from_dynamics(np.array([1, 2, 0]), np.array([0.0, 0, 1]), 0.5, tol=1e-12)
    # d(0,2) = 1 + 0.5 d(1,0), d(1,0) = 0.5 d(2,1), d(2,1) = 1 + 0.5 d(0,2)  =>  d(0,2) = 10/7.
    assert d[0, 2] == pytest.approx(10 / 7)
    assert d[1, 2] == pytest.approx(1 + 0.5 * 10 / 7)
    assert_pseudometric(d)


@pytest.mark.parametrize("on_policy, step_size", [(True, 1.0), (True, 0.5), (False, 1.0)])
def test_sampled_metric_converges_to_the_exact_one(on_policy, step_size):
    mdp = random_mdp(5, 2, 0.8, seed=6, n_successors=1)
    policy = np.array([0, 1, 0, 1, 1]) if on_policy else None
    exact = (
        deterministic_pi_bisimulation_metric(mdp, policy, tol=1e-10)
        if on_policy
        else deterministic_bisimulation_metric(mdp, tol=1e-10)
    )
    sampled = sampled_deterministic_metric(mdp, policy, n_updates=20_000, step_size=step_size, seed=0)
    np.testing.assert_allclose(sampled, exact, atol=1e-4)
    early = sampled_deterministic_metric(mdp, policy, n_updates=20, step_size=step_size, seed=0)
    assert np.max(np.abs(early - exact)) > 1e-2
    if not on_policy:
        assert np.all(early <= exact + 1e-12)  # the max update approaches the fixed point from below


# ----------------------------------------------------------------------------------------------------- MICo


def test_mico_fixed_example():
    P, r = np.array([[0.5, 0.5], [0.0, 1.0]]), np.array([1.0, 0.0])
    U = mico_distance_from_dynamics(P, r, 0.9)
    # U(1,1) = 0, U(0,1) = 1 + 0.45 U(0,1), U(0,0) = 0.225 U(0,0) + 0.45 U(0,1).
    u01 = 1 / 0.55
    np.testing.assert_allclose(U, [[0.45 * u01 / 0.775, u01], [u01, 0.0]], atol=1e-12)
    np.testing.assert_allclose(U, [[1.06, 1.82], [1.82, 0.0]], atol=5e-3)
    np.testing.assert_allclose(reduced_mico(U), [[0.0, 1.29], [1.29, 0.0]], atol=5e-3)
    assert U[0, 0] > 0  # a diffuse metric: self-distance can be positive


@PROPERTY
@given(mdps(), st.integers(0, 2**16))
def test_mico_properties(mdp, seed):
    policy = random_policy(mdp, seed)
    U = mico_distance(mdp, policy)
    np.testing.assert_array_equal(U, U.T)
    assert np.all(U >= 0)
    np.testing.assert_allclose(U, mico_distance(mdp, policy, method="scipy"), atol=1e-9)
    P_pi = np.einsum("sa,ast->st", policy, mdp.P)
    r_pi = np.sum(policy * mdp.R, axis=1)
    residual = np.abs(r_pi[:, None] - r_pi[None, :]) + mdp.gamma * P_pi @ U @ P_pi.T - U
    assert np.max(np.abs(residual)) <= 1e-10  # eq. 3.10 holds
    V = policy_evaluation(mdp, policy)
    assert np.all(np.abs(V[:, None] - V[None, :]) <= U + 1e-9)
    # A diffuse metric: the triangle inequality holds for U itself (U(x, x) may be positive).
    assert np.all(U[:, None, :] <= U[:, :, None] + U[None, :, :] + 1e-9)
    reduced = reduced_mico(U)
    np.testing.assert_array_equal(reduced, reduced.T)
    np.testing.assert_array_equal(np.diag(reduced), 0.0)


def test_reduced_mico_can_violate_the_triangle_inequality():
    # 0 and 1 absorbing with rewards 0 and 1; 2 pays 1 and moves to 0 or 1 with probability 1/2.
    P = np.array([[1.0, 0, 0], [0, 1, 0], [0.5, 0.5, 0]])
    U = mico_distance_from_dynamics(P, np.array([0.0, 1, 1]), 0.9)
    np.testing.assert_allclose(U, [[0, 10, 5.5], [10, 0, 4.5], [5.5, 4.5, 4.5]], atol=1e-10)
    reduced = reduced_mico(U)
    np.testing.assert_allclose(reduced[0, 2] + reduced[2, 1], 3.25 + 2.25, atol=1e-10)
    assert reduced[0, 1] > reduced[0, 2] + reduced[2, 1]


# --------------------------------------------------------------------------------------------------- errors


def test_invalid_inputs_raise_clear_errors():
    mdp = random_mdp(3, 2, 0.9, seed=0)
    with pytest.raises(ValueError, match="weights"):
        bisimulation_metric(mdp, weights="normalised")
    with pytest.raises(ValueError, match="c_R > 0"):
        bisimulation_metric(mdp, weights=(0.0, 0.9))
    with pytest.raises(ValueError, match="c_R > 0"):
        bisimulation_metric(mdp, weights=(1.0, 1.0))
    with pytest.raises(ValueError, match="tol"):
        bisimulation_metric(mdp, tol=0.0)
    with pytest.raises(TypeError, match="FiniteMDP"):
        bisimulation_metric(mdp.P)
    with pytest.raises(ValueError, match="policy"):
        pi_bisimulation_metric(mdp, np.ones((3, 3)) / 3)
    with pytest.raises(ValueError, match="square"):
        pi_bisimulation_metric_from_dynamics(np.ones((2, 3)) / 3, np.zeros(2), 0.9)
    with pytest.raises(ValueError, match="r_pi"):
        pi_bisimulation_metric_from_dynamics(np.eye(2), np.zeros(3), 0.9)
    with pytest.raises(ValueError, match="sum to 1"):
        mico_distance_from_dynamics(np.ones((2, 2)), np.zeros(2), 0.9)
    with pytest.raises(ValueError, match="gamma"):
        mico_distance_from_dynamics(np.eye(2), np.zeros(2), 1.0)
    with pytest.raises(ValueError, match="method"):
        mico_distance_from_dynamics(np.eye(2), np.zeros(2), 0.9, method="kronecker")
    with pytest.raises(ValueError, match="square"):
        reduced_mico(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="deterministic"):
        deterministic_bisimulation_metric(mdp)
    with pytest.raises(ValueError, match="deterministic"):
        sampled_deterministic_metric(mdp, np.zeros(3, dtype=int))
    deterministic = random_mdp(3, 2, 0.9, seed=0, n_successors=1)
    with pytest.raises(ValueError, match="step_size"):
        sampled_deterministic_metric(deterministic, np.zeros(3, dtype=int), step_size=0.0)
    with pytest.raises(ValueError, match="step size"):
        sampled_deterministic_metric(deterministic, None, step_size=0.5)
    with pytest.raises(ValueError, match="successors"):
        deterministic_pi_bisimulation_metric_from_dynamics(np.array([0, 3]), np.zeros(2), 0.9)


