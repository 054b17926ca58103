"""The latent reward model of the DeepMDP agent (book chapter 6): ``r_hat = R(z)``, fed the *predicted* next latent.

Linear(|z| → hidden)–LayerNorm–ReLU–Linear(→ 1), trained with the reward loss (eq. 6.2).
"""

from __future__ import annotations

from torch import Tensor, nn


class RewardDecoder(nn.Module):
    """``z -> r_hat`` with output shape ``[B, 1]``."""

    def __init__(self, feature_dim: int, hidden_dim: int = 512):
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(feature_dim, hidden_dim), nn.LayerNorm(hidden_dim), nn.ReLU(), nn.Linear(hidden_dim, 1)
        )

    def forward(self, latent: Tensor) -> Tensor:
        return self.net(latent)
