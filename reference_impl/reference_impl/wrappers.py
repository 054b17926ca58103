"""Gymnasium wrappers used by the pixel agents (book chapter 5): action repeat and frame stacking.

* :class:`ActionRepeat` applies each agent action ``k`` times and returns the summed reward
  ``r_t + r_{t+1} + ... + r_{t+k-1}`` (stopping early if the episode ends). Returns therefore stay comparable across
  action repeats: they are sums of environment rewards.
* :class:`FrameStack` concatenates the last ``k`` frames along the channel axis, ``[C, H, W] -> [k·C, H, W]``
  (``uint8``), so that velocities become observable. After a reset the first frame is repeated ``k`` times.
"""

from __future__ import annotations

from collections import deque
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces


class ActionRepeat(gym.Wrapper):
    """Repeat every action ``repeat`` times and sum the rewards."""

    def __init__(self, env: gym.Env, repeat: int):
        if repeat < 1:
            raise ValueError(f"repeat must be >= 1; got {repeat}.")
        super().__init__(env)
        self.repeat = repeat

    def step(self, action):
        total_reward = 0.0
        for _ in range(self.repeat):
            obs, reward, terminated, truncated, info = self.env.step(action)
            total_reward += float(reward)
            if terminated or truncated:
                break
        return obs, total_reward, terminated, truncated, info


class FrameStack(gym.Wrapper):
    """Stack the last ``num_frames`` channel-first ``uint8`` frames along the channel axis."""

    def __init__(self, env: gym.Env, num_frames: int):
        if num_frames < 1:
            raise ValueError(f"num_frames must be >= 1; got {num_frames}.")
        space = env.observation_space
        if not isinstance(space, spaces.Box) or space.dtype != np.uint8 or len(space.shape) != 3:
            raise ValueError(f"FrameStack needs a uint8 Box observation of shape [C, H, W]; got {space}.")
        super().__init__(env)
        self.num_frames = num_frames
        low = np.concatenate([space.low] * num_frames, axis=0)
        high = np.concatenate([space.high] * num_frames, axis=0)
        self.observation_space = spaces.Box(low=low, high=high, dtype=np.uint8)
        self._frames: deque[np.ndarray] = deque(maxlen=num_frames)

    def _stacked(self) -> np.ndarray:
        return np.concatenate(self._frames, axis=0)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        obs, info = self.env.reset(seed=seed, options=options)
        for _ in range(self.num_frames):
            self._frames.append(obs)
        return self._stacked(), info

    def step(self, action):
        obs, reward, terminated, truncated, info = self.env.step(action)
        self._frames.append(obs)
        return self._stacked(), reward, terminated, truncated, info
