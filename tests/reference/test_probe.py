"""Linear probes of a representation: known answers for the ridge probe, and the data it reads from the environment."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from reference_helpers import compose_config

from reference_impl.agents import make_agent
from reference_impl.probe import (
    collect,
    encoder_features,
    pixel_features,
    probe_groups,
    probe_r2,
    r2_score,
    ridge_predict,
)


def test_r2_known_answers():
    y = np.array([[1.0, 2.0], [2.0, 4.0], [3.0, 6.0]])
    assert r2_score(y, y) == 1.0
    assert r2_score(y, np.tile(y.mean(axis=0), (3, 1))) == 0.0
    assert r2_score(y, y + 1.0) == pytest.approx(1.0 - 3.0 / 2.0 * 0.5 * (1.0 + 0.25))  # SSE 3/SST 2, 3/SST 8


@settings(max_examples=20, deadline=None, derandomize=True)
@given(seed=st.integers(0, 2**31 - 1), dims=st.sampled_from([3, 40, 200]))
def test_probe_recovers_a_linear_target_and_not_noise(seed, dims):
    """Primal (d < n) and dual (d > n) forms: a linear function of the features scores ~1 on held-out episodes;
    a target independent of the features scores ~0 or below."""
    rng = np.random.default_rng(seed)
    episodes = np.repeat(np.arange(12), 10)
    state = rng.normal(size=(len(episodes), 3))  # features: a linear image of a small state, like pixels of a blob
    mixing = np.linalg.qr(rng.normal(size=(dims, dims)))[0][:3]  # orthonormal rows: the state stays recoverable
    features = state @ mixing + 1e-3 * rng.normal(size=(len(episodes), dims))
    linear = state @ rng.normal(size=(3, 2)) + 3.0
    noise = rng.normal(size=(len(episodes), 2))
    assert probe_r2(features, linear, episodes) > 0.99
    assert probe_r2(features, noise, episodes) < 0.2


def test_ridge_primal_and_dual_forms_agree():
    rng = np.random.default_rng(0)
    x, y, test = rng.normal(size=(30, 10)), rng.normal(size=(30, 3)), rng.normal(size=(5, 10))
    primal = ridge_predict(x, y, test, 0.1)
    dual = ridge_predict(np.hstack([x, np.zeros((30, 25))]), y, np.hstack([test, np.zeros((5, 25))]), 0.1 * 35 / 10)
    np.testing.assert_allclose(primal, dual, rtol=1e-9, atol=1e-9)


def test_collect_reads_the_state_behind_each_observation():
    cfg = compose_config(["env=point_mass_distractors"])
    data = collect(cfg.env, num_episodes=3, seed=7)
    n = len(data.observations)
    assert n == 3 * 50  # the reset and 49 of the 50 agent steps (action repeat 2); the last one ends the episode
    assert len(collect(cfg.env, num_episodes=3, seed=7, steps_per_episode=5).observations) == 3 * 6
    assert data.observations.shape == (n, 9, 32, 32) and data.observations.dtype == np.uint8
    assert set(data.targets) == {"position", "velocity", "background"}
    assert data.targets["position"].shape == (n, 2) and data.targets["background"].shape == (n, 3 * 8 * 8)
    assert 0.0 <= data.targets["background"].min() and data.targets["background"].max() <= 1.0
    assert np.array_equal(np.unique(data.episodes), [0, 1, 2])
    assert np.abs(data.targets["position"]).max() <= 1.0
    again = collect(cfg.env, num_episodes=3, seed=7)
    assert np.array_equal(again.observations, data.observations)  # seeded: the same data for every encoder
    # the agent's red blob is centred where the recorded position says (last frame of the stack, red channel)
    plain = collect(compose_config(["env=point_mass"]).env, num_episodes=3, seed=7)
    assert "background" not in plain.targets
    peak = np.unravel_index(plain.observations[:, 6].reshape(len(plain.observations), -1).argmax(axis=1), (32, 32))
    centres = -1.0 + (np.arange(32) + 0.5) / 16
    np.testing.assert_allclose(centres[peak[1]], plain.targets["position"][:, 0], atol=1 / 16 + 1e-9)
    np.testing.assert_allclose(centres[::-1][peak[0]], plain.targets["position"][:, 1], atol=1 / 16 + 1e-9)


def test_pixels_reveal_the_background_linearly():
    """The control: the image is (mostly) the background, so a linear probe of the pixels reads it back well."""
    data = collect(compose_config(["env=point_mass_distractors"]).env, num_episodes=30, seed=3)
    assert probe_groups(pixel_features(data.observations), data)["background"] > 0.8


def test_encoder_features_are_the_encoders_output():
    cfg = compose_config(["env=point_mass", "agent=sac"])
    torch.manual_seed(0)
    agent = make_agent(cfg.agent, (9, 32, 32), (2,))
    obs = np.random.default_rng(0).integers(0, 256, size=(5, 9, 32, 32), dtype=np.uint8)
    features = encoder_features(agent.critic.encoder, obs, batch_size=2)
    with torch.no_grad():
        expected = agent.critic.encoder(torch.as_tensor(obs)).double().numpy()
    np.testing.assert_allclose(features, expected, rtol=1e-5, atol=1e-5)  # float32, batched differently
    assert features.shape == (5, agent.critic.encoder.feature_dim)
