"""The course's environments, all rendered with numpy and registered with Gymnasium on import."""

import gymnasium as gym

from reference_impl.envs.distractors import (
    DISTRACTORS_ID,
    DISTRACTORS_SPARSE_ID,
    DistractingPointMassEnv,
    register_distractor_tasks,
)
from reference_impl.envs.donut_world import DonutWorld, register_donut_world
from reference_impl.envs.gridworld import LAYOUTS, GridWorld, GridWorldEnv, make_gridworld
from reference_impl.envs.multi_goal_point_mass import (
    MULTI_GOAL_POINT_MASS_ID,
    MultiGoalPointMassEnv,
    register_multi_goal_point_mass,
)
from reference_impl.envs.point_mass import POINT_MASS_ID, PointMassEnv, register_point_mass

GRIDWORLD_ID = "course/GridWorld-v0"


def _register(env_id: str, entry_point: str, **kwargs) -> None:
    if env_id not in gym.registry:
        gym.register(id=env_id, entry_point=entry_point, **kwargs)


_register(GRIDWORLD_ID, "reference_impl.envs.gridworld:GridWorldEnv", max_episode_steps=200)
register_donut_world()
register_point_mass()
register_multi_goal_point_mass()
register_distractor_tasks()

__all__ = ["DISTRACTORS_ID", "DISTRACTORS_SPARSE_ID", "GRIDWORLD_ID", "LAYOUTS", "MULTI_GOAL_POINT_MASS_ID",
           "POINT_MASS_ID", "DistractingPointMassEnv", "DonutWorld", "GridWorld", "GridWorldEnv",
           "MultiGoalPointMassEnv", "PointMassEnv", "make_gridworld"]
