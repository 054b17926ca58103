"""The small *functional* networks that the chapter 5 and 6 notebooks give the student (their locked cells print
the same code). Weights are dictionaries of tensors, so a whole agent's parameters are plain data that can be sent
to the student's process and compared entry by entry after an update.

They mirror the agent's networks (book chapters 5-6) at toy size: the encoder is one linear layer instead of a
convolution stack, the heads are Linear-LayerNorm-ReLU-Linear, and the actor draws its reparameterised action from
a *given* noise tensor so that every update is deterministic.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

LOG_STD_MIN, LOG_STD_MAX = -10.0, 2.0


def mlp(weights: dict, x: torch.Tensor) -> torch.Tensor:
    """Linear - LayerNorm - ReLU - Linear with weights ``W1, b1, W2, b2``."""
    h = F.layer_norm(x @ weights["W1"] + weights["b1"], (weights["b1"].shape[0],))
    return torch.relu(h) @ weights["W2"] + weights["b2"]


def encoder(weights: dict, obs: torch.Tensor) -> torch.Tensor:
    """``tanh(flatten(obs / 255) W + b)``: pixels (0..255) to a latent vector (a one-layer eq. 5.1)."""
    return torch.tanh((obs / 255.0).flatten(start_dim=1) @ weights["W"] + weights["b"])


def policy(weights: dict, latent: torch.Tensor, noise: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Tanh-squashed Gaussian (eq. 5.4): ``a = tanh(mu + sigma * noise)`` and ``log pi(a | z)``, shape ``[B, 1]``."""
    mu, log_std = mlp(weights, latent).chunk(2, dim=-1)
    log_std = LOG_STD_MIN + 0.5 * (LOG_STD_MAX - LOG_STD_MIN) * (torch.tanh(log_std) + 1)
    pre_tanh = mu + noise * log_std.exp()
    gaussian_log_prob = (-0.5 * noise.pow(2) - log_std - 0.5 * math.log(2 * math.pi)).sum(dim=-1, keepdim=True)
    log_det_tanh = (2 * (math.log(2) - pre_tanh - F.softplus(-2 * pre_tanh))).sum(dim=-1, keepdim=True)
    return torch.tanh(pre_tanh), gaussian_log_prob - log_det_tanh


def q_values(weights: dict, latent: torch.Tensor, action: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The twin Q heads ``Q_1(z, a), Q_2(z, a)``, each ``[B, 1]``; ``weights = {"Q1": ..., "Q2": ...}``."""
    x = torch.cat([latent, action], dim=1)
    return mlp(weights["Q1"], x), mlp(weights["Q2"], x)


def transition_model(weights: dict, latent: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
    """``f(z, a)``: the predicted next latent."""
    return mlp(weights, torch.cat([latent, action], dim=1))


def reward_decoder(weights: dict, latent: torch.Tensor) -> torch.Tensor:
    """``R(z)``, shape ``[B, 1]``."""
    return mlp(weights, latent)


def decoder(weights: dict, latent: torch.Tensor, shape: tuple[int, ...]) -> torch.Tensor:
    """One linear layer reshaped to images ``[B, *shape]`` (values compared with pixels / 255)."""
    return (latent @ weights["W"] + weights["b"]).reshape(-1, *shape)


def random_mlp_weights(rng, d_in: int, hidden: int, d_out: int) -> dict:
    """Standard-normal float64 weights for :func:`mlp` (``rng``: a numpy ``Generator``)."""
    shapes = {"W1": (d_in, hidden), "b1": (hidden,), "W2": (hidden, d_out), "b2": (d_out,)}
    return {name: torch.tensor(rng.normal(size=shape), dtype=torch.float64) for name, shape in shapes.items()}
