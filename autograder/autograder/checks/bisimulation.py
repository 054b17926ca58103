"""Checks for chapter 2 (bisimulation relations). Each ``check_*`` is one call in a notebook test cell.

Student functions work on plain arrays: ``P`` [A, S, S], ``R`` [S, A] and block labels ``labels`` [S] (integers;
two states are in the same block when their labels are equal). Partitions are compared as partitions: any
labelling of the right blocks is accepted.

Hidden input space (what the exercise text allows): MDPs with 1-7 states and 1-3 actions built to contain
bisimilar states (a small abstract MDP whose states are copied, the transition mass into each abstract state split
at random among its copies; abstract dynamics stochastic or deterministic, so refinement may take several rounds),
plus fixed chains; rewards drawn from a few values so that blocks share reward rows: {0, 1}, {-1, 0, 1}, two
random reals of either sign, all zero, or rows that are permutations of each other across actions. Often one
abstract state has a decoy that is nearly but not bisimilar to it: its reward row permuted, its actions'
successor distributions swapped, or 1e-3 of its mass moved to another block. Masses and rewards are therefore
either equal up to rounding noise (< 1e-12) or at least 1e-3 apart, as the notebook promises. Labels
given to ``refine_once`` are non-negative integers, not necessarily 0..K-1: one block, a random partition, the
finest partition, the partition by reward rows or bisimilarity itself. Labels given to ``quotient_mdp`` are
0..K-1, numbered in any order, for any bisimulation (bisimilarity or the finest partition).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from hypothesis import strategies as st

from autograder.checks._core import as_array, call_student, fail, passed, quiet, run_property
from reference_impl import bisim as ref
from reference_impl.mdp import FiniteMDP

HIDDEN_EXAMPLES = 30
REWARD_KINDS = ("binary", "signed", "two_reals", "zero", "permuted")
DECOYS = ("none", "permuted_rewards", "swapped_actions", "nudged_mass")


def _abstract_rewards(rng: np.random.Generator, kind: str, n_blocks: int, n_actions: int) -> np.ndarray:
    shape = (n_blocks, n_actions)
    if kind == "binary":
        return rng.integers(0, 2, size=shape).astype(float)
    if kind == "signed":
        return rng.integers(-1, 2, size=shape).astype(float)
    if kind == "two_reals":
        return rng.choice(np.round(rng.uniform(-2.0, 2.0, size=2), 3), size=shape)
    if kind == "zero":
        return np.zeros(shape)
    row = np.round(rng.uniform(-1.0, 1.0, size=n_actions), 2)  # every block: a permutation of the same row
    return np.array([rng.permutation(row) for _ in range(n_blocks)])


def _lifted_mdp(seed: int, n_blocks: int, n_states: int, n_actions: int, deterministic: bool,
                reward_kind: str = "binary", decoy: str = "none") -> tuple[np.ndarray, np.ndarray]:
    """An MDP whose states are copies of ``n_blocks`` abstract states, so bisimilar copies exist.

    With ``deterministic`` abstract dynamics, chains appear and refinement needs several rounds. A ``decoy`` makes
    abstract state 1 a near copy of abstract state 0 that is NOT bisimilar to it: the same dynamics with the reward
    row permuted (``"permuted_rewards"``), the same rewards with the actions' successor distributions swapped
    (``"swapped_actions"``), or 1e-3 of one action's mass moved to another block (``"nudged_mass"``)."""
    rng = np.random.default_rng(seed)
    block_of = np.concatenate([np.arange(n_blocks), rng.integers(0, n_blocks, n_states - n_blocks)])
    rng.shuffle(block_of)
    if deterministic:
        P_hat = np.eye(n_blocks)[rng.integers(0, n_blocks, size=(n_actions, n_blocks))]
    else:
        P_hat = rng.dirichlet(np.ones(n_blocks), size=(n_actions, n_blocks))
    R_hat = _abstract_rewards(rng, reward_kind, n_blocks, n_actions)
    if n_blocks >= 2 and (decoy == "nudged_mass" or (decoy != "none" and n_actions >= 2)):
        P_hat[:, 1], R_hat[1] = P_hat[:, 0], R_hat[0]
        if decoy == "permuted_rewards":
            R_hat[0, 0] = R_hat[0, 1] + 1.0  # two different entries, swapped in the decoy
            R_hat[1] = R_hat[0, ::-1]
        elif decoy == "swapped_actions":
            P_hat[0, 0], P_hat[1, 0] = np.eye(n_blocks)[0], np.eye(n_blocks)[1]
            P_hat[:, 1] = P_hat[::-1, 0]
        else:
            source = int(np.argmax(P_hat[0, 1]))
            P_hat[0, 1, source] -= 1e-3
            P_hat[0, 1, (source + 1) % n_blocks] += 1e-3
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


def _two_paths() -> tuple[np.ndarray, np.ndarray]:
    """States 0 and 1 lead (with different probabilities) to the twins 2 and 4, which lead to the goal 3."""
    P = np.zeros((1, 5, 5))
    P[0, 0, [2, 4]] = 0.5
    P[0, 1, 2] = 1.0
    P[0, [2, 3, 4], 3] = 1.0
    return P, np.array([[0.0], [0.0], [0.0], [1.0], [0.0]])


def _swapped_actions() -> tuple[np.ndarray, np.ndarray]:
    """States 0 and 1 have permuted reward rows and swap which action reaches the goal 2: none are bisimilar,
    although summing rewards or masses over actions makes 0 and 1 look alike."""
    P = np.zeros((2, 3, 3))
    P[0, 0, 2] = P[1, 0, 0] = P[0, 1, 1] = P[1, 1, 2] = 1.0
    P[:, 2, 2] = 1.0
    return P, np.array([[1.0, -1.0], [-1.0, 1.0], [0.0, 0.0]])


def _visible_refine_case() -> dict:
    """Nine states, two actions, current blocks labelled 2 ({0..4, 7, 8}), 7 ({5}) and 3 ({6}).

    0 and 1 have permuted reward rows; 2 and 3 swap which action reaches which block; 4 and 7 reach different
    states of the same block (they stay together); 8 differs from 4 by a mass of 1e-3; 5 and 6 both move to 5 with
    the same rewards but lie in different blocks (they stay apart)."""
    P = np.zeros((2, 9, 9))
    for s, (to_0, to_1) in {0: (5, 6), 1: (5, 6), 2: (5, 6), 3: (6, 5), 4: (0, 6), 7: (1, 6), 5: (5, 5),
                            6: (5, 5)}.items():
        P[0, s, to_0] = P[1, s, to_1] = 1.0
    P[0, 8, [0, 5]] = [0.999, 0.001]
    P[1, 8, 6] = 1.0
    R = np.zeros((9, 2))
    R[0], R[1] = [1.0, -1.0], [-1.0, 1.0]
    return {"P": P, "R": R, "labels": np.array([2, 2, 2, 2, 2, 7, 3, 2, 2])}


def _visible_partition_case() -> tuple[np.ndarray, np.ndarray]:
    """Eleven states, two actions. The chain 0 -> 6 -> 2 -> 3 (3 and 10 absorbing, rewarding) takes three rounds;
    5 and 6 reach the twins 2 and 4 in different ways and are bisimilar to 1; the absorbing 7 and 8 have permuted
    reward rows; 9 differs from 1 by a mass of 1e-3 into the goal."""
    P = np.zeros((2, 11, 11))
    for s, to in {0: 6, 1: 2, 2: 3, 3: 3, 4: 3, 7: 7, 8: 8, 10: 10}.items():
        P[:, s, to] = 1.0
    P[:, 5, [2, 4]] = 0.5
    P[0, 6, 2] = P[1, 6, 4] = 1.0
    P[0, 9, [2, 3]] = [0.999, 0.001]
    P[1, 9, 2] = 1.0
    R = np.zeros((11, 2))
    R[3] = R[10] = [1.0, 1.0]
    R[7], R[8] = [1.0, -1.0], [-1.0, 1.0]
    return P, R


@st.composite
def lifted_cases(draw) -> dict:
    n_blocks = draw(st.integers(1, 4))
    n_states = draw(st.integers(n_blocks, 7))
    n_actions = draw(st.integers(1, 3))
    P, R = _lifted_mdp(draw(st.integers(0, 10_000)), n_blocks, n_states, n_actions, draw(st.booleans()),
                       draw(st.sampled_from(REWARD_KINDS)), draw(st.sampled_from(DECOYS)))
    return {"P": P, "R": R}


def mdp_cases() -> st.SearchStrategy:
    fixed = [dict(zip(("P", "R"), example(), strict=True))
             for example in (_chain, _two_paths, _swapped_actions, _visible_partition_case)]
    return st.one_of(st.sampled_from(fixed), lifted_cases())


def _relabel(labels: np.ndarray, seed: int, contiguous: bool) -> np.ndarray:
    """The same partition under other label values: a permutation of 0..K-1, or distinct non-negative integers."""
    blocks = np.unique(labels)
    rng = np.random.default_rng(seed)
    if contiguous:
        values = rng.permutation(len(blocks))
    else:
        values = rng.choice(max(10, 2 * len(blocks)), size=len(blocks), replace=False)
    return values[np.searchsorted(blocks, labels)]


@st.composite
def refine_cases(draw) -> dict:
    """An MDP with a current partition: one block, a random one, the finest, by reward rows, or bisimilarity."""
    if draw(st.integers(0, 9)) == 0:
        return _visible_refine_case()
    case = draw(mdp_cases())
    model = FiniteMDP(case["P"], case["R"], 0.9)
    n = case["R"].shape[0]
    kind = draw(st.sampled_from(["one_block", "one_block", "random", "finest", "by_rewards", "bisimilarity"]))
    seed = draw(st.integers(0, 1000))
    if kind == "one_block":
        labels = np.zeros(n, dtype=int)
    elif kind == "random":
        labels = np.random.default_rng(seed).integers(0, 3, size=n)
    elif kind == "finest":  # bisimilar twins start in different blocks and must stay apart
        labels = np.arange(n)
    elif kind == "by_rewards":
        labels = ref.refine_once(model, np.zeros(n, dtype=int))
    else:
        labels = ref.bisimulation_partition(model)
    return {**case, "labels": _relabel(labels, seed, contiguous=False)}


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
    """The refined partition (eq. 2.2), compared as a partition. Hidden: 30 draws of ``refine_cases``: lifted
    MDPs with decoys or fixed examples, with any non-negative labels (module docstring)."""
    with quiet():
        if not hidden:
            _refine_case(fn, _visible_refine_case())
            passed("refine_once", "fixed nine-state example")
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
    """Bisimilarity, compared as a partition. Hidden: 30 draws of ``mdp_cases`` (module docstring)."""
    with quiet():
        if not hidden:
            P, R = _visible_partition_case()
            _partition_case(fn, {"P": P, "R": R})
            passed("bisimulation_partition", "fixed eleven-state example")
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
    expected = _quotient_in_label_order(model, case["labels"])
    A, K = case["P"].shape[0], int(case["labels"].max()) + 1
    P_hat = as_array(name, result[0], case, shape=(A, K, K), what="P_hat")
    R_hat = as_array(name, result[1], case, shape=(K, A), what="R_hat")
    if not np.allclose(R_hat, expected.R, atol=1e-8):
        fail(name, "R_hat differs from the reference", case, expected=expected.R, got=R_hat,
             hint="R_hat[B, a] is the reward of any member of block B (they are all equal).")
    if not np.allclose(P_hat, expected.P, atol=1e-8):
        fail(name, "P_hat differs from the reference", case, expected=expected.P, got=P_hat,
             hint="P_hat[a, B, C] = sum over s' in C of P[a, s, s'] for any member s of B.")


def _quotient_in_label_order(model: FiniteMDP, labels: np.ndarray) -> FiniteMDP:
    """The reference quotient with block ``k`` the block labelled ``k`` (the reference numbers blocks in order of
    first appearance)."""
    quotient = ref.quotient_mdp(model, labels)
    first = np.array([np.flatnonzero(labels == k)[0] for k in range(int(labels.max()) + 1)])
    order = ref.canonical_labels(labels)[first]  # the reference's index of the block labelled k
    return FiniteMDP(quotient.P[:, order][:, :, order], quotient.R[order], model.gamma)


def check_quotient_mdp(fn: Callable, hidden: bool = False) -> None:
    """(P_hat, R_hat) of eq. 2.3 to 1e-8, block k = label k. Hidden: 30 MDPs of ``mdp_cases`` with
    bisimilarity or the finest partition, labels 0..K-1 in a random order."""
    with quiet():
        if not hidden:
            P, R = _visible_partition_case()
            labels = ref.bisimulation_partition(FiniteMDP(P, R, 0.9))
            _quotient_case(fn, {"P": P, "R": R, "labels": labels.max() - labels})  # blocks numbered backwards
            passed("quotient_mdp", "fixed eleven-state example")
            return

        @st.composite
        def quotient_cases(draw):
            case = draw(mdp_cases())
            n = case["R"].shape[0]
            finest = draw(st.integers(0, 4)) == 0  # the finest partition is a bisimulation too
            labels = np.arange(n) if finest else ref.bisimulation_partition(FiniteMDP(case["P"], case["R"], 0.9))
            return {**case, "labels": _relabel(labels, draw(st.integers(0, 1000)), contiguous=True)}

        run_property(lambda case: _quotient_case(fn, case), quotient_cases(), max_examples=HIDDEN_EXAMPLES)
        passed("quotient_mdp", f"{HIDDEN_EXAMPLES} random MDPs")
