"""Bisimulation metrics of deterministic MDPs without linear programs (Castro 2020; book chapter 3).

When every next-state distribution is a Dirac, the only coupling of ``delta_x'`` and ``delta_y'`` is their product,
so ``W_d(delta_x', delta_y') = d(x', y')`` and the Kantorovich operators become plain look-ups (eq. 3.8):

* on-policy, with ``N(x)`` the successor of ``x`` under the policy (``P_pi`` must be deterministic):
  ``d(x, y) = |r_pi(x) - r_pi(y)| + gamma d(N(x), N(y))`` -- the pi-bisimulation metric of eq. 3.6;
* with a max over actions, ``N(x, a)`` the successor under ``a`` (every ``P[a]`` must be deterministic):
  ``d(x, y) = max_a |R(x, a) - R(y, a)| + gamma d(N(x, a), N(y, a))`` -- eq. 3.3 with weights ``(1, gamma)``.

Both are ``gamma``-contractions, iterated from 0 with the stopping rule of eq. 3.4.

The sampled version (eq. 3.9, Castro 2020) updates one pair at a time from sampled transitions, starting at 0:

* on-policy: ``d(x, y) <- (1 - alpha) d(x, y) + alpha (|r_pi(x) - r_pi(y)| + gamma d(N(x), N(y)))``; Castro's update
  is ``alpha = 1`` (the default). It converges to eq. 3.6 when every pair is updated infinitely often.
* max over actions (``policy=None``), with a sampled action ``a``:
  ``d(x, y) <- max(d(x, y), |R(x, a) - R(y, a)| + gamma d(N(x, a), N(y, a)))``. From 0 the iterates increase and stay
  below the fixed point, so they converge to it when every (pair, action) is sampled infinitely often.

Each update also writes ``d(y, x)``, so the estimate stays symmetric; pairs and actions are sampled uniformly.
"""

from __future__ import annotations

import numpy as np

from reference_impl.bisim.fixed_point import stopping_threshold
from reference_impl.mdp import FiniteMDP, policy_dynamics

DIRAC_ATOL = 1e-12


def deterministic_successors(P: np.ndarray) -> np.ndarray:
    """``N`` with ``P[..., s, N[..., s]] = 1``; ``ValueError`` if some row of ``P`` is not a Dirac distribution."""
    P = np.asarray(P, dtype=float)
    successors = np.argmax(P, axis=-1)
    peak = np.take_along_axis(P, successors[..., None], -1)[..., 0]
    bad = np.abs(peak - 1.0) > DIRAC_ATOL
    if np.any(bad):
        where = tuple(int(i) for i in np.argwhere(bad)[0])
        raise ValueError(
            f"transitions must be deterministic (every row a Dirac distribution); the row at index {where} has "
            f"largest probability {peak[where]:.6g}."
        )
    return successors


def deterministic_pi_bisimulation_metric(
    mdp: FiniteMDP, policy: np.ndarray, *, tol: float = 1e-6, max_iter: int = 100_000
) -> np.ndarray:
    """Eq. 3.8, on-policy: equals :func:`pi_bisimulation_metric` when ``P_pi`` is deterministic."""
    _check_mdp(mdp)
    P_pi, r_pi = policy_dynamics(mdp, policy)
    return deterministic_pi_bisimulation_metric_from_dynamics(
        deterministic_successors(P_pi), r_pi, mdp.gamma, tol=tol, max_iter=max_iter
    )


def deterministic_pi_bisimulation_metric_from_dynamics(
    successors: np.ndarray, r_pi: np.ndarray, gamma: float, *, tol: float = 1e-6, max_iter: int = 100_000
) -> np.ndarray:
    """Eq. 3.8 for successor states ``N`` (int [S]) and rewards ``r_pi`` [S]."""
    successors, r_pi = _check_successors(successors, r_pi)
    gamma = _check_gamma(gamma)
    return _iterate(successors[None], r_pi[:, None], gamma, tol, max_iter)


def deterministic_bisimulation_metric(mdp: FiniteMDP, *, tol: float = 1e-6, max_iter: int = 100_000) -> np.ndarray:
    """Eq. 3.8 with a max over actions: equals ``bisimulation_metric(mdp, weights="unnormalised")``."""
    _check_mdp(mdp)
    return _iterate(deterministic_successors(mdp.P), mdp.R, mdp.gamma, tol, max_iter)


def sampled_deterministic_metric(
    mdp: FiniteMDP,
    policy: np.ndarray | None = None,
    *,
    n_updates: int = 100_000,
    step_size: float = 1.0,
    seed: int | np.random.Generator | None = 0,
) -> np.ndarray:
    """The sampled update of eq. 3.9 applied ``n_updates`` times from ``d = 0``.

    With ``policy`` the on-policy update with step size ``alpha = step_size`` (in ``(0, 1]``); with
    ``policy=None`` the max update over a uniformly sampled action (``step_size`` must then be 1).
    """
    _check_mdp(mdp)
    if n_updates < 0:
        raise ValueError(f"n_updates must be >= 0; got {n_updates}.")
    alpha = float(step_size)
    if not 0.0 < alpha <= 1.0:
        raise ValueError(f"step_size must lie in (0, 1]; got {alpha}.")
    rng = np.random.default_rng(seed)
    S, gamma = mdp.n_states, mdp.gamma
    xs = rng.integers(S, size=n_updates).tolist()
    ys = rng.integers(S, size=n_updates).tolist()
    d = np.zeros((S, S))
    if policy is not None:
        P_pi, r_pi = policy_dynamics(mdp, policy)
        nxt = deterministic_successors(P_pi).tolist()
        r = r_pi.tolist()
        for x, y in zip(xs, ys, strict=True):
            target = abs(r[x] - r[y]) + gamma * d[nxt[x], nxt[y]]
            d[x, y] = d[y, x] = (1.0 - alpha) * d[x, y] + alpha * target
        return d
    if alpha != 1.0:
        raise ValueError("the max-over-actions update (policy=None) has no step size; use step_size=1.")
    nxt = deterministic_successors(mdp.P).tolist()
    R = mdp.R.tolist()
    actions = rng.integers(mdp.n_actions, size=n_updates).tolist()
    for x, y, a in zip(xs, ys, actions, strict=True):
        target = abs(R[x][a] - R[y][a]) + gamma * d[nxt[a][x], nxt[a][y]]
        if target > d[x, y]:
            d[x, y] = d[y, x] = target
    return d


def _iterate(successors: np.ndarray, R: np.ndarray, gamma: float, tol: float, max_iter: int) -> np.ndarray:
    """``d <- max_a |R(., a) - R(., a)^T| + gamma d[N_a, N_a]`` from 0 until the stopping rule of eq. 3.4."""
    if not (np.isfinite(tol) and tol > 0):
        raise ValueError(f"tol must be > 0; got {tol}.")
    reward_gap = np.abs(R.T[:, :, None] - R.T[:, None, :])  # [A, S, S]
    threshold = stopping_threshold(tol, gamma)
    d = np.zeros((R.shape[0], R.shape[0]))
    for _ in range(max_iter):
        d_new = reward_gap[0] + gamma * d.take(successors[0], axis=0).take(successors[0], axis=1)
        for a in range(1, len(successors)):
            next_pairs = d.take(successors[a], axis=0).take(successors[a], axis=1)
            np.maximum(d_new, reward_gap[a] + gamma * next_pairs, out=d_new)
        residual = np.max(np.abs(d_new - d))
        d = d_new
        if residual <= threshold:
            return d
    raise RuntimeError(f"the deterministic metric iteration did not converge in {max_iter} iterations.")


def _check_successors(successors: np.ndarray, r_pi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    successors = np.asarray(successors)
    r_pi = np.asarray(r_pi, dtype=float)
    if r_pi.ndim != 1 or not np.all(np.isfinite(r_pi)):
        raise ValueError(f"r_pi must be a finite vector [S]; got shape {r_pi.shape}.")
    if successors.shape != r_pi.shape:
        raise ValueError(f"successors must have shape {r_pi.shape} to match r_pi; got {successors.shape}.")
    if not np.issubdtype(successors.dtype, np.integer) or np.any((successors < 0) | (successors >= len(r_pi))):
        raise ValueError(f"successors must be integer states in [0, {len(r_pi)}); got {successors}.")
    return successors, r_pi


def _check_gamma(gamma: float) -> float:
    gamma = float(gamma)
    if not 0.0 <= gamma < 1.0:
        raise ValueError(f"the discount must satisfy 0 <= gamma < 1; got {gamma}.")
    return gamma


def _check_mdp(mdp: FiniteMDP) -> None:
    if not isinstance(mdp, FiniteMDP):
        raise TypeError(f"expected a FiniteMDP; got {type(mdp).__name__}.")
