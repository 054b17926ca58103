"""The DeepMDP agent: SAC-AE whose encoder is also shaped by a latent transition and reward model (book chapter 6).

:meth:`Agent.update` runs, in order: critic → actor and α (every ``actor_update_freq``) → target networks (every
``critic_target_update_freq``) → :meth:`Agent.update_transition_reward_model` → :meth:`Agent.update_decoder` (every
``decoder_update_freq``). With ``z = phi(x)`` from the online critic encoder and ``z' = phi(x')`` from the *same
online* encoder, detached:

* transition loss ``mean_i ||f(z_i, a_i) - sg(z'_i)||²``  (eq. 6.1; ``loss_kind="w1"`` uses the unsquared norm, and
  a Gaussian model uses the negative log-likelihood, eq. 6.4);
* reward loss ``mean_i (R(f(z_i, a_i)) - r_i)²`` — the reward is predicted from the *predicted next* latent  (eq. 6.2);
* next-observation reconstruction ``mean ||g(f(z, a)) - x'/255||² / (C·H·W) + lambda_z · mean ½||z||²``  (eq. 6.3):
  unlike SAC-AE, the decoder reconstructs the *next* observation from the predicted next latent.

The losses are those of chapter 4 (:mod:`reference_impl.deepmdp.losses`), written per sample here
(:func:`transition_loss_per_sample`) so that ``loss_reduction="none"`` can weigh the tasks; their batch means are
the chapter 4 functions (a test checks it). The switches ``transition_loss_reduction`` and
``gaussian_decoder_input`` select the public codes' variants (:mod:`reference_impl.agents.switches`).

The constructor is mtrl's ``deepmdp.Agent``'s: same names, order and defaults. The course's tuned values are set in
``conf/agent/*.yaml`` only.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor, nn

from reference_impl.agents import sac_ae
from reference_impl.agents.sac import ConfigLike, make_optimizer, to_dict
from reference_impl.deepmdp.losses import TRANSITION_KINDS
from reference_impl.networks import GaussianTransitionModel, RewardDecoder, make_transition_model, orthogonal_init_
from reference_impl.replay_buffer import Batch


def transition_loss_per_sample(predicted: Tensor, next_latent: Tensor, sigma: Tensor | None, kind: str,
                               reduction_rule: str) -> Tensor:
    """Per-sample transition loss ``[B, 1]`` with ``Δ = z_hat' - sg(z')``:

    * ``sum_dims`` (eq. 6.1 / 6.4): ``sum_k Δ_k²`` (``kind="mse"``), ``||Δ||₂`` (``"w1"``), or for a Gaussian model
      the exact NLL ``sum_k [log σ_k + Δ_k² / (2σ_k²) + ½ log 2π]``;
    * ``mean_half`` (mtrl): ``mean_k ½ Δ_k²``, or ``mean_k [½ (Δ_k / σ_k)² + log σ_k]`` for a Gaussian model.
    """
    difference = predicted - next_latent.detach()
    if sigma is not None:
        if reduction_rule == "mean_half":
            return (0.5 * (difference / sigma).pow(2) + torch.log(sigma)).mean(dim=1, keepdim=True)
        per_axis = torch.log(sigma) + difference.pow(2) / (2.0 * sigma.pow(2)) + 0.5 * math.log(2.0 * math.pi)
        return per_axis.sum(dim=1, keepdim=True)
    if reduction_rule == "mean_half":
        return (0.5 * difference.pow(2)).mean(dim=1, keepdim=True)
    squared = difference.pow(2).sum(dim=1, keepdim=True)
    if kind == "mse":
        return squared
    positive = squared > 0  # the norm's gradient is 0, not NaN, where the difference vanishes
    return torch.where(positive, torch.sqrt(torch.where(positive, squared, torch.ones_like(squared))), 0.0 * squared)


class Agent(sac_ae.Agent):
    """SAC-AE plus a latent transition model and a reward decoder on the shared encoder (the chapter 6 agent)."""

    trains_decoder = True  # the DBC-style subclass sets False: no reconstruction step

    def __init__(
        self,
        env_obs_shape: Sequence[int],
        action_shape: Sequence[int],
        action_range: tuple[Any, Any],
        device: str | torch.device,
        actor_cfg: ConfigLike,
        critic_cfg: ConfigLike,
        decoder_cfg: ConfigLike,
        reward_decoder_cfg: ConfigLike,
        transition_model_cfg: ConfigLike,
        alpha_optimizer_cfg: ConfigLike,
        actor_optimizer_cfg: ConfigLike,
        critic_optimizer_cfg: ConfigLike,
        multitask_cfg: ConfigLike,
        decoder_optimizer_cfg: ConfigLike,
        encoder_optimizer_cfg: ConfigLike,
        reward_decoder_optimizer_cfg: ConfigLike,
        transition_model_optimizer_cfg: ConfigLike,
        discount: float = 0.99,
        init_temperature: float = 0.01,
        actor_update_freq: int = 2,
        critic_tau: float = 0.005,
        critic_target_update_freq: int = 2,
        encoder_tau: float = 0.005,
        loss_reduction: str = "mean",
        decoder_update_freq: int = 1,
        decoder_latent_lambda: float = 0.0,
        cfg_to_load_model: ConfigLike | None = None,
        should_complete_init: bool = True,
    ):
        super().__init__(
            env_obs_shape=env_obs_shape,
            action_shape=action_shape,
            action_range=action_range,
            device=device,
            actor_cfg=actor_cfg,
            critic_cfg=critic_cfg,
            decoder_cfg=decoder_cfg,
            alpha_optimizer_cfg=alpha_optimizer_cfg,
            actor_optimizer_cfg=actor_optimizer_cfg,
            critic_optimizer_cfg=critic_optimizer_cfg,
            multitask_cfg=multitask_cfg,
            decoder_optimizer_cfg=decoder_optimizer_cfg,
            encoder_optimizer_cfg=encoder_optimizer_cfg,
            discount=discount,
            init_temperature=init_temperature,
            actor_update_freq=actor_update_freq,
            critic_tau=critic_tau,
            critic_target_update_freq=critic_target_update_freq,
            encoder_tau=encoder_tau,
            loss_reduction=loss_reduction,
            decoder_update_freq=decoder_update_freq,
            decoder_latent_lambda=decoder_latent_lambda,
            cfg_to_load_model=None,
            should_complete_init=False,
        )
        feature_dim = self.critic.encoder.feature_dim
        transition_cfg = to_dict(transition_model_cfg)
        self.transition_loss_kind = transition_cfg.pop("loss_kind", "mse")
        if self.transition_loss_kind not in TRANSITION_KINDS:
            raise ValueError(f"transition loss_kind must be one of {TRANSITION_KINDS}; got "
                             f"{self.transition_loss_kind!r}.")
        self.transition_model = make_transition_model(
            feature_dim=feature_dim, action_dim=self.action_dim, task_dim=self.task_dim, **transition_cfg
        ).to(self.device)
        self.reward_decoder = RewardDecoder(feature_dim + self.task_dim, **to_dict(reward_decoder_cfg)).to(self.device)
        self.transition_model.apply(orthogonal_init_)
        self.reward_decoder.apply(orthogonal_init_)
        self._optimizer_cfgs["transition_model"] = transition_model_optimizer_cfg
        self._optimizer_cfgs["reward_decoder"] = reward_decoder_optimizer_cfg
        if should_complete_init:
            self.complete_init(cfg_to_load_model)

    def complete_init(self, cfg_to_load_model: ConfigLike | None = None) -> None:
        if self.transition_loss_kind == "w1" and self.switches.transition_loss_reduction == "mean_half":
            raise ValueError("transition_loss_reduction='mean_half' is the public codes' squared loss; it does not "
                             "apply to loss_kind='w1'.")
        super().complete_init(cfg_to_load_model)

    def build_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        cfgs = self._optimizer_cfgs
        return super().build_optimizers() | {
            "transition_model": make_optimizer(cfgs["transition_model"], self.transition_model.parameters()),
            "reward_decoder": make_optimizer(cfgs["reward_decoder"], self.reward_decoder.parameters()),
        }

    def networks(self) -> dict[str, nn.Module]:
        return super().networks() | {"transition_model": self.transition_model, "reward_decoder": self.reward_decoder}

    def update(self, batch: Batch, step: int) -> dict[str, float]:
        """SAC step, then the latent model, then the next-observation decoder every ``decoder_update_freq`` steps."""
        with self.autocast():
            metrics = self.update_critic(batch)
            if step % self.actor_update_freq == 0:
                metrics.update(self.update_actor_and_alpha(batch))
            if step % self.critic_target_update_freq == 0:
                self.soft_update_targets()
            metrics.update(self.update_transition_reward_model(batch))
            if self.trains_decoder and step % self.decoder_update_freq == 0:
                metrics.update(self.update_decoder(batch))
        return metrics

    def predict_next_latent(self, latent: Tensor, action: Tensor) -> Tensor:
        """``z_hat' = f(z, a)``: for a Gaussian model the mean ``mu``, or a sample ``mu + sigma · eps`` with
        ``gaussian_decoder_input="sample"``. ``latent`` carries the task embedding in the multi-task mode."""
        prediction = self.transition_model(latent, action)
        if not isinstance(self.transition_model, GaussianTransitionModel):
            return prediction
        return self.decoder_input(*prediction)

    def decoder_input(self, mu: Tensor, sigma: Tensor) -> Tensor:
        """What the decoders read from a Gaussian prediction: ``mu``, or ``mu + sigma · eps`` (``"sample"``)."""
        return mu if self.switches.gaussian_decoder_input == "mean" else mu + sigma * torch.randn_like(mu)

    def update_transition_reward_model(self, batch: Batch) -> dict[str, float]:
        """Transition (eq. 6.1 / 6.4) + reward (eq. 6.2) losses; steps the encoder, transition model, reward decoder.

        ``z'`` comes from the online encoder under ``no_grad`` (the losses also detach it): the target is not moved.
        """
        latent = self.with_task(self.critic.encoder(batch.obs), batch.task)
        action = self.to_policy_action(batch.action)
        with torch.no_grad():
            next_latent = self.critic.encoder(batch.next_obs)
        if isinstance(self.transition_model, GaussianTransitionModel):
            mu, sigma = self.transition_model(latent, action)
        else:
            mu, sigma = self.transition_model(latent, action), None
        transition_loss = transition_loss_per_sample(mu, next_latent, sigma, self.transition_loss_kind,
                                                     self.switches.transition_loss_reduction)
        predicted_next_latent = mu if sigma is None else self.decoder_input(mu, sigma)
        predicted_reward = self.reward_decoder(self.with_task(predicted_next_latent, batch.task))
        reward_loss = (predicted_reward - batch.reward).pow(2)
        loss = self.reduce(transition_loss, batch) + self.reduce(reward_loss, batch)
        metrics = {"transition_loss": transition_loss.mean().item(), "reward_loss": reward_loss.mean().item()}
        extra = self.extra_encoder_loss(latent, mu, sigma, batch)
        if extra is not None:
            loss = loss + extra[0]
            metrics |= extra[1]

        self.step_optimizers(loss, *self.encoder_optimizer_names(), "transition_model", "reward_decoder")
        return metrics

    def extra_encoder_loss(self, latent: Tensor, mu: Tensor, sigma: Tensor | None,
                           batch: Batch) -> tuple[Tensor, dict[str, float]] | None:
        """A further loss stepped with the latent model's (``None`` here: DeepMDP has none; the DBC agent adds its
        bisimulation loss, :mod:`reference_impl.agents.dbc`), and its metrics."""
        return None

    def update_decoder(self, batch: Batch) -> dict[str, float]:
        """Reconstruct the *next* observation from the predicted next latent (eq. 6.3).

        Steps the encoder, the transition model and the decoder.
        """
        latent = self.critic.encoder(batch.obs)
        predicted_next_latent = self.predict_next_latent(self.with_task(latent, batch.task),
                                                         self.to_policy_action(batch.action))
        target = self.reconstruction_target(batch.next_obs)
        rec_loss = sac_ae.reconstruction_loss(self.decoder(predicted_next_latent), target, self.loss_reduction)
        penalty = sac_ae.latent_penalty(latent, self.loss_reduction)
        loss = self.reduce(rec_loss + self.decoder_latent_lambda * penalty, batch)

        self.step_optimizers(loss, *self.encoder_optimizer_names(), "transition_model", "decoder")
        return {"reconstruction_loss": rec_loss.mean().item(), "decoder_loss": loss.item()}
