"""Bisimulation metrics defined through the Kantorovich distance (book chapter 3).

* The bisimulation metric of Ferns, Panangaden and Precup (2004) is the fixed point of eq. 3.3,
  ``d(s, t) = max_a [ c_R |R(s, a) - R(t, a)| + c_T W_d(P(.|s, a), P(.|t, a)) ]``.
  The default weighting is ``(c_R, c_T) = (1 - gamma, gamma)`` (``weights="standard"``), which keeps ``d`` in the
  range of the rewards; ``weights="unnormalised"`` is ``(1, gamma)``, the form used by Castro (2020) and in
  deep bisimulation (DBC). Any ``(c_R, c_T)`` with ``c_R > 0`` and ``0 <= c_T < 1`` is accepted.
  Value bound (eq. 3.5): if ``c_T >= gamma`` then ``c_R |V*(s) - V*(t)| <= d(s, t)``; so
  ``|V*(s) - V*(t)| <= d(s, t) / (1 - gamma)`` for the standard weighting and ``<= d(s, t)`` for ``(1, gamma)``.
  Bisimilar states (chapter 2) are exactly the pairs at distance 0.
* The on-policy (pi-)bisimulation metric of Castro (2020) is the fixed point of eq. 3.6,
  ``d(x, y) = |r_pi(x) - r_pi(y)| + gamma W_d(P_pi(x), P_pi(y))``, and bounds values (eq. 3.7):
  ``|V^pi(x) - V^pi(y)| <= d(x, y)``.

Both are computed by exact fixed-point iteration with the stopping rule of eq. 3.4 (see
:mod:`reference_impl.bisim.fixed_point`): the returned matrix is within ``tol`` of the fixed point in every entry.
"""

from __future__ import annotations

import numpy as np

from reference_impl.bisim.fixed_point import kantorovich_fixed_point
from reference_impl.mdp import FiniteMDP, policy_dynamics

WEIGHTINGS = ("standard", "unnormalised")


def metric_weights(gamma: float, weights: str | tuple[float, float] = "standard") -> tuple[float, float]:
    """``(c_R, c_T)``: ``"standard"`` is ``(1 - gamma, gamma)``, ``"unnormalised"`` is ``(1, gamma)``."""
    if isinstance(weights, str):
        if weights == "standard":
            return 1.0 - gamma, gamma
        if weights == "unnormalised":
            return 1.0, gamma
        raise ValueError(f"weights must be one of {WEIGHTINGS} or a pair (c_R, c_T); got {weights!r}.")
    try:
        c_R, c_T = (float(w) for w in weights)
    except (TypeError, ValueError) as error:
        raise ValueError(f"weights must be one of {WEIGHTINGS} or a pair (c_R, c_T); got {weights!r}.") from error
    if not (np.isfinite(c_R) and c_R > 0 and 0.0 <= c_T < 1.0):
        raise ValueError(f"weights (c_R, c_T) need c_R > 0 and 0 <= c_T < 1; got {(c_R, c_T)}.")
    return c_R, c_T


def bisimulation_metric(
    mdp: FiniteMDP,
    *,
    weights: str | tuple[float, float] = "standard",
    tol: float = 1e-6,
    max_iter: int = 10_000,
) -> np.ndarray:
    """The bisimulation metric ``d`` [S, S] of eq. 3.3 (Ferns et al.), within ``tol`` of the fixed point.

    ``weights="standard"`` is ``(1 - gamma, gamma)``; with it ``gamma = 0`` gives ``max_a |R(s,a) - R(t,a)|``.
    """
    _check_mdp(mdp)
    c_R, c_T = metric_weights(mdp.gamma, weights)
    return kantorovich_fixed_point(mdp.P, mdp.R, c_R, c_T, tol=tol, max_iter=max_iter).distance


def pi_bisimulation_metric(
    mdp: FiniteMDP, policy: np.ndarray, *, tol: float = 1e-6, max_iter: int = 10_000
) -> np.ndarray:
    """The on-policy bisimulation metric ``d^pi`` [S, S] of eq. 3.6 for ``policy`` ([S, A] or int [S])."""
    _check_mdp(mdp)
    P_pi, r_pi = policy_dynamics(mdp, policy)
    return pi_bisimulation_metric_from_dynamics(P_pi, r_pi, mdp.gamma, tol=tol, max_iter=max_iter)


def pi_bisimulation_metric_from_dynamics(
    P_pi: np.ndarray, r_pi: np.ndarray, gamma: float, *, tol: float = 1e-6, max_iter: int = 10_000
) -> np.ndarray:
    """Eq. 3.6 for a Markov reward process given directly: ``P_pi`` [S, S] row-stochastic, ``r_pi`` [S]."""
    mrp = mrp_as_mdp(P_pi, r_pi, gamma)
    return kantorovich_fixed_point(mrp.P, mrp.R, 1.0, mrp.gamma, tol=tol, max_iter=max_iter).distance


def mrp_as_mdp(P_pi: np.ndarray, r_pi: np.ndarray, gamma: float) -> FiniteMDP:
    """The one-action MDP of a Markov reward process; validates ``P_pi`` [S, S], ``r_pi`` [S] and ``gamma``."""
    P_pi = np.asarray(P_pi, dtype=float)
    r_pi = np.asarray(r_pi, dtype=float)
    if P_pi.ndim != 2 or P_pi.shape[0] != P_pi.shape[1]:
        raise ValueError(f"P_pi must be a square matrix [S, S]; got shape {P_pi.shape}.")
    if r_pi.shape != (P_pi.shape[0],):
        raise ValueError(f"r_pi must have shape [{P_pi.shape[0]}] to match P_pi; got {r_pi.shape}.")
    return FiniteMDP(P_pi[None], r_pi[:, None], gamma)


def _check_mdp(mdp: FiniteMDP) -> None:
    if not isinstance(mdp, FiniteMDP):
        raise TypeError(f"expected a FiniteMDP; got {type(mdp).__name__}.")
