"""Soft actor-critic from pixels (book chapter 5).

One call to :meth:`Agent.update` runs, in order,

1. :meth:`Agent.update_critic` — regress both Q heads on the soft Bellman target (eq. 5.2, eq. 5.3);
2. :meth:`Agent.update_actor_and_alpha` every ``actor_update_freq`` steps — the actor loss (eq. 5.5) on a *detached*
   encoding, then the temperature loss on ``log alpha`` with target entropy ``-|A|`` (eq. 5.6);
3. :meth:`Agent.soft_update_targets` every ``critic_target_update_freq`` steps — Polyak averaging (eq. 5.7) with
   ``critic_tau`` for the Q heads and ``encoder_tau`` for the encoder.

Parameter ownership (each trainable parameter is in exactly one optimizer):

* ``encoder_optimizer``: the critic's encoder (convolutions, fc, LayerNorm). The actor's encoder *ties* its
  convolutions to these (same ``Parameter`` objects), so the convolutions learn only from the critic loss (and, in
  the subclasses, from the representation losses).
* ``critic_optimizer``: the two Q heads.
* ``actor_optimizer``: the actor's own encoder fc/LayerNorm and its policy trunk — everything of the actor except
  the tied convolutions.
* ``alpha_optimizer``: ``log alpha``.

Splitting the critic into "encoder" and "Q heads" optimizers with the same hyper-parameters is the same algorithm as
one Adam over the whole critic (Adam's state is per parameter); it lets SAC-AE and DeepMDP step the encoder from
their own losses without putting any parameter in two optimizers.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, NamedTuple

import hydra
import numpy as np
import torch
from omegaconf import DictConfig, OmegaConf
from torch import Tensor, nn

from reference_impl.agents import sac_losses as losses
from reference_impl.networks import Actor, Critic, orthogonal_init_

ConfigLike = DictConfig | Mapping[str, Any]


class Batch(NamedTuple):
    """A replay batch on the agent's device: pixels stay ``uint8`` until the encoder divides by 255."""

    obs: Tensor  # uint8 [B, C, H, W]
    action: Tensor  # float [B, |A|]
    reward: Tensor  # float [B, 1]
    next_obs: Tensor  # uint8 [B, C, H, W]
    not_done: Tensor  # float [B, 1]: 0 only where the episode *terminated* (a time limit is not terminal)


def to_dict(cfg: ConfigLike) -> dict[str, Any]:
    """A resolved plain ``dict`` from a Hydra/OmegaConf node or a mapping."""
    if isinstance(cfg, DictConfig):
        return OmegaConf.to_container(cfg, resolve=True)  # type: ignore[return-value]
    return dict(cfg)


def make_optimizer(cfg: ConfigLike, params: Iterable[nn.Parameter]) -> torch.optim.Optimizer:
    """Instantiate ``cfg`` (e.g. ``{_target_: torch.optim.Adam, lr: 1e-3}``) on ``params``."""
    params = list(params)
    if not params:
        raise ValueError(f"optimizer {to_dict(cfg).get('_target_')} got no parameters.")
    return hydra.utils.instantiate(to_dict(cfg), params=params, _convert_="all")


def soft_update_(target: nn.Module, online: nn.Module, tau: float) -> None:
    """Polyak averaging (eq. 5.7): ``theta_target <- (1 - tau) theta_target + tau theta_online``, in place."""
    target_params = list(target.parameters())
    torch._foreach_lerp_(target_params, [p.detach() for p in online.parameters()], tau)


def parameters_except(module: nn.Module, excluded: Iterable[nn.Parameter]) -> list[nn.Parameter]:
    """``module``'s parameters without those in ``excluded`` (compared by identity, as tied weights are)."""
    excluded_ids = {id(p) for p in excluded}
    return [p for p in module.parameters() if id(p) not in excluded_ids]


class Agent:
    """Pixel SAC with a shared convolutional encoder (the chapter 5 agent)."""

    def __init__(
        self,
        env_obs_shape: Sequence[int],
        action_shape: Sequence[int],
        action_range: tuple[float, float],
        device: str | torch.device,
        actor_cfg: ConfigLike,
        critic_cfg: ConfigLike,
        actor_optimizer_cfg: ConfigLike,
        critic_optimizer_cfg: ConfigLike,
        alpha_optimizer_cfg: ConfigLike,
        encoder_optimizer_cfg: ConfigLike,
        discount: float = 0.99,
        init_temperature: float = 0.1,
        actor_update_freq: int = 2,
        critic_tau: float = 0.01,
        critic_target_update_freq: int = 2,
        encoder_tau: float = 0.05,
    ):
        if len(action_shape) != 1:
            raise ValueError(f"action_shape must be (|A|,); got {tuple(action_shape)}.")
        if tuple(float(x) for x in action_range) != (-1.0, 1.0):
            raise ValueError(
                f"the tanh policy acts in [-1, 1]; got action_range {tuple(action_range)} "
                "(wrap the environment with gymnasium.wrappers.RescaleAction)."
            )
        if not 0.0 <= discount < 1.0 or init_temperature <= 0:
            raise ValueError(f"need 0 <= discount < 1 and init_temperature > 0; got {discount}, {init_temperature}.")
        for name, tau in (("critic_tau", critic_tau), ("encoder_tau", encoder_tau)):
            if not 0.0 < tau <= 1.0:
                raise ValueError(f"{name} must be in (0, 1]; got {tau}.")
        self.device = torch.device(device)
        self.action_dim = int(action_shape[0])
        self.action_range = (-1.0, 1.0)
        self.discount = discount
        self.actor_update_freq = actor_update_freq
        self.critic_tau = critic_tau
        self.critic_target_update_freq = critic_target_update_freq
        self.encoder_tau = encoder_tau
        self.target_entropy = -float(self.action_dim)  # (eq. 5.6): H_target = -|A|

        self.critic = Critic(env_obs_shape, self.action_dim, **to_dict(critic_cfg)).to(self.device)
        self.critic.apply(orthogonal_init_)
        self.critic_target = copy.deepcopy(self.critic).requires_grad_(False)  # starts equal to the online critic
        self.actor = Actor(env_obs_shape, self.action_dim, **to_dict(actor_cfg)).to(self.device)
        self.actor.apply(orthogonal_init_)
        self.actor.encoder.tie_conv_weights_to(self.critic.encoder)
        self.log_alpha = torch.tensor(math.log(init_temperature), device=self.device, requires_grad=True)

        self.encoder_optimizer = make_optimizer(encoder_optimizer_cfg, self.critic.encoder.parameters())
        self.critic_optimizer = make_optimizer(critic_optimizer_cfg, nn.ModuleList(self.critic.heads()).parameters())
        self.actor_optimizer = make_optimizer(
            actor_optimizer_cfg, parameters_except(self.actor, self.critic.encoder.conv_parameters())
        )
        self.alpha_optimizer = make_optimizer(alpha_optimizer_cfg, [self.log_alpha])

    # ------------------------------------------------------------------ bookkeeping
    @property
    def alpha(self) -> Tensor:
        """The temperature ``alpha = exp(log alpha)``."""
        return self.log_alpha.exp()

    def networks(self) -> dict[str, nn.Module]:
        """Every network of the agent by name (targets included)."""
        return {"actor": self.actor, "critic": self.critic, "critic_target": self.critic_target}

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        """Every optimizer of the agent by name."""
        return {
            "encoder": self.encoder_optimizer,
            "critic": self.critic_optimizer,
            "actor": self.actor_optimizer,
            "alpha": self.alpha_optimizer,
        }

    def train(self, training: bool = True) -> None:
        for network in self.networks().values():
            network.train(training)

    def state_dict(self) -> dict[str, Any]:
        """Networks, ``log alpha`` and optimizer states (everything :meth:`update` changes)."""
        return {
            "networks": {name: net.state_dict() for name, net in self.networks().items()},
            "log_alpha": self.log_alpha.detach().clone(),
            "optimizers": {name: opt.state_dict() for name, opt in self.optimizers().items()},
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        for name, net in self.networks().items():
            net.load_state_dict(state["networks"][name])
        with torch.no_grad():
            self.log_alpha.copy_(state["log_alpha"])
        for name, opt in self.optimizers().items():
            opt.load_state_dict(state["optimizers"][name])

    # ------------------------------------------------------------------ acting
    @torch.no_grad()
    def act(self, obs: np.ndarray, sample: bool = False) -> np.ndarray:
        """Action for one ``uint8 [C, H, W]`` observation (or a batch): ``tanh(mu)``, or a sample if ``sample``."""
        obs_t = torch.as_tensor(np.asarray(obs), device=self.device)
        single = obs_t.ndim == 3
        mode, action, _, _ = self.actor(obs_t.unsqueeze(0) if single else obs_t, sample=sample)
        action = (action if sample else mode).clamp(*self.action_range).cpu().numpy()
        return action[0] if single else action

    # ------------------------------------------------------------------ learning
    def update(self, batch: Batch, step: int) -> dict[str, float]:
        """One SAC step: critic → actor and α (every ``actor_update_freq``) → targets (every ``..._target_...``)."""
        metrics = self.update_critic(batch)
        if step % self.actor_update_freq == 0:
            metrics.update(self.update_actor_and_alpha(batch))
        if step % self.critic_target_update_freq == 0:
            self.soft_update_targets()
        return metrics

    def update_critic(self, batch: Batch) -> dict[str, float]:
        """Clipped double-Q regression on the soft Bellman target.

        ``y = r + gamma · not_done · (min_j Q_bar_j(x', a') - alpha · log pi(a'|x')),  a' ~ pi(.|x')``  (eq. 5.2)
        ``L_Q = sum_j mean (Q_j(x, a) - y)²``  (eq. 5.3)

        The target uses the target critic and is built under ``torch.no_grad``: no gradient reaches the targets.
        """
        with torch.no_grad():
            _, next_action, next_log_pi, _ = self.actor(batch.next_obs)
            target_q1, target_q2 = self.critic_target(batch.next_obs, next_action)
        target_q = losses.critic_target(batch.reward, batch.not_done, target_q1, target_q2, next_log_pi,
                                        self.alpha, self.discount)
        q1, q2 = self.critic(batch.obs, batch.action)
        critic_loss = losses.critic_loss(q1, q2, target_q)

        self.encoder_optimizer.zero_grad(set_to_none=True)
        self.critic_optimizer.zero_grad(set_to_none=True)
        critic_loss.backward()
        self.encoder_optimizer.step()
        self.critic_optimizer.step()
        return {"critic_loss": critic_loss.item(), "q1": q1.mean().item(), "target_q": target_q.mean().item()}

    def update_actor_and_alpha(self, batch: Batch) -> dict[str, float]:
        """Actor and temperature losses on a detached encoding.

        ``L_pi = mean [alpha · log pi(a|x) - min_j Q_j(phi(x), a)],  a ~ pi(.|x)``  (eq. 5.5)
        ``L_alpha = mean [log alpha · (-log pi(a|x) - H_target)]`` with ``H_target = -|A|``  (eq. 5.6)

        The shared convolutions run once, under ``no_grad`` (the actor must not shape the encoder); the actor's own
        fc/LayerNorm and trunk learn. The critic is only evaluated: its parameters are not stepped here.
        """
        with torch.no_grad():
            conv_features = self.critic.encoder.conv_features(batch.obs)  # tied: the actor's convs are the same
            critic_latent = self.critic.encoder.head(conv_features)
        _, action, log_pi, log_std = self.actor.policy(self.actor.encoder.head(conv_features))
        q1, q2 = self.critic.q_values(critic_latent, action)
        actor_loss = losses.actor_loss(log_pi, q1, q2, self.alpha)

        self.actor_optimizer.zero_grad(set_to_none=True)
        actor_loss.backward()
        self.actor_optimizer.step()

        alpha_loss = losses.alpha_loss(self.log_alpha, log_pi, self.target_entropy)
        self.alpha_optimizer.zero_grad(set_to_none=True)
        alpha_loss.backward()
        self.alpha_optimizer.step()
        entropy = -log_pi.detach().mean()
        return {
            "actor_loss": actor_loss.item(),
            "alpha_loss": alpha_loss.item(),
            "alpha": self.alpha.item(),
            "entropy": entropy.item(),
            "log_std": log_std.detach().mean().item(),
        }

    def soft_update_targets(self) -> None:
        """(eq. 5.7) with ``critic_tau`` for both Q heads and ``encoder_tau`` for the encoder."""
        soft_update_(self.critic_target.Q1, self.critic.Q1, self.critic_tau)
        soft_update_(self.critic_target.Q2, self.critic.Q2, self.critic_tau)
        soft_update_(self.critic_target.encoder, self.critic.encoder, self.encoder_tau)
