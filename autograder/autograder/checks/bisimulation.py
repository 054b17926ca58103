"""Checks for chapter 2 (bisimulation relations). Each ``check_*`` is one call in a notebook test cell.

Student functions work on plain arrays: ``P`` [A, S, S], ``R`` [S, A] and block labels ``labels`` [S] (integers;
two states are in the same block when their labels are equal). Partitions are compared as partitions: any
labelling of the right blocks is accepted. Hidden tests draw MDPs that are built to have non-trivial
bisimulations (a small random MDP whose states are copied and whose transition mass is split at random among
the copies), with rewards in {0, 1} so that refinement takes several rounds.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from hypothesis import strategies as st

from autograder.checks._core import as_array, call_student, fail, passed, quiet, run_property
from reference_impl import bisim as ref
from reference_impl.mdp import FiniteMDP

HIDDEN_EXAMPLES = 30


def _lifted_mdp(seed: int, n_blocks: int, n_states: int, n_actions: int,
                deterministic: bool) -> tuple[np.ndarray, np.ndarray]:
    """An MDP whose states are copies of ``n_blocks`` abstract states, so bisimilar copies exist.

    With ``deterministic`` abstract dynamics, chains appear and refinement needs several rounds."""
    rng = np.random.default_rng(seed)
    block_of = np.concatenate([np.arange(n_blocks), rng.integers(0, n_blocks, n_states - n_blocks)])
    rng.shuffle(block_of)
    if deterministic:
        P_hat = np.eye(n_blocks)[rng.integers(0, n_blocks, size=(n_actions, n_blocks))]
    else:
        P_hat = rng.dirichlet(np.ones(n_blocks), size=(n_actions, n_blocks))
    R_hat = rng.integers(0, 2, size=(n_blocks, n_actions)).astype(float)
    P = np.zeros((n_actions, n_states, n_states))
    for a in range(n_actions):
        for s in range(n_states):
            for c in range(n_blocks):
                members = np.flatnonzero(block_of == c)
                P[a, s, members] = P_hat[a, block_of[s], c] * rng.dirichlet(np.ones(len(members)))
    P /= P.sum(axis=2, keepdims=True)
    return P, R_hat[block_of]


def _chain() -> tuple[np.ndarray, np.ndarray]:
    """0 -> 1 -> 2 -> 3 (absorbing, rewarding): three refinement rounds separate all four states."""
    P = np.array([[[0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1], [0, 0, 0, 1.0]]])
    return P, np.array([[0.0], [0.0], [0.0], [1.0]])


@st.composite
def lifted_cases(draw) -> dict:
    n_blocks = draw(st.integers(1, 4))
    n_states = draw(st.integers(n_blocks, 7))
    n_actions = draw(st.integers(1, 2))
    P, R = _lifted_mdp(draw(st.integers(0, 10_000)), n_blocks, n_states, n_actions, draw(st.booleans()))
    return {"P": P, "R": R}


def mdp_cases() -> st.SearchStrategy:
    fixed = [dict(zip(("P", "R"), _chain(), strict=True)), dict(zip(("P", "R"), _two_paths(), strict=True))]
    return st.one_of(st.sampled_from(fixed), lifted_cases())


@st.composite
def refine_cases(draw) -> dict:
    """An MDP with a current partition: one block, a random one, or one finer than bisimilarity."""
    case = draw(mdp_cases())
    n = case["R"].shape[0]
    kind = draw(st.sampled_from(["one_block", "random", "split_twins"]))
    if kind == "one_block":
        labels = np.zeros(n, dtype=int)
    elif kind == "random":
        labels = np.random.default_rng(draw(st.integers(0, 1000))).integers(0, 3, size=n)
    else:  # the finest partition: bisimilar twins start in different blocks and must stay apart
        labels = np.arange(n)
    return {**case, "labels": labels}


def _two_paths() -> tuple[np.ndarray, np.ndarray]:
    """States 0 and 1 lead (with different probabilities) to the twins 2 and 4, which lead to the goal 3."""
    P = np.zeros((1, 5, 5))
    P[0, 0, [2, 4]] = 0.5
    P[0, 1, 2] = 1.0
    P[0, [2, 3, 4], 3] = 1.0
    return P, np.array([[0.0], [0.0], [0.0], [1.0], [0.0]])


def same_partition(a: np.ndarray, b: np.ndarray) -> bool:
    """Whether two labellings define the same blocks."""
    return np.array_equal(a[:, None] == a[None, :], b[:, None] == b[None, :])


def _labels(name: str, value, case: dict) -> np.ndarray:
    return as_array(name, value, case, shape=(case["R"].shape[0],), dtype="int", what="the labels")


def _blocks(labels: np.ndarray) -> str:
    return " ".join("{" + ",".join(map(str, np.flatnonzero(labels == b))) + "}" for b in dict.fromkeys(labels))


def _compare_partitions(name: str, got: np.ndarray, expected: np.ndarray, case: dict, prop: str, hint: str):
    if not same_partition(got, expected):
        fail(name, prop, case, expected=_blocks(expected), got=_blocks(got), hint=hint)


# Part 1: one refinement step (eq. 2.2) -------------------------------------------------------------------

def _refine_case(fn: Callable, case: dict) -> None:
    name = "refine_once"
    got = _labels(name, call_student(name, fn, case), case)
    expected = ref.refine_once(FiniteMDP(case["P"], case["R"], 0.9), case["labels"])
    _compare_partitions(name, got, expected, case, "the refined blocks differ from the reference",
                        "keep states together only if they were in the same block, have the same rewards R[s, :] "
                        "and, for every action and every current block C, the same mass P(C | s, a) (to 1e-8).")


def check_refine_once(fn: Callable, hidden: bool = False) -> None:
    with quiet():
        if not hidden:
            P = np.array([[[0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1], [0, 0, 0, 1.0]]])
            R = np.array([[0.0], [0.0], [0.0], [1.0]])
            _refine_case(fn, {"P": P, "R": R, "labels": np.array([0, 0, 0, 1])})
            passed("refine_once", "fixed chain")
            return
        run_property(lambda case: _refine_case(fn, case), refine_cases(), max_examples=HIDDEN_EXAMPLES)
        passed("refine_once", f"{HIDDEN_EXAMPLES} random MDPs and partitions")


# Part 2: the coarsest bisimulation -----------------------------------------------------------------------

def _partition_case(fn: Callable, case: dict) -> None:
    name = "bisimulation_partition"
    got = _labels(name, call_student(name, fn, case), case)
    expected = ref.bisimulation_partition(FiniteMDP(case["P"], case["R"], 0.9))
    _compare_partitions(name, got, expected, case, "the partition is not the coarsest bisimulation",
                        "start from the partition by reward rows and refine until nothing changes.")


def check_bisimulation_partition(fn: Callable, hidden: bool = False) -> None:
    with quiet():
        if not hidden:
            P, R = _two_paths()
            _partition_case(fn, {"P": P, "R": R})
            passed("bisimulation_partition", "fixed chain")
            return
        run_property(lambda case: _partition_case(fn, case), mdp_cases(), max_examples=HIDDEN_EXAMPLES)
        passed("bisimulation_partition", f"{HIDDEN_EXAMPLES} random MDPs")


# Part 3: the quotient MDP (eq. 2.3) ----------------------------------------------------------------------

def _quotient_case(fn: Callable, case: dict) -> None:
    name = "quotient_mdp"
    model = FiniteMDP(case["P"], case["R"], 0.9)
    result = call_student(name, fn, case)
    if not isinstance(result, tuple | list) or len(result) != 2:
        fail(name, "must return a pair (P_hat, R_hat)", case, got=type(result).__name__)
    expected = ref.quotient_mdp(model, case["labels"])
    A, K = case["P"].shape[0], int(case["labels"].max()) + 1
    P_hat = as_array(name, result[0], case, shape=(A, K, K), what="P_hat")
    R_hat = as_array(name, result[1], case, shape=(K, A), what="R_hat")
    if not np.allclose(R_hat, expected.R, atol=1e-8):
        fail(name, "R_hat differs from the reference", case, expected=expected.R, got=R_hat,
             hint="R_hat[B, a] is the reward of any member of block B (they are all equal).")
    if not np.allclose(P_hat, expected.P, atol=1e-8):
        fail(name, "P_hat differs from the reference", case, expected=expected.P, got=P_hat,
             hint="P_hat[a, B, C] = sum over s' in C of P[a, s, s'] for any member s of B.")


def check_quotient_mdp(fn: Callable, hidden: bool = False) -> None:
    with quiet():
        if not hidden:
            P, R = _two_paths()
            _quotient_case(fn, {"P": P, "R": R, "labels": ref.bisimulation_partition(FiniteMDP(P, R, 0.9))})
            passed("quotient_mdp", "fixed example")
            return

        def with_partition(case):
            return {**case, "labels": ref.bisimulation_partition(FiniteMDP(case["P"], case["R"], 0.9))}

        run_property(lambda case: _quotient_case(fn, case), mdp_cases().map(with_partition),
                     max_examples=HIDDEN_EXAMPLES)
        passed("quotient_mdp", f"{HIDDEN_EXAMPLES} random MDPs")
