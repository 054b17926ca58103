"""Exact check of the DeepMDP value-difference bound on finite MDPs (book chapter 4).

Setting. A finite MDP ``(S, A, P, R, gamma)``, an embedding ``phi: S -> Z`` into a finite latent space ``Z`` with a
metric ``d``, and a latent MDP ``(Z, A, P_bar, R_bar, gamma)``. The embedding pushes next-state distributions
forward (eq. 4.1):

    (phi P)(z' | s, a) = sum_{s' : phi(s') = z'} P(s' | s, a).

The global DeepMDP losses are (eq. 4.2) and (eq. 4.3):

    L_R = max_{s,a} |R(s, a) - R_bar(phi(s), a)|,
    L_P = max_{s,a} W_d( (phi P)(. | s, a), P_bar(. | phi(s), a) ),

with ``W_d`` the 1-Wasserstein distance on ``(Z, d)``, computed exactly here as a transport linear program (POT).
If ``V_bar*`` is ``K_V``-Lipschitz on ``(Z, d)``, with (eq. 4.5)

    K_V = max_{z != z'} |V_bar*(z) - V_bar*(z')| / d(z, z'),

then for every ``(s, a)`` (eq. 4.4)

    |Q*(s, a) - Q_bar*(phi(s), a)| <= (L_R + gamma K_V L_P) / (1 - gamma).

Proof sketch: ``Q* - Q_bar* o phi`` splits into a reward gap (at most ``L_R``), ``gamma`` times
``E_{s'~P}[V*(s') - V_bar*(phi(s'))]`` (at most ``gamma`` times the sup gap, because a max over actions is
1-Lipschitz in sup-norm) and ``gamma`` times ``E_{phi P} V_bar* - E_{P_bar} V_bar*`` (at most ``gamma K_V L_P`` by
Kantorovich-Rubinstein); taking the sup and solving gives the bound. When ``phi`` is a bisimulation and the latent
MDP is the quotient, ``L_R = L_P = 0`` and both sides vanish.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import ot

from reference_impl.mdp import FiniteMDP, policy_iteration, q_from_v

PROBABILITY_ATOL = 1e-9


def _as_embedding(phi: np.ndarray, n_states: int, n_latent: int) -> np.ndarray:
    phi = np.asarray(phi)
    if phi.shape != (n_states,) or not np.issubdtype(phi.dtype, np.integer):
        raise ValueError(f"phi must be an integer array of shape [{n_states}]; got {phi.dtype} {phi.shape}.")
    if np.any((phi < 0) | (phi >= n_latent)):
        raise ValueError(f"phi must map into latent states 0..{n_latent - 1}; got values {np.unique(phi)}.")
    return phi


def validate_metric(metric: np.ndarray) -> np.ndarray:
    """Check that ``metric`` is a metric matrix ``[m, m]``: symmetric, zero diagonal, positive off the diagonal,
    triangle inequality. Returns it as a float array."""
    d = np.asarray(metric, dtype=float)
    if d.ndim != 2 or d.shape[0] != d.shape[1]:
        raise ValueError(f"the latent metric must be a square matrix; got shape {d.shape}.")
    if not np.allclose(d, d.T) or np.any(np.diag(d) != 0):
        raise ValueError("the latent metric must be symmetric with a zero diagonal.")
    off_diagonal = ~np.eye(d.shape[0], dtype=bool)
    if np.any(d[off_diagonal] <= 0):
        raise ValueError("the latent metric must be strictly positive between distinct latent states.")
    if np.any(d[:, None, :] > d[:, :, None] + d[None, :, :] + 1e-12):
        raise ValueError("the latent metric violates the triangle inequality.")
    return d


def discrete_metric(n_latent: int) -> np.ndarray:
    """``d(z, z') = 1`` for ``z != z'``; then ``W_d`` is the total-variation distance."""
    return 1.0 - np.eye(n_latent)


def euclidean_metric(points: np.ndarray) -> np.ndarray:
    """Euclidean distances between the rows of ``points`` ``[m, k]`` (the latent states placed in ``R^k``)."""
    points = np.asarray(points, dtype=float)
    if points.ndim != 2:
        raise ValueError(f"points must have shape [m, k]; got {points.shape}.")
    return np.linalg.norm(points[:, None, :] - points[None, :, :], axis=2)


def pushforward(P: np.ndarray, phi: np.ndarray, n_latent: int) -> np.ndarray:
    """``(phi P)`` (eq. 4.1): sums the last axis of ``P`` (next states) within each block of ``phi``."""
    P = np.asarray(P, dtype=float)
    phi = _as_embedding(phi, P.shape[-1], n_latent)
    return P @ np.eye(n_latent)[phi]


def aggregated_latent_mdp(mdp: FiniteMDP, phi: np.ndarray, n_latent: int | None = None) -> FiniteMDP:
    """Latent MDP of a state aggregation: block averages ``R_bar(z, a) = mean_{phi(s)=z} R(s, a)`` and
    ``P_bar(. | z, a) = mean_{phi(s)=z} (phi P)(. | s, a)``. Every latent state must have a preimage."""
    phi = np.asarray(phi)
    n_latent = int(phi.max()) + 1 if n_latent is None else n_latent
    phi = _as_embedding(phi, mdp.n_states, n_latent)
    counts = np.bincount(phi, minlength=n_latent)
    if np.any(counts == 0):
        raise ValueError(f"every latent state needs a preimage; latent states {np.flatnonzero(counts == 0)} have none.")
    membership = np.eye(n_latent)[phi]  # [S, m]
    average = membership.T / counts[:, None]  # [m, S]: block averaging operator
    R_bar = average @ mdp.R
    P_bar = np.einsum("zs,ast->azt", average, pushforward(mdp.P, phi, n_latent))
    return FiniteMDP(P_bar, R_bar, mdp.gamma)


def wasserstein_1(p: np.ndarray, q: np.ndarray, metric: np.ndarray) -> float:
    """Exact ``W_d(p, q)`` between distributions on ``m`` points (optimal transport linear program)."""
    p, q = np.asarray(p, dtype=float), np.asarray(q, dtype=float)
    m = metric.shape[0]
    for name, dist in (("p", p), ("q", q)):
        if dist.shape != (m,) or np.any(dist < -PROBABILITY_ATOL) or abs(dist.sum() - 1.0) > PROBABILITY_ATOL:
            raise ValueError(f"{name} must be a probability vector of length {m}; got {dist}.")
    p, q = np.clip(p, 0.0, None), np.clip(q, 0.0, None)
    return max(float(ot.emd2(p / p.sum(), q / q.sum(), metric)), 0.0)


def lipschitz_constant(values: np.ndarray, metric: np.ndarray) -> float:
    """``max_{z != z'} |v(z) - v(z')| / d(z, z')`` (eq. 4.5); 0 for a single latent state."""
    values = np.asarray(values, dtype=float)
    if values.shape != (metric.shape[0],):
        raise ValueError(f"values must have shape [{metric.shape[0]}]; got {values.shape}.")
    if values.size < 2:
        return 0.0
    off_diagonal = ~np.eye(values.size, dtype=bool)
    ratios = np.abs(values[:, None] - values[None, :])[off_diagonal] / metric[off_diagonal]
    return float(ratios.max())


def optimal_q(mdp: FiniteMDP) -> np.ndarray:
    """``Q*`` ``[S, A]`` from policy iteration (exact evaluation, so accurate to floating-point precision)."""
    return q_from_v(mdp, policy_iteration(mdp).V)


def global_losses(
    mdp: FiniteMDP, phi: np.ndarray, latent_mdp: FiniteMDP, metric: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Per-``(s, a)`` reward gaps and transition distances ``[S, A]``; their maxima are ``L_R``, ``L_P``."""
    if latent_mdp.n_actions != mdp.n_actions:
        raise ValueError(f"the latent MDP has {latent_mdp.n_actions} actions; the MDP has {mdp.n_actions}.")
    metric = validate_metric(metric)
    n_latent = latent_mdp.n_states
    if metric.shape[0] != n_latent:
        raise ValueError(f"the metric is {metric.shape}; the latent MDP has {n_latent} states.")
    phi = _as_embedding(phi, mdp.n_states, n_latent)
    reward_gaps = np.abs(mdp.R - latent_mdp.R[phi])
    pushed = pushforward(mdp.P, phi, n_latent)  # [A, S, m]
    transition_distances = np.array(
        [
            [wasserstein_1(pushed[a, s], latent_mdp.P[a, phi[s]], metric) for a in range(mdp.n_actions)]
            for s in range(mdp.n_states)
        ]
    )
    return reward_gaps, transition_distances


@dataclass(frozen=True)
class ValueBoundCheck:
    """Both sides of (eq. 4.4) and the quantities in its right-hand side."""

    q_gap: np.ndarray  # [S, A]: |Q*(s, a) - Q_bar*(phi(s), a)|
    reward_loss: float  # L_R (eq. 4.2)
    transition_loss: float  # L_P (eq. 4.3)
    value_lipschitz: float  # K_V (eq. 4.5)
    gamma: float

    @property
    def max_q_gap(self) -> float:
        return float(self.q_gap.max())

    @property
    def bound(self) -> float:
        return (self.reward_loss + self.gamma * self.value_lipschitz * self.transition_loss) / (1.0 - self.gamma)

    def holds(self, atol: float = 1e-9) -> bool:
        return self.max_q_gap <= self.bound + atol


def check_value_bound(
    mdp: FiniteMDP, phi: np.ndarray, latent_mdp: FiniteMDP, metric: np.ndarray | None = None
) -> ValueBoundCheck:
    """Compute both sides of (eq. 4.4) exactly. ``metric`` defaults to the discrete metric on the latent states."""
    if latent_mdp.gamma != mdp.gamma:
        raise ValueError(f"the latent MDP's discount {latent_mdp.gamma} differs from the MDP's {mdp.gamma}.")
    metric = discrete_metric(latent_mdp.n_states) if metric is None else validate_metric(metric)
    reward_gaps, transition_distances = global_losses(mdp, phi, latent_mdp, metric)
    q_star = optimal_q(mdp)
    q_bar = optimal_q(latent_mdp)
    v_bar = q_bar.max(axis=1)
    return ValueBoundCheck(
        q_gap=np.abs(q_star - q_bar[np.asarray(phi)]),
        reward_loss=float(reward_gaps.max()),
        transition_loss=float(transition_distances.max()),
        value_lipschitz=lipschitz_constant(v_bar, metric),
        gamma=mdp.gamma,
    )


def duplicated_mdp(
    mdp: FiniteMDP, n_copies: int = 2, *, seed: int | np.random.Generator | None = 0
) -> tuple[FiniteMDP, np.ndarray]:
    """``n_copies`` copies of ``mdp`` and the bisimulation ``phi`` that merges them back into ``mdp``.

    State ``s`` of copy ``c`` is ``c * S + s``. Its transition mass to ``s'`` is split between the copies of
    ``s'`` with random proportions (drawn independently per ``(a, s, s')`` from ``seed``), so the copies are
    interleaved but every copy of ``s`` has the same reward and the same block-transition probabilities: ``phi`` is
    a bisimulation and ``mdp`` is its quotient.
    """
    if n_copies < 1:
        raise ValueError(f"n_copies must be at least 1; got {n_copies}.")
    rng = np.random.default_rng(seed)
    S, A = mdp.n_states, mdp.n_actions
    P = np.zeros((A, n_copies * S, n_copies * S))
    for c in range(n_copies):
        split = rng.dirichlet(np.ones(n_copies), size=(A, S, S))  # [A, S, S', copies]
        for c2 in range(n_copies):
            P[:, c * S : (c + 1) * S, c2 * S : (c2 + 1) * S] = mdp.P * split[..., c2]
    R = np.tile(mdp.R, (n_copies, 1))
    phi = np.tile(np.arange(S), n_copies)
    return FiniteMDP(P, R, mdp.gamma), phi
