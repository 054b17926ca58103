"""Checks for chapter 1 (finite MDPs). Each ``check_*`` is one call in a notebook test cell.

The student's functions work on plain arrays: ``P`` of shape [A, S, S], ``R`` of shape [S, A], ``gamma`` a
float in (0, 1), ``V`` of shape [S], ``pi`` of shape [S, A]. The visible call runs a fixed three-state,
two-action case without symmetries (so a transposed ``P``, a missing transpose of ``P @ V`` or a sum over the
wrong axis fails it); ``hidden=True`` compares with :mod:`reference_impl.mdp` on derandomized random MDPs and
reports the smallest failing MDP that hypothesis finds.

Hidden input space (the whole space the exercise text allows): 1-5 states and 1-3 actions (S = A included, where
a missing transpose still broadcasts); ``gamma`` in {0.01, 0.1, 0.3, 0.5, 0.7, 0.9, 0.95, 0.99}; dense, sparse or
deterministic rows of ``P``, some states absorbing under every action; rewards uniform in [0, 1], in [-1, 0], in
[-2, 2], all zero, or whole numbers in {-1, 0, 1} (ties between actions); values ``V`` of either sign; stochastic
or deterministic policies.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from hypothesis import strategies as st

from autograder.checks._core import as_array, call_student, fail, passed, quiet, run_property
from autograder.checks._inputs import REWARD_KINDS, random_rewards
from reference_impl import mdp as ref

ATOL = 1e-6
HIDDEN_EXAMPLES = 40
GAMMAS = (0.01, 0.1, 0.3, 0.5, 0.7, 0.9, 0.95, 0.99)


def _visible_case() -> dict:
    """Three states, two actions, nothing symmetric: P[a] != P[a].T, S != A, rewards of both signs."""
    P = np.array([[[0.5, 0.5, 0.0], [0.0, 0.0, 1.0], [0.0, 0.0, 1.0]],
                  [[0.0, 0.0, 1.0], [0.8, 0.2, 0.0], [0.3, 0.0, 0.7]]])
    R = np.array([[1.0, -1.0], [0.0, 2.0], [-0.5, 0.5]])
    return {"P": P, "R": R, "gamma": 0.9}


def _rewards(rng: np.random.Generator, kind: str, shape: tuple[int, ...]) -> np.ndarray:
    return random_rewards(rng, kind, shape, decimals=3)


@st.composite
def mdp_cases(draw, with_values: bool = False, with_policy: bool = False) -> dict:
    """A small random MDP (sizes and seeds shrink, so failures are reported on the smallest MDP)."""
    n_states = draw(st.integers(1, 5))
    n_actions = draw(st.integers(1, 3))
    gamma = draw(st.sampled_from(GAMMAS))
    seed = draw(st.integers(0, 10_000))
    successors = draw(st.sampled_from([None, 1, 2]))
    model = ref.random_mdp(n_states, n_actions, gamma, seed=seed,
                           n_successors=None if successors is None else min(successors, n_states))
    rng = np.random.default_rng(seed + 1)
    P = np.array(model.P)
    if draw(st.booleans()):  # some states absorbing under every action
        absorbing = rng.random(n_states) < 0.4
        P[:, absorbing, :] = np.eye(n_states)[absorbing]
    case = {"P": P, "R": _rewards(rng, draw(st.sampled_from(REWARD_KINDS)), (n_states, n_actions)), "gamma": gamma}
    if with_values:
        case["V"] = np.round(rng.normal(scale=3.0, size=n_states), 3)
    if with_policy:
        if draw(st.booleans()):
            case["pi"] = rng.dirichlet(np.ones(n_actions), size=n_states)
        else:  # a deterministic policy
            case["pi"] = np.eye(n_actions)[rng.integers(0, n_actions, n_states)]
    return case


def _model(case: dict) -> ref.FiniteMDP:
    return ref.FiniteMDP(case["P"], case["R"], case["gamma"])


def _check_values(name: str, got: np.ndarray, expected: np.ndarray, case: dict, prop: str, hint: str,
                  atol: float = ATOL) -> None:
    if not np.allclose(got, expected, atol=atol, rtol=1e-6):
        fail(name, prop, case, expected=expected, got=got, hint=hint)


# ---------------------------------------------------------------------------------------------------------
# Part 1: the Bellman expectation backup (eq. 1.3)

def _bellman_backup_case(fn: Callable, case: dict) -> None:
    name = "bellman_expectation_backup"
    got = as_array(name, call_student(name, fn, case), case, shape=(case["R"].shape[0],))
    expected = ref.bellman_expectation_backup(_model(case), case["V"], case["pi"])
    _check_values(name, got, expected, case, "(T^pi V)(s) differs from the reference",
                  "average over actions with pi(a|s), and over next states with P[a, s, :], "
                  "then discount: R(s,a) + gamma * sum_s' P(s'|s,a) V(s').")


def check_bellman_expectation_backup(fn: Callable, hidden: bool = False) -> None:
    """T^pi V (eq. 1.3) to 1e-6. Hidden: 40 MDPs of ``mdp_cases`` (module docstring) with ``V`` ~ N(0, 3^2)
    and stochastic or deterministic policies."""
    with quiet():
        if not hidden:
            case = {**_visible_case(), "V": np.array([1.0, 2.0, -3.0]),
                    "pi": np.array([[0.5, 0.5], [1.0, 0.0], [0.2, 0.8]])}
            _bellman_backup_case(fn, case)
            passed("bellman_expectation_backup", "fixed three-state case")
            return
        run_property(lambda case: _bellman_backup_case(fn, case), mdp_cases(with_values=True, with_policy=True),
                     max_examples=HIDDEN_EXAMPLES)
        passed("bellman_expectation_backup", f"{HIDDEN_EXAMPLES} random MDPs")


# ---------------------------------------------------------------------------------------------------------
# Part 2: policy evaluation (eq. 1.6)

def _policy_evaluation_case(fn: Callable, case: dict) -> None:
    name = "policy_evaluation"
    got = as_array(name, call_student(name, fn, case), case, shape=(case["R"].shape[0],))
    expected = ref.policy_evaluation(_model(case), case["pi"])
    _check_values(name, got, expected, case, "V^pi differs from the reference (to 1e-6)",
                  "V^pi solves V = r_pi + gamma P_pi V; if you iterate, stop only once the change is tiny.",
                  atol=1e-5)


def check_policy_evaluation(fn: Callable, hidden: bool = False) -> None:
    """V^pi (eq. 1.6) to 1e-5. Hidden: 40 MDPs of ``mdp_cases`` with stochastic or deterministic policies."""
    with quiet():
        if not hidden:
            case = {**_visible_case(), "pi": np.array([[0.0, 1.0], [0.5, 0.5], [1.0, 0.0]])}
            _policy_evaluation_case(fn, case)
            passed("policy_evaluation", "fixed three-state case")
            return
        run_property(lambda case: _policy_evaluation_case(fn, case), mdp_cases(with_policy=True),
                     max_examples=HIDDEN_EXAMPLES)
        passed("policy_evaluation", f"{HIDDEN_EXAMPLES} random MDPs")


# ---------------------------------------------------------------------------------------------------------
# Part 3: value iteration with its stopping rule (eqs. 1.7-1.8)

def _value_iteration_case(fn: Callable, case: dict) -> None:
    name = "value_iteration"
    n_states = case["R"].shape[0]
    result = call_student(name, fn, case)
    if not isinstance(result, tuple | list) or len(result) != 2:
        fail(name, "must return a pair (V, n_iterations)", case, got=type(result).__name__)
    V = as_array(name, result[0], case, shape=(n_states,), what="V")
    n_iterations = as_array(name, result[1], case, shape=(), dtype="int", what="n_iterations")
    model = _model(case)
    reference = ref.value_iteration(model, tol=case["tol"])
    optimal = ref.policy_iteration(model).V
    _check_values(name, V, optimal, case, f"V is not within tol = {case['tol']} of V*",
                  "apply the optimality backup until ||V_k - V_(k-1)||_inf <= tol (1 - gamma) / gamma.",
                  atol=case["tol"])
    accepted = _acceptable_counts(reference.residuals, case["tol"] * (1 - case["gamma"]) / case["gamma"])
    if int(n_iterations) not in accepted:
        fail(name, "the number of backups differs from the stopping rule's", case,
             expected=reference.n_iterations, got=int(n_iterations),
             hint="count every backup V_k = T*(V_(k-1)) starting from V_0 = 0, and stop after the first k "
                  "with ||V_k - V_(k-1)||_inf <= tol (1 - gamma) / gamma; return that V_k and k.")
    V_k = np.zeros(n_states)
    for _ in range(int(n_iterations)):
        V_k = ref.bellman_optimality_backup(model, V_k)
    _check_values(name, V, V_k, case, f"V is not V_k, the result of the k = {int(n_iterations)} backups counted",
                  "return the LAST iterate V_k (the one whose change from V_(k-1) met the stopping rule), "
                  "not V_(k-1).", atol=1e-8)


def _acceptable_counts(residuals: np.ndarray, threshold: float) -> set[int]:
    """The stopping index k (1-based, first residual <= threshold), also under a threshold moved by rounding noise,
    so that a correct answer whose sums run in another order is never failed on a near-tie."""
    counts = set()
    for moved in (threshold * (1 - 1e-9) - 1e-15, threshold, threshold * (1 + 1e-9) + 1e-15):
        below = np.flatnonzero(residuals <= moved)
        counts.add(int(below[0]) + 1 if len(below) else len(residuals) + 1)
    return counts


def check_value_iteration(fn: Callable, hidden: bool = False) -> None:
    """V within tol of V*, k = the stopping rule's count (eq. 1.8, rounding-noise ties accepted) and V = V_k.
    Hidden: 40 MDPs of ``mdp_cases`` with ``tol`` in {1e-1, 1e-2, 1e-4, 1e-6}."""
    with quiet():
        if not hidden:
            _value_iteration_case(fn, {**_visible_case(), "tol": 1e-3})
            passed("value_iteration", "fixed three-state case")
            return
        strategy = st.builds(lambda case, tol: {**case, "tol": tol}, mdp_cases(),
                             st.sampled_from([1e-1, 1e-2, 1e-4, 1e-6]))
        run_property(lambda case: _value_iteration_case(fn, case), strategy, max_examples=HIDDEN_EXAMPLES)
        passed("value_iteration", f"{HIDDEN_EXAMPLES} random MDPs")


# ---------------------------------------------------------------------------------------------------------
# Part 4: the greedy policy (eq. 1.9)

def _greedy_policy_case(fn: Callable, case: dict) -> None:
    name = "greedy_policy"
    n_states, n_actions = case["R"].shape
    actions = as_array(name, call_student(name, fn, case), case, shape=(n_states,), dtype="int", what="the policy")
    if np.any((actions < 0) | (actions >= n_actions)):
        fail(name, f"every action must lie in 0..{n_actions - 1}", case, got=actions)
    Q = ref.q_from_v(_model(case), case["V"])
    chosen = Q[np.arange(n_states), actions]
    if np.any(chosen < Q.max(axis=1) - 1e-9):
        fail(name, "some chosen action is not greedy: Q(s, pi(s)) < max_a Q(s, a)", case,
             expected=ref.greedy_policy(Q), got=actions,
             hint="Q(s,a) = R(s,a) + gamma sum_s' P(s'|s,a) V(s'); take the argmax over actions (axis 1). "
                  "Any action that attains the maximum is accepted.")


def check_greedy_policy(fn: Callable, hidden: bool = False) -> None:
    """An action attaining max_a Q_V(s, a) in every state (eq. 1.9); any tie-break is accepted. Hidden: 40 MDPs
    of ``mdp_cases`` with ``V`` ~ N(0, 3^2) (integer and zero rewards make ties)."""
    with quiet():
        if not hidden:
            _greedy_policy_case(fn, {**_visible_case(), "V": np.array([-1.0, 1.0, 2.1])})
            passed("greedy_policy", "fixed three-state case")
            return
        run_property(lambda case: _greedy_policy_case(fn, case), mdp_cases(with_values=True),
                     max_examples=HIDDEN_EXAMPLES)
        passed("greedy_policy", f"{HIDDEN_EXAMPLES} random MDPs")
