"""Latent transition models of the DeepMDP agent (book chapter 6).

Deterministic: ``z_hat' = f(z, a)`` with ``f`` = Linear(|z|+|A| → hidden)–LayerNorm–ReLU–Linear(→ |z|), trained with
the deterministic transition loss (eq. 6.1). Gaussian: the same trunk outputs ``mu`` and a bounded ``sigma`` of
``N(z'; mu, diag sigma²)``, trained with the Gaussian negative log-likelihood (eq. 6.4).

In the multi-task mode the input latent also carries a task embedding of ``task_dim`` coordinates; the model still
predicts only the ``feature_dim`` coordinates of the encoder (the task does not change within an episode).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from reference_impl.networks.mlp import mlp


class DeterministicTransitionModel(nn.Module):
    """``(z, a) -> z_hat'`` (eq. 6.1)."""

    def __init__(self, feature_dim: int, action_dim: int, hidden_dim: int = 512, task_dim: int = 0):
        super().__init__()
        self.trunk = mlp(feature_dim + task_dim + action_dim, hidden_dim, feature_dim, 1, layer_norm=True)

    def forward(self, latent: Tensor, action: Tensor) -> Tensor:
        return self.trunk(torch.cat([latent, action], dim=-1))


class GaussianTransitionModel(nn.Module):
    """``(z, a) -> (mu, sigma)`` with ``sigma = sigma_min + (sigma_max - sigma_min) · sigmoid(s)`` (eq. 6.4)."""

    def __init__(self, feature_dim: int, action_dim: int, hidden_dim: int = 512, min_sigma: float = 1e-4,
                 max_sigma: float = 10.0, task_dim: int = 0):
        super().__init__()
        if not 0 < min_sigma < max_sigma:
            raise ValueError(f"need 0 < min_sigma < max_sigma; got {min_sigma} and {max_sigma}.")
        self.trunk = mlp(feature_dim + task_dim + action_dim, hidden_dim, 2 * feature_dim, 1, layer_norm=True)
        self.min_sigma = min_sigma
        self.max_sigma = max_sigma

    def forward(self, latent: Tensor, action: Tensor) -> tuple[Tensor, Tensor]:
        mu, raw_sigma = self.trunk(torch.cat([latent, action], dim=-1)).chunk(2, dim=-1)
        return mu, self.min_sigma + (self.max_sigma - self.min_sigma) * torch.sigmoid(raw_sigma)


def make_transition_model(kind: str, feature_dim: int, action_dim: int, hidden_dim: int = 512,
                          task_dim: int = 0) -> nn.Module:
    """``kind`` is ``"deterministic"`` or ``"gaussian"``."""
    if kind == "deterministic":
        return DeterministicTransitionModel(feature_dim, action_dim, hidden_dim, task_dim)
    if kind == "gaussian":
        return GaussianTransitionModel(feature_dim, action_dim, hidden_dim, task_dim=task_dim)
    raise ValueError(f"transition model kind must be 'deterministic' or 'gaussian'; got {kind!r}.")
