"""DonutWorld: Gymnasium API compliance, dynamics, reward, four-track symmetry, seeding and speed."""

import math
import time

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from reference_impl.envs.donut_world import (
    DONUT_WORLD_ID,
    FOUR_TRACK_DONUT_WORLD_ID,
    DonutWorld,
    register_donut_world,
    wrap_angle,
)


@pytest.mark.parametrize("env_id", [DONUT_WORLD_ID, FOUR_TRACK_DONUT_WORLD_ID])
def test_passes_gymnasium_env_checker(env_id):
    register_donut_world()
    check_env(gym.make(env_id, render_mode="rgb_array").unwrapped, skip_render_check=False)


@pytest.mark.parametrize(("env_id", "n_tracks"), [(DONUT_WORLD_ID, 1), (FOUR_TRACK_DONUT_WORLD_ID, 4)])
def test_registered_versions_have_a_time_limit(env_id, n_tracks):
    register_donut_world()
    register_donut_world()  # idempotent
    env = gym.make(env_id)
    assert env.unwrapped.n_tracks == n_tracks
    env.reset(seed=0)
    steps, truncated = 0, False
    while not truncated:
        _, _, terminated, truncated, _ = env.step(env.action_space.sample())
        assert not terminated
        steps += 1
    assert steps == 200


def test_observation_is_channel_first_uint8_and_shows_the_agent():
    env = DonutWorld()
    observation, info = env.reset(seed=3)
    assert observation.shape == (1, 32, 32) and observation.dtype == np.uint8
    assert observation.max() == 255  # the agent's disc
    x, y, angle = info["state"]
    assert angle == pytest.approx(math.atan2(y, x))
    # The brightest pixels sit where the state says the agent is (y up, image rows down).
    rows, cols = np.nonzero(observation[0] == 255)
    assert cols.mean() + 0.5 == pytest.approx(16 + 16 * x, abs=1.0)
    assert rows.mean() + 0.5 == pytest.approx(16 - 16 * y, abs=1.0)
    # A sub-pixel move changes the image (anti-aliased disc).
    moved = env.render_observation(np.array([x + 0.01, y]))
    assert not np.array_equal(moved, observation)


def test_agent_stays_on_the_ring_under_random_actions():
    env = DonutWorld()
    env.reset(seed=0)
    rng = np.random.default_rng(0)
    for action in rng.uniform(-3, 3, size=(2000, 2)).astype(np.float32):  # out-of-range actions are clipped
        _, _, _, _, info = env.step(action)
        radius = math.hypot(*info["state"][:2])
        assert env.inner_radius - 1e-12 <= radius <= env.outer_radius + 1e-12


def test_reward_is_clockwise_angular_progress():
    env = DonutWorld()
    env.reset(seed=0, options={"position": (0.65, 0.0)})
    _, reward, _, _, info = env.step(np.array([0.0, -1.0], dtype=np.float32))  # down at angle 0: clockwise
    assert reward == pytest.approx(math.atan2(0.1, 0.65))
    assert reward == pytest.approx(-info["state"][2])
    env.reset(options={"position": (0.65, 0.0)})
    _, reward, _, _, _ = env.step(np.array([0.0, 1.0], dtype=np.float32))
    assert reward == pytest.approx(-math.atan2(0.1, 0.65))
    # Crossing the angle -pi/pi seam is still a small step, not a jump of 2 pi.
    env.reset(options={"position": (-0.65, -0.01)})
    _, reward, _, _, _ = env.step(np.array([0.0, 1.0], dtype=np.float32))
    assert reward == pytest.approx(math.atan2(0.01, 0.65) + math.atan2(0.09, 0.65))


def test_wrap_angle():
    assert wrap_angle(3 * math.pi / 2) == pytest.approx(-math.pi / 2)
    assert wrap_angle(-math.pi) == pytest.approx(math.pi)
    assert wrap_angle(0.3) == pytest.approx(0.3)


def test_walls_project_radially():
    env = DonutWorld()
    env.reset(seed=0, options={"position": (0.8, 0.0)})
    _, _, _, _, info = env.step(np.array([1.0, 0.0], dtype=np.float32))
    assert info["state"][:2] == pytest.approx([env.outer_radius, 0.0])


def test_four_tracks_are_bisimilar_copies_with_different_pixels():
    env = DonutWorld(n_tracks=4)
    position = np.array([0.3, 0.5])
    action = np.array([0.7, -0.2], dtype=np.float32)
    outcomes, images = [], []
    for track in range(4):
        observation, info = env.reset(seed=0, options={"track": track, "position": position})
        assert info["track"] == track
        _, reward, _, _, info = env.step(action)
        outcomes.append((reward, *info["state"]))
        images.append(observation)
    assert all(outcome == pytest.approx(outcomes[0]) for outcome in outcomes)
    assert all(not np.array_equal(images[0], image) for image in images[1:])
    tracks = {env.reset(seed=seed)[1]["track"] for seed in range(40)}
    assert tracks == {0, 1, 2, 3}


def test_same_seed_same_trajectory():
    def rollout(seed):
        env = DonutWorld(n_tracks=4)
        observation, info = env.reset(seed=seed)
        env.action_space.seed(seed)
        frames, rewards = [observation], []
        for _ in range(50):
            observation, reward, _, _, info = env.step(env.action_space.sample())
            frames.append(observation)
            rewards.append(reward)
        return np.stack(frames), np.array(rewards), info["state"]

    first, second, other = rollout(5), rollout(5), rollout(6)
    for a, b in zip(first, second, strict=True):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(first[0], other[0])


@pytest.mark.parametrize(
    "kwargs", [{"n_tracks": 2}, {"image_size": 31}, {"inner_radius": 0.9, "outer_radius": 0.5}, {"max_step": 0.0}]
)
def test_invalid_arguments_are_rejected(kwargs):
    with pytest.raises(ValueError):
        DonutWorld(**kwargs)


def test_invalid_actions_and_tracks_are_rejected():
    env = DonutWorld(n_tracks=4)
    env.reset(seed=0)
    with pytest.raises(ValueError, match="shape"):
        env.step(np.zeros(3, dtype=np.float32))
    with pytest.raises(ValueError, match="track"):
        env.render_observation(np.zeros(2), track=4)


def test_step_speed_floor():
    """The design target is >= 5,000 steps/s; the floor here is loose because test machines are shared."""
    env = DonutWorld()
    env.reset(seed=0)
    actions = np.random.default_rng(0).uniform(-1, 1, size=(3000, 2)).astype(np.float32)
    start = time.perf_counter()
    for action in actions:
        env.step(action)
    assert len(actions) / (time.perf_counter() - start) > 2000
