"""SAC-AE: pixel SAC whose encoder is also trained to reconstruct the observation (book chapter 5).

:meth:`Agent.update` runs the SAC step (critic → actor and α → targets) and then, every ``decoder_update_freq``
steps, :meth:`Agent.update_decoder`:

``L_rec = mean ||g(phi(x)) - x / 255||² / (C·H·W) + lambda_z · mean ½ ||phi(x)||²``  (eq. 5.8)

The reconstruction gradient reaches the critic's encoder (stepped by ``encoder_optimizer``) and the decoder
(``decoder_optimizer``; weight decay on the decoder is set in its optimizer config). The decoder mirrors the
encoder unless ``decoder_cfg`` overrides ``num_layers`` / ``num_filters``.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from reference_impl.agents import sac
from reference_impl.agents.sac import Batch, ConfigLike, make_optimizer, to_dict
from reference_impl.networks import PixelDecoder, orthogonal_init_


class Agent(sac.Agent):
    """Pixel SAC plus a pixel decoder on the critic's encoder (the chapter 5 SAC-AE agent)."""

    def __init__(
        self,
        env_obs_shape: Sequence[int],
        action_shape: Sequence[int],
        action_range: tuple[float, float],
        device: str | torch.device,
        actor_cfg: ConfigLike,
        critic_cfg: ConfigLike,
        decoder_cfg: ConfigLike,
        actor_optimizer_cfg: ConfigLike,
        critic_optimizer_cfg: ConfigLike,
        alpha_optimizer_cfg: ConfigLike,
        decoder_optimizer_cfg: ConfigLike,
        encoder_optimizer_cfg: ConfigLike,
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
            actor_optimizer_cfg=actor_optimizer_cfg,
            critic_optimizer_cfg=critic_optimizer_cfg,
            encoder_optimizer_cfg=encoder_optimizer_cfg,
            alpha_optimizer_cfg=alpha_optimizer_cfg,
            discount=discount,
            init_temperature=init_temperature,
            actor_update_freq=actor_update_freq,
            critic_tau=critic_tau,
            critic_target_update_freq=critic_target_update_freq,
            encoder_tau=encoder_tau,
        )
        if decoder_update_freq < 1 or decoder_latent_lambda < 0:
            raise ValueError(
                f"need decoder_update_freq >= 1 and decoder_latent_lambda >= 0; got {decoder_update_freq}, "
                f"{decoder_latent_lambda}."
            )
        self.decoder_update_freq = decoder_update_freq
        self.decoder_latent_lambda = decoder_latent_lambda
        encoder = self.critic.encoder
        mirror_of_encoder = {
            "feature_dim": encoder.feature_dim, "num_layers": encoder.num_layers, "num_filters": encoder.num_filters
        }
        self.decoder = PixelDecoder(encoder.obs_shape, **(mirror_of_encoder | to_dict(decoder_cfg))).to(self.device)
        self.decoder.apply(orthogonal_init_)
        self.decoder_optimizer = make_optimizer(decoder_optimizer_cfg, self.decoder.parameters())

    def networks(self) -> dict[str, nn.Module]:
        return super().networks() | {"decoder": self.decoder}

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return super().optimizers() | {"decoder": self.decoder_optimizer}

    def update(self, batch: Batch, step: int) -> dict[str, float]:
        """SAC step, then the decoder every ``decoder_update_freq`` steps."""
        metrics = self.update_critic(batch)
        if step % self.actor_update_freq == 0:
            metrics.update(self.update_actor_and_alpha(batch))
        if step % self.critic_target_update_freq == 0:
            self.soft_update_targets()
        if step % self.decoder_update_freq == 0:
            metrics.update(self.update_decoder(batch))
        return metrics

    def update_decoder(self, batch: Batch) -> dict[str, float]:
        """Reconstruct the *current* observation from ``phi(x)`` (eq. 5.8); steps the encoder and the decoder."""
        latent = self.critic.encoder(batch.obs)
        reconstruction = self.decoder(latent)
        reconstruction_loss = F.mse_loss(reconstruction, self.critic.encoder.preprocess(batch.obs))
        latent_penalty = 0.5 * latent.pow(2).sum(dim=1).mean()
        loss = reconstruction_loss + self.decoder_latent_lambda * latent_penalty

        self.encoder_optimizer.zero_grad(set_to_none=True)
        self.decoder_optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.encoder_optimizer.step()
        self.decoder_optimizer.step()
        return {"reconstruction_loss": reconstruction_loss.item(), "decoder_loss": loss.item()}
