"""Finite Markov decision processes and their exact solvers (book chapter 1).

Conventions used throughout the course:

* ``P`` has shape ``[A, S, S]``: ``P[a, s, s2]`` is the probability of moving from ``s`` to ``s2`` under ``a``.
* ``R`` has shape ``[S, A]``: the expected immediate reward of taking ``a`` in ``s``.
* A (stochastic) policy ``pi`` has shape ``[S, A]`` with rows on the simplex; a deterministic policy is an
  integer array of shape ``[S]`` and is turned into the matrix form by :func:`as_policy_matrix`.
* ``0 <= gamma < 1``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

ROW_SUM_ATOL = 1e-8


class MDPValidationError(ValueError):
    """Raised when arrays do not describe a valid finite MDP or policy."""


@dataclass(frozen=True)
class FiniteMDP:
    """A finite, discounted MDP ``(S, A, P, R, gamma)``; validated on construction."""

    P: np.ndarray
    R: np.ndarray
    gamma: float
    state_names: tuple[str, ...] | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        P = np.asarray(self.P, dtype=float)
        R = np.asarray(self.R, dtype=float)
        if P.ndim != 3 or P.shape[1] != P.shape[2]:
            raise MDPValidationError(f"P must have shape [A, S, S]; got {P.shape}.")
        n_actions, n_states, _ = P.shape
        if n_actions == 0 or n_states == 0:
            raise MDPValidationError(f"P must have at least one action and one state; got {P.shape}.")
        if R.shape != (n_states, n_actions):
            raise MDPValidationError(
                f"R must have shape [S, A] = {(n_states, n_actions)} to match P {P.shape}; got {R.shape}."
            )
        if not (np.all(np.isfinite(P)) and np.all(np.isfinite(R))):
            raise MDPValidationError("P and R must be finite (no NaN or inf).")
        if np.any(P < 0):
            a, s, s2 = np.argwhere(P < 0)[0]
            raise MDPValidationError(f"P has a negative probability P[{a}, {s}, {s2}] = {P[a, s, s2]}.")
        row_sums = P.sum(axis=2)
        bad = np.abs(row_sums - 1.0) > ROW_SUM_ATOL
        if np.any(bad):
            a, s = np.argwhere(bad)[0]
            raise MDPValidationError(
                f"each row P[a, s, :] must sum to 1; P[{a}, {s}, :] sums to {row_sums[a, s]:.6g}."
            )
        gamma = float(self.gamma)
        if not 0.0 <= gamma < 1.0:
            raise MDPValidationError(f"the discount must satisfy 0 <= gamma < 1; got {gamma}.")
        if self.state_names is not None and len(self.state_names) != n_states:
            raise MDPValidationError(f"state_names has {len(self.state_names)} entries for {n_states} states.")
        P.setflags(write=False)
        R.setflags(write=False)
        object.__setattr__(self, "P", P)
        object.__setattr__(self, "R", R)
        object.__setattr__(self, "gamma", gamma)

    @property
    def n_states(self) -> int:
        return self.P.shape[1]

    @property
    def n_actions(self) -> int:
        return self.P.shape[0]


def random_mdp(
    n_states: int,
    n_actions: int,
    gamma: float = 0.9,
    *,
    seed: int | np.random.Generator | None = 0,
    n_successors: int | None = None,
) -> FiniteMDP:
    """A random MDP: rewards uniform on [0, 1], each row of P a Dirichlet(1) draw.

    ``n_successors`` limits every row to that many reachable next states (sparse dynamics).
    """
    rng = np.random.default_rng(seed)
    if n_states < 1 or n_actions < 1:
        raise MDPValidationError("random_mdp needs n_states >= 1 and n_actions >= 1.")
    k = n_states if n_successors is None else int(n_successors)
    if not 1 <= k <= n_states:
        raise MDPValidationError(f"n_successors must lie in [1, {n_states}]; got {k}.")
    P = np.zeros((n_actions, n_states, n_states))
    for a in range(n_actions):
        for s in range(n_states):
            support = rng.choice(n_states, size=k, replace=False)
            P[a, s, support] = rng.dirichlet(np.ones(k))
    R = rng.uniform(0.0, 1.0, size=(n_states, n_actions))
    return FiniteMDP(P, R, gamma)


def as_policy_matrix(policy: np.ndarray, n_actions: int) -> np.ndarray:
    """Return ``pi`` of shape [S, A]; accepts a deterministic policy (ints, shape [S]) or a matrix."""
    policy = np.asarray(policy)
    if policy.ndim == 1:
        if not np.issubdtype(policy.dtype, np.integer):
            raise MDPValidationError("a deterministic policy must be an integer array of actions, shape [S].")
        if np.any((policy < 0) | (policy >= n_actions)):
            raise MDPValidationError(f"policy actions must lie in [0, {n_actions}); got {policy}.")
        return np.eye(n_actions)[policy]
    pi = policy.astype(float)
    if pi.ndim != 2 or pi.shape[1] != n_actions:
        raise MDPValidationError(f"a stochastic policy must have shape [S, {n_actions}]; got {pi.shape}.")
    if np.any(pi < 0) or np.any(np.abs(pi.sum(axis=1) - 1.0) > ROW_SUM_ATOL):
        raise MDPValidationError("each row of a stochastic policy must be a probability distribution.")
    return pi


def policy_dynamics(mdp: FiniteMDP, policy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The Markov reward process of a policy: ``P_pi[s, s2] = sum_a pi(a|s) P[a, s, s2]``, ``r_pi = sum_a pi R``."""
    pi = as_policy_matrix(policy, mdp.n_actions)
    if pi.shape[0] != mdp.n_states:
        raise MDPValidationError(f"policy has {pi.shape[0]} states; the MDP has {mdp.n_states}.")
    P_pi = np.einsum("sa,ast->st", pi, mdp.P)
    r_pi = np.einsum("sa,sa->s", pi, mdp.R)
    return P_pi, r_pi


def bellman_expectation_backup(mdp: FiniteMDP, V: np.ndarray, policy: np.ndarray) -> np.ndarray:
    """One application of T^pi (eq. 1.3): ``(T^pi V)(s) = sum_a pi(a|s) [R(s,a) + gamma sum_s2 P(s2|s,a) V(s2)]``."""
    P_pi, r_pi = policy_dynamics(mdp, policy)
    return r_pi + mdp.gamma * P_pi @ np.asarray(V, dtype=float)


def q_from_v(mdp: FiniteMDP, V: np.ndarray) -> np.ndarray:
    """Action values of a state-value function (eq. 1.4): ``Q(s,a) = R(s,a) + gamma sum_s2 P(s2|s,a) V(s2)``."""
    V = np.asarray(V, dtype=float)
    if V.shape != (mdp.n_states,):
        raise MDPValidationError(f"V must have shape [{mdp.n_states}]; got {V.shape}.")
    return mdp.R + mdp.gamma * np.einsum("ast,t->sa", mdp.P, V)


def bellman_optimality_backup(mdp: FiniteMDP, V: np.ndarray) -> np.ndarray:
    """One application of T* (eq. 1.5): ``(T* V)(s) = max_a Q_V(s, a)``."""
    return q_from_v(mdp, V).max(axis=1)


def greedy_policy(Q: np.ndarray) -> np.ndarray:
    """Deterministic greedy policy ``argmax_a Q(s, a)``; ties go to the lowest action index."""
    Q = np.asarray(Q, dtype=float)
    if Q.ndim != 2:
        raise MDPValidationError(f"Q must have shape [S, A]; got {Q.shape}.")
    return np.argmax(Q, axis=1)


def policy_evaluation(
    mdp: FiniteMDP,
    policy: np.ndarray,
    *,
    method: str = "exact",
    tol: float = 1e-10,
    max_iter: int = 100_000,
) -> np.ndarray:
    """``V^pi``, the unique fixed point of T^pi (eq. 1.6): ``V^pi = (I - gamma P_pi)^{-1} r_pi``.

    ``method="exact"`` solves the linear system; ``method="iterative"`` applies T^pi until successive
    iterates differ by at most ``tol * (1 - gamma) / gamma`` in sup-norm, which bounds the error by ``tol``.
    """
    P_pi, r_pi = policy_dynamics(mdp, policy)
    if method == "exact":
        return np.linalg.solve(np.eye(mdp.n_states) - mdp.gamma * P_pi, r_pi)
    if method != "iterative":
        raise ValueError(f"method must be 'exact' or 'iterative'; got {method!r}.")
    V = np.zeros(mdp.n_states)
    threshold = _stopping_threshold(tol, mdp.gamma)
    for _ in range(max_iter):
        V_new = r_pi + mdp.gamma * P_pi @ V
        if np.max(np.abs(V_new - V)) <= threshold:
            return V_new
        V = V_new
    raise RuntimeError(f"iterative policy evaluation did not converge in {max_iter} iterations.")


@dataclass(frozen=True)
class ValueIterationResult:
    """Output of :func:`value_iteration`; ``residuals[k] = ||V_{k+1} - V_k||_inf``."""

    V: np.ndarray
    policy: np.ndarray
    n_iterations: int
    residuals: np.ndarray


def _stopping_threshold(tol: float, gamma: float) -> float:
    # ||V_{k+1} - V*|| <= gamma / (1 - gamma) * ||V_{k+1} - V_k||  (eq. 1.8)
    return np.inf if gamma == 0.0 else tol * (1.0 - gamma) / gamma


def value_iteration(
    mdp: FiniteMDP,
    *,
    tol: float = 1e-8,
    max_iter: int = 100_000,
    V0: np.ndarray | None = None,
) -> ValueIterationResult:
    """Iterate ``V_{k+1} = T* V_k`` (eq. 1.7) from ``V0`` (zeros by default).

    Stops after the first backup with ``||V_{k+1} - V_k||_inf <= tol (1 - gamma) / gamma``, which guarantees
    ``||V_{k+1} - V*||_inf <= tol`` (eq. 1.8). ``n_iterations`` counts the backups applied.
    """
    V = np.zeros(mdp.n_states) if V0 is None else np.asarray(V0, dtype=float).copy()
    threshold = _stopping_threshold(tol, mdp.gamma)
    residuals = []
    for k in range(1, max_iter + 1):
        V_new = bellman_optimality_backup(mdp, V)
        residuals.append(float(np.max(np.abs(V_new - V))))
        V = V_new
        if residuals[-1] <= threshold:
            return ValueIterationResult(V, greedy_policy(q_from_v(mdp, V)), k, np.array(residuals))
    raise RuntimeError(f"value iteration did not converge in {max_iter} iterations.")


@dataclass(frozen=True)
class PolicyIterationResult:
    V: np.ndarray
    policy: np.ndarray
    n_iterations: int


def policy_iteration(mdp: FiniteMDP, *, max_iter: int = 10_000, tie_atol: float = 1e-12) -> PolicyIterationResult:
    """Howard's policy iteration: exact evaluation, then greedy improvement until the policy is stable.

    Improvement keeps the current action unless another is better by more than ``tie_atol``, so the
    loop terminates even when several actions are optimal.
    """
    policy = np.zeros(mdp.n_states, dtype=int)
    for k in range(1, max_iter + 1):
        V = policy_evaluation(mdp, policy)
        Q = q_from_v(mdp, V)
        current = Q[np.arange(mdp.n_states), policy]
        improved = np.where(Q.max(axis=1) > current + tie_atol, greedy_policy(Q), policy)
        if np.array_equal(improved, policy):
            return PolicyIterationResult(V, policy, k)
        policy = improved
    raise RuntimeError(f"policy iteration did not converge in {max_iter} iterations.")
