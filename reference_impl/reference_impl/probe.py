"""Linear probes of a learned representation: what an encoder's features say about the true state (book chapter 6).

A probe fits ``ŷ = W z + b`` by ridge regression on features ``z`` of observations from some episodes and scores it
on *other* episodes with the coefficient of determination, per target coordinate ``j``,

    R²_j = 1 - Σ_n (y_nj - ŷ_nj)² / Σ_n (y_nj - ȳ_j)²,

averaged over a group's coordinates (``ȳ`` the held-out mean: a constant prediction scores 0, a perfect one 1).
On the point mass with distractors (:mod:`reference_impl.envs.distractors`) the groups are the agent's
``position`` (what the reward depends on), its ``velocity``, and the ``background`` frame behind the agent,
average-pooled to ``8 × 8`` pixels per colour (no reward information; its shapes change colour and size from episode
to episode, so the image, not the shapes' coordinates, is what a probe can read across episodes). An encoder that
keeps the first and drops the last is the representation the DeepMDP and bisimulation losses aim for; one that keeps
both is what a reconstruction loss rewards.

All agents are probed on the same observations: episodes of uniformly random actions with fixed seeds.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from omegaconf import DictConfig
from torch import nn

from reference_impl.train import episode_seed, make_env

RIDGES = (1e-4, 1e-3, 1e-2, 1e-1, 1.0, 10.0)  # candidate penalties, relative to the mean feature variance
BACKGROUND_SIDE = 8  # the background target is pooled to BACKGROUND_SIDE² pixels per colour channel


@dataclass
class ProbeData:
    """Observations, the true quantities behind them and the episode of each row (splits are by episode)."""

    observations: np.ndarray  # uint8 [N, C, H, W], as the agent sees them (stacked frames)
    targets: dict[str, np.ndarray]  # group name -> float [N, k]
    episodes: np.ndarray  # int [N]


def collect(env_cfg: DictConfig, num_episodes: int, seed: int, steps_per_episode: int | None = None) -> ProbeData:
    """``num_episodes`` episodes of uniform random actions in the environment of ``env_cfg`` (with the training
    wrappers), each cut after ``steps_per_episode`` agent steps (``None``: the whole episode), recording after every
    agent step the observation and the underlying state of its last frame. Many short episodes spread the positions
    over the arena (each starts at a uniform random point), which a probe needs to generalise to held-out episodes."""
    env = make_env(env_cfg)
    base = env.unwrapped
    rng = np.random.default_rng(seed)
    low, high = env.action_space.low, env.action_space.high
    observations, episodes = [], []
    targets: dict[str, list[np.ndarray]] = {"position": [], "velocity": []}
    background = getattr(base, "background", None)
    if background is not None:
        targets["background"] = []

    def record(obs: np.ndarray, episode: int) -> None:
        observations.append(obs)
        episodes.append(episode)
        targets["position"].append(np.array(base.position, dtype=float))
        targets["velocity"].append(np.array(base.velocity, dtype=float))
        if background is not None:
            frame = background.render()  # float [3, S, S]
            side = frame.shape[-1] // BACKGROUND_SIDE
            pooled = frame.reshape(3, BACKGROUND_SIDE, side, BACKGROUND_SIDE, side).mean(axis=(2, 4))
            targets["background"].append(pooled.ravel() / 255.0)

    for episode in range(num_episodes):
        obs, _ = env.reset(seed=episode_seed(seed, episode))
        record(obs, episode)
        for _ in range(steps_per_episode if steps_per_episode is not None else np.iinfo(np.int64).max):
            obs, _, terminated, truncated, _ = env.step(rng.uniform(low, high).astype(np.float32))
            if terminated or truncated:
                break
            record(obs, episode)
    env.close()
    return ProbeData(np.stack(observations), {name: np.stack(rows) for name, rows in targets.items()},
                     np.asarray(episodes))


@torch.no_grad()
def encoder_features(encoder: nn.Module, observations: np.ndarray, batch_size: int = 256) -> np.ndarray:
    """``φ(x)`` of every observation, float64 ``[N, feature_dim]`` (the encoder in evaluation mode)."""
    device = next(encoder.parameters()).device
    was_training = encoder.training
    encoder.train(False)
    parts = [encoder(torch.as_tensor(observations[i:i + batch_size], device=device)).double().cpu().numpy()
             for i in range(0, len(observations), batch_size)]
    encoder.train(was_training)
    return np.concatenate(parts)


def pixel_features(observations: np.ndarray) -> np.ndarray:
    """The raw pixels ``x / 255``, flattened: the baseline a probe of the image itself reaches."""
    return observations.reshape(len(observations), -1).astype(np.float64) / 255.0


def ridge_predict(train_x: np.ndarray, train_y: np.ndarray, test_x: np.ndarray, ridge: float) -> np.ndarray:
    """Ridge regression with an intercept: ``W = argmin ||Y - X W||² + λ ||W||²`` on centred data, with
    ``λ = ridge · n · mean feature variance``; solved in the primal (``d ≤ n``) or the dual (``d > n``) form."""
    x_mean, y_mean = train_x.mean(axis=0), train_y.mean(axis=0)
    x, y = train_x - x_mean, train_y - y_mean
    n, d = x.shape
    penalty = ridge * n * max(float(x.var(axis=0).mean()), 1e-12)
    if d <= n:
        weights = np.linalg.solve(x.T @ x + penalty * np.eye(d), x.T @ y)
    else:
        weights = x.T @ np.linalg.solve(x @ x.T + penalty * np.eye(n), y)
    return (test_x - x_mean) @ weights + y_mean


def r2_score(y: np.ndarray, prediction: np.ndarray) -> float:
    """Mean over columns of ``1 - SSE / SST`` (columns without variance are skipped)."""
    sse = ((y - prediction) ** 2).sum(axis=0)
    sst = ((y - y.mean(axis=0)) ** 2).sum(axis=0)
    keep = sst > 1e-12
    return float(np.mean(1.0 - sse[keep] / sst[keep]))


def probe_r2(features: np.ndarray, y: np.ndarray, episodes: np.ndarray, test_fraction: float = 1 / 3,
             ridges: Sequence[float] = RIDGES) -> float:
    """Held-out R² of a ridge probe ``features → y``: the last ``test_fraction`` of the episodes are the test set;
    the penalty is chosen among ``ridges`` on the last fifth of the remaining episodes, then refitted on all of them."""
    ids = np.unique(episodes)
    num_test = max(1, round(len(ids) * test_fraction))
    train_ids, test_ids = ids[:-num_test], ids[-num_test:]
    num_val = max(1, len(train_ids) // 5)
    if len(train_ids) - num_val < 1:
        raise ValueError(f"need at least 3 episodes to fit, select and test a probe; got {len(ids)}.")
    fit, val = np.isin(episodes, train_ids[:-num_val]), np.isin(episodes, train_ids[-num_val:])
    train, test = np.isin(episodes, train_ids), np.isin(episodes, test_ids)
    best = max(ridges, key=lambda r: r2_score(y[val], ridge_predict(features[fit], y[fit], features[val], r)))
    return r2_score(y[test], ridge_predict(features[train], y[train], features[test], best))


def probe_groups(features: np.ndarray, data: ProbeData) -> dict[str, float]:
    """Held-out R² for every target group of ``data``."""
    return {name: probe_r2(features, y, data.episodes) for name, y in data.targets.items()}
