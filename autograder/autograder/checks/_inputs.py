"""Input generators shared by the checks of several chapters (finite-MDP rewards of every sign and shape)."""

from __future__ import annotations

import numpy as np

REWARD_KINDS = ("uniform", "negative", "mixed", "zero", "integer")


def random_rewards(rng: np.random.Generator, kind: str, shape: tuple[int, ...], decimals: int) -> np.ndarray:
    """Rewards of one ``kind`` of :data:`REWARD_KINDS`: in [0, 1], in [-1, 0], in [-2, 2] (rounded to ``decimals``),
    all zero, or integers in {-1, 0, 1}."""
    if kind == "uniform":
        return np.round(rng.uniform(0.0, 1.0, shape), decimals)
    if kind == "negative":
        return np.round(rng.uniform(-1.0, 0.0, shape), decimals)
    if kind == "mixed":
        return np.round(rng.uniform(-2.0, 2.0, shape), decimals)
    if kind == "zero":
        return np.zeros(shape)
    return rng.integers(-1, 2, shape).astype(float)
