"""The MICo distance (Castro, Kastner, Panangaden, Rowland 2021; book chapter 3).

MICo replaces the optimal coupling of eq. 3.6 by the independent coupling of the next states:

    U(x, y) = |r_pi(x) - r_pi(y)| + gamma sum_{x', y'} P_pi(x' | x) P_pi(y' | y) U(x', y')             (eq. 3.10)

i.e. ``U = C + gamma P_pi U P_pi^T`` with ``C[x, y] = |r_pi(x) - r_pi(y)|``: a discrete Stein (Lyapunov) equation
with the unique solution ``U = sum_k gamma^k P_pi^k C (P_pi^T)^k``, i.e.
``U(x, y) = sum_k gamma^k E|r_pi(X_k) - r_pi(Y_k)|`` for independent chains started at ``x`` and ``y``. ``U`` bounds
values, ``|V^pi(x) - V^pi(y)| <= U(x, y)``, and is a *diffuse* metric: symmetric, non-negative and satisfying the
triangle inequality (pointwise ``|a - b| <= |a - c| + |c - b|`` under independent chains), but ``U(x, x)`` can be
positive. The reduced form (eq. 3.11)

    Pi(x, y) = U(x, y) - (U(x, x) + U(y, y)) / 2

is symmetric with a zero diagonal, but it can violate the triangle inequality.

Solver. Smith's doubling iteration ``X <- X + A X A^T``, ``A <- A^2`` with ``A_0 = sqrt(gamma) P_pi``, ``X_0 = C``
sums ``2^k`` terms after ``k`` steps, in O(S^3) per step. Each term is bounded entrywise by
``gamma^i max(C)`` (a product of stochastic matrices averages ``C``), so the remainder after ``k`` steps is at most
``max(C) gamma^(2^k) / (1 - gamma)``; we stop once that is below ``1e-16 max(C)``: about ``log2(37 / (1 - gamma))``
steps (9 for gamma = 0.9, 12 for 0.99). ``method="scipy"`` uses :func:`scipy.linalg.solve_discrete_lyapunov`
(bilinear transformation, also O(S^3)) as an independent check; it is slower (see ``benchmarks/bisim_metrics.py``).
Neither builds the O(S^6) Kronecker system.
"""

from __future__ import annotations

import numpy as np
from scipy.linalg import solve_discrete_lyapunov

from reference_impl.bisim.metrics import mrp_as_mdp
from reference_impl.mdp import FiniteMDP, policy_dynamics

METHODS = ("doubling", "scipy")
REMAINDER_RTOL = 1e-16


def mico_distance(mdp: FiniteMDP, policy: np.ndarray, *, method: str = "doubling") -> np.ndarray:
    """The MICo distance ``U`` [S, S] (eq. 3.10) of ``policy`` ([S, A] or int [S]) on ``mdp``."""
    if not isinstance(mdp, FiniteMDP):
        raise TypeError(f"expected a FiniteMDP; got {type(mdp).__name__}.")
    P_pi, r_pi = policy_dynamics(mdp, policy)
    return mico_distance_from_dynamics(P_pi, r_pi, mdp.gamma, method=method)


def mico_distance_from_dynamics(
    P_pi: np.ndarray, r_pi: np.ndarray, gamma: float, *, method: str = "doubling"
) -> np.ndarray:
    """Eq. 3.10 for a Markov reward process: ``P_pi`` [S, S] row-stochastic, ``r_pi`` [S], ``0 <= gamma < 1``."""
    mrp = mrp_as_mdp(P_pi, r_pi, gamma)
    P, r, gamma = mrp.P[0], mrp.R[:, 0], mrp.gamma
    C = np.abs(r[:, None] - r[None, :])
    if method == "doubling":
        U = _smith_doubling(P, C, gamma)
    elif method == "scipy":
        U = solve_discrete_lyapunov(np.sqrt(gamma) * P, C, method="bilinear")
    else:
        raise ValueError(f"method must be one of {METHODS}; got {method!r}.")
    return 0.5 * (U + U.T)  # symmetric in exact arithmetic; remove rounding asymmetry


def reduced_mico(U: np.ndarray) -> np.ndarray:
    """``Pi(x, y) = U(x, y) - (U(x, x) + U(y, y)) / 2`` (eq. 3.11)."""
    U = np.asarray(U, dtype=float)
    if U.ndim != 2 or U.shape[0] != U.shape[1]:
        raise ValueError(f"U must be a square matrix [S, S]; got shape {U.shape}.")
    diagonal = np.diag(U)
    reduced = U - 0.5 * (diagonal[:, None] + diagonal[None, :])
    np.fill_diagonal(reduced, 0.0)
    return reduced


def _smith_doubling(P: np.ndarray, C: np.ndarray, gamma: float) -> np.ndarray:
    X = C.copy()
    if gamma == 0.0:
        return X
    n = len(C)
    A = np.sqrt(gamma) * P  # A = (sqrt(gamma) P)^terms, X = sum_{i < terms} A_0^i C (A_0^T)^i
    terms = 1
    while gamma**terms > REMAINDER_RTOL * (1.0 - gamma):
        terms *= 2
        if gamma**terms > REMAINDER_RTOL * (1.0 - gamma):  # another step follows: also square A (one product)
            product = A @ np.concatenate([X, A], axis=1)
            X = X + product[:, :n] @ A.T
            A = product[:, n:].copy()
        else:
            X = X + (A @ X) @ A.T
    return X
