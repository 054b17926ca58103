"""Documented switches between the course's update and the public codes' (pytorch_sac_ae, mtrl) — book chapters 6–7.

Each switch names one measured difference; the default is the course's behaviour, the other value the public codes'.
They live in the agent's Hydra config group (``agent.decoder_target=quantized`` …), so a sweep can flip them.

* ``decoder_target``: ``scaled`` (default) reconstructs ``x / 255`` (eq. 5.8); ``quantized`` reconstructs
  pytorch_sac_ae's ``preprocess_obs(x)`` = ``floor(x / 8) / 32 + u - 0.5`` with ``u ~ U[0, 1/32)``: 5-bit
  quantisation, uniform dequantisation noise, shifted to ``[-0.5, 0.5]``.
* ``encoder_optimizer``: ``shared`` (default): the critic's encoder is in one Adam, stepped by the critic loss and by
  the representation losses. ``separate``: the encoder is in the critic's Adam (stepped by the critic loss) *and*
  in its own Adam (stepped by the representation losses): two independent Adam states, two steps per update.
* ``alpha_loss``: ``log_alpha`` (default) ``mean [log alpha (-log pi - H)]`` (eq. 5.6); ``alpha``
  ``mean [alpha (-log pi - H)]``: same fixed point, gradient in ``log alpha`` scaled by ``alpha``.
* ``transition_loss_reduction``: ``sum_dims`` (default) ``mean_i sum_k Δ_ik²`` (eq. 6.1) and the exact Gaussian NLL
  (eq. 6.4); ``mean_half`` (mtrl, DBC) ``mean_{i,k} ½ Δ_ik²`` — ``1/(2d)`` of ours — and for a Gaussian model
  ``mean_{i,k} [½ (Δ_ik/σ_ik)² + log σ_ik]``.
* ``gaussian_decoder_input`` (Gaussian transition model): ``mean`` (default) — the reward decoder and the pixel
  decoder read ``μ``; ``sample`` — they read ``μ + σ ε``, ``ε ~ N(0, I)``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

CHOICES: dict[str, tuple[str, str]] = {
    "decoder_target": ("scaled", "quantized"),
    "encoder_optimizer": ("shared", "separate"),
    "alpha_loss": ("log_alpha", "alpha"),
    "transition_loss_reduction": ("sum_dims", "mean_half"),
    "gaussian_decoder_input": ("mean", "sample"),
}


@dataclass(frozen=True)
class UpdateSwitches:
    """The five switches; each field's first choice in :data:`CHOICES` is the default (the course's update)."""

    decoder_target: str = "scaled"
    encoder_optimizer: str = "shared"
    alpha_loss: str = "log_alpha"
    transition_loss_reduction: str = "sum_dims"
    gaussian_decoder_input: str = "mean"

    def __post_init__(self) -> None:
        for name, value in asdict(self).items():
            if value not in CHOICES[name]:
                raise ValueError(f"{name} must be one of {CHOICES[name]}; got {value!r}.")

    @classmethod
    def public(cls) -> UpdateSwitches:
        """Every switch at the public codes' value."""
        return cls(**{name: choices[1] for name, choices in CHOICES.items()})

    @classmethod
    def from_config(cls, cfg: Mapping[str, Any]) -> UpdateSwitches:
        """The switches found among ``cfg``'s keys (others ignored: an agent node also holds the builder etc.)."""
        return cls(**{name: str(cfg[name]) for name in CHOICES if name in cfg})
