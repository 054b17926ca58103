"""Does a learned latent recover the true state? Metrics and the DonutWorld experiment (book chapter 4).

Three measurements on held-out states, none of which the training ever sees:

* linear decodability (eq. 4.14): ridge regression from the standardised latent to ``(cos theta, sin theta)``, fitted
  on one set of states and scored on another with the coefficient of determination
  ``R^2 = 1 - sum (y - y_hat)^2 / sum (y - mean y)^2``, averaged over the two targets;
* neighbourhood preservation (eq. 4.15): ``(1 / N) sum_i |N_k^latent(i) ∩ N_k^true(i)| / k``, the overlap of each
  point's ``k`` nearest neighbours in the latent space and in the true track position ``(x, y)``;
* the cross-track ratio (eq. 4.16) for four tracks: with ``z_{t,m}`` the latent of position ``m`` drawn on track
  ``t``, ``mean_{m, t != t'} ||z_{t,m} - z_{t',m}|| / mean_{t, m != m'} ||z_{t,m} - z_{t,m'}||``. Copies of one
  position are bisimilar, so a bisimulation-like latent drives the ratio towards 0; a latent that keeps what the
  pixels show keeps the copies apart.

The true state used for neighbours and the ratio is the track position, i.e. the bisimulation quotient: which
track the agent is on changes the pixels but neither rewards nor dynamics.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
import torch

from reference_impl.deepmdp.latent_model import (
    ImageMLPEncoder,
    LatentModelConfig,
    TrainedLatentModel,
    collect_random_transitions,
    encode,
    train_latent_model,
)
from reference_impl.envs.donut_world import DonutWorld

VARIANTS = {"one_track": 1, "four_track": 4}


def ridge_r2(
    train_features: np.ndarray,
    train_targets: np.ndarray,
    test_features: np.ndarray,
    test_targets: np.ndarray,
    *,
    alpha: float = 1e-3,
) -> float:
    """Held-out ``R^2`` (eq. 4.14) of ridge regression with intercept on standardised features, averaged over the
    target columns. Features are standardised with the training mean and standard deviation."""
    train_features, test_features = np.asarray(train_features, float), np.asarray(test_features, float)
    train_targets, test_targets = np.asarray(train_targets, float), np.asarray(test_targets, float)
    if train_targets.ndim == 1:
        train_targets, test_targets = train_targets[:, None], test_targets[:, None]
    if train_features.ndim != 2 or train_features.shape[0] != train_targets.shape[0]:
        raise ValueError(
            f"train_features [N, D] and train_targets [N, K] must agree; got {train_features.shape}, "
            f"{train_targets.shape}."
        )
    if test_features.shape[1:] != train_features.shape[1:] or test_features.shape[0] != test_targets.shape[0]:
        raise ValueError(
            f"test arrays must match the training ones; got {test_features.shape}, {test_targets.shape}."
        )
    mean, std = train_features.mean(axis=0), train_features.std(axis=0)
    std = np.where(std > 1e-12, std, 1.0)

    def design(features: np.ndarray) -> np.ndarray:
        return np.hstack([(features - mean) / std, np.ones((features.shape[0], 1))])

    X = design(train_features)
    penalty = alpha * np.eye(X.shape[1])
    penalty[-1, -1] = 0.0  # the intercept is not shrunk
    weights = np.linalg.solve(X.T @ X + penalty, X.T @ train_targets)
    residual = ((test_targets - design(test_features) @ weights) ** 2).sum(axis=0)
    total = ((test_targets - test_targets.mean(axis=0)) ** 2).sum(axis=0)
    return float(np.mean(1.0 - residual / total))


def _pairwise_distances(points: np.ndarray) -> np.ndarray:
    squared = (points**2).sum(axis=1)
    return np.sqrt(np.maximum(squared[:, None] + squared[None, :] - 2.0 * points @ points.T, 0.0))


def knn_overlap(latents: np.ndarray, true_states: np.ndarray, k: int = 10) -> float:
    """Mean fraction (eq. 4.15) of each point's ``k`` nearest latent neighbours that are among its ``k`` nearest
    true-state neighbours (the point itself excluded). 1 means every neighbourhood is preserved."""
    latents, true_states = np.asarray(latents, float), np.asarray(true_states, float)
    n = latents.shape[0]
    if true_states.shape[0] != n or latents.ndim != 2 or true_states.ndim != 2:
        raise ValueError(f"latents [N, D] and true_states [N, K] must agree; got {latents.shape}, {true_states.shape}.")
    if not 1 <= k < n:
        raise ValueError(f"k must lie in [1, {n - 1}]; got {k}.")
    neighbours = []
    for points in (latents, true_states):
        distances = _pairwise_distances(points)
        np.fill_diagonal(distances, np.inf)
        neighbours.append(np.argpartition(distances, k, axis=1)[:, :k])
    overlaps = [np.intersect1d(a, b).size for a, b in zip(*neighbours, strict=True)]
    return float(np.mean(overlaps) / k)


def cross_track_ratio(latents_by_track: np.ndarray) -> float:
    """(eq. 4.16) for latents ``[T, M, D]`` of the same ``M`` positions drawn on each of ``T >= 2`` tracks."""
    latents_by_track = np.asarray(latents_by_track, float)
    if latents_by_track.ndim != 3 or latents_by_track.shape[0] < 2 or latents_by_track.shape[1] < 2:
        raise ValueError(f"latents_by_track must have shape [T >= 2, M >= 2, D]; got {latents_by_track.shape}.")
    n_tracks, n_positions, _ = latents_by_track.shape
    across = [
        np.linalg.norm(latents_by_track[t] - latents_by_track[u], axis=1).mean()
        for t in range(n_tracks)
        for u in range(n_tracks)
        if t != u
    ]
    off_diagonal = ~np.eye(n_positions, dtype=bool)
    within = [_pairwise_distances(latents_by_track[t])[off_diagonal].mean() for t in range(n_tracks)]
    return float(np.mean(across) / np.mean(within))


@dataclass(frozen=True)
class EvaluationSet:
    """Held-out images of uniformly drawn ring positions, each drawn on every track."""

    observations: np.ndarray  # uint8 [T, M, 1, H, W]
    positions: np.ndarray  # [M, 2] track coordinates

    @property
    def angles(self) -> np.ndarray:
        return np.arctan2(self.positions[:, 1], self.positions[:, 0])


def make_evaluation_set(env: DonutWorld, n_positions: int, *, seed: int) -> EvaluationSet:
    """``n_positions`` positions with uniform angle and uniform radius across the ring, drawn on every track."""
    rng = np.random.default_rng(seed)
    angles = rng.uniform(-math.pi, math.pi, size=n_positions)
    radii = rng.uniform(env.inner_radius, env.outer_radius, size=n_positions)
    positions = np.stack([radii * np.cos(angles), radii * np.sin(angles)], axis=1)
    observations = np.stack(
        [np.stack([env.render_observation(p, track) for p in positions]) for track in range(env.n_tracks)]
    )
    return EvaluationSet(observations, positions)


@dataclass(frozen=True)
class RecoveryMetrics:
    r2: float  # (eq. 4.14) of (cos theta, sin theta)
    knn_overlap: float  # (eq. 4.15), k = 10
    cross_track_ratio: float  # (eq. 4.16); NaN for one track


def evaluate_encoder(
    encoder: torch.nn.Module, env: DonutWorld, *, seed: int, n_fit: int = 1500, n_test: int = 500, k: int = 10
) -> RecoveryMetrics:
    """All three metrics on fresh held-out states (``seed`` draws them). For several tracks, every fit/test state
    is shown on a uniformly drawn track; the cross-track ratio uses the test positions on all tracks."""
    rng = np.random.default_rng(seed)
    fit_set = make_evaluation_set(env, n_fit, seed=int(rng.integers(2**31)))
    test_set = make_evaluation_set(env, n_test, seed=int(rng.integers(2**31)))

    def latents_on_random_tracks(dataset: EvaluationSet) -> np.ndarray:
        tracks = rng.integers(env.n_tracks, size=len(dataset.positions))
        return encode(encoder, dataset.observations[tracks, np.arange(len(tracks))])

    def angle_targets(dataset: EvaluationSet) -> np.ndarray:
        return np.stack([np.cos(dataset.angles), np.sin(dataset.angles)], axis=1)

    fit_latents, test_latents = latents_on_random_tracks(fit_set), latents_on_random_tracks(test_set)
    r2 = ridge_r2(fit_latents, angle_targets(fit_set), test_latents, angle_targets(test_set))
    overlap = knn_overlap(test_latents, test_set.positions, k=k)
    ratio = math.nan
    if env.n_tracks > 1:
        by_track = np.stack([encode(encoder, test_set.observations[t]) for t in range(env.n_tracks)])
        ratio = cross_track_ratio(by_track)
    return RecoveryMetrics(r2, overlap, ratio)


def recovery_config(method: str, *, quick: bool = False) -> LatentModelConfig:
    """The experiment's settings; ``quick`` cuts the updates from 2000 to 600 (about 10 s; for the book build)."""
    return LatentModelConfig(method=method, n_updates=600 if quick else 2000)


@dataclass
class RecoveryRun:
    trained: TrainedLatentModel
    metrics: RecoveryMetrics
    env: DonutWorld

    def as_row(self, variant: str, seed: int, label: str | None = None) -> dict:
        return {
            "method": self.trained.config.method if label is None else label,
            "variant": variant,
            "seed": seed,
            **asdict(self.metrics),
            "train_seconds": self.trained.seconds,
        }


def run_recovery(
    method: str = "deepmdp",
    variant: str = "one_track",
    *,
    seed: int = 0,
    quick: bool = False,
    n_transitions: int = 20_000,
    config: LatentModelConfig | None = None,
) -> RecoveryRun:
    """Collect random-policy DonutWorld data, train ``method`` on it, and measure recovery on held-out states.

    Returns the trained model (``run.trained.model``, ``run.trained.encode``) and its :class:`RecoveryMetrics`.
    """
    if variant not in VARIANTS:
        raise ValueError(f"variant must be one of {tuple(VARIANTS)}; got {variant!r}.")
    env = DonutWorld(n_tracks=VARIANTS[variant])
    data = collect_random_transitions(env, n_transitions, seed=seed)
    config = recovery_config(method, quick=quick) if config is None else config
    trained = train_latent_model(data, config, seed=seed)
    metrics = evaluate_encoder(trained.model.encoder, env, seed=seed + 10_000)
    return RecoveryRun(trained, metrics, env)


def random_encoder_metrics(variant: str = "one_track", *, seed: int = 0) -> RecoveryMetrics:
    """Baseline: the same encoder architecture, untrained (PyTorch's default initialisation)."""
    env = DonutWorld(n_tracks=VARIANTS[variant])
    config = LatentModelConfig()
    torch.manual_seed(seed)
    encoder = ImageMLPEncoder(env.observation_space.shape, config.latent_dim, config.hidden_dim)
    return evaluate_encoder(encoder, env, seed=seed + 10_000)
