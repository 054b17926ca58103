"""The multi-task mode of the agents: mtrl's simplest setting (book chapter 6).

``multitask_cfg`` empty: single task. Otherwise only these keys are understood (anything else is an error):

* ``num_envs`` — number of tasks; the environment reports each episode's task id in ``info["task"]``;
* ``should_use_task_encoder`` — learn a task embedding ``e(k)`` and concatenate it to the encoder's features,
  ``z = [phi(x), e(k)]``, for the actor, the critic, the transition model and the reward decoder;
* ``should_use_disentangled_alpha`` — one temperature ``alpha_k`` per task (each with target entropy ``-|A|``);
* ``task_encoder_cfg`` — ``embedding_dim``, ``hidden_dim``, ``num_layers``, ``output_dim`` of the
  :class:`~reference_impl.networks.TaskEncoder` and its ``optimizer_cfg``.

With ``loss_reduction="none"`` every loss is computed per sample and :func:`per_task_mean` weighs the tasks equally:
``L = (1/K) sum_k mean_{i: task_i = k} l_i`` over the ``K`` tasks present in the batch.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor

SUPPORTED_KEYS = ("num_envs", "should_use_task_encoder", "should_use_disentangled_alpha", "task_encoder_cfg")
TASK_ENCODER_KEYS = ("embedding_dim", "hidden_dim", "num_layers", "output_dim", "optimizer_cfg")


@dataclass(frozen=True)
class MultitaskConfig:
    num_envs: int = 1
    should_use_task_encoder: bool = False
    should_use_disentangled_alpha: bool = False
    task_encoder_cfg: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_cfg(cls, cfg: Mapping[str, Any] | None) -> MultitaskConfig:
        cfg = dict(cfg or {})
        unknown = sorted(set(cfg) - set(SUPPORTED_KEYS))
        if unknown:
            raise ValueError(f"multitask_cfg keys {unknown} are not supported; the supported keys are "
                             f"{list(SUPPORTED_KEYS)} (mtrl's task-embedding setting).")
        task_encoder_cfg = dict(cfg.get("task_encoder_cfg") or {})
        unknown = sorted(set(task_encoder_cfg) - set(TASK_ENCODER_KEYS))
        if unknown:
            raise ValueError(f"multitask_cfg.task_encoder_cfg keys {unknown} are not supported; the supported keys "
                             f"are {list(TASK_ENCODER_KEYS)}.")
        config = cls(num_envs=int(cfg.get("num_envs", 1)),
                     should_use_task_encoder=bool(cfg.get("should_use_task_encoder", False)),
                     should_use_disentangled_alpha=bool(cfg.get("should_use_disentangled_alpha", False)),
                     task_encoder_cfg=task_encoder_cfg)
        if config.num_envs < 1:
            raise ValueError(f"multitask_cfg.num_envs must be >= 1; got {config.num_envs}.")
        if config.should_use_task_encoder and "optimizer_cfg" not in task_encoder_cfg:
            raise ValueError("multitask_cfg.task_encoder_cfg needs an optimizer_cfg when should_use_task_encoder.")
        return config

    @property
    def is_multitask(self) -> bool:
        return self.num_envs > 1 or self.should_use_task_encoder or self.should_use_disentangled_alpha


def per_task_mean(loss: Tensor, task: Tensor | None, num_tasks: int) -> Tensor:
    """``(1/K) sum_k mean_{i: task_i = k} loss_i`` over the ``K`` tasks present; the plain mean without tasks."""
    loss = loss.reshape(loss.shape[0], -1).mean(dim=1)
    if task is None:
        return loss.mean()
    task = task.reshape(-1).long()
    sums = torch.zeros(num_tasks, dtype=loss.dtype, device=loss.device).index_add(0, task, loss)
    counts = torch.bincount(task, minlength=num_tasks).to(loss.dtype)
    present = counts > 0
    return (sums[present] / counts[present]).mean()
