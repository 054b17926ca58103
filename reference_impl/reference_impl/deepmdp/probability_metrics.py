"""The probability metrics of DeepMDP's "variety of metrics" and the transition losses they lead to (book chapter 4).

Gelada et al. (2019) state their value bounds for any metric of the form ``D_F(P, Q) = sup_{f in F} |E_P f - E_Q f|``
(an integral probability metric; eq. 4.17). Three choices of the function class ``F`` give three metrics:

* ``F = {f : span f <= 1}``: the **total variation** ``TV(p, q) = 1/2 sum_z |p(z) - q(z)|`` (eq. 4.18);
* ``F = {f : f 1-Lipschitz}``: the **Wasserstein-1** distance (chapter 3; ``deterministic_transition_loss``);
* ``F`` = unit ball of the reproducing-kernel Hilbert space of the distance-induced kernel
  ``k(x, y) = 1/2 (||x|| + ||y|| - ||x - y||)``: the **norm-MMD**, whose square is half the **energy distance**
  ``ED(P, Q) = 2 E||X - Y|| - E||X - X'|| - E||Y - Y'||`` (eq. 4.19).

The losses: TV has no useful sample loss for a deterministic model of a continuous latent (``TV(delta_z, q) = 1``
unless ``q`` has an atom at ``z``); Pinsker's inequality ``TV <= sqrt(KL / 2)`` makes the Gaussian negative
log-likelihood (``losses.gaussian_transition_nll``) its surrogate. For Diracs the squared norm-MMD *is* the W1 loss
(``ED(delta_x, delta_y) / 2 = ||x - y||``); for a stochastic model it is estimated without bias from model samples by
the energy score (``energy_score_loss``, eq. 4.20).
"""

from __future__ import annotations

import torch
from torch import Tensor


def _check_distributions(p: Tensor, q: Tensor, atol: float = 1e-6) -> None:
    if p.shape != q.shape or p.ndim != 2 or p.shape[0] == 0:
        raise ValueError(f"p and q must both have shape [B, K] with B >= 1; got {tuple(p.shape)}, {tuple(q.shape)}.")
    for name, tensor in (("p", p), ("q", q)):
        if torch.any(tensor < 0) or not torch.allclose(tensor.sum(dim=1), torch.ones_like(tensor[:, 0]), atol=atol):
            raise ValueError(f"{name} must hold probability vectors (non-negative rows summing to 1).")


def _safe_distance(difference: Tensor) -> Tensor:
    """Euclidean norm over the last axis with gradient 0 (not NaN) where the difference vanishes."""
    squared = difference.pow(2).sum(dim=-1)
    positive = squared > 0
    return torch.where(positive, torch.sqrt(torch.where(positive, squared, torch.ones_like(squared))), 0.0 * squared)


def total_variation(p: Tensor, q: Tensor) -> Tensor:
    """``TV(p_i, q_i) = 1/2 sum_k |p_ik - q_ik|`` (eq. 4.18) for categorical distributions ``[B, K]``; shape ``[B]``.

    It is the integral probability metric of the functions with span ``max f - min f <= 1``, so
    ``|E_p f - E_q f| <= span(f) TV(p, q)``, and the Wasserstein-1 distance under the discrete metric.
    """
    _check_distributions(p, q)
    return 0.5 * (p - q).abs().sum(dim=1)


def categorical_kl(p: Tensor, q: Tensor) -> Tensor:
    """``KL(p_i || q_i) = sum_k p_ik log(p_ik / q_ik)`` for ``[B, K]`` probability vectors (``0 log 0 = 0``; ``inf``
    where ``q`` misses mass of ``p``); shape ``[B]``. Pinsker: ``TV <= sqrt(KL / 2)``."""
    _check_distributions(p, q)
    ratio = torch.where(p > 0, p / q, torch.ones_like(p))
    return torch.where(p > 0, p * torch.log(ratio), torch.zeros_like(p)).sum(dim=1)


def energy_distance(x: Tensor, y: Tensor) -> Tensor:
    """Energy distance (eq. 4.19) between the empirical distributions of the samples ``x [B, n, D]`` and
    ``y [B, m, D]`` (uniform weights), per batch entry; shape ``[B]``.

    ``ED = 2 mean_{j,l} ||x_j - y_l|| - mean_{j,j'} ||x_j - x_j'|| - mean_{l,l'} ||y_l - y_l'||`` (all pairs, the
    V-statistic), which is ``>= 0``, zero exactly when the two empirical distributions coincide, and
    ``2 ||x - y||`` for two Diracs. The squared norm-MMD with the distance-induced kernel is ``ED / 2``.
    """
    if x.ndim != 3 or y.ndim != 3 or x.shape[0] != y.shape[0] or x.shape[2] != y.shape[2] or x.shape[0] == 0:
        raise ValueError(f"x and y must have shapes [B, n, D] and [B, m, D]; got {tuple(x.shape)}, {tuple(y.shape)}.")
    if x.shape[1] == 0 or y.shape[1] == 0:
        raise ValueError("each distribution needs at least one sample.")

    def mean_distance(first: Tensor, second: Tensor) -> Tensor:
        return _safe_distance(first[:, :, None, :] - second[:, None, :, :]).mean(dim=(1, 2))

    return 2.0 * mean_distance(x, y) - mean_distance(x, x) - mean_distance(y, y)


def norm_mmd(x: Tensor, y: Tensor) -> Tensor:
    """Norm-MMD with the distance-induced kernel between two empirical distributions: ``sqrt(ED / 2)``; ``[B]``.

    For two Diracs it is ``sqrt(||x - y||)``: the metric is 1/2-Hölder, not Lipschitz, in the latent distance.
    """
    half = 0.5 * energy_distance(x, y).clamp_min(0.0)
    positive = half > 0
    return torch.where(positive, torch.sqrt(torch.where(positive, half, torch.ones_like(half))), 0.0 * half)


def energy_score_loss(samples: Tensor, next_latent: Tensor) -> Tensor:
    """Sample transition loss of the norm-MMD (eq. 4.20), averaged over the batch.

    ``samples [B, m, D]`` (``m >= 2``) are draws from the latent model's prediction for ``(phi(s_i), a_i)`` (drawn
    with the reparameterisation trick so that gradients reach the model); ``next_latent [B, D]`` is ``phi(s'_i)``,
    detached here. Per sample,

        ES_i = (1/m) sum_j ||X_ij - z'_i|| - 1 / (2 m (m - 1)) sum_{j != l} ||X_ij - X_il||,

    an unbiased estimate of ``E||X - z'|| - 1/2 E||X - X'|| = ED(P_bar, delta_z') / 2``. Averaged over
    ``z' ~ phi P`` its expectation is ``MMD^2(P_bar, phi P) + E||Z' - Z''|| / 2``, where the last term does not depend
    on the model: minimising the loss minimises the squared norm-MMD. With ``m`` equal samples (a deterministic
    model) it is the W1 loss ``mean_i ||z_hat_i - z'_i||``.
    """
    if samples.ndim != 3 or samples.shape[0] == 0:
        raise ValueError(f"samples must have shape [B, m, D] with B >= 1; got {tuple(samples.shape)}.")
    batch, n_samples, dim = samples.shape
    if n_samples < 2:
        raise ValueError(f"the energy score needs at least 2 samples per prediction; got {n_samples}.")
    if next_latent.shape != (batch, dim):
        raise ValueError(f"next_latent must have shape [{batch}, {dim}]; got {tuple(next_latent.shape)}.")
    target = next_latent.detach()
    to_target = _safe_distance(samples - target[:, None, :]).mean(dim=1)
    spread = _safe_distance(samples[:, :, None, :] - samples[:, None, :, :]).sum(dim=(1, 2))
    return (to_target - spread / (2.0 * n_samples * (n_samples - 1))).mean()


def sample_diagonal_gaussian(mu: Tensor, sigma: Tensor, n_samples: int, generator: torch.Generator | None = None):
    """``n_samples`` reparameterised draws ``mu + sigma * eps``, ``eps ~ N(0, I)``, from ``N(mu, diag sigma^2)``:
    ``[B, D]`` -> ``[B, n_samples, D]``; gradients flow to ``mu`` and ``sigma``."""
    if mu.shape != sigma.shape or mu.ndim != 2:
        raise ValueError(f"mu and sigma must both have shape [B, D]; got {tuple(mu.shape)}, {tuple(sigma.shape)}.")
    if n_samples < 1:
        raise ValueError(f"n_samples must be positive; got {n_samples}.")
    noise = torch.randn((mu.shape[0], n_samples, mu.shape[1]), dtype=mu.dtype, device=mu.device, generator=generator)
    return mu[:, None, :] + sigma[:, None, :] * noise
