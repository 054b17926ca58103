"""Grid worlds: the finite model and its Gymnasium environment."""

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import reference_impl  # noqa: F401  (registers the environments)
from reference_impl.envs import GRIDWORLD_ID, LAYOUTS, make_gridworld
from reference_impl.mdp import MDPValidationError, value_iteration


@pytest.mark.parametrize("name", sorted(LAYOUTS))
def test_every_layout_builds_a_valid_mdp(name):
    world = make_gridworld(name, slip=0.2)
    assert world.mdp.n_actions == 4
    assert world.to_grid(np.arange(world.mdp.n_states, dtype=float)).shape == world.shape


def test_corridor_values_decay_geometrically_with_distance_to_the_goal():
    world = make_gridworld("corridor", gamma=0.9)
    V = value_iteration(world.mdp, tol=1e-12).V
    # Cells 1..4 are 4..1 steps from the goal; the reward is paid on entering it.
    np.testing.assert_allclose(V[:4], [0.9**3, 0.9**2, 0.9, 1.0], atol=1e-9)
    assert V[4] == 0.0


def test_slip_moves_perpendicular():
    world = make_gridworld(("#####", "#...#", "#...#", "#...#", "#####"), slip=0.2)
    centre = world.state_at(2, 2)
    probs = world.mdp.P[0, centre]  # up
    assert probs[world.state_at(1, 2)] == pytest.approx(0.8)
    assert probs[world.state_at(2, 3)] == pytest.approx(0.1)
    assert probs[world.state_at(2, 1)] == pytest.approx(0.1)


def test_bad_layouts_raise():
    with pytest.raises(MDPValidationError, match="equal length"):
        make_gridworld(("###", "##"))
    with pytest.raises(MDPValidationError, match="unknown layout characters"):
        make_gridworld(("#X#",))
    with pytest.raises(MDPValidationError, match="unknown layout"):
        make_gridworld("no_such_layout")


def test_registered_env_passes_the_gymnasium_checker_and_follows_the_model():
    env = gym.make(GRIDWORLD_ID, layout="corridor", slip=0.0)
    check_env(env.unwrapped)
    state, _ = env.reset(seed=0)
    total = 0.0
    for _ in range(4):
        state, reward, terminated, truncated, info = env.step(1)
        total += reward
    assert terminated and total == 1.0 and info["cell"] == (1, 5)


def test_env_is_deterministic_under_a_seed():
    def rollout(seed):
        env = gym.make(GRIDWORLD_ID, slip=0.3)
        env.reset(seed=seed)
        return [env.step(i % 4)[0] for i in range(50)]

    assert rollout(3) == rollout(3)
    assert rollout(3) != rollout(4)


def test_rgb_render():
    env = gym.make(GRIDWORLD_ID, layout="corridor", render_mode="rgb_array")
    env.reset(seed=0)
    frame = env.render()
    assert frame.dtype == np.uint8 and frame.shape == (24, 56, 3)
