"""Helpers shared by the reference tests: composed Hydra configs and episode returns."""

from __future__ import annotations

import copy
import functools

from hydra import compose, initialize_config_module


@functools.cache
def _compose(overrides: tuple[str, ...]):
    with initialize_config_module("reference_impl.conf", version_base="1.3"):
        return compose("config", overrides=list(overrides))


def compose_config(overrides):
    """The training app's config with ``overrides``; a fresh copy each call (composing is cached)."""
    return copy.deepcopy(_compose(tuple(overrides)))


def episode_return(env, policy, seed):
    """Undiscounted return of one episode of ``policy(env) -> action`` from ``env.reset(seed=seed)``."""
    env.reset(seed=seed)
    total, done = 0.0, False
    while not done:
        _, reward, terminated, truncated, _ = env.step(policy(env))
        total += reward
        done = terminated or truncated
    return total
