"""The losses of soft actor-critic as plain functions of tensors (book chapter 5).

:class:`reference_impl.agents.sac.Agent` calls these inside its update; the exercises and their checks use them
directly. Shapes: rewards, masks, Q-values and log-probabilities are ``[B, 1]``.
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


def critic_loss(q1: Tensor, q2: Tensor, target_q: Tensor) -> Tensor:
    """Clipped double-Q regression (eq. 5.3): ``mean (Q_1 - y)² + mean (Q_2 - y)²``; the target is detached."""
    target_q = target_q.detach()
    return F.mse_loss(q1, target_q) + F.mse_loss(q2, target_q)


def actor_loss(log_pi: Tensor, q1: Tensor, q2: Tensor, alpha: Tensor | float) -> Tensor:
    """Policy loss (eq. 5.5): ``mean [alpha · log pi(a|x) - min(Q_1, Q_2)(x, a)]`` with ``alpha`` held fixed."""
    alpha = alpha.detach() if isinstance(alpha, Tensor) else alpha
    return (alpha * log_pi - torch.min(q1, q2)).mean()


def alpha_loss(log_alpha: Tensor, log_pi: Tensor, target_entropy: float) -> Tensor:
    """Temperature loss (eq. 5.6): ``mean [log alpha · (-log pi(a|x) - H_target)]``, ``log pi`` detached.

    Its gradient in ``log alpha`` is ``mean(-log pi) - H_target``: alpha grows while the policy's entropy is below
    the target (``H_target = -|A|``) and shrinks above it."""
    return (log_alpha * (-log_pi - target_entropy).detach()).mean()


def soft_update(target: dict[str, Tensor], online: dict[str, Tensor], tau: float) -> dict[str, Tensor]:
    """Polyak averaging (eq. 5.7): ``theta_bar <- tau · theta + (1 - tau) · theta_bar`` for every parameter."""
    if target.keys() != online.keys():
        raise ValueError(f"target and online parameters differ: {sorted(target)} vs {sorted(online)}.")
    with torch.no_grad():
        return {name: tau * online[name] + (1.0 - tau) * target[name] for name in target}
