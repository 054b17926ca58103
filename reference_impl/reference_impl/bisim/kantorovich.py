"""The Kantorovich (Wasserstein-1) distance between distributions on a finite metric space (book chapter 3).

For distributions ``p``, ``q`` on ``{0, ..., n-1}`` and a cost matrix ``D`` (a pseudometric in the book),

    W_D(p, q) = min_{G >= 0, G 1 = p, G^T 1 = q} sum_{i,j} G[i, j] D[i, j]                     (eq. 3.1)
              = max_{u_i + v_j <= D[i, j]} sum_i p_i u_i + sum_j q_j v_j                        (eq. 3.2)

(eq. 3.2 is LP duality; when ``D`` is a pseudometric one may take ``v = -u`` with ``u`` 1-Lipschitz, the
Kantorovich-Rubinstein form). Only the supports matter, so every solve is restricted to
``supp(p) x supp(q)``; when one support is a single state ``i`` the only coupling is ``p x q`` and
``W = sum_j q_j D[i, j]`` without any LP.

Solver choice. Two exact solvers are available: POT's network simplex (``solver="network_simplex"``, the default)
and SciPy's HiGHS LP (``solver="linprog"``). Measured with ``python benchmarks/bisim_metrics.py`` (random
Dirichlet distributions with full support, Euclidean cost; CPU time per call, one thread):

    n    network simplex (direct)   ot.emd2 (with its Python checks)   scipy linprog (HiGHS)
    8             10 us                       83 us                          1.5 ms
    16            19 us                       94 us                          2.1 ms
    32            56 us                      132 us                          5.6 ms
    64           206 us                      294 us                         21.7 ms

(idle machine, 7 Dec 2026). All three agree to 1e-15. The network simplex is 100-150x faster than ``linprog``, so it
is the default; we call POT's compiled solver directly after our own validation, which removes ``ot.emd2``'s per-call
overhead (about 0.08 ms, dominant for the small problems of the metric iterations). ``linprog`` is kept as an
independent check.
"""

from __future__ import annotations

import numpy as np
from ot.lp.emd_wrap import emd_c
from scipy import sparse
from scipy.optimize import linprog

SOLVERS = ("network_simplex", "linprog")
MASS_ATOL = 1e-8
MAX_SIMPLEX_ITERATIONS = 1_000_000


def wasserstein1(p: np.ndarray, q: np.ndarray, cost: np.ndarray, *, solver: str = "network_simplex") -> float:
    """``W_D(p, q)`` (eq. 3.1) for probability vectors ``p, q`` of length ``n`` and a cost matrix ``D`` [n, n]."""
    solver = _check_solver(solver)
    p, q, cost = _validate(p, q, cost)
    rows, cols = np.flatnonzero(p > 0), np.flatnonzero(q > 0)
    if len(rows) == 1:
        return float(q[cols] @ cost[rows[0], cols])
    if len(cols) == 1:
        return float(p[rows] @ cost[rows, cols[0]])
    coupling = _solve(p[rows], q[cols], cost[np.ix_(rows, cols)], solver)
    return float(np.sum(coupling * cost[np.ix_(rows, cols)]))


def optimal_coupling(p: np.ndarray, q: np.ndarray, cost: np.ndarray, *, solver: str = "network_simplex") -> np.ndarray:
    """An optimal coupling ``G`` [n, n] of eq. 3.1: ``G >= 0``, rows sum to ``p``, columns to ``q``."""
    p, q, cost = _validate(p, q, cost)
    rows, cols = np.flatnonzero(p > 0), np.flatnonzero(q > 0)
    coupling = np.zeros(cost.shape)
    coupling[np.ix_(rows, cols)] = _solve(p[rows], q[cols], cost[np.ix_(rows, cols)], _check_solver(solver))
    return coupling


def wasserstein1_batch(
    p: np.ndarray, q: np.ndarray, cost: np.ndarray, *, solver: str = "network_simplex"
) -> np.ndarray:
    """``W_D(p[k], q[k])`` for every row ``k`` of ``p, q`` [B, n]; returns shape [B]."""
    p = np.asarray(p, dtype=float)
    q = np.asarray(q, dtype=float)
    if p.ndim != 2 or p.shape != q.shape:
        raise ValueError(f"p and q must both have shape [B, n]; got {p.shape} and {q.shape}.")
    return np.array([wasserstein1(pk, qk, cost, solver=solver) for pk, qk in zip(p, q, strict=True)])


def network_simplex(p: np.ndarray, q: np.ndarray, cost: np.ndarray) -> tuple[np.ndarray, float]:
    """Unchecked exact solve of eq. 3.1 with POT's network simplex: ``(coupling, value)``.

    For inner loops that have already validated their inputs; ``p`` and ``q`` are rescaled to sum to one exactly.
    """
    cost = np.ascontiguousarray(cost, dtype=np.float64)
    p = np.ascontiguousarray(p / p.sum(), dtype=np.float64)
    q = np.ascontiguousarray(q / q.sum(), dtype=np.float64)
    coupling, value, _, _, status = emd_c(p, q, cost, MAX_SIMPLEX_ITERATIONS, 1, None, None)
    if status != 1:
        raise RuntimeError(f"the network simplex did not reach an optimal transport plan (status code {status}).")
    return coupling, float(value)


def _solve(p: np.ndarray, q: np.ndarray, cost: np.ndarray, solver: str) -> np.ndarray:
    if solver == "network_simplex":
        return network_simplex(p, q, cost)[0]
    return _linprog_coupling(p, q, cost)


def _linprog_coupling(p: np.ndarray, q: np.ndarray, cost: np.ndarray) -> np.ndarray:
    n, m = cost.shape
    p, q = p / p.sum(), q / q.sum()
    # Row sums and column sums of the flattened coupling; the last column constraint is implied by the others.
    row_sums = sparse.kron(sparse.eye(n), np.ones((1, m)))
    col_sums = sparse.kron(np.ones((1, n)), sparse.eye(m))
    A_eq = sparse.vstack([row_sums, col_sums.tocsr()[:-1]]).tocsr()
    result = linprog(cost.ravel(), A_eq=A_eq, b_eq=np.concatenate([p, q[:-1]]), bounds=(0, None), method="highs")
    if result.status != 0:
        raise RuntimeError(f"linprog failed on the transport problem: {result.message}")
    return np.maximum(result.x.reshape(n, m), 0.0)


def _check_solver(solver: str) -> str:
    if solver not in SOLVERS:
        raise ValueError(f"solver must be one of {SOLVERS}; got {solver!r}.")
    return solver


def _validate(p: np.ndarray, q: np.ndarray, cost: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    cost = np.asarray(cost, dtype=float)
    if cost.ndim != 2 or cost.shape[0] != cost.shape[1]:
        raise ValueError(f"the cost matrix must be square, shape [n, n]; got {cost.shape}.")
    if not np.all(np.isfinite(cost)) or np.any(cost < 0):
        raise ValueError("the cost matrix must be finite and non-negative.")
    return _validate_distribution(p, cost.shape[0], "p"), _validate_distribution(q, cost.shape[0], "q"), cost


def _validate_distribution(x: np.ndarray, n: int, name: str) -> np.ndarray:
    x = np.asarray(x, dtype=float)
    if x.shape != (n,):
        raise ValueError(f"{name} must be a probability vector of shape [{n}] to match the cost matrix; got {x.shape}.")
    if not np.all(np.isfinite(x)) or np.any(x < 0):
        raise ValueError(f"{name} must be finite and non-negative.")
    if abs(x.sum() - 1.0) > MASS_ATOL:
        raise ValueError(f"{name} must sum to 1; it sums to {x.sum():.10g}.")
    return x
