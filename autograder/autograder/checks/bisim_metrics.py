"""Checks for chapter 3 (bisimulation metrics). Each ``check_*`` is one call in a notebook test cell.

Student functions take plain arrays: distributions ``p, q`` [n], a cost matrix ``D`` [n, n], ``P`` [A, S, S],
``R`` [S, A], a distance matrix ``d`` [S, S], and a Markov reward process ``P_pi`` [S, S], ``r_pi`` [S]. Hidden
tests compare with :mod:`reference_impl.bisim` on small random instances (states and actions kept small so that
a correct solution that calls an LP solver in a loop runs in seconds).

Hidden input space (what the exercise text allows):

* ``wasserstein1``: n = 1-6; ``p, q`` random with random supports, Diracs, or equal; ``D`` any non-negative cost:
  a Euclidean metric, an asymmetric random cost (zero or non-zero diagonal), whole-number costs, or all zero.
* ``ferns_update``: 1-4 states, 1-2 actions, ``gamma`` in {0, 0.01, 0.1, 0.3, 0.5, 0.8, 0.9, 0.99}; rewards in
  [0, 1], [-1, 0], [-2, 2], all zero or whole numbers, sometimes two states with equal rewards; dense, sparse or
  deterministic dynamics; ``d`` any pseudometric: Euclidean, the discrete metric, all zero, or one with zero
  distances between distinct states.
* ``bisimulation_metric``: the same MDPs with ``gamma`` in {0.01, 0.1, 0.3, 0.5, 0.8} and ``tol`` in
  {1e-3, 1e-4} (``gamma`` >= 0.9 would make an LP-per-pair solution too slow for a test cell).
* ``mico_distance``: 1-8 states, ``gamma`` in {0, 0.1, 0.5, 0.9, 0.99}; dense, sparse or deterministic ``P_pi``
  (absorbing states included); ``r_pi`` of either sign, all zero or whole numbers.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from hypothesis import strategies as st

from autograder.checks._core import as_array, call_student, fail, passed, quiet, run_property
from autograder.checks._inputs import REWARD_KINDS, random_rewards
from reference_impl import bisim as ref
from reference_impl.mdp import FiniteMDP, random_mdp

ATOL = 1e-6


def _points_metric(rng: np.random.Generator, n: int) -> np.ndarray:
    x = rng.normal(size=(n, 2))
    return np.linalg.norm(x[:, None] - x[None, :], axis=2)


def _rewards(rng: np.random.Generator, kind: str, shape: tuple[int, ...]) -> np.ndarray:
    return random_rewards(rng, kind, shape, decimals=2)


def _cost(rng: np.random.Generator, kind: str, n: int) -> np.ndarray:
    if kind == "metric":
        return np.round(_points_metric(rng, n), 4)
    if kind == "asymmetric":
        return np.round(rng.uniform(0.0, 2.0, (n, n)), 3)
    if kind == "asymmetric_zero_diagonal":
        return np.round(rng.uniform(0.0, 2.0, (n, n)), 3) * (1 - np.eye(n))
    if kind == "integer":
        return rng.integers(0, 4, (n, n)).astype(float)
    return np.zeros((n, n))


@st.composite
def transport_cases(draw) -> dict:
    n = draw(st.integers(1, 6))
    rng = np.random.default_rng(draw(st.integers(0, 10_000)))

    def distribution():
        support = rng.random(n) < 0.7
        support[rng.integers(n)] = True
        w = np.where(support, rng.random(n), 0.0)
        return w / w.sum()

    kind = draw(st.sampled_from(["random", "random", "dirac", "equal"]))
    p = np.eye(n)[rng.integers(n)] if kind == "dirac" else distribution()
    q = p.copy() if kind == "equal" else distribution()
    cost = draw(st.sampled_from(["metric", "asymmetric", "asymmetric_zero_diagonal", "integer", "zero"]))
    return {"p": p, "q": q, "D": _cost(rng, cost, n)}


@st.composite
def mdp_cases(draw, max_states: int = 4, gammas=(0.0, 0.01, 0.1, 0.3, 0.5, 0.8, 0.9, 0.99)) -> dict:
    n_states = draw(st.integers(1, max_states))
    n_actions = draw(st.integers(1, 2))
    gamma = draw(st.sampled_from(gammas))
    seed = draw(st.integers(0, 10_000))
    model = random_mdp(n_states, n_actions, 0.5, seed=seed, n_successors=draw(st.sampled_from([None, 1, 2]))
                       if n_states >= 2 else None)
    R = _rewards(np.random.default_rng(seed + 1), draw(st.sampled_from(REWARD_KINDS)), (n_states, n_actions))
    if draw(st.booleans()) and n_states >= 2:  # give two states the same rewards, so distances can vanish
        R[1] = R[0]
    return {"P": np.array(model.P), "R": R, "gamma": gamma}


def _pseudometric(rng: np.random.Generator, kind: str, n: int) -> np.ndarray:
    if kind == "discrete":
        return 1.0 - np.eye(n)
    if kind == "zero":
        return np.zeros((n, n))
    x = rng.normal(size=(n, 2))
    if kind == "with_zeros" and n >= 2:  # two distinct states at distance 0
        x[1] = x[0]
    return np.round(np.linalg.norm(x[:, None] - x[None, :], axis=2), 3)


def ferns_operator(P: np.ndarray, R: np.ndarray, gamma: float, d: np.ndarray) -> np.ndarray:
    """F(d)(s, t) = max_a [(1 - gamma) |R(s,a) - R(t,a)| + gamma W_d(P(.|s,a), P(.|t,a))] (eq. 3.3), by definition."""
    n_actions, n_states, _ = P.shape
    out = np.zeros((n_states, n_states))
    for s in range(n_states):
        for t in range(s + 1, n_states):
            out[s, t] = out[t, s] = max(
                (1 - gamma) * abs(R[s, a] - R[t, a]) + gamma * ref.wasserstein1(P[a, s], P[a, t], d)
                for a in range(n_actions))
    return out


def _matrix(name: str, value, case: dict, n: int, what: str = "the distance matrix") -> np.ndarray:
    return as_array(name, value, case, shape=(n, n), what=what)


def _visible_update_case() -> dict:
    """Three states, two actions whose best action differs between the reward and the transport term."""
    P = np.array([[[0, 1.0, 0], [0, 0, 1.0], [0, 0, 1.0]], [[1.0, 0, 0], [1.0, 0, 0], [0.5, 0, 0.5]]])
    R = np.array([[1.0, 0.0], [0.0, 0.5], [-1.0, 0.2]])
    d = np.array([[0, 1.0, 2.0], [1.0, 0, 1.5], [2.0, 1.5, 0]])
    return {"P": P, "R": R, "gamma": 0.8, "d": d}


def _visible_metric_case() -> dict:
    """The chain 0 -> 1 -> 2 (absorbing) under action 0, back to 0 under action 1; rewards differ per action."""
    P = np.array([[[0, 1.0, 0], [0, 0, 1.0], [0, 0, 1.0]], [[1.0, 0, 0], [1.0, 0, 0], [0, 1.0, 0]]])
    R = np.array([[0.0, 0.5], [0.0, 0.0], [1.0, -0.5]])
    return {"P": P, "R": R, "gamma": 0.8, "tol": 1e-4}


# Part 1: the Kantorovich distance (eq. 3.1) ---------------------------------------------------------------

def _w1_case(fn: Callable, case: dict) -> None:
    name = "wasserstein1"
    got = as_array(name, call_student(name, fn, case), case, shape=(), what="W1")
    expected = ref.wasserstein1(case["p"], case["q"], case["D"])
    if not np.isclose(got, expected, atol=ATOL, rtol=1e-6):
        fail(name, "W1 differs from the optimal transport cost", case, expected=expected, got=float(got),
             hint="minimise sum_ij G_ij D_ij over couplings G >= 0 with rows summing to p and columns to q "
                  "(scipy.optimize.linprog or ot.emd2 solve this exactly).")


def check_wasserstein1(fn: Callable, hidden: bool = False) -> None:
    """W1 (eq. 3.1) to 1e-6. Hidden: 40 draws of ``transport_cases`` (any non-negative cost, module docstring)."""
    with quiet():
        if not hidden:
            D = np.array([[0.5, 1.0, 3.0], [2.0, 0.0, 1.0], [1.0, 4.0, 0.0]])  # any cost: asymmetric here
            _w1_case(fn, {"p": np.array([0.6, 0.4, 0.0]), "q": np.array([0.0, 0.3, 0.7]), "D": D})
            passed("wasserstein1", "fixed case with an asymmetric cost")
            return
        run_property(lambda case: _w1_case(fn, case), transport_cases(), max_examples=40)
        passed("wasserstein1", "40 random transport problems")


# Part 2: one application of the Ferns operator (eq. 3.3) ---------------------------------------------------

def _update_case(fn: Callable, case: dict) -> None:
    name = "ferns_update"
    n = case["R"].shape[0]
    got = _matrix(name, call_student(name, fn, case), case, n)
    expected = ferns_operator(case["P"], case["R"], case["gamma"], case["d"])
    if not np.allclose(got, expected, atol=ATOL, rtol=1e-6):
        fail(name, "F(d) differs from the reference", case, expected=expected, got=got,
             hint="for every pair take the max over actions of (1 - gamma)|R(s,a) - R(t,a)| + gamma W_d(...), "
                  "with the given d as the ground cost of W.")


def check_ferns_update(fn: Callable, hidden: bool = False) -> None:
    """F(d) (eq. 3.3) to 1e-6. Hidden: 30 draws of the visible case or an MDP of ``mdp_cases`` with a
    pseudometric ``d``."""
    with quiet():
        if not hidden:
            _update_case(fn, _visible_update_case())
            passed("ferns_update", "fixed three-state case")
            return

        def with_metric(case, seed, kind):
            n = case["R"].shape[0]
            return {**case, "d": _pseudometric(np.random.default_rng(seed), kind, n)}

        strategy = st.one_of(st.just(_visible_update_case()), st.builds(
            with_metric, mdp_cases(), st.integers(0, 1000),
            st.sampled_from(["euclidean", "euclidean", "discrete", "zero", "with_zeros"])))
        run_property(lambda case: _update_case(fn, case), strategy, max_examples=30)
        passed("ferns_update", "30 random MDPs and metrics")


# Part 3: the bisimulation metric as a fixed point (eq. 3.4) --------------------------------------------------

def _metric_case(fn: Callable, case: dict) -> None:
    name = "bisimulation_metric"
    n = case["R"].shape[0]
    got = _matrix(name, call_student(name, fn, case), case, n)
    expected = ref.bisimulation_metric(FiniteMDP(case["P"], case["R"], case["gamma"]), tol=1e-9)
    if not np.allclose(got, expected, atol=case["tol"] + 1e-7, rtol=0):
        fail(name, f"d is not within tol = {case['tol']} of the fixed point", case, expected=expected, got=got,
             hint="iterate d <- F(d) from d = 0, always using the latest d as the ground cost, until "
                  "||d_new - d||_inf <= tol (1 - gamma) / gamma.")


def check_bisimulation_metric(fn: Callable, hidden: bool = False) -> None:
    """d within tol of the fixed point d* (eq. 3.4). Hidden: 15 draws of the visible case or an MDP
    with ``gamma`` <= 0.8 and ``tol`` in {1e-3, 1e-4}."""
    with quiet():
        if not hidden:
            _metric_case(fn, _visible_metric_case())
            passed("bisimulation_metric", "fixed chain with two actions")
            return
        strategy = st.one_of(st.just(_visible_metric_case()), st.builds(
            lambda case, tol: {**case, "tol": tol},
            mdp_cases(max_states=4, gammas=(0.01, 0.1, 0.3, 0.5, 0.5, 0.8, 0.8)), st.sampled_from([1e-3, 1e-4, 1e-4])))
        run_property(lambda case: _metric_case(fn, case), strategy, max_examples=15)
        passed("bisimulation_metric", "15 random MDPs")


# Part 4: MICo (eq. 3.10) ------------------------------------------------------------------------------------

def _mico_case(fn: Callable, case: dict) -> None:
    name = "mico_distance"
    n = case["r_pi"].shape[0]
    got = _matrix(name, call_student(name, fn, case), case, n, what="U")
    expected = ref.mico_distance_from_dynamics(case["P_pi"], case["r_pi"], case["gamma"])
    if not np.allclose(got, expected, atol=1e-5, rtol=1e-6):
        fail(name, "U differs from the MICo fixed point", case, expected=expected, got=got,
             hint="U = |r_x - r_y| + gamma P_pi U P_pi^T; note that U(x, x) need not be 0.")


def check_mico_distance(fn: Callable, hidden: bool = False) -> None:
    """U = |r_x - r_y| + gamma P_pi U P_pi^T (eq. 3.10) to 1e-5. Hidden: 30 Markov reward processes, 1-8
    states, ``gamma`` in {0, 0.1, 0.5, 0.9, 0.99} (module docstring)."""
    with quiet():
        if not hidden:
            P_pi = np.array([[0.5, 0.5, 0.0], [0.0, 0.2, 0.8], [1.0, 0.0, 0.0]])
            _mico_case(fn, {"P_pi": P_pi, "r_pi": np.array([1.5, 0.0, -0.5]), "gamma": 0.9})
            passed("mico_distance", "three-state example")
            return

        def mrp(n, seed, gamma, successors, rewards):
            model = random_mdp(n, 1, 0.5, seed=seed, n_successors=None if successors is None else min(successors, n))
            P_pi = np.array(model.P[0])
            rng = np.random.default_rng(seed + 1)
            absorbing = rng.random(n) < 0.2
            P_pi[absorbing] = np.eye(n)[absorbing]
            return {"P_pi": P_pi, "r_pi": _rewards(rng, rewards, (n,)), "gamma": gamma}

        strategy = st.builds(mrp, st.integers(1, 8), st.integers(0, 10_000),
                             st.sampled_from([0.0, 0.1, 0.5, 0.9, 0.99]), st.sampled_from([None, 1, 2]),
                             st.sampled_from(REWARD_KINDS))
        run_property(lambda case: _mico_case(fn, case), strategy, max_examples=30)
        passed("mico_distance", "30 random Markov reward processes")
