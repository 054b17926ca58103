"""The twin soft Q-functions of pixel SAC (book chapter 5): ``Q_1(z, a)`` and ``Q_2(z, a)`` on one shared encoder.

In the multi-task mode ``z`` is the encoding concatenated with a task embedding of ``task_dim`` coordinates."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from reference_impl.networks.encoder import PixelEncoder
from reference_impl.networks.mlp import mlp


class QFunction(nn.Module):
    """``Q(z, a)``: an MLP on the concatenation of a latent and an action; output ``[B, 1]``."""

    def __init__(self, feature_dim: int, action_dim: int, hidden_dim: int, num_hidden_layers: int = 2):
        super().__init__()
        self.net = mlp(feature_dim + action_dim, hidden_dim, 1, num_hidden_layers)

    def forward(self, latent: Tensor, action: Tensor) -> Tensor:
        if latent.shape[0] != action.shape[0]:
            raise ValueError(f"latent and action batch sizes differ: {latent.shape[0]} vs {action.shape[0]}.")
        return self.net(torch.cat([latent, action], dim=-1))


class Critic(nn.Module):
    """Pixel encoder followed by two independent Q heads (clipped double-Q, eq. 5.2)."""

    def __init__(
        self,
        obs_shape: Sequence[int],
        action_dim: int,
        encoder: dict,
        hidden_dim: int = 1024,
        num_hidden_layers: int = 2,
        task_dim: int = 0,
    ):
        super().__init__()
        self.encoder = PixelEncoder(obs_shape, **encoder)
        self.Q1 = QFunction(self.encoder.feature_dim + task_dim, action_dim, hidden_dim, num_hidden_layers)
        self.Q2 = QFunction(self.encoder.feature_dim + task_dim, action_dim, hidden_dim, num_hidden_layers)

    def q_values(self, latent: Tensor, action: Tensor) -> tuple[Tensor, Tensor]:
        """Both heads on an already computed encoding."""
        return self.Q1(latent, action), self.Q2(latent, action)

    def forward(self, obs: Tensor, action: Tensor) -> tuple[Tensor, Tensor]:
        """``(Q_1(phi(x), a), Q_2(phi(x), a))`` (single-task: no task embedding)."""
        return self.q_values(self.encoder(obs), action)

    def heads(self) -> list[nn.Module]:
        """The Q heads (everything but the encoder)."""
        return [self.Q1, self.Q2]
