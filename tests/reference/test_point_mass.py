"""The pixel point-mass environment and the frame-stack / action-repeat wrappers."""

import time

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from reference_helpers import episode_return

from reference_impl.envs.point_mass import (
    MAX_EPISODE_STEPS,
    POINT_MASS_ID,
    RANDOM_POLICY_RETURN,
    SOLVED_RETURN,
    PointMassEnv,
    register_point_mass,
    scripted_action,
)
from reference_impl.wrappers import ActionRepeat, FrameStack

register_point_mass()



@pytest.mark.parametrize("random_goal", [False, True])
def test_passes_gymnasium_check_env(random_goal):
    env = gym.make(POINT_MASS_ID, random_goal=random_goal, render_mode="rgb_array")
    check_env(env.unwrapped, skip_render_check=False)


def test_observation_is_a_uint8_channel_first_image_with_agent_goal_and_border():
    env = PointMassEnv(image_size=32)
    obs, info = env.reset(seed=0)
    assert obs.shape == (3, 32, 32) and obs.dtype == np.uint8
    row, col = np.unravel_index(np.argmax(obs[0]), obs[0].shape)
    x, y = env.position
    assert abs(col - (x + 1) / 2 * 32) <= 1.5 and abs(row - (1 - y) / 2 * 32) <= 1.5  # row 0 is the top
    assert np.unravel_index(np.argmax(obs[1]), obs[1].shape) in {(15, 15), (15, 16), (16, 15), (16, 16)}
    assert obs[2, 0].min() > 0 and obs[2, 16, 16] == 0
    assert info["distance"] == pytest.approx(np.hypot(x, y))


def test_reset_is_seeded():
    env = PointMassEnv(random_goal=True)
    first, _ = env.reset(seed=3)
    again, _ = env.reset(seed=3)
    other, _ = env.reset(seed=4)
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)


def test_dynamics_reward_and_walls():
    env = PointMassEnv(damping=0.5, force=0.1)
    env.reset(seed=0)
    env.position, env.velocity = np.array([0.2, -0.3]), np.array([0.02, 0.0])
    _, reward, terminated, truncated, _ = env.step(np.array([1.0, -0.5]))
    np.testing.assert_allclose(env.velocity, [0.5 * 0.02 + 0.1, -0.05])
    np.testing.assert_allclose(env.position, [0.2 + 0.11, -0.35])
    assert reward == pytest.approx(1 - np.hypot(0.31, 0.35)) and not terminated and not truncated
    env.position, env.velocity = np.array([0.98, 0.0]), np.array([0.1, 0.05])
    _, reward, _, _, _ = env.step(np.array([1.0, 0.0]))
    assert env.position[0] == 1.0 and env.velocity[0] == 0.0 and env.velocity[1] > 0  # the wall stops x only
    env.position, env.velocity = np.array([-1.0, -1.0]), np.zeros(2)
    assert env.step(np.zeros(2))[1] == 0.0  # distance sqrt(2) >= 1: no reward
    env.position, env.velocity = np.zeros(2), np.zeros(2)
    assert env.step(np.full(2, 5.0))[1] == pytest.approx(1 - np.hypot(0.1, 0.1))  # actions clipped to [-1, 1]


def test_registered_id_truncates_after_the_time_limit():
    env = gym.make(POINT_MASS_ID)
    env.reset(seed=0)
    for t in range(MAX_EPISODE_STEPS):
        _, _, terminated, truncated, _ = env.step(np.zeros(2, np.float32))
        assert not terminated and truncated == (t == MAX_EPISODE_STEPS - 1)


def test_random_and_scripted_returns_match_the_stated_values():
    env = gym.make(POINT_MASS_ID)
    rng = np.random.default_rng(0)
    random_returns = [episode_return(env, lambda e: rng.uniform(-1, 1, 2), seed) for seed in range(100)]
    scripted_returns = [episode_return(env, lambda e: scripted_action(e.unwrapped), seed) for seed in range(20)]
    assert abs(np.mean(random_returns) - RANDOM_POLICY_RETURN) < 3.0
    assert min(scripted_returns) > SOLVED_RETURN


def test_renders_at_least_5000_steps_per_second():
    env = gym.make(POINT_MASS_ID)
    actions = np.random.default_rng(0).uniform(-1, 1, size=(2000, 2)).astype(np.float32)
    best = 0.0
    for _ in range(3):
        env.reset(seed=0)
        start = time.perf_counter()
        for action in actions:
            _, _, _, truncated, _ = env.step(action)
            if truncated:
                env.reset()
        best = max(best, len(actions) / (time.perf_counter() - start))
    assert best >= 5000, f"{best:.0f} steps/s"


def test_frame_stack_concatenates_channels_and_repeats_the_first_frame():
    env = FrameStack(PointMassEnv(image_size=16), num_frames=3)
    assert env.observation_space.shape == (9, 16, 16)
    obs, _ = env.reset(seed=1)
    np.testing.assert_array_equal(obs[0:3], obs[3:6])
    np.testing.assert_array_equal(obs[3:6], obs[6:9])
    previous = obs
    obs, *_ = env.step(np.array([1.0, 1.0]))
    np.testing.assert_array_equal(obs[0:6], previous[3:9])
    np.testing.assert_array_equal(obs[6:9], env.unwrapped._observation())
    with pytest.raises(ValueError, match="num_frames"):
        FrameStack(PointMassEnv(), 0)


def test_action_repeat_sums_rewards_and_stops_at_the_end_of_an_episode():
    plain, repeated = gym.make(POINT_MASS_ID), ActionRepeat(gym.make(POINT_MASS_ID), 3)
    plain.reset(seed=2)
    repeated.reset(seed=2)
    action = np.array([0.5, -0.5], np.float32)
    expected = sum(plain.step(action)[1] for _ in range(3))
    assert repeated.step(action)[1] == pytest.approx(expected)
    agent_steps, truncated = 1, False
    while not truncated:
        truncated = repeated.step(action)[3]
        agent_steps += 1
    assert agent_steps == int(np.ceil(MAX_EPISODE_STEPS / 3))  # the last repeat is cut short by the time limit
    with pytest.raises(ValueError, match="repeat"):
        ActionRepeat(plain, 0)
