"""The Kantorovich (Wasserstein-1) distance on a finite metric space (chapter 3, eqs. 3.1-3.2)."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reference_impl.bisim import optimal_coupling, wasserstein1, wasserstein1_batch

PROPERTY = settings(max_examples=40, deadline=None, derandomize=True, database=None)


@st.composite
def metric_spaces(draw, max_points=7):
    """A Euclidean metric on ``n`` random points and an rng for distributions on them."""
    n = draw(st.integers(1, max_points))
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    points = rng.normal(size=(n, 2))
    return np.linalg.norm(points[:, None] - points[None], axis=-1), rng


def distribution(rng, n, sparse=True):
    """A random probability vector, with about half of the entries zero when ``sparse``."""
    weights = rng.dirichlet(np.ones(n))
    if sparse and n > 1:
        weights[rng.random(n) < 0.5] = 0.0
        if weights.sum() == 0:
            weights[rng.integers(n)] = 1.0
    return weights / weights.sum()


@PROPERTY
@given(metric_spaces(), st.booleans())
def test_network_simplex_matches_linprog(space, metric_cost):
    D, rng = space
    n = len(D)
    cost = D if metric_cost else rng.uniform(0, 1, size=(n, n))  # eq. 3.1 is an LP for any non-negative cost
    p, q = distribution(rng, n), distribution(rng, n)
    expected = wasserstein1(p, q, cost, solver="linprog")
    assert wasserstein1(p, q, cost) == pytest.approx(expected, abs=1e-10)
    coupling = optimal_coupling(p, q, cost)
    np.testing.assert_allclose(coupling.sum(axis=1), p, atol=1e-12)
    np.testing.assert_allclose(coupling.sum(axis=0), q, atol=1e-12)
    assert np.all(coupling >= 0)
    assert np.sum(coupling * cost) == pytest.approx(expected, abs=1e-10)


@PROPERTY
@given(metric_spaces())
def test_metric_axioms(space):
    D, rng = space
    n = len(D)
    p, q, r = distribution(rng, n), distribution(rng, n), distribution(rng, n)
    assert wasserstein1(p, p, D) == pytest.approx(0.0, abs=1e-12)
    assert wasserstein1(p, q, D) == pytest.approx(wasserstein1(q, p, D), abs=1e-12)
    assert wasserstein1(p, r, D) <= wasserstein1(p, q, D) + wasserstein1(q, r, D) + 1e-12
    assert wasserstein1(p, q, D) >= 0.0


@PROPERTY
@given(metric_spaces())
def test_dirac_distributions_give_the_ground_distance(space):
    D, rng = space
    n = len(D)
    i, j = rng.integers(n, size=2)
    assert wasserstein1(np.eye(n)[i], np.eye(n)[j], D) == pytest.approx(D[i, j], abs=1e-12)
    # A Dirac against any q: the only coupling is the product.
    q = distribution(rng, n)
    assert wasserstein1(np.eye(n)[i], q, D) == pytest.approx(q @ D[i], abs=1e-12)


def test_kantorovich_rubinstein_lower_bound():
    # For a metric D every 1-Lipschitz f gives sum f (p - q) <= W (eq. 3.2); f = D[k, :] is 1-Lipschitz.
    rng = np.random.default_rng(0)
    points = rng.normal(size=(8, 3))
    D = np.linalg.norm(points[:, None] - points[None], axis=-1)
    for _ in range(20):
        p, q = distribution(rng, 8, sparse=False), distribution(rng, 8, sparse=False)
        W = wasserstein1(p, q, D)
        for k in range(8):
            assert abs(D[k] @ (p - q)) <= W + 1e-12


def test_known_value_on_a_line():
    # Points 0, 1, 2 on a line; moving half the mass from 0 to 2 costs 0.5 * 2.
    D = np.abs(np.arange(3)[:, None] - np.arange(3)[None, :]).astype(float)
    assert wasserstein1(np.array([1.0, 0, 0]), np.array([0.5, 0, 0.5]), D) == pytest.approx(1.0)
    assert wasserstein1(np.array([0.5, 0.5, 0]), np.array([0, 0.5, 0.5]), D) == pytest.approx(1.0)


def test_batch_matches_single_calls():
    rng = np.random.default_rng(1)
    D = np.abs(rng.normal(size=(5, 5)))
    D = D + D.T
    np.fill_diagonal(D, 0.0)
    p = np.array([distribution(rng, 5) for _ in range(6)])
    q = np.array([distribution(rng, 5) for _ in range(6)])
    np.testing.assert_allclose(wasserstein1_batch(p, q, D), [wasserstein1(a, b, D) for a, b in zip(p, q, strict=True)])


def test_invalid_inputs_raise_clear_errors():
    D = np.ones((3, 3)) - np.eye(3)
    p = np.array([0.2, 0.3, 0.5])
    with pytest.raises(ValueError, match="shape \\[3\\]"):
        wasserstein1(np.array([0.5, 0.5]), p, D)
    with pytest.raises(ValueError, match="sum to 1"):
        wasserstein1(np.array([0.2, 0.3, 0.6]), p, D)
    with pytest.raises(ValueError, match="non-negative"):
        wasserstein1(np.array([-0.2, 0.7, 0.5]), p, D)
    with pytest.raises(ValueError, match="square"):
        wasserstein1(p, p, np.ones((3, 2)))
    with pytest.raises(ValueError, match="non-negative"):
        wasserstein1(p, p, -D)
    with pytest.raises(ValueError, match="solver"):
        wasserstein1(p, np.array([0.5, 0.5, 0.0]), D, solver="sinkhorn")
    with pytest.raises(ValueError, match="\\[B, n\\]"):
        wasserstein1_batch(p, p, D)
