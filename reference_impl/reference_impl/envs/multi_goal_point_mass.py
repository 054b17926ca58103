"""A multi-task pixel point mass: one goal per task, and the goal is *not* drawn (book chapter 6, multi-task agent).

The dynamics and the reward ``r = max(0, 1 - ||p' - g_k||₂)`` are those of :class:`PointMassEnv`; task ``k`` fixes
the goal ``g_k`` (default: ``(-0.6, 0)`` and ``(0.6, 0)``). The image shows the agent (red) and the arena border
(blue) only — the green channel is empty — so the pixels do not say which task is running: an agent must be told.
Each reset draws the task uniformly (or takes ``options={"task": k}``) and reports it as ``info["task"]``, which is
how the training loop passes the task id to a multi-task agent (``multitask_cfg``, mtrl's setting).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import gymnasium as gym
import numpy as np

from reference_impl.envs.point_mass import MAX_EPISODE_STEPS, PointMassEnv

MULTI_GOAL_POINT_MASS_ID = "course/MultiGoalPointMass-v0"
DEFAULT_GOALS = ((-0.6, 0.0), (0.6, 0.0))
# Measured on the registered id (100-step episodes, 200 episodes per task): uniform random actions return
# 18.4 ± 14.6 (task 0) and 19.2 ± 15.0 (task 1); the state-based PD controller ``scripted_action`` 97.6 ± 1.6 and
# 97.5 ± 1.5. Solved, as for the point mass, at 80 on every task.
RANDOM_POLICY_RETURN = 18.8
SOLVED_RETURN = 80.0


class MultiGoalPointMassEnv(PointMassEnv):
    """:class:`PointMassEnv` with one goal per task, the goal hidden from the image, the task id in ``info``."""

    def __init__(self, image_size: int = 32, goals: Sequence[Sequence[float]] = DEFAULT_GOALS, **kwargs: Any):
        super().__init__(image_size=image_size, random_goal=False, **kwargs)
        self.goals = np.asarray(goals, dtype=np.float64)
        if self.goals.ndim != 2 or self.goals.shape[1] != 2 or len(self.goals) < 1:
            raise ValueError(f"goals must be a list of (x, y) points; got {goals!r}.")
        if np.any(np.abs(self.goals) > 1.0):
            raise ValueError(f"goals must lie in the arena [-1, 1]²; got {goals!r}.")
        self.num_tasks = len(self.goals)
        self.task = 0
        self._goal_image = np.zeros((image_size, image_size), dtype=np.uint8)  # hidden goal: empty green channel

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        gym.Env.reset(self, seed=seed)
        options = options or {}
        task = options.get("task")
        if task is None:
            task = int(self.np_random.integers(self.num_tasks))
        if not 0 <= int(task) < self.num_tasks:
            raise ValueError(f"task must be in [0, {self.num_tasks}); got {task}.")
        self.task = int(task)
        self.goal = self.goals[self.task].copy()
        self.position = self.np_random.uniform(-0.9, 0.9, size=2)
        self.velocity = np.zeros(2)
        return self._observation(), {"distance": self.distance_to_goal(), "task": self.task}

    def step(self, action):
        obs, reward, terminated, truncated, info = super().step(action)
        return obs, reward, terminated, truncated, info | {"task": self.task}


def register_multi_goal_point_mass() -> None:
    """Register ``course/MultiGoalPointMass-v0`` with Gymnasium (idempotent)."""
    if MULTI_GOAL_POINT_MASS_ID not in gym.registry:
        gym.register(
            id=MULTI_GOAL_POINT_MASS_ID,
            entry_point="reference_impl.envs.multi_goal_point_mass:MultiGoalPointMassEnv",
            max_episode_steps=MAX_EPISODE_STEPS,
        )
