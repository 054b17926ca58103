"""The DeepMDP agent: SAC-AE whose encoder is also shaped by a latent transition and reward model (book chapter 6).

:meth:`Agent.update` runs, in order: critic → actor and α (every ``actor_update_freq``) → target networks (every
``critic_target_update_freq``) → :meth:`Agent.update_transition_reward_model` → :meth:`Agent.update_decoder` (every
``decoder_update_freq``). With ``z = phi(x)`` from the online critic encoder and ``z' = phi(x')`` from the *same
online* encoder, detached:

* transition loss ``mean_i ||f(z_i, a_i) - sg(z'_i)||²``  (eq. 6.1; ``kind="w1"`` uses the unsquared norm, and a
  Gaussian model uses the negative log-likelihood, eq. 6.4);
* reward loss ``mean_i (R(f(z_i, a_i)) - r_i)²`` — the reward is predicted from the *predicted next* latent  (eq. 6.2);
* next-observation reconstruction ``mean ||g(f(z, a)) - x'/255||² / (C·H·W) + lambda_z · mean ½||z||²``  (eq. 6.3):
  unlike SAC-AE, the decoder reconstructs the *next* observation from the predicted next latent.

The loss functions are those of chapter 4 (:mod:`reference_impl.deepmdp.losses`).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from reference_impl.agents import sac_ae
from reference_impl.agents.sac import Batch, ConfigLike, make_optimizer, to_dict
from reference_impl.deepmdp.losses import deterministic_transition_loss, gaussian_transition_nll, reward_loss
from reference_impl.networks import GaussianTransitionModel, RewardDecoder, make_transition_model, orthogonal_init_


class Agent(sac_ae.Agent):
    """SAC-AE plus a latent transition model and a reward decoder on the shared encoder (the chapter 6 agent)."""

    def __init__(
        self,
        env_obs_shape: Sequence[int],
        action_shape: Sequence[int],
        action_range: tuple[float, float],
        device: str | torch.device,
        actor_cfg: ConfigLike,
        critic_cfg: ConfigLike,
        decoder_cfg: ConfigLike,
        reward_decoder_cfg: ConfigLike,
        transition_model_cfg: ConfigLike,
        actor_optimizer_cfg: ConfigLike,
        critic_optimizer_cfg: ConfigLike,
        alpha_optimizer_cfg: ConfigLike,
        decoder_optimizer_cfg: ConfigLike,
        encoder_optimizer_cfg: ConfigLike,
        reward_decoder_optimizer_cfg: ConfigLike,
        transition_model_optimizer_cfg: ConfigLike,
        discount: float = 0.99,
        init_temperature: float = 0.1,
        actor_update_freq: int = 2,
        critic_tau: float = 0.01,
        critic_target_update_freq: int = 2,
        encoder_tau: float = 0.05,
        decoder_update_freq: int = 1,
        decoder_latent_lambda: float = 1e-6,
    ):
        super().__init__(
            env_obs_shape=env_obs_shape,
            action_shape=action_shape,
            action_range=action_range,
            device=device,
            actor_cfg=actor_cfg,
            critic_cfg=critic_cfg,
            decoder_cfg=decoder_cfg,
            actor_optimizer_cfg=actor_optimizer_cfg,
            critic_optimizer_cfg=critic_optimizer_cfg,
            alpha_optimizer_cfg=alpha_optimizer_cfg,
            decoder_optimizer_cfg=decoder_optimizer_cfg,
            encoder_optimizer_cfg=encoder_optimizer_cfg,
            discount=discount,
            init_temperature=init_temperature,
            actor_update_freq=actor_update_freq,
            critic_tau=critic_tau,
            critic_target_update_freq=critic_target_update_freq,
            encoder_tau=encoder_tau,
            decoder_update_freq=decoder_update_freq,
            decoder_latent_lambda=decoder_latent_lambda,
        )
        feature_dim = self.critic.encoder.feature_dim
        transition_cfg = to_dict(transition_model_cfg)
        self.transition_loss_kind = transition_cfg.pop("loss_kind", "mse")
        self.transition_model = make_transition_model(
            feature_dim=feature_dim, action_dim=self.action_dim, **transition_cfg
        ).to(self.device)
        self.reward_decoder = RewardDecoder(feature_dim, **to_dict(reward_decoder_cfg)).to(self.device)
        self.transition_model.apply(orthogonal_init_)
        self.reward_decoder.apply(orthogonal_init_)
        self.transition_model_optimizer = make_optimizer(
            transition_model_optimizer_cfg, self.transition_model.parameters()
        )
        self.reward_decoder_optimizer = make_optimizer(reward_decoder_optimizer_cfg, self.reward_decoder.parameters())

    def networks(self) -> dict[str, nn.Module]:
        return super().networks() | {"transition_model": self.transition_model, "reward_decoder": self.reward_decoder}

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return super().optimizers() | {
            "transition_model": self.transition_model_optimizer,
            "reward_decoder": self.reward_decoder_optimizer,
        }

    def update(self, batch: Batch, step: int) -> dict[str, float]:
        """SAC step, then the latent model, then the next-observation decoder every ``decoder_update_freq`` steps."""
        metrics = self.update_critic(batch)
        if step % self.actor_update_freq == 0:
            metrics.update(self.update_actor_and_alpha(batch))
        if step % self.critic_target_update_freq == 0:
            self.soft_update_targets()
        metrics.update(self.update_transition_reward_model(batch))
        if step % self.decoder_update_freq == 0:
            metrics.update(self.update_decoder(batch))
        return metrics

    def predict_next_latent(self, latent: Tensor, action: Tensor) -> Tensor:
        """``z_hat' = f(z, a)`` (the mean ``mu`` for a Gaussian model)."""
        prediction = self.transition_model(latent, action)
        return prediction[0] if isinstance(self.transition_model, GaussianTransitionModel) else prediction

    def update_transition_reward_model(self, batch: Batch) -> dict[str, float]:
        """Transition (eq. 6.1 / 6.4) + reward (eq. 6.2) losses; steps the encoder, transition model, reward decoder.

        ``z'`` comes from the online encoder under ``no_grad`` (the losses also detach it): the target is not moved.
        """
        latent = self.critic.encoder(batch.obs)
        with torch.no_grad():
            next_latent = self.critic.encoder(batch.next_obs)
        if isinstance(self.transition_model, GaussianTransitionModel):
            mu, sigma = self.transition_model(latent, batch.action)
            transition_loss = gaussian_transition_nll(mu, sigma, next_latent)
            predicted_next_latent = mu
        else:
            predicted_next_latent = self.transition_model(latent, batch.action)
            transition_loss = deterministic_transition_loss(
                predicted_next_latent, next_latent, kind=self.transition_loss_kind
            )
        predicted_reward = self.reward_decoder(predicted_next_latent)
        reward_prediction_loss = reward_loss(predicted_reward, batch.reward)
        loss = transition_loss + reward_prediction_loss

        self.encoder_optimizer.zero_grad(set_to_none=True)
        self.transition_model_optimizer.zero_grad(set_to_none=True)
        self.reward_decoder_optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.encoder_optimizer.step()
        self.transition_model_optimizer.step()
        self.reward_decoder_optimizer.step()
        return {"transition_loss": transition_loss.item(), "reward_loss": reward_prediction_loss.item()}

    def update_decoder(self, batch: Batch) -> dict[str, float]:
        """Reconstruct the *next* observation from the predicted next latent (eq. 6.3).

        Steps the encoder, the transition model and the decoder.
        """
        latent = self.critic.encoder(batch.obs)
        reconstruction = self.decoder(self.predict_next_latent(latent, batch.action))
        reconstruction_loss = F.mse_loss(reconstruction, self.critic.encoder.preprocess(batch.next_obs))
        latent_penalty = 0.5 * latent.pow(2).sum(dim=1).mean()
        loss = reconstruction_loss + self.decoder_latent_lambda * latent_penalty

        self.encoder_optimizer.zero_grad(set_to_none=True)
        self.transition_model_optimizer.zero_grad(set_to_none=True)
        self.decoder_optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.encoder_optimizer.step()
        self.transition_model_optimizer.step()
        self.decoder_optimizer.step()
        return {"reconstruction_loss": reconstruction_loss.item(), "decoder_loss": loss.item()}
