"""The course's environments, all rendered with numpy and registered with Gymnasium on import."""

import gymnasium as gym

from reference_impl.envs.donut_world import DonutWorld, register_donut_world
from reference_impl.envs.gridworld import LAYOUTS, GridWorld, GridWorldEnv, make_gridworld

GRIDWORLD_ID = "course/GridWorld-v0"


def _register(env_id: str, entry_point: str, **kwargs) -> None:
    if env_id not in gym.registry:
        gym.register(id=env_id, entry_point=entry_point, **kwargs)


_register(GRIDWORLD_ID, "reference_impl.envs.gridworld:GridWorldEnv", max_episode_steps=200)
register_donut_world()

__all__ = ["GRIDWORLD_ID", "LAYOUTS", "DonutWorld", "GridWorld", "GridWorldEnv", "make_gridworld"]
