"""SAC-AE: pixel SAC whose encoder is also trained to reconstruct the observation (book chapter 5).

:meth:`Agent.update` runs the SAC step (critic → actor and α → targets) and then, every ``decoder_update_freq``
steps, :meth:`Agent.update_decoder`:

``L_rec = mean ||g(phi(x)) - x / 255||² / (C·H·W) + lambda_z · mean ½ ||phi(x)||²``  (eq. 5.8)

The reconstruction gradient reaches the critic's encoder (stepped by ``encoder_optimizer``) and the decoder
(``decoder_optimizer``; weight decay on the decoder is set in its optimizer config). The decoder mirrors the
encoder unless ``decoder_cfg`` overrides ``num_layers`` / ``num_filters``. ``decoder_target="quantized"``
reconstructs the public codes' 5-bit target instead of ``x / 255`` (:func:`quantized_target`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from reference_impl.agents import sac
from reference_impl.agents.sac import ConfigLike, make_optimizer, to_dict
from reference_impl.networks import PixelDecoder, orthogonal_init_
from reference_impl.replay_buffer import Batch

QUANTIZATION_BITS = 5


def quantized_target(obs: Tensor, dtype: torch.dtype = torch.float32) -> Tensor:
    """The public codes' decoder target for ``uint8`` pixels ``x`` (pytorch_sac_ae's ``preprocess_obs``):
    ``floor(x / 2^(8-b)) / 2^b + u - 0.5`` with ``u ~ U[0, 2^-b)`` and ``b = 5`` bits."""
    bins = 2**QUANTIZATION_BITS
    quantized = torch.floor(obs.to(dtype) / 2 ** (8 - QUANTIZATION_BITS)) / bins
    return quantized + torch.rand_like(quantized) / bins - 0.5


def reconstruction_loss(reconstruction: Tensor, target: Tensor, reduction: str) -> Tensor:
    """Mean squared error over the pixels: a scalar (``"mean"``) or one value per sample ``[B, 1]`` (``"none"``)."""
    if reduction == "mean":
        return F.mse_loss(reconstruction, target)
    return (reconstruction - target).pow(2).flatten(start_dim=1).mean(dim=1, keepdim=True)


def latent_penalty(latent: Tensor, reduction: str) -> Tensor:
    """``½ ||z||²`` per sample, averaged over the batch with ``"mean"``."""
    if reduction == "mean":
        return 0.5 * latent.pow(2).sum(dim=1).mean()
    return 0.5 * latent.pow(2).sum(dim=1, keepdim=True)


class Agent(sac.Agent):
    """Pixel SAC plus a pixel decoder on the critic's encoder (the chapter 5 SAC-AE agent)."""

    def __init__(
        self,
        env_obs_shape: Sequence[int],
        action_shape: Sequence[int],
        action_range: tuple[Any, Any],
        device: str | torch.device,
        actor_cfg: ConfigLike,
        critic_cfg: ConfigLike,
        decoder_cfg: ConfigLike,
        alpha_optimizer_cfg: ConfigLike,
        actor_optimizer_cfg: ConfigLike,
        critic_optimizer_cfg: ConfigLike,
        multitask_cfg: ConfigLike,
        decoder_optimizer_cfg: ConfigLike,
        encoder_optimizer_cfg: ConfigLike,
        discount: float,
        init_temperature: float,
        actor_update_freq: int,
        critic_tau: float,
        critic_target_update_freq: int,
        encoder_tau: float,
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
            alpha_optimizer_cfg=alpha_optimizer_cfg,
            actor_optimizer_cfg=actor_optimizer_cfg,
            critic_optimizer_cfg=critic_optimizer_cfg,
            multitask_cfg=multitask_cfg,
            encoder_optimizer_cfg=encoder_optimizer_cfg,
            discount=discount,
            init_temperature=init_temperature,
            actor_update_freq=actor_update_freq,
            critic_tau=critic_tau,
            critic_target_update_freq=critic_target_update_freq,
            encoder_tau=encoder_tau,
            loss_reduction=loss_reduction,
            cfg_to_load_model=None,
            should_complete_init=False,
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
        self._optimizer_cfgs["decoder"] = decoder_optimizer_cfg
        if should_complete_init:
            self.complete_init(cfg_to_load_model)

    def build_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        optimizers = super().build_optimizers()
        return optimizers | {"decoder": make_optimizer(self._optimizer_cfgs["decoder"], self.decoder.parameters())}

    def networks(self) -> dict[str, nn.Module]:
        return super().networks() | {"decoder": self.decoder}

    @property
    def decoder_optimizer(self) -> torch.optim.Optimizer:
        return self.optimizers()["decoder"]

    def update(self, batch: Batch, step: int) -> dict[str, float]:
        """SAC step, then the decoder every ``decoder_update_freq`` steps."""
        with self.autocast():
            metrics = self.update_critic(batch)
            if step % self.actor_update_freq == 0:
                metrics.update(self.update_actor_and_alpha(batch))
            if step % self.critic_target_update_freq == 0:
                self.soft_update_targets()
            if step % self.decoder_update_freq == 0:
                metrics.update(self.update_decoder(batch))
        return metrics

    def reconstruction_target(self, obs: Tensor) -> Tensor:
        """``x / 255`` (``decoder_target="scaled"``, eq. 5.8) or :func:`quantized_target` (``"quantized"``)."""
        if self.switches.decoder_target == "scaled":
            return self.critic.encoder.preprocess(obs)
        return quantized_target(obs, self.critic.encoder.fc.weight.dtype)

    def update_decoder(self, batch: Batch) -> dict[str, float]:
        """Reconstruct the *current* observation from ``phi(x)`` (eq. 5.8); steps the encoder and the decoder."""
        latent = self.critic.encoder(batch.obs)
        reconstruction = self.decoder(latent)
        target = self.reconstruction_target(batch.obs)
        rec_loss = reconstruction_loss(reconstruction, target, self.loss_reduction)
        loss = self.reduce(rec_loss + self.decoder_latent_lambda * latent_penalty(latent, self.loss_reduction), batch)
        self.step_optimizers(loss, *self.encoder_optimizer_names(), "decoder")
        return {"reconstruction_loss": rec_loss.mean().item(), "decoder_loss": loss.item()}
