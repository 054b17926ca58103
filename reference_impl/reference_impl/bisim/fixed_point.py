"""Exact fixed-point iteration of the Kantorovich bisimulation operator (book chapter 3).

For ``P`` [A, S, S], ``R`` [S, A] and weights ``c_R > 0``, ``0 <= c_T < 1`` the operator

    F(d)(s, t) = max_a [ c_R |R(s, a) - R(t, a)| + c_T W_d(P(.|s, a), P(.|t, a)) ]               (eq. 3.3)

is a ``c_T``-contraction in the sup norm, so ``d_{k+1} = F(d_k)`` from ``d_0 = 0`` converges to its unique fixed
point ``d*`` and ``||d_{k+1} - d*|| <= c_T / (1 - c_T) ||d_{k+1} - d_k||`` (eq. 3.4). We stop at the first ``k``
with ``||d_{k+1} - d_k||_inf <= tol (1 - c_T) / c_T``, which guarantees ``||d_{k+1} - d*||_inf <= tol``.

Every iterate equals ``F^k(0)`` up to rounding; the speed comes from evaluating each application of ``F`` with
fewer linear programs, never from approximating it:

1. Symmetry: every ``d_k`` is a symmetric pseudometric, so only pairs ``s < t`` are computed.
2. Smaller LPs: for a pseudometric cost only ``p - q`` enters the dual (eq. 3.2), so
   ``W_d(p, q) = W_d((p - q)^+, (q - p)^+)``: the common mass stays in place and each LP is posed on the supports
   of the two excess measures (about half the states for dense rows). Every iterate ``F^k(0)`` is a pseudometric
   (Ferns et al. 2004), so this is exact here.
3. Closed forms: ``W = 0`` for equal distributions or a zero upper bound; an excess measure on a single state makes
   the coupling unique.
4. Upper bounds and action elimination: any coupling gives an upper bound on ``W``. We use the plan stored from
   an earlier iteration (still a valid coupling, since the marginals never change) and the product coupling of the
   excess measures. Only the action with the largest upper bound is evaluated exactly; other actions are evaluated
   only while their upper bound exceeds the best exact value found so far.
5. Certified plan reuse: the stored plan of a non-degenerate basic solution is a spanning tree of the bipartite
   support graph. Dual potentials with ``u_i + v_j = d(i, j)`` on the tree edges follow by one pass down the tree;
   if every reduced cost ``d(i, j) - u_i - v_j`` is ``>= -eps`` then ``(u - eps/2, v - eps/2)`` is dual feasible,
   so the stored plan's cost exceeds ``W`` by at most ``eps`` (eq. 3.2), with ``eps = 1e-12 max(1, max d)``.
   Otherwise the LP is re-solved. The checks run vectorised over all candidate pairs at once.

In practice the optimal plans stop changing after a few iterations, so late iterations need almost no LP solves.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import sparse
from scipy.sparse.csgraph import breadth_first_order

from reference_impl.bisim.kantorovich import network_simplex
from reference_impl.mdp import FiniteMDP

CERTIFICATE_RTOL = 1e-12
DENSE_BOUND_LIMIT = 4_000_000  # use a dense matrix product for the common-mass bound below this many entries
CHUNK = 256


@dataclass(frozen=True)
class KantorovichFixedPointResult:
    """Output of :func:`kantorovich_fixed_point`.

    ``residuals[k] = ||d_{k+1} - d_k||_inf``; ``n_lp_solves`` counts transport LPs solved; ``n_certified`` counts
    Kantorovich distances read off a stored plan that was certified optimal instead of re-solving.
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
    """Iterate eq. 3.3 from ``d_0 = 0`` until the stopping rule of eq. 3.4; returns the metric and statistics.

    ``P`` [A, S, S] must be row-stochastic and ``R`` [S, A] finite (checked as for :class:`FiniteMDP`).
    ``accelerate=False`` solves one LP per pair ``s < t`` and action in every iteration (the plain method);
    both settings compute the same iterates.
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
    operator = _KantorovichOperator(checked.P, checked.R, c_R, c_T, accelerate)
    threshold = stopping_threshold(tol, c_T)
    d = np.zeros((operator.n_states, operator.n_states))
    residuals = []
    for k in range(1, max_iter + 1):
        d_new = operator(d)
        residuals.append(float(np.max(np.abs(d_new - d))))
        d = d_new
        if residuals[-1] <= threshold:
            return KantorovichFixedPointResult(d, k, np.array(residuals), operator.n_lp_solves, operator.n_certified)
    raise RuntimeError(f"the metric iteration did not converge in {max_iter} iterations (last residual "
                       f"{residuals[-1]:.3g}, threshold {threshold:.3g}).")


class _KantorovichOperator:
    """Applies eq. 3.3 to symmetric pseudometrics ``d`` and keeps the optimal plans between calls.

    ``accelerate=True``: steps 1-5 of the module docstring. ``accelerate=False``: the plain method, one LP on
    ``supp(p) x supp(q)`` per pair ``s < t`` and action (a Dirac on either side needs none).
    """

    def __init__(self, P: np.ndarray, R: np.ndarray, c_R: float, c_T: float, accelerate: bool) -> None:
        P = P / P.sum(axis=2, keepdims=True)  # exact unit mass, so both excess measures have the same mass
        self.P, self.c_R, self.c_T, self.accelerate = P, c_R, c_T, accelerate
        self.n_actions, self.n_states = P.shape[0], P.shape[1]
        self.n_lp_solves = 0
        self.n_certified = 0
        A, S = self.n_actions, self.n_states
        self.pair_s, self.pair_t = np.triu_indices(S, 1)
        n_pairs = len(self.pair_s)
        self.reward_gap = np.abs(R[self.pair_s] - R[self.pair_t]).ravel()  # slot = pair * A + action
        self.slot_action = np.tile(np.arange(A), n_pairs)
        self.slot_src = np.repeat(self.pair_s, A)
        self.slot_dst = np.repeat(self.pair_t, A)
        if accelerate:
            self._init_excess_supports()

    def _init_excess_supports(self) -> None:
        """Per slot: states and masses of ``(p - q)^+`` (rows) and ``(q - p)^+`` (columns), padded to ``K``."""
        n_slots, S = len(self.slot_action), self.n_states
        a, s, t = self.slot_action, self.slot_src, self.slot_dst
        n_rows = np.zeros(n_slots, dtype=np.int64)
        n_cols = np.zeros(n_slots, dtype=np.int64)
        for start in range(0, n_slots, 16 * CHUNK):
            sl = slice(start, start + 16 * CHUNK)
            diff = self.P[a[sl], s[sl]] - self.P[a[sl], t[sl]]
            n_rows[sl] = np.count_nonzero(diff > 0, axis=1)
            n_cols[sl] = np.count_nonzero(diff < 0, axis=1)
        K = max(int(max(n_rows.max(initial=0), n_cols.max(initial=0))), 1)
        self.K, self.n_rows, self.n_cols = K, n_rows, n_cols
        self.row_states = np.zeros((n_slots, K), dtype=np.int64)
        self.col_states = np.zeros((n_slots, K), dtype=np.int64)
        self.row_mass = np.zeros((n_slots, K))
        self.col_mass = np.zeros((n_slots, K))
        for start in range(0, n_slots, 16 * CHUNK):
            sl = slice(start, start + 16 * CHUNK)
            diff = self.P[a[sl], s[sl]] - self.P[a[sl], t[sl]]
            for states, mass, excess in ((self.row_states, self.row_mass, np.maximum(diff, 0.0)),
                                         (self.col_states, self.col_mass, np.maximum(-diff, 0.0))):
                order = np.argsort(excess <= 0, axis=1, kind="stable")[:, :K]
                states[sl] = order
                mass[sl] = np.take_along_axis(excess, order, 1)  # zero beyond the support
        self.excess_mass = 0.5 * (self.row_mass.sum(axis=1) + self.col_mass.sum(axis=1))
        self.dense_bound = n_slots * S <= DENSE_BOUND_LIMIT
        if self.dense_bound:
            diff = self.P[a, s] - self.P[a, t]
            self.excess_p_full = np.maximum(diff, 0.0)
            self.excess_q_full = np.maximum(-diff, 0.0)

        # Stored plans (edges as state indices, flows) and their spanning trees in breadth-first order.
        n_edges_max, n_nodes_max = 2 * K - 1, 2 * K
        self.has_plan = np.zeros(n_slots, dtype=bool)
        self.tree_ok = np.zeros(n_slots, dtype=bool)
        self.edge_rows = np.zeros((n_slots, n_edges_max), dtype=np.int64)
        self.edge_cols = np.zeros((n_slots, n_edges_max), dtype=np.int64)
        self.edge_flow = np.zeros((n_slots, n_edges_max))
        self.n_nodes = np.zeros(n_slots, dtype=np.int64)
        self.node_state = np.zeros((n_slots, n_nodes_max), dtype=np.int64)
        self.parent_pos = np.zeros((n_slots, n_nodes_max), dtype=np.int64)
        self.row_pos = np.full((n_slots, K), n_nodes_max, dtype=np.int64)
        self.col_pos = np.full((n_slots, K), n_nodes_max, dtype=np.int64)

    # ----------------------------------------------------------------------------------------------- operator
    def __call__(self, d: np.ndarray) -> np.ndarray:
        A, n_pairs = self.n_actions, len(self.pair_s)
        if n_pairs == 0:
            return np.zeros((self.n_states, self.n_states))
        if not self.accelerate:
            W = np.array([self._plain_w1(slot, d) for slot in range(len(self.slot_action))])
            return self._to_matrix((self.c_R * self.reward_gap + self.c_T * W).reshape(n_pairs, A).max(axis=1))

        W = self._closed_forms(d)
        known = ~np.isnan(W)
        plan_cost = np.full(len(W), np.inf)
        plan_cost[self.has_plan] = self._plan_cost(np.flatnonzero(self.has_plan), d)
        upper_W = np.minimum(self._common_mass_bound(d), plan_cost)
        zero = ~known & (upper_W <= 0.0)  # W >= 0, so a zero upper bound is exact
        W[zero] = 0.0
        known |= zero
        upper_W[known] = W[known]

        upper = (self.c_R * self.reward_gap + self.c_T * upper_W).reshape(n_pairs, A)
        best = np.where(known.reshape(n_pairs, A), upper, -np.inf).max(axis=1)
        evaluated = known.reshape(n_pairs, A).copy()
        while True:
            remaining = ~evaluated & (upper > best[:, None])
            pending = np.flatnonzero(remaining.any(axis=1))
            if len(pending) == 0:
                break
            action = np.argmax(np.where(remaining[pending], upper[pending], -np.inf), axis=1)
            slots = pending * A + action
            W_slots = self._evaluate(slots, d, plan_cost)
            evaluated[pending, action] = True
            best[pending] = np.maximum(best[pending], self.c_R * self.reward_gap[slots] + self.c_T * W_slots)
        return self._to_matrix(best)

    def _to_matrix(self, values: np.ndarray) -> np.ndarray:
        d = np.zeros((self.n_states, self.n_states))
        d[self.pair_s, self.pair_t] = values
        d[self.pair_t, self.pair_s] = values
        return d

    def _plain_w1(self, slot: int, d: np.ndarray) -> float:
        """W on ``supp(p) x supp(q)`` with one LP (a Dirac on either side needs none)."""
        a = self.slot_action[slot]
        p, q = self.P[a, self.slot_src[slot]], self.P[a, self.slot_dst[slot]]
        rows, cols = np.flatnonzero(p), np.flatnonzero(q)
        if len(rows) == 1:
            return float(q[cols] @ d[rows[0], cols])
        if len(cols) == 1:
            return float(p[rows] @ d[rows, cols[0]])
        self.n_lp_solves += 1
        return network_simplex(p[rows], q[cols], d[np.ix_(rows, cols)])[1]

    # -------------------------------------------------------------------------------------------- exact parts
    def _closed_forms(self, d: np.ndarray) -> np.ndarray:
        """W = 0 for equal distributions; a single excess state on either side makes the coupling unique."""
        W = np.full(len(self.slot_action), np.nan)
        W[(self.n_rows == 0) | (self.n_cols == 0)] = 0.0  # equal distributions (up to rounding)
        for mask, single, other, mass in (
            ((self.n_rows == 1) & (self.n_cols > 0), self.row_states, self.col_states, self.col_mass),
            ((self.n_cols == 1) & (self.n_rows > 1), self.col_states, self.row_states, self.row_mass),
        ):
            idx = np.flatnonzero(mask)
            if len(idx):
                W[idx] = np.sum(mass[idx] * d[single[idx, :1], other[idx]], axis=1)
        return W

    def _solve(self, slots: np.ndarray, d: np.ndarray) -> np.ndarray:
        """Solve the excess-measure LPs of ``slots`` (network simplex); store the plans and their trees."""
        values = np.empty(len(slots))
        edges = []
        for k, slot in enumerate(slots):
            n, m = self.n_rows[slot], self.n_cols[slot]
            rows, cols = self.row_states[slot, :n], self.col_states[slot, :m]
            coupling, unit_value = network_simplex(self.row_mass[slot, :n], self.col_mass[slot, :m],
                                                   d[np.ix_(rows, cols)])
            values[k] = self.excess_mass[slot] * unit_value
            r, c = np.nonzero(coupling)
            edges.append((r, c))
            n_edges = len(r)
            self.has_plan[slot] = n_edges <= self.edge_rows.shape[1]
            if self.has_plan[slot]:
                self.edge_flow[slot] = 0.0
                self.edge_rows[slot, :n_edges] = rows[r]
                self.edge_cols[slot, :n_edges] = cols[c]
                self.edge_flow[slot, :n_edges] = self.excess_mass[slot] * coupling[r, c]
        self.n_lp_solves += len(slots)
        if len(slots):
            self._build_trees(slots, edges)
        return values

    def _evaluate(self, slots: np.ndarray, d: np.ndarray, plan_cost: np.ndarray) -> np.ndarray:
        """Exact W for ``slots``: a stored plan certified optimal where possible, otherwise a fresh LP."""
        W = np.empty(len(slots))
        candidates = np.flatnonzero(self.has_plan[slots] & self.tree_ok[slots])
        certified = np.zeros(len(slots), dtype=bool)
        if len(candidates):
            certified[candidates] = self._certify(slots[candidates], d)
            W[certified] = plan_cost[slots[certified]]
            self.n_certified += int(certified.sum())
        rest = np.flatnonzero(~certified)
        if len(rest):
            W[rest] = self._solve(slots[rest], d)
        return W

    # ------------------------------------------------------------------------------------------------- bounds
    def _plan_cost(self, slots: np.ndarray, d: np.ndarray) -> np.ndarray:
        """Cost of each stored plan under the new ``d``: an upper bound on W (eq. 3.1)."""
        out = np.empty(len(slots))
        for start in range(0, len(slots), 16 * CHUNK):
            chunk = slots[start : start + 16 * CHUNK]
            out[start : start + len(chunk)] = np.sum(
                self.edge_flow[chunk] * d[self.edge_rows[chunk], self.edge_cols[chunk]], axis=1
            )
        return out

    def _common_mass_bound(self, d: np.ndarray) -> np.ndarray:
        """Cost of the coupling that keeps ``min(p, q)`` in place and spreads the excess as a product."""
        mass = np.where(self.excess_mass > 0, self.excess_mass, 1.0)
        if self.dense_bound:
            return np.sum((self.excess_p_full @ d) * self.excess_q_full, axis=1) / mass
        out = np.empty(len(mass))
        for start in range(0, len(mass), CHUNK):
            sl = slice(start, start + CHUNK)
            cost = d[self.row_states[sl, :, None], self.col_states[sl, None, :]]
            out[sl] = np.einsum("bi,bij,bj->b", self.row_mass[sl], cost, self.col_mass[sl])
        return out / mass

    # -------------------------------------------------------------------------------------------- certificate
    def _certify(self, slots: np.ndarray, d: np.ndarray) -> np.ndarray:
        """Whether each stored plan is optimal for cost ``d``: potentials along its tree, then all reduced costs."""
        eps = CERTIFICATE_RTOL * max(1.0, float(d.max()))
        ok = np.empty(len(slots), dtype=bool)
        sentinel = self.node_state.shape[1]
        for start in range(0, len(slots), CHUNK):
            chunk = slots[start : start + CHUNK]
            nodes = self.node_state[chunk]
            parents = self.parent_pos[chunk]
            edge_cost = d[nodes, np.take_along_axis(nodes, parents, 1)]
            potential = np.zeros((len(chunk), sentinel + 1))
            index = np.arange(len(chunk))
            for pos in range(1, int(self.n_nodes[chunk].max())):
                potential[:, pos] = edge_cost[:, pos] - potential[index, parents[:, pos]]
            potential[:, sentinel] = -np.inf  # padding rows/columns get an infinite reduced cost
            u = np.take_along_axis(potential, self.row_pos[chunk], 1)
            v = np.take_along_axis(potential, self.col_pos[chunk], 1)
            cost = d[self.row_states[chunk, :, None], self.col_states[chunk, None, :]]
            reduced = cost - u[:, :, None] - v[:, None, :]
            ok[start : start + len(chunk)] = reduced.min(axis=(1, 2)) >= -eps
        return ok

    def _build_trees(self, slots: np.ndarray, edges: list[tuple[np.ndarray, np.ndarray]]) -> None:
        """Breadth-first order of every plan's support graph, all plans in one graph search.

        Nodes of slot k: its rows ``0..n-1`` then its columns ``n..n+m-1``, offset by ``base[k]``; a super-root
        joins the first row of every slot. A plan gets a usable tree when its support has ``n + m - 1`` edges and
        connects all nodes (a non-degenerate basic solution).
        """
        n, m = self.n_rows[slots], self.n_cols[slots]
        size = n + m
        base = np.concatenate([[0], np.cumsum(size)[:-1]])
        total = int(size.sum())
        root = total
        n_edges = np.array([len(r) for r, _ in edges])
        src = np.concatenate([base[k] + r for k, (r, _) in enumerate(edges)] + [np.full(len(slots), root)])
        dst = np.concatenate([base[k] + n[k] + c for k, (_, c) in enumerate(edges)] + [base])
        graph = sparse.csr_matrix((np.ones(len(src)), (src, dst)), shape=(total + 1, total + 1))
        order, predecessor = breadth_first_order(graph, root, directed=False, return_predecessors=True)

        owner = np.repeat(np.arange(len(slots)), size)
        visited = order[1:]
        visited = visited[np.argsort(owner[visited], kind="stable")]  # grouped by slot, breadth-first inside
        group = owner[visited]
        n_visited = np.bincount(group, minlength=len(slots))
        first = np.concatenate([[0], np.cumsum(n_visited)[:-1]])
        position = np.arange(len(visited)) - first[group]
        node_position = np.full(total + 1, -1, dtype=np.int64)
        node_position[visited] = position
        parent = predecessor[visited]
        parent_position = np.where(parent == root, 0, node_position[np.where(parent == root, 0, parent)])

        local = visited - base[group]
        is_row = local < n[group]
        state = np.where(
            is_row,
            self.row_states[slots[group], np.minimum(local, self.K - 1)],
            self.col_states[slots[group], np.clip(local - n[group], 0, self.K - 1)],
        )
        sentinel = self.node_state.shape[1]
        self.node_state[slots] = 0
        self.parent_pos[slots] = 0
        self.node_state[slots[group], position] = state
        self.parent_pos[slots[group], position] = parent_position
        self.n_nodes[slots] = n_visited

        for side, count, offset in ((self.row_pos, n, np.zeros_like(n)), (self.col_pos, m, n)):
            side[slots] = sentinel
            owner_side = np.repeat(np.arange(len(slots)), count)
            local_side = np.arange(int(count.sum())) - np.repeat(np.cumsum(count) - count, count)
            pos = node_position[base[owner_side] + offset[owner_side] + local_side]
            side[slots[owner_side], local_side] = np.where(pos >= 0, pos, sentinel)

        self.tree_ok[slots] = (n_visited == size) & (n_edges == size - 1)
