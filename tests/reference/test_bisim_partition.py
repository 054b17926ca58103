"""Bisimulation relations (chapter 2): partition refinement, quotient MDPs and the on-policy variant."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reference_impl.bisim import (
    bisimulation_partition,
    canonical_labels,
    is_bisimulation,
    is_pi_bisimulation,
    pi_bisimulation_partition,
    quotient_mdp,
    refine_once,
)
from reference_impl.mdp import FiniteMDP, policy_evaluation, policy_iteration, random_mdp

PROPERTY = settings(max_examples=40, deadline=None, derandomize=True, database=None)


def lifted_mdp(block_sizes, n_actions, gamma, seed, binary_rewards=False, sparse=False):
    """An MDP whose states are copies of the states of a random small MDP: states in one block are bisimilar.

    Each state splits the mass its block sends into a block ``C`` among the members of ``C`` at random, so
    bisimilar states have different next-state distributions but equal block masses.
    """
    rng = np.random.default_rng(seed)
    n_blocks = len(block_sizes)
    small = random_mdp(n_blocks, n_actions, gamma, seed=rng, n_successors=1 if sparse else None)
    block_of = np.repeat(np.arange(n_blocks), block_sizes)
    n_states = len(block_of)
    P = np.zeros((n_actions, n_states, n_states))
    for a in range(n_actions):
        for s in range(n_states):
            for c in range(n_blocks):
                members = np.flatnonzero(block_of == c)
                P[a, s, members] = small.P[a, block_of[s], c] * rng.dirichlet(np.ones(len(members)))
    R = np.round(small.R) if binary_rewards else small.R
    return FiniteMDP(P, R[block_of], gamma), block_of


@st.composite
def lifted_mdps(draw, max_states=7):
    n_blocks = draw(st.integers(1, 4))
    sizes = draw(st.lists(st.integers(1, 2), min_size=n_blocks, max_size=n_blocks))
    sizes = sizes[: max(1, max_states // 2)]
    return lifted_mdp(
        sizes,
        n_actions=draw(st.integers(1, 3)),
        gamma=draw(st.sampled_from([0.0, 0.5, 0.9])),
        seed=draw(st.integers(0, 2**16)),
        binary_rewards=draw(st.booleans()),
        sparse=draw(st.booleans()),
    )


def merge(labels, b1, b2):
    return canonical_labels(np.where(labels == b2, b1, labels))


@PROPERTY
@given(lifted_mdps())
def test_partition_is_the_coarsest_bisimulation(case):
    mdp, block_of = case
    labels = bisimulation_partition(mdp)
    assert labels.dtype.kind == "i" and labels.shape == (mdp.n_states,)
    np.testing.assert_array_equal(labels, canonical_labels(labels))
    assert is_bisimulation(mdp, labels)
    n_blocks = labels.max() + 1
    for b1 in range(n_blocks):
        for b2 in range(b1 + 1, n_blocks):
            assert not is_bisimulation(mdp, merge(labels, b1, b2))
    # The construction's blocks are bisimulations, so they refine the coarsest one.
    for block in np.unique(block_of):
        assert len(np.unique(labels[block_of == block])) == 1
    # The result is a fixed point of the refinement operator (eq. 2.2).
    np.testing.assert_array_equal(refine_once(mdp, labels), labels)


@PROPERTY
@given(lifted_mdps(), st.integers(0, 2**16))
def test_partition_is_invariant_under_state_permutation(case, seed):
    mdp, _ = case
    perm = np.random.default_rng(seed).permutation(mdp.n_states)
    permuted = FiniteMDP(mdp.P[:, perm][:, :, perm], mdp.R[perm], mdp.gamma)
    np.testing.assert_array_equal(bisimulation_partition(permuted), canonical_labels(bisimulation_partition(mdp)[perm]))


@PROPERTY
@given(lifted_mdps())
def test_quotient_preserves_optimal_values(case):
    mdp, _ = case
    labels = bisimulation_partition(mdp)
    quotient = quotient_mdp(mdp, labels)
    assert quotient.n_states == labels.max() + 1 and quotient.n_actions == mdp.n_actions
    np.testing.assert_allclose(quotient.P.sum(axis=2), 1.0, atol=1e-12)
    np.testing.assert_allclose(policy_iteration(quotient).V[labels], policy_iteration(mdp).V, atol=1e-8)


def test_refinement_on_a_known_example():
    # 0 -> {1, 2} half-half; 1 -> 3 and 2 -> 4 (reward 0); 3 and 4 absorbing with reward 1; two equal actions.
    P1 = np.zeros((5, 5))
    P1[0, [1, 2]] = 0.5
    P1[1, 3] = P1[2, 4] = P1[3, 3] = P1[4, 4] = 1.0
    R = np.array([0.0, 0.0, 0.0, 1.0, 1.0])[:, None].repeat(2, axis=1)
    mdp = FiniteMDP(np.stack([P1, P1]), R, 0.9)
    reward_partition = refine_once(mdp, np.zeros(5, dtype=int))
    np.testing.assert_array_equal(reward_partition, [0, 0, 0, 1, 1])
    np.testing.assert_array_equal(refine_once(mdp, reward_partition), [0, 1, 1, 2, 2])
    np.testing.assert_array_equal(bisimulation_partition(mdp), [0, 1, 1, 2, 2])
    quotient = quotient_mdp(mdp, [0, 1, 1, 2, 2])
    np.testing.assert_allclose(quotient.P[0], [[0, 1, 0], [0, 0, 1], [0, 0, 1]])
    # A different reward for action 1 in state 2 separates 1 from 2; 3 and 4 stay bisimilar.
    R2 = R.copy()
    R2[2, 1] = 0.5
    np.testing.assert_array_equal(bisimulation_partition(FiniteMDP(mdp.P, R2, 0.9)), [0, 1, 2, 3, 3])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_two_disjoint_copies_are_bisimilar_statewise(seed):
    base = random_mdp(5, 2, 0.9, seed=seed)
    S = base.n_states
    P = np.zeros((base.n_actions, 2 * S, 2 * S))
    P[:, :S, :S] = base.P
    P[:, S:, S:] = base.P
    doubled = FiniteMDP(P, np.concatenate([base.R, base.R]), base.gamma)
    labels = bisimulation_partition(doubled)
    np.testing.assert_array_equal(labels[:S], labels[S:])
    assert quotient_mdp(doubled, labels).n_states == S
    np.testing.assert_array_equal(bisimulation_partition(base), np.arange(S))


def test_tolerance_does_not_chain():
    # Rewards 0, 0.6e-8, ..., 2.4e-8 with atol 1e-8: consecutive gaps are below atol but the spread is not.
    rewards = np.arange(5) * 0.6e-8
    mdp = FiniteMDP(np.eye(5)[None], rewards[:, None], 0.9)
    labels = bisimulation_partition(mdp, atol=1e-8)
    np.testing.assert_array_equal(labels, [0, 0, 1, 1, 2])
    for block in range(labels.max() + 1):
        assert np.ptp(rewards[labels == block]) <= 1e-8
    # Rounding noise far below atol is ignored; atol=0 separates every distinct value.
    noisy = FiniteMDP(np.eye(3)[None], np.array([[1.0], [1.0 + 1e-14], [1.0 - 1e-14]]), 0.9)
    np.testing.assert_array_equal(bisimulation_partition(noisy), [0, 0, 0])
    np.testing.assert_array_equal(bisimulation_partition(noisy, atol=0.0), [0, 1, 2])


@PROPERTY
@given(lifted_mdps(), st.integers(0, 2**16))
def test_pi_bisimulation_partition(case, seed):
    mdp, block_of = case
    rng = np.random.default_rng(seed)
    # A policy that is constant on the construction's blocks keeps them on-policy bisimilar.
    block_policy = rng.dirichlet(np.ones(mdp.n_actions), size=block_of.max() + 1)
    policy = block_policy[block_of]
    labels = pi_bisimulation_partition(mdp, policy)
    assert is_pi_bisimulation(mdp, policy, labels)
    for block in np.unique(block_of):
        assert len(np.unique(labels[block_of == block])) == 1
    for b1 in range(labels.max() + 1):
        for b2 in range(b1 + 1, labels.max() + 1):
            assert not is_pi_bisimulation(mdp, policy, merge(labels, b1, b2))
    # On-policy bisimilar states have equal values under the policy.
    V = policy_evaluation(mdp, policy)
    for block in range(labels.max() + 1):
        assert np.ptp(V[labels == block]) <= 1e-8


def test_pi_bisimulation_can_be_coarser_than_bisimulation():
    # Two absorbing states with different rewards for action 1 only; a policy that never plays action 1.
    mdp = FiniteMDP(np.stack([np.eye(2), np.eye(2)]), np.array([[0.0, 0.0], [0.0, 1.0]]), 0.9)
    np.testing.assert_array_equal(bisimulation_partition(mdp), [0, 1])
    np.testing.assert_array_equal(pi_bisimulation_partition(mdp, np.array([0, 0])), [0, 0])
    np.testing.assert_array_equal(pi_bisimulation_partition(mdp, np.array([0, 1])), [0, 1])


def test_invalid_inputs_raise_clear_errors():
    mdp = random_mdp(3, 2, 0.9, seed=0)
    with pytest.raises(ValueError, match="one block label per state"):
        is_bisimulation(mdp, np.zeros(4, dtype=int))
    with pytest.raises(ValueError, match="integers"):
        refine_once(mdp, np.zeros(3))
    with pytest.raises(ValueError, match="atol"):
        bisimulation_partition(mdp, atol=-1.0)
    with pytest.raises(ValueError, match="atol"):
        bisimulation_partition(mdp, atol=float("nan"))
    with pytest.raises(ValueError, match="not form a bisimulation"):
        quotient_mdp(mdp, np.zeros(3, dtype=int))
    with pytest.raises(TypeError, match="FiniteMDP"):
        bisimulation_partition(mdp.P)
    with pytest.raises(ValueError, match="policy"):
        pi_bisimulation_partition(mdp, np.array([0, 5, 1]))
    with pytest.raises(ValueError, match="1-D"):
        canonical_labels(np.zeros((2, 2), dtype=int))
