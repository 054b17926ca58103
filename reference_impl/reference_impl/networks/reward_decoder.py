"""The latent reward model of the DeepMDP agent (book chapter 6): ``r_hat = R(z)``, fed the *predicted* next latent.

Linear(|z| → hidden)–LayerNorm–ReLU–Linear(→ 1), trained with the reward loss (eq. 6.2). In the multi-task mode
``z`` carries the task embedding too (``feature_dim`` is then the encoder's plus the embedding's width).
"""

from __future__ import annotations

from torch import Tensor, nn

from reference_impl.networks.mlp import mlp


class RewardDecoder(nn.Module):
    """``z -> r_hat`` with output shape ``[B, 1]``."""

    def __init__(self, feature_dim: int, hidden_dim: int = 512):
        super().__init__()
        self.net = mlp(feature_dim, hidden_dim, 1, 1, layer_norm=True)

    def forward(self, latent: Tensor) -> Tensor:
        return self.net(latent)
