"""Bisimulation relations on finite MDPs, computed by partition refinement (book chapter 2).

An equivalence relation ``E`` on states, given as block labels, is a *bisimulation* (eq. 2.1) when related states
have the same rewards and the same probability of moving into every block, for every action:

    s E t  =>  R(s, a) = R(t, a)  and  P(C | s, a) = P(C | t, a)  for all a and all blocks C of E,

with ``P(C | s, a) = sum_{s2 in C} P(s2 | s, a)``. The largest bisimulation (*bisimilarity*) is the fixed point of
the refinement operator (eq. 2.2) that splits every block by the signature
``sigma_E(s) = (R(s, .), P(C | s, .) for C in E)``, started from the partition by reward vectors.
Its quotient (eq. 2.3) is the MDP over blocks with ``R_hat(B, a) = R(s, a)`` and
``P_hat(C | B, a) = P(C | s, a)`` for any member ``s`` of ``B``; optimal values are preserved (eq. 2.4):
``V*(s) = V_hat*(B(s))``. The on-policy variant (eq. 2.5) applies the same construction to the Markov reward
process ``(P_pi, r_pi)`` of a policy.

Floating-point tolerance. Two states may share a block only if, in every coordinate of their signatures, the
whole block spans at most ``atol`` (max minus min); the tolerance is never chained transitively. Blocks are
split greedily in state order: a state joins the first block it fits into this way, otherwise it opens a new
block. When values are either equal up to rounding noise or separated by more than ``atol`` (the situation
``atol`` is meant for), the result is exactly the coarsest bisimulation and does not depend on the state order.

Labels are returned in canonical form: blocks are numbered ``0, 1, ...`` in the order of their first state.
"""

from __future__ import annotations

import numpy as np

from reference_impl.mdp import FiniteMDP, policy_dynamics

DEFAULT_ATOL = 1e-8


def canonical_labels(labels: np.ndarray) -> np.ndarray:
    """Relabel blocks ``0, 1, 2, ...`` in the order in which they first appear; the partition is unchanged."""
    labels = np.asarray(labels)
    if labels.ndim != 1:
        raise ValueError(f"labels must be a 1-D array with one block label per state; got shape {labels.shape}.")
    _, first_index, inverse = np.unique(labels, return_index=True, return_inverse=True)
    rank = np.empty(len(first_index), dtype=np.int64)
    rank[np.argsort(first_index, kind="stable")] = np.arange(len(first_index))
    return rank[inverse.reshape(-1)]


def bisimulation_partition(mdp: FiniteMDP, atol: float = DEFAULT_ATOL) -> np.ndarray:
    """Block labels [S] of the coarsest bisimulation (bisimilarity) of ``mdp`` (eqs. 2.1-2.2)."""
    _check_mdp(mdp)
    return _coarsest_partition(mdp.P, mdp.R, _check_atol(atol))


def pi_bisimulation_partition(mdp: FiniteMDP, policy: np.ndarray, atol: float = DEFAULT_ATOL) -> np.ndarray:
    """Block labels [S] of the coarsest on-policy bisimulation (eq. 2.5): eq. 2.1 applied to ``(P_pi, r_pi)``."""
    _check_mdp(mdp)
    P_pi, r_pi = policy_dynamics(mdp, policy)
    return _coarsest_partition(P_pi[None], r_pi[:, None], _check_atol(atol))


def refine_once(mdp: FiniteMDP, labels: np.ndarray, atol: float = DEFAULT_ATOL) -> np.ndarray:
    """One application of the refinement operator (eq. 2.2): split each block of ``labels`` by the signature
    ``(R(s, .), P(C | s, .) for every block C)``.

    The signature includes the rewards, so refining the one-block partition gives the partition by reward vectors,
    and ``labels`` is a fixed point exactly when it is a bisimulation (see :func:`is_bisimulation`).
    """
    _check_mdp(mdp)
    labels = _check_labels(labels, mdp.n_states)
    return _refine(mdp.P, mdp.R, labels, _check_atol(atol))


def is_bisimulation(mdp: FiniteMDP, labels: np.ndarray, atol: float = DEFAULT_ATOL) -> bool:
    """Whether the partition ``labels`` is a bisimulation of ``mdp`` (eq. 2.1), up to ``atol``.

    Checks that within every block each coordinate of the signature (rewards, then block masses) spans at most
    ``atol``.
    """
    _check_mdp(mdp)
    labels = _check_labels(labels, mdp.n_states)
    return _is_stable(mdp.P, mdp.R, labels, _check_atol(atol))


def is_pi_bisimulation(mdp: FiniteMDP, policy: np.ndarray, labels: np.ndarray, atol: float = DEFAULT_ATOL) -> bool:
    """Whether ``labels`` is an on-policy bisimulation (eq. 2.5) for ``policy``, up to ``atol``."""
    _check_mdp(mdp)
    labels = _check_labels(labels, mdp.n_states)
    P_pi, r_pi = policy_dynamics(mdp, policy)
    return _is_stable(P_pi[None], r_pi[:, None], labels, _check_atol(atol))


def quotient_mdp(mdp: FiniteMDP, labels: np.ndarray, atol: float = DEFAULT_ATOL) -> FiniteMDP:
    """The aggregated MDP over the blocks of a bisimulation (eq. 2.3).

    Block ``B`` gets the reward and the block masses of its first member (lowest state index):
    ``R_hat[B, a] = R[s, a]``, ``P_hat[a, B, C] = sum_{s2 in C} P[a, s, s2]``. Blocks are numbered canonically,
    so ``V_hat[canonical_labels(labels)]`` lifts block values back to states (eq. 2.4). Raises ``ValueError`` if
    ``labels`` is not a bisimulation up to ``atol`` (the quotient would depend on the chosen member).
    """
    _check_mdp(mdp)
    labels = _check_labels(labels, mdp.n_states)
    atol = _check_atol(atol)
    if not _is_stable(mdp.P, mdp.R, labels, atol):
        raise ValueError(
            "labels do not form a bisimulation of this MDP (rewards or block masses differ by more than "
            f"atol={atol} inside a block); the quotient is only defined for bisimulations."
        )
    n_blocks = int(labels.max()) + 1
    representatives = np.array([np.flatnonzero(labels == b)[0] for b in range(n_blocks)])
    block_mass = _block_mass(mdp.P, labels, n_blocks)  # [A, S, n_blocks]
    P_hat = block_mass[:, representatives, :]
    P_hat = P_hat / P_hat.sum(axis=2, keepdims=True)  # remove rounding noise from the sums
    R_hat = mdp.R[representatives]
    names = None
    if mdp.state_names is not None:
        names = tuple("{" + ",".join(mdp.state_names[s] for s in np.flatnonzero(labels == b)) + "}"
                      for b in range(n_blocks))
    return FiniteMDP(P_hat, R_hat, mdp.gamma, state_names=names)


# --------------------------------------------------------------------------------------------- implementation


def _coarsest_partition(P: np.ndarray, R: np.ndarray, atol: float) -> np.ndarray:
    labels = _split_blocks(np.zeros(P.shape[1], dtype=np.int64), R, atol)  # partition by reward vectors
    while True:
        refined = _refine(P, R, labels, atol)
        if refined.max() == labels.max():  # refinement only splits, so equal block counts mean a fixed point
            return labels
        labels = refined


def _refine(P: np.ndarray, R: np.ndarray, labels: np.ndarray, atol: float) -> np.ndarray:
    return _split_blocks(labels, _signatures(P, R, labels), atol)


def _is_stable(P: np.ndarray, R: np.ndarray, labels: np.ndarray, atol: float) -> bool:
    signatures = _signatures(P, R, labels)
    for block in range(int(labels.max()) + 1):
        members = signatures[labels == block]
        if np.any(members.max(axis=0) - members.min(axis=0) > atol):
            return False
    return True


def _block_mass(P: np.ndarray, labels: np.ndarray, n_blocks: int) -> np.ndarray:
    """``mass[a, s, C] = P(C | s, a)``."""
    membership = np.zeros((P.shape[1], n_blocks))
    membership[np.arange(P.shape[1]), labels] = 1.0
    return P @ membership


def _signatures(P: np.ndarray, R: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Rows ``(R(s, .), P(C | s, a) for a, C)`` of shape [S, A + A * n_blocks]."""
    mass = _block_mass(P, labels, int(labels.max()) + 1)
    return np.concatenate([R, mass.transpose(1, 0, 2).reshape(P.shape[1], -1)], axis=1)


def _split_blocks(labels: np.ndarray, signatures: np.ndarray, atol: float) -> np.ndarray:
    """Split every block so that each signature coordinate spans at most ``atol`` inside each new block.

    Greedy in state order; each new block keeps the coordinate-wise min and max of its members, and a state joins
    the first block whose span stays within ``atol`` once the state is added (no transitive chaining).
    """
    new_labels = np.empty_like(labels)
    next_label = 0
    for block in range(int(labels.max()) + 1):
        members = np.flatnonzero(labels == block)
        values = signatures[members]
        if np.all(values.max(axis=0) - values.min(axis=0) <= atol):  # common case: the block is already stable
            new_labels[members] = next_label
            next_label += 1
            continue
        low = np.empty((0, values.shape[1]))
        high = np.empty((0, values.shape[1]))
        local = np.empty(len(members), dtype=np.int64)
        for k, x in enumerate(values):
            fits = np.all(np.maximum(high, x) - np.minimum(low, x) <= atol, axis=1)
            if np.any(fits):
                j = int(np.argmax(fits))
                low[j] = np.minimum(low[j], x)
                high[j] = np.maximum(high[j], x)
            else:
                j = len(low)
                low = np.vstack([low, x])
                high = np.vstack([high, x])
            local[k] = j
        new_labels[members] = next_label + local
        next_label += len(low)
    return canonical_labels(new_labels)


def _check_mdp(mdp: FiniteMDP) -> None:
    if not isinstance(mdp, FiniteMDP):
        raise TypeError(f"expected a FiniteMDP; got {type(mdp).__name__}.")


def _check_atol(atol: float) -> float:
    atol = float(atol)
    if not (np.isfinite(atol) and atol >= 0.0):
        raise ValueError(f"atol must be a finite number >= 0; got {atol}.")
    return atol


def _check_labels(labels: np.ndarray, n_states: int) -> np.ndarray:
    labels = np.asarray(labels)
    if labels.shape != (n_states,):
        raise ValueError(f"labels must have one block label per state, shape [{n_states}]; got {labels.shape}.")
    if not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"labels must be integers; got dtype {labels.dtype}.")
    return canonical_labels(labels)
