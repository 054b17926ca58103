"""A preallocated ``uint8`` replay buffer for pixel agents (book chapter 5).

Transitions ``(x, a, r, x', not_done)`` are stored in fixed numpy arrays (a ring: the oldest is overwritten when
full); pixels stay ``uint8`` (4× smaller than floats) until the encoder divides by 255. ``not_done = 1 - terminated``:
a time-limit truncation is *not* terminal, so the critic still bootstraps through it (eq. 5.2).
A multi-task environment also gives each transition a task id (``info["task"]``); the buffer stores it and the batch
carries it as ``Batch.task`` (``None`` for single-task data). Pixels are stored channels-last (:func:`pixel_storage`).
Sampling is uniform with replacement from a seeded ``numpy`` generator; :meth:`ReplayBuffer.save` /
:meth:`ReplayBuffer.load` store the contents *and* the generator state, so a resumed run samples the same batches.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch
from torch import Tensor


class Batch(NamedTuple):
    """A replay batch on the agent's device: pixels stay ``uint8`` until the encoder divides by 255."""

    obs: Tensor  # uint8 [B, C, H, W]
    action: Tensor  # float [B, |A|], in the environment's action box
    reward: Tensor  # float [B, 1]
    next_obs: Tensor  # uint8 [B, C, H, W]
    not_done: Tensor  # float [B, 1]: 0 only where the episode *terminated* (a time limit is not terminal)
    task: Tensor | None = None  # int64 [B]: the task id of each transition (multi-task data only)


def pixel_storage(capacity: int, obs_shape: tuple[int, ...]) -> np.ndarray:
    """A ``uint8`` array of shape ``[capacity, C, H, W]`` laid out channels-last in memory (``[capacity, H, W, C]``).

    A sampled batch (numpy keeps the layout when indexing) then reaches torch already in the ``channels_last``
    layout the encoder's convolutions use, so the encoder's layout change is free: the transposition happens
    once per stored frame instead of once per sampled frame and encoder call. Non-image observations are stored
    as they are."""
    if len(obs_shape) != 3:
        return np.empty((capacity, *obs_shape), dtype=np.uint8)
    channels, height, width = obs_shape
    return np.empty((capacity, height, width, channels), dtype=np.uint8).transpose(0, 3, 1, 2)


class ReplayBuffer:
    """Uniform replay over the last ``capacity`` transitions."""

    def __init__(
        self,
        obs_shape: Sequence[int],
        action_shape: Sequence[int],
        capacity: int,
        batch_size: int,
        device: str | torch.device = "cpu",
        seed: int = 0,
    ):
        if capacity < 1 or batch_size < 1:
            raise ValueError(f"capacity and batch_size must be positive; got {capacity} and {batch_size}.")
        self.obs_shape = tuple(obs_shape)
        self.action_shape = tuple(action_shape)
        self.capacity = capacity
        self.batch_size = batch_size
        self.device = torch.device(device)
        self.obs = pixel_storage(capacity, self.obs_shape)
        self.next_obs = pixel_storage(capacity, self.obs_shape)
        self.action = np.empty((capacity, *self.action_shape), dtype=np.float32)
        self.reward = np.empty((capacity, 1), dtype=np.float32)
        self.not_done = np.empty((capacity, 1), dtype=np.float32)
        self.task = np.zeros(capacity, dtype=np.int64)
        self.has_tasks = False
        self.index = 0
        self.full = False
        self.rng = np.random.default_rng(seed)

    def __len__(self) -> int:
        return self.capacity if self.full else self.index

    def add(self, obs: np.ndarray, action: np.ndarray, reward: float, next_obs: np.ndarray, terminated: bool,
            task: int | None = None) -> None:
        """Store one transition; ``terminated`` is the environment's *terminal* flag, never a truncation; ``task`` is
        the transition's task id in a multi-task environment (all or none of the transitions must have one)."""
        if (task is not None) != self.has_tasks and len(self) > 0:
            raise ValueError("a replay buffer holds either single-task data (task=None) or multi-task data, not both.")
        if obs.shape != self.obs_shape or next_obs.shape != self.obs_shape:
            raise ValueError(f"observations must have shape {self.obs_shape}; got {obs.shape} and {next_obs.shape}.")
        self.obs[self.index] = obs
        self.next_obs[self.index] = next_obs
        self.action[self.index] = action
        self.reward[self.index] = reward
        self.not_done[self.index] = 0.0 if terminated else 1.0
        self.has_tasks = task is not None
        self.task[self.index] = 0 if task is None else int(task)
        self.index = (self.index + 1) % self.capacity
        self.full = self.full or self.index == 0

    def sample(self, batch_size: int | None = None) -> Batch:
        """A uniform batch (with replacement) as tensors on the buffer's device."""
        if len(self) == 0:
            raise ValueError("cannot sample from an empty replay buffer.")
        indices = self.rng.integers(0, len(self), size=batch_size or self.batch_size)

        def to_tensor(array: np.ndarray) -> torch.Tensor:
            return torch.from_numpy(array[indices]).to(self.device, non_blocking=True)

        return Batch(
            obs=to_tensor(self.obs),
            action=to_tensor(self.action),
            reward=to_tensor(self.reward),
            next_obs=to_tensor(self.next_obs),
            not_done=to_tensor(self.not_done),
            task=to_tensor(self.task) if self.has_tasks else None,
        )

    def save(self, path: str | os.PathLike) -> None:
        """Write the filled part, the write position and the sampling generator's state to ``path`` (``.npz``)."""
        size = len(self)
        np.savez(
            Path(path),
            obs=self.obs[:size],
            next_obs=self.next_obs[:size],
            action=self.action[:size],
            reward=self.reward[:size],
            not_done=self.not_done[:size],
            task=self.task[:size],
            has_tasks=self.has_tasks,
            index=self.index,
            full=self.full,
            rng_state=np.array(json.dumps(self.rng.bit_generator.state)),
        )

    def load(self, path: str | os.PathLike) -> None:
        """Restore what :meth:`save` wrote (the buffer must have the same shapes and capacity)."""
        with np.load(Path(path)) as data:
            size = data["obs"].shape[0]
            if data["obs"].shape[1:] != self.obs_shape or size > self.capacity:
                raise ValueError(
                    f"saved buffer holds {data['obs'].shape}; this buffer expects [<= {self.capacity}, "
                    f"{', '.join(map(str, self.obs_shape))}]."
                )
            for name in ("obs", "next_obs", "action", "reward", "not_done"):
                getattr(self, name)[:size] = data[name]
            if "task" in data.files:  # absent in buffers saved before tasks were stored
                self.task[:size] = data["task"]
                self.has_tasks = bool(data["has_tasks"])
            self.index = int(data["index"])
            self.full = bool(data["full"])
            self.rng.bit_generator.state = json.loads(str(data["rng_state"]))

