"""DeepMDP training losses: latent reward and latent transition objectives (book chapter 4).

The DeepMDP losses are sample estimates of the global losses (eq. 4.2) and (eq. 4.3): the latent reward model must
match the observed reward and the latent transition model, pushed through the encoder ``phi``, must match the
next-state distribution. Targets built from the encoder (``phi(s')``) are detached inside every function here, so
the transition loss moves the prediction (encoder of ``s`` and transition model) but never the target.

Every function checks its shapes and raises ``ValueError`` on a mismatch instead of broadcasting.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

REWARD_KINDS = ("mse", "l1")
TRANSITION_KINDS = ("mse", "w1")


def _check_same_shape(first: Tensor, second: Tensor, first_name: str, second_name: str) -> None:
    if first.shape != second.shape:
        raise ValueError(
            f"{first_name} and {second_name} must have the same shape; got {tuple(first.shape)} and "
            f"{tuple(second.shape)}."
        )


def _check_batched_vectors(tensor: Tensor, name: str) -> None:
    if tensor.ndim < 2 or tensor.shape[0] == 0:
        raise ValueError(f"{name} must have shape [B, ...] with B >= 1 and a latent axis; got {tuple(tensor.shape)}.")


def _safe_norm(difference: Tensor) -> Tensor:
    """Euclidean norm over all non-batch axes whose gradient is 0 (not NaN) where the difference vanishes."""
    squared = difference.flatten(start_dim=1).pow(2).sum(dim=1)
    positive = squared > 0
    return torch.where(positive, torch.sqrt(torch.where(positive, squared, torch.ones_like(squared))), 0.0 * squared)


def reward_loss(predicted_reward: Tensor, reward: Tensor, kind: str = "mse") -> Tensor:
    """Empirical reward loss (eq. 4.6): ``mean_i (R_bar(phi(s_i), a_i) - r_i)^2`` (``"mse"``) or the mean absolute
    error (``"l1"``).

    Both tensors must have the same shape, either ``[B]`` or ``[B, 1]``; ``[B]`` against ``[B, 1]`` is an error
    (broadcasting would silently compare every prediction with every reward).
    """
    if kind not in REWARD_KINDS:
        raise ValueError(f"kind must be one of {REWARD_KINDS}; got {kind!r}.")
    _check_same_shape(predicted_reward, reward, "predicted_reward", "reward")
    if predicted_reward.ndim not in (1, 2) or (predicted_reward.ndim == 2 and predicted_reward.shape[1] != 1):
        raise ValueError(f"rewards must have shape [B] or [B, 1]; got {tuple(predicted_reward.shape)}.")
    if predicted_reward.shape[0] == 0:
        raise ValueError("rewards must contain at least one sample.")
    difference = predicted_reward - reward
    return difference.pow(2).mean() if kind == "mse" else difference.abs().mean()


def deterministic_transition_loss(predicted_next_latent: Tensor, next_latent: Tensor, kind: str = "mse") -> Tensor:
    """Transition loss for a deterministic latent model; ``next_latent`` (``phi(s')``) is detached here.

    * ``"w1"`` (eq. 4.7): ``mean_i ||z_hat_i - phi(s'_i)||_2``. When the environment and the latent model are both
      deterministic, ``P(.|s, a)`` is a Dirac at ``s'`` and its image under ``phi`` is a Dirac at ``phi(s')``; the
      1-Wasserstein distance between two Diracs is the distance between their atoms, so this is exactly the
      per-sample ``W_1`` of (eq. 4.3) under the Euclidean latent metric.
    * ``"mse"`` (eq. 4.8): ``mean_i sum_k (z_hat_ik - phi(s'_i)_k)^2``: squared error summed over the latent axes and
      averaged over the batch, i.e. the mean squared ``W_2`` between the Diracs. The public code of DBC and mtrl's
      DeepMDP agent averages ``1/2 (z_hat_ik - phi(s'_i)_k)^2`` over the batch *and* the ``K`` latent axes (their
      Gaussian NLL with ``sigma = 1``), which is this loss divided by ``2 K``: same minimiser, different weight.

    Shapes must match exactly, ``[B, ...]``; all non-batch axes are latent axes.
    """
    if kind not in TRANSITION_KINDS:
        raise ValueError(f"kind must be one of {TRANSITION_KINDS}; got {kind!r}.")
    _check_same_shape(predicted_next_latent, next_latent, "predicted_next_latent", "next_latent")
    _check_batched_vectors(predicted_next_latent, "predicted_next_latent")
    difference = predicted_next_latent - next_latent.detach()
    if kind == "w1":
        return _safe_norm(difference).mean()
    return difference.flatten(start_dim=1).pow(2).sum(dim=1).mean()


def gaussian_transition_nll(mu: Tensor, sigma: Tensor, next_latent: Tensor) -> Tensor:
    """Negative log-likelihood of ``phi(s')`` under ``N(mu, diag(sigma^2))`` (eq. 4.9), averaged over the batch.

    ``mean_i sum_k [ log sigma_ik + (phi(s'_i)_k - mu_ik)^2 / (2 sigma_ik^2) + 0.5 log(2 pi) ]``; the constant
    ``0.5 log(2 pi)`` per latent axis is included, so the value is the exact NLL. ``next_latent`` is detached.
    """
    _check_same_shape(mu, sigma, "mu", "sigma")
    _check_same_shape(mu, next_latent, "mu", "next_latent")
    _check_batched_vectors(mu, "mu")
    if torch.any(sigma <= 0):
        raise ValueError(f"sigma must be strictly positive; got minimum {sigma.min().item():.3g}.")
    target = next_latent.detach()
    per_axis = torch.log(sigma) + (target - mu).pow(2) / (2.0 * sigma.pow(2)) + 0.5 * math.log(2.0 * math.pi)
    return per_axis.flatten(start_dim=1).sum(dim=1).mean()


def gaussian_w2(mu1: Tensor, sigma1: Tensor, mu2: Tensor, sigma2: Tensor) -> Tensor:
    """Closed-form 2-Wasserstein distance between diagonal Gaussians, per sample (eq. 4.10); shape ``[B]``.

    ``W_2(N(mu1, diag sigma1^2), N(mu2, diag sigma2^2)) = sqrt(||mu1 - mu2||_2^2 + ||sigma1 - sigma2||_2^2)``
    (the two covariances commute). ``sigma = 0`` is allowed (a Dirac). Where the distance is 0 the gradient is 0.
    """
    for name, tensor in (("sigma1", sigma1), ("mu2", mu2), ("sigma2", sigma2)):
        _check_same_shape(mu1, tensor, "mu1", name)
    _check_batched_vectors(mu1, "mu1")
    if torch.any(sigma1 < 0) or torch.any(sigma2 < 0):
        raise ValueError("standard deviations must be non-negative.")
    return _safe_norm(torch.cat([(mu1 - mu2).flatten(start_dim=1), (sigma1 - sigma2).flatten(start_dim=1)], dim=1))
