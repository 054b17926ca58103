"""Latent-recovery metrics, data collection, and a short DeepMDP training run on DonutWorld."""

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from reference_impl.deepmdp.latent_model import (
    DeepMDPModel,
    LatentModelConfig,
    collect_random_transitions,
    train_latent_model,
)
from reference_impl.deepmdp.losses import deterministic_transition_loss
from reference_impl.deepmdp.recovery import (
    cross_track_ratio,
    evaluate_encoder,
    knn_overlap,
    make_evaluation_set,
    random_encoder_metrics,
    ridge_r2,
    run_recovery,
)
from reference_impl.envs.donut_world import DonutWorld

FAST = settings(max_examples=15, deadline=None, derandomize=True, database=None)


# ----------------------------------------------------------------------------------------------------- metrics
def test_ridge_r2_of_an_exact_linear_map_is_one_and_of_noise_is_near_zero():
    rng = np.random.default_rng(0)
    features = rng.normal(size=(400, 5))
    targets = features @ rng.normal(size=(5, 2)) + 3.0
    assert ridge_r2(features[:300], targets[:300], features[300:], targets[300:], alpha=1e-8) == pytest.approx(1.0)
    noise = rng.normal(size=(400, 2))
    assert abs(ridge_r2(features[:300], noise[:300], features[300:], noise[300:])) < 0.1


def test_ridge_r2_is_held_out():
    """Many features and few fitting points: perfect in-sample fit, poor held-out score."""
    rng = np.random.default_rng(1)
    features, targets = rng.normal(size=(60, 40)), rng.normal(size=(60, 1))
    assert ridge_r2(features[:40], targets[:40], features[:40], targets[:40], alpha=1e-8) > 0.99
    assert ridge_r2(features[:40], targets[:40], features[40:], targets[40:], alpha=1e-8) < 0.5


@FAST
@given(seed=st.integers(0, 10_000), scale=st.floats(0.01, 100.0))
def test_knn_overlap_is_one_under_similarity_transforms(seed, scale):
    rng = np.random.default_rng(seed)
    states = rng.normal(size=(60, 2))
    rotation, _ = np.linalg.qr(rng.normal(size=(3, 3)))
    latents = scale * np.hstack([states, np.zeros((60, 1))]) @ rotation + rng.normal(size=3)
    assert knn_overlap(latents, states, k=5) == pytest.approx(1.0)


def test_knn_overlap_of_unrelated_latents_is_near_chance():
    rng = np.random.default_rng(0)
    overlap = knn_overlap(rng.normal(size=(500, 4)), rng.normal(size=(500, 2)), k=10)
    assert overlap < 0.1  # chance is k / (N - 1), about 0.02


def test_cross_track_ratio_hand_values():
    positions = np.array([[0.0, 0.0], [3.0, 4.0]])
    assert cross_track_ratio(np.stack([positions, positions])) == 0.0
    shifted = np.stack([positions, positions + np.array([0.0, 10.0])])
    assert cross_track_ratio(shifted) == pytest.approx(10.0 / 5.0)


def test_metric_input_checks():
    with pytest.raises(ValueError, match="k must"):
        knn_overlap(np.zeros((5, 2)), np.zeros((5, 2)), k=5)
    with pytest.raises(ValueError, match="agree"):
        knn_overlap(np.zeros((5, 2)), np.zeros((4, 2)))
    with pytest.raises(ValueError, match="T >= 2"):
        cross_track_ratio(np.zeros((1, 5, 2)))
    with pytest.raises(ValueError, match="agree"):
        ridge_r2(np.zeros((5, 2)), np.zeros((4, 1)), np.zeros((5, 2)), np.zeros((5, 1)))


# ------------------------------------------------------------------------------------------------------- data
def test_collected_transitions_are_consistent_with_the_environment():
    env = DonutWorld(n_tracks=4)
    data = collect_random_transitions(env, 100, episode_length=10, seed=0)
    assert len(data) == 100
    assert data.observations.shape == (100, 1, 32, 32) and data.observations.dtype == np.uint8
    assert data.actions.shape == (100, 2) and data.rewards.shape == (100,)
    within_episode = np.array([i % 10 != 9 for i in range(99)])
    same = np.array([np.array_equal(data.next_observations[i], data.observations[i + 1]) for i in range(99)])
    assert np.all(same[within_episode])
    # Each observation is the rendering of its recorded state and track.
    i = 37
    np.testing.assert_array_equal(data.observations[i], env.render_observation(data.states[i, :2], data.tracks[i]))
    # Rewards are the clockwise angle progress between consecutive recorded states.
    progress = -np.array([math.remainder(data.states[i + 1, 2] - data.states[i, 2], 2 * math.pi) for i in range(99)])
    np.testing.assert_allclose(data.rewards[:99][within_episode], progress[within_episode], atol=1e-6)
    again = collect_random_transitions(DonutWorld(n_tracks=4), 100, episode_length=10, seed=0)
    np.testing.assert_array_equal(again.observations, data.observations)


def test_evaluation_set_draws_every_position_on_every_track():
    env = DonutWorld(n_tracks=4)
    evaluation = make_evaluation_set(env, 7, seed=0)
    assert evaluation.observations.shape == (4, 7, 1, 32, 32)
    radii = np.linalg.norm(evaluation.positions, axis=1)
    assert np.all((radii >= env.inner_radius) & (radii <= env.outer_radius))
    np.testing.assert_array_equal(evaluation.observations[2, 3], env.render_observation(evaluation.positions[3], 2))


def test_config_validation():
    with pytest.raises(ValueError, match="method"):
        LatentModelConfig(method="vae")
    with pytest.raises(ValueError, match="positive"):
        LatentModelConfig(n_updates=0)
    with pytest.raises(ValueError, match="variant"):
        run_recovery("deepmdp", "two_track")


# ---------------------------------------------------------------------------------------------------- training
@pytest.mark.slow
def test_short_deepmdp_training_recovers_the_angle_far_better_than_a_random_encoder():
    torch.set_num_threads(1)
    config = LatentModelConfig(method="deepmdp", n_updates=400)
    run = run_recovery("deepmdp", "one_track", seed=0, n_transitions=5000, config=config)
    baseline = random_encoder_metrics("one_track", seed=0)
    assert isinstance(run.trained.model, DeepMDPModel)
    history = run.trained.history
    assert np.mean(history["reward"][-50:]) < 0.5 * np.mean(history["reward"][:50])
    assert run.metrics.r2 > 0.8
    assert run.metrics.r2 > baseline.r2 + 0.4
    assert math.isnan(run.metrics.cross_track_ratio)
    # The reward head, read back in the environment's units, predicts held-out rewards.
    data = collect_random_transitions(run.env, 500, seed=99)
    with torch.no_grad():
        latent = run.trained.model.encoder(torch.from_numpy(data.observations))
        predicted = run.trained.model.predict_reward(latent, torch.from_numpy(data.actions)).numpy()
    assert np.mean((predicted - data.rewards) ** 2) < 0.2 * np.var(data.rewards)


def test_deepmdp_transition_loss_gives_no_gradient_to_the_next_latent():
    """Through the real networks: the transition loss sends no gradient into phi(s'), and trains the transition."""
    torch.manual_seed(0)
    model = DeepMDPModel((1, 32, 32), 2, latent_dim=4, hidden_dim=16)
    env = DonutWorld()
    data = collect_random_transitions(env, 8, seed=0)
    next_latent = model.encoder(torch.from_numpy(data.next_observations))
    next_latent.retain_grad()
    latent = model.encoder(torch.from_numpy(data.observations))
    predicted = model.transition(latent, torch.from_numpy(data.actions))
    deterministic_transition_loss(predicted, next_latent).backward()
    assert next_latent.grad is None
    assert all(p.grad is not None for p in model.transition.parameters())


def test_training_is_seeded():
    data = collect_random_transitions(DonutWorld(), 300, seed=0)
    config = LatentModelConfig(method="autoencoder", n_updates=5, hidden_dim=16)
    first = train_latent_model(data, config, seed=3)
    second = train_latent_model(data, config, seed=3)
    assert first.history["reconstruction"] == second.history["reconstruction"]
    np.testing.assert_array_equal(first.encode(data.observations[:10]), second.encode(data.observations[:10]))
    metrics = evaluate_encoder(first.model.encoder, DonutWorld(), seed=0, n_fit=50, n_test=30, k=3)
    assert -10 < metrics.r2 <= 1 and 0 <= metrics.knn_overlap <= 1
