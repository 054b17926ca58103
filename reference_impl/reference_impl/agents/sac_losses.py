"""The losses of soft actor-critic as plain functions of tensors (book chapter 5).

Shapes: rewards, masks, Q-values and log-probabilities are ``[B, 1]``. ``reduction="mean"`` returns the batch mean
(a scalar), ``reduction="none"`` the per-sample losses ``[B, 1]`` (the multi-task agent averages them per task).
:mod:`reference_impl.agents.sac` builds its update from these functions; the chapter 5 exercise and its checks use
them directly.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def critic_target(reward: Tensor, not_done: Tensor, target_q1: Tensor, target_q2: Tensor, next_log_pi: Tensor,
                  alpha: Tensor | float, discount: float) -> Tensor:
    """Soft Bellman target (eq. 5.2), built without gradient:
    ``y = r + gamma · not_done · (min(Q_bar_1, Q_bar_2)(x', a') - alpha · log pi(a'|x'))``."""
    with torch.no_grad():
        soft_value = torch.min(target_q1, target_q2) - alpha * next_log_pi
        return reward + discount * not_done * soft_value


REDUCTIONS = ("mean", "none")
ALPHA_LOSS_FORMS = ("log_alpha", "alpha")


def _check_reduction(reduction: str) -> None:
    if reduction not in REDUCTIONS:
        raise ValueError(f"reduction must be one of {REDUCTIONS}; got {reduction!r}.")


def critic_loss(q1: Tensor, q2: Tensor, target_q: Tensor, reduction: str = "mean") -> Tensor:
    """Clipped double-Q regression (eq. 5.3): ``mean (Q_1 - y)² + mean (Q_2 - y)²``; the target is detached."""
    _check_reduction(reduction)
    target_q = target_q.detach()
    return F.mse_loss(q1, target_q, reduction=reduction) + F.mse_loss(q2, target_q, reduction=reduction)


def actor_loss(log_pi: Tensor, q1: Tensor, q2: Tensor, alpha: Tensor | float, reduction: str = "mean") -> Tensor:
    """Policy loss (eq. 5.5): ``mean [alpha · log pi(a|x) - min(Q_1, Q_2)(x, a)]`` with ``alpha`` held fixed."""
    _check_reduction(reduction)
    alpha = alpha.detach() if isinstance(alpha, Tensor) else alpha
    per_sample = alpha * log_pi - torch.min(q1, q2)
    return per_sample.mean() if reduction == "mean" else per_sample


def alpha_loss(log_alpha: Tensor, log_pi: Tensor, target_entropy: float, reduction: str = "mean",
               form: str = "log_alpha") -> Tensor:
    """Temperature loss (eq. 5.6): ``mean [log alpha · (-log pi(a|x) - H_target)]``, ``log pi`` detached.

    Its gradient in ``log alpha`` is ``mean(-log pi) - H_target``: alpha grows while the policy's entropy is below
    the target (``H_target = -|A|``) and shrinks above it. ``form="alpha"`` is the public codes' variant
    ``mean [alpha · (-log pi - H_target)]``: the same fixed point, a gradient in ``log alpha`` scaled by ``alpha``."""
    _check_reduction(reduction)
    if form not in ALPHA_LOSS_FORMS:
        raise ValueError(f"form must be one of {ALPHA_LOSS_FORMS}; got {form!r}.")
    coefficient = log_alpha if form == "log_alpha" else log_alpha.exp()
    per_sample = coefficient * (-log_pi - target_entropy).detach()
    return per_sample.mean() if reduction == "mean" else per_sample


def soft_update(target: dict[str, Tensor], online: dict[str, Tensor], tau: float) -> dict[str, Tensor]:
    """Polyak averaging (eq. 5.7): ``theta_bar <- tau · theta + (1 - tau) · theta_bar`` for every parameter."""
    if target.keys() != online.keys():
        raise ValueError(f"target and online parameters differ: {sorted(target)} vs {sorted(online)}.")
    with torch.no_grad():
        return {name: tau * online[name] + (1.0 - tau) * target[name] for name in target}
