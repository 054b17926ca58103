"""Deep bisimulation for control (DBC) encoder loss, for comparison with the DeepMDP losses (book chapter 4).

DBC trains the encoder so that latent distances match a one-step bisimulation target on random pairs of a batch
(eq. 4.12): pairing sample ``i`` with ``j = permutation[i]``,

    L = mean_i ( ||z_i - z_j||_1 - [ |r_i - r_j| + gamma W_2(P_hat_i, P_hat_j) ] )^2,

with ``P_hat_i = N(next_mu_i, diag next_sigma_i^2)`` the latent transition model's prediction for ``(z_i, a_i)`` and
``W_2`` in closed form (eq. 4.10). The latent distance is the L1 norm, as in the paper's equation. The bracketed
target is detached: only ``z`` receives gradients.

DBC's public code computes a different loss: it compares each latent coordinate with the whole target,
``mean_{i,k} (h(z_ik - z_jk) - [h(r_i - r_j) + gamma W_2(P_hat_ik, P_hat_jk)])^2`` with ``h`` the smooth-L1 (Huber)
function applied per coordinate and to the reward gap, and ``W_2`` of the one-dimensional marginals; every coordinate
then carries the whole reward gap. This function implements the paper's equation, not that variant.
"""

from __future__ import annotations

import torch
from torch import Tensor

from reference_impl.deepmdp.losses import gaussian_w2


def bisimulation_loss(
    z: Tensor,
    reward: Tensor,
    next_mu: Tensor,
    next_sigma: Tensor | None,
    discount: float,
    permutation: Tensor,
) -> Tensor:
    """DBC loss (eq. 4.12). ``z``, ``next_mu``, ``next_sigma``: ``[B, D]``; ``reward``: ``[B]`` or ``[B, 1]``.

    ``next_sigma=None`` means a deterministic transition model (``W_2`` is then the Euclidean distance between the
    means). ``permutation`` is an integer tensor ``[B]`` holding a permutation of ``0..B-1``.
    """
    if z.ndim != 2 or z.shape[0] == 0:
        raise ValueError(f"z must have shape [B, D] with B >= 1; got {tuple(z.shape)}.")
    batch = z.shape[0]
    if reward.shape not in ((batch,), (batch, 1)):
        raise ValueError(f"reward must have shape [{batch}] or [{batch}, 1]; got {tuple(reward.shape)}.")
    if next_mu.ndim != 2 or next_mu.shape[0] != batch:
        raise ValueError(f"next_mu must have shape [{batch}, D']; got {tuple(next_mu.shape)}.")
    if next_sigma is not None and next_sigma.shape != next_mu.shape:
        raise ValueError(
            f"next_sigma must match next_mu's shape {tuple(next_mu.shape)}; got {tuple(next_sigma.shape)}."
        )
    if not 0.0 <= discount < 1.0:
        raise ValueError(f"discount must lie in [0, 1); got {discount}.")
    if permutation.shape != (batch,) or permutation.is_floating_point():
        raise ValueError(f"permutation must be an integer tensor of shape [{batch}]; got {tuple(permutation.shape)}.")
    if not torch.equal(torch.sort(permutation).values, torch.arange(batch, device=permutation.device)):
        raise ValueError(f"permutation must be a permutation of 0..{batch - 1}.")

    with torch.no_grad():
        flat_reward = reward.reshape(batch)
        sigma = torch.zeros_like(next_mu) if next_sigma is None else next_sigma
        reward_distance = (flat_reward - flat_reward[permutation]).abs()
        transition_distance = gaussian_w2(next_mu, sigma, next_mu[permutation], sigma[permutation])
        target = reward_distance + discount * transition_distance
    latent_distance = (z - z[permutation]).abs().sum(dim=1)
    return (latent_distance - target).pow(2).mean()
