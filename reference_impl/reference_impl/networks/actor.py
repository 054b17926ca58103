"""The squashed-Gaussian actor of pixel SAC (book chapter 5).

``u = mu(z) + sigma(z) · eps``, ``a = tanh(u)``, with ``z`` the actor's encoding of the pixels, and

``log pi(a|x) = log N(u; mu, sigma²) - sum_k log(1 - tanh(u_k)²)``  (eq. 5.4)

where the correction term is computed in the stable form ``2 (log 2 - u - softplus(-2u))``.
``log sigma`` is squashed into ``[log_std_min, log_std_max]`` with a tanh.
The actor owns its encoder; the agent ties that encoder's convolutions to the critic's (see ``sac.Agent``). In the
multi-task mode the policy reads ``z`` concatenated with a task embedding of ``task_dim`` coordinates.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from reference_impl.networks.encoder import PixelEncoder
from reference_impl.networks.mlp import mlp


def squashed_gaussian_log_prob(noise: Tensor, log_std: Tensor, pre_tanh: Tensor) -> Tensor:
    """(eq. 5.4) for ``u = mu + sigma · noise``; returns ``[B, 1]``."""
    gaussian = (-0.5 * noise.pow(2) - log_std).sum(dim=-1, keepdim=True) - 0.5 * math.log(2 * math.pi) * noise.shape[-1]
    tanh_correction = 2.0 * (math.log(2.0) - pre_tanh - F.softplus(-2.0 * pre_tanh))
    return gaussian - tanh_correction.sum(dim=-1, keepdim=True)


class Actor(nn.Module):
    """``x -> (mu, a, log pi(a|x), log sigma)`` with ``a = tanh(mu + sigma · eps)`` in ``[-1, 1]^|A|``."""

    def __init__(
        self,
        obs_shape: Sequence[int],
        action_dim: int,
        encoder: dict,
        hidden_dim: int = 1024,
        num_hidden_layers: int = 2,
        log_std_min: float = -10.0,
        log_std_max: float = 2.0,
        task_dim: int = 0,
    ):
        super().__init__()
        if log_std_min >= log_std_max:
            raise ValueError(f"log_std_min must be < log_std_max; got {log_std_min} and {log_std_max}.")
        self.encoder = PixelEncoder(obs_shape, **encoder)
        self.trunk = mlp(self.encoder.feature_dim + task_dim, hidden_dim, 2 * action_dim, num_hidden_layers)
        self.log_std_min = log_std_min
        self.log_std_max = log_std_max

    def policy(self, latent: Tensor, sample: bool = True) -> tuple[Tensor, Tensor, Tensor | None, Tensor]:
        """The policy head on an encoding: returns ``(tanh(mu), a, log pi(a|x), log sigma)``.

        With ``sample=False`` the action is the mode ``tanh(mu)`` and ``log pi`` is ``None`` (no noise is drawn).
        """
        mu, log_std = self.trunk(latent).chunk(2, dim=-1)
        log_std = self.log_std_min + 0.5 * (self.log_std_max - self.log_std_min) * (torch.tanh(log_std) + 1.0)
        if not sample:
            return torch.tanh(mu), torch.tanh(mu), None, log_std
        noise = torch.randn_like(mu)
        pre_tanh = mu + noise * log_std.exp()
        log_pi = squashed_gaussian_log_prob(noise, log_std, pre_tanh)
        return torch.tanh(mu), torch.tanh(pre_tanh), log_pi, log_std

    def forward(self, obs: Tensor, sample: bool = True):
        """Encode pixels with the actor's encoder, then :meth:`policy` (single-task: no task embedding)."""
        return self.policy(self.encoder(obs), sample=sample)
