"""Fixed-point iteration of the Kantorovich bisimulation operator (book chapter 3).

For ``P`` [A, S, S], ``R`` [S, A] and weights ``c_R > 0``, ``0 <= c_T < 1`` the operator

    F(d)(s, t) = max_a [ c_R |R(s, a) - R(t, a)| + c_T W_d(P(.|s, a), P(.|t, a)) ]               (eq. 3.3)

is a ``c_T``-contraction in the sup norm with a unique fixed point ``d*``. Both methods below stop with
``||d_out - d*||_inf <= tol`` (eq. 3.4); they differ in how much of each application of ``F`` they compute exactly.

Both evaluate ``W_d(p, q)`` as the excess LP ``m W_d((p - q)^+ / m, (q - p)^+ / m)``, ``m = TV(p, q)`` the excess
mass: for a pseudometric cost an optimal coupling leaves the common mass in place (only ``p - q`` enters the dual,
eq. 3.2), so this is ``W_d``; for *any* non-negative cost it is ``m``-Lipschitz in ``d`` (sup norm: a coupling of
the excess measures moves mass ``m``) and non-decreasing in ``d``. So the operator ``F~`` built from it equals ``F``
on pseudometrics, has the same fixed point ``d*`` (a pseudometric), and is a ``kappa``-contraction on every
non-negative ``d``, with the measured contraction ``kappa = c_T max_{s, t, a} m <= c_T``.

Plain (``accelerate=False``): ``d_{k+1} = F~(d_k)`` from ``d_0 = 0``, one transport LP per pair ``s < t`` and action
in every iteration, stopped at the first ``||d_{k+1} - d_k||_inf <= tol (1 - c_T) / c_T`` (the textbook rule).

Accelerated (default): an inexact iteration ``d_{k+1} = G_k(d_k)`` with a certified bound ``0 <= F~(d_k) - G_k(d_k)
<= e_k``, using three facts:

1. Monotonicity. ``F~`` is monotone and ``d_0 = 0 <= F~(0)``, and every stored value only grows (a re-solve happens
   at a larger iterate), so the iterates increase and ``d_k <= d*``. A value ``W_{d_j}`` solved at an earlier
   iterate is a *lower* bound of ``W_{d_k}``, and by Lipschitz continuity exceeds it by at most ``m C_jk``,
   ``C_jk = sum_{j < i <= k} ||d_i - d_{i-1}||``: the interval is one-sided, ``[W_{d_j}, W_{d_j} + m C_jk]``.
2. Each pair needs its value only to the current accuracy ``eps_k = max(eps_final, eta ||d_k - d_{k-1}||)``:
   an action is re-solved (one LP on the supports of the two excess measures) only while its interval is wider
   than ``eps_k`` and it can still be the maximising action; the others keep their stored value. Early errors
   are contracted away, so early iterations may be coarse.
3. Stopping: if ``||d_{k+1} - d_k|| = rho`` and ``e_k`` bounds the error of ``G_k``, then
   ``||d_{k+1} - d*|| <= (kappa rho + e_k) / (1 - kappa)``; we stop when this is ``<= tol``. With dense random
   dynamics ``max m`` is about 2/3 (0.67 for ``random_mdp(64, 4, 0.9)``), so ``kappa`` is about 0.6 instead of
   ``c_T = 0.9``: fewer iterations (7 instead of 10 there), and a larger error budget ``(1 - kappa) tol``.

Memory is ``O(|A| |S|^2)``: per pair and action only the last solved value, the ``C`` of that solve and the excess
mass; supports and cost sub-matrices exist one LP at a time. The plain and accelerated results agree to ``2 tol``
(both lie within ``tol`` of ``d*``); the tests compare them at ``tol`` near machine precision.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from reference_impl.bisim.kantorovich import network_simplex
from reference_impl.mdp import FiniteMDP

ETA = 0.25  # accuracy of an early iteration, relative to the last residual (a speed setting; exactness is eq. 3.4's)
FINAL_SHARE = 0.5  # share of the error budget (1 - kappa) tol left to the operator's error in the last iteration


@dataclass(frozen=True)
class KantorovichFixedPointResult:
    """Output of :func:`kantorovich_fixed_point`.

    ``residuals[k] = ||d_{k+1} - d_k||_inf``; ``n_lp_solves`` counts transport LPs solved; ``n_certified`` counts
    (pair, action) values taken from an earlier solve because the Lipschitz bound (fact 1) showed them accurate
    enough, instead of re-solving.
    """

    distance: np.ndarray
    n_iterations: int
    residuals: np.ndarray
    n_lp_solves: int
    n_certified: int


def stopping_threshold(tol: float, contraction: float) -> float:
    """``tol (1 - c) / c``: a residual at most this bounds the distance to the fixed point by ``tol`` (eq. 3.4)."""
    return np.inf if contraction == 0.0 else tol * (1.0 - contraction) / contraction


def kantorovich_fixed_point(
    P: np.ndarray,
    R: np.ndarray,
    reward_weight: float,
    transition_weight: float,
    *,
    tol: float = 1e-6,
    max_iter: int = 10_000,
    accelerate: bool = True,
) -> KantorovichFixedPointResult:
    """Iterate eq. 3.3 from ``d_0 = 0`` until ``||d - d*||_inf <= tol`` is guaranteed; returns the metric.

    ``P`` [A, S, S] must be row-stochastic and ``R`` [S, A] finite (checked as for :class:`FiniteMDP`).
    ``accelerate=False`` is the plain iteration (one LP per pair ``s < t`` and action in every iteration).
    """
    checked = FiniteMDP(P, R, 0.0)
    c_R, c_T = float(reward_weight), float(transition_weight)
    if not (np.isfinite(c_R) and c_R > 0):
        raise ValueError(f"the reward weight must be > 0; got {c_R}.")
    if not 0.0 <= c_T < 1.0:
        raise ValueError(f"the transition weight must satisfy 0 <= c_T < 1 (a contraction); got {c_T}.")
    if not (np.isfinite(tol) and tol > 0):
        raise ValueError(f"tol must be > 0; got {tol}.")
    if max_iter < 1:
        raise ValueError(f"max_iter must be >= 1; got {max_iter}.")
    operator = _KantorovichOperator(checked.P, checked.R, c_R, c_T)
    # the accelerated method stops by the measured contraction (fact 3); the plain one by the textbook rule (eq. 3.4)
    kappa = operator.contraction if accelerate else c_T
    budget = (1.0 - kappa) * tol  # kappa rho + e <= (1 - kappa) tol  guarantees  ||d - d*|| <= tol
    eps_final = FINAL_SHARE * budget if accelerate else 0.0
    d = np.zeros((operator.n_states, operator.n_states))
    residuals: list[float] = []
    for k in range(1, max_iter + 1):
        eps = max(eps_final, ETA * residuals[-1]) if (accelerate and residuals) else eps_final
        d_new, error = operator(d, eps) if accelerate else (operator.exact(d), 0.0)
        residuals.append(float(np.max(np.abs(d_new - d))))
        operator.advance(residuals[-1])
        d = d_new
        if kappa * residuals[-1] + error <= budget:
            return KantorovichFixedPointResult(d, k, np.array(residuals), operator.n_lp_solves, operator.n_certified)
    raise RuntimeError(f"the metric iteration did not converge in {max_iter} iterations (last residual "
                       f"{residuals[-1]:.3g}, threshold {stopping_threshold(tol, kappa):.3g}).")


class _KantorovichOperator:
    """Evaluates eq. 3.3 on pairs ``s < t``, exactly (:meth:`exact`) or to a given accuracy (:meth:`__call__`).

    Per (pair, action) it keeps ``W_ref`` (the last solved ``W``), ``C_ref`` (the cumulative residual ``C`` when it
    was solved) and the excess mass ``m``; ``W_d`` at the current iterate lies within ``m (C - C_ref)`` of ``W_ref``.
    """

    def __init__(self, P: np.ndarray, R: np.ndarray, c_R: float, c_T: float) -> None:
        self.P, self.c_R, self.c_T = P, c_R, c_T
        self.n_actions, self.n_states = P.shape[0], P.shape[1]
        self.pair_s, self.pair_t = np.triu_indices(self.n_states, 1)
        n_pairs = len(self.pair_s)
        self.reward_term = c_R * np.abs(R[self.pair_s] - R[self.pair_t])  # [n_pairs, A]
        self.mass = np.empty((n_pairs, self.n_actions))  # TV(P(.|s, a), P(.|t, a)), one source state at a time
        first = 0
        for s in range(self.n_states - 1):
            rows = slice(first, first + self.n_states - 1 - s)
            self.mass[rows] = 0.5 * np.abs(P[:, s + 1 :] - P[:, s : s + 1]).sum(axis=2).T
            first = rows.stop
        # kappa = c_T max m: the sup-norm contraction of F~ (module docstring); 0 when there is no pair
        self.contraction = c_T * float(self.mass.max(initial=0.0))
        self.W_ref = np.zeros((n_pairs, self.n_actions))  # W_{d_0} = 0 exactly
        self.C_ref = np.zeros((n_pairs, self.n_actions))
        self.C = 0.0  # sum of the residuals so far: C - C_ref bounds ||d - d_ref||_inf
        self.n_lp_solves = 0
        self.n_certified = 0

    def advance(self, residual: float) -> None:
        """Record ``||d_{k+1} - d_k||_inf`` for the next call's Lipschitz bounds."""
        self.C += residual

    def exact(self, d: np.ndarray) -> np.ndarray:
        """``F(d)`` with one W per pair and action (the plain method)."""
        W = np.array([[self._w1(pair, a, d) for a in range(self.n_actions)] for pair in range(len(self.pair_s))])
        return self._to_matrix((self.reward_term + self.c_T * W.reshape(self.reward_term.shape)).max(axis=1))

    def __call__(self, d: np.ndarray, eps: float) -> tuple[np.ndarray, float]:
        """``(G(d), e)`` with ``0 <= F~(d) - G(d) <= e <= eps``: re-solves only what the bounds cannot settle."""
        if len(self.pair_s) == 0:
            return np.zeros((self.n_states, self.n_states)), 0.0
        solved_now = np.zeros(self.W_ref.shape, dtype=bool)
        while True:
            value = self.reward_term + self.c_T * self.W_ref  # a lower bound of the true value (fact 1)
            drift = self.C - self.C_ref
            width = self.c_T * self.mass * drift  # true value in [value, value + width]
            upper = value + width
            relevant = upper >= value.max(axis=1, keepdims=True)  # can still be the maximising action
            loose = relevant & (width > eps)
            pending = np.flatnonzero(loose.any(axis=1))
            if len(pending) == 0:
                break
            # per pending pair, the loose action with the largest upper bound
            action = np.argmax(np.where(loose[pending], upper[pending], -np.inf), axis=1)
            for pair, a in zip(pending.tolist(), action.tolist(), strict=True):
                # max(): the LP value at a larger cost is larger; this only removes rounding, keeping fact 1 exact
                self.W_ref[pair, a] = max(self.W_ref[pair, a], self._w1(pair, a, d))
                self.C_ref[pair, a] = self.C
            solved_now[pending, action] = True
        self.n_certified += int(np.count_nonzero(relevant & ~solved_now & (width > 0)))
        best = value.max(axis=1)
        error = float(np.max(upper.max(axis=1) - best, initial=0.0))
        return self._to_matrix(best), error

    def _w1(self, pair: int, a: int, d: np.ndarray) -> float:
        """Exact ``W_d(p, q)`` as ``m W_d((p - q)^+ / m, (q - p)^+ / m)``: one LP on the excess supports."""
        diff = self.P[a, self.pair_s[pair]] - self.P[a, self.pair_t[pair]]
        rows, cols = np.flatnonzero(diff > 0), np.flatnonzero(diff < 0)
        if len(rows) == 0 or len(cols) == 0:
            return 0.0
        excess_p, excess_q = diff[rows], -diff[cols]
        mass = 0.5 * (excess_p.sum() + excess_q.sum())
        if len(rows) == 1:  # a single excess state: the coupling is unique
            return float(excess_q @ d[rows[0], cols]) * mass / excess_q.sum()
        if len(cols) == 1:
            return float(excess_p @ d[rows, cols[0]]) * mass / excess_p.sum()
        self.n_lp_solves += 1
        cost = d[rows[:, None], cols[None, :]]  # the cost sub-matrix on the two supports only
        return mass * network_simplex(excess_p, excess_q, cost)[1]

    def _to_matrix(self, values: np.ndarray) -> np.ndarray:
        d = np.zeros((self.n_states, self.n_states))
        d[self.pair_s, self.pair_t] = values
        d[self.pair_t, self.pair_s] = values
        return d
