"""The DonutWorld DeepMDP with the transition loss of each metric: W1, Gaussian NLL (TV surrogate), energy score."""

import numpy as np
import pytest
import torch

from reference_impl.deepmdp.latent_model import (
    GaussianLatentTransitionModel,
    LatentModelConfig,
    collect_random_transitions,
    train_latent_model,
)
from reference_impl.envs.donut_world import DonutWorld


def test_config_rejects_unknown_transition_kind_and_too_few_energy_samples():
    with pytest.raises(ValueError, match="transition_kind"):
        LatentModelConfig(transition_kind="tv")
    with pytest.raises(ValueError, match="n_energy_samples"):
        LatentModelConfig(transition_kind="energy", n_energy_samples=1)


def test_gaussian_transition_sigma_stays_in_its_bounds_and_mean_is_residual():
    torch.manual_seed(0)
    model = GaussianLatentTransitionModel(latent_dim=3, action_dim=2, hidden_dim=8, sigma_min=0.05, sigma_max=0.5)
    with torch.no_grad():
        model.net[-1].weight.mul_(100.0)  # push the sigmoid into both saturated ends
    latent, action = torch.randn(64, 3), torch.randn(64, 2)
    mu, sigma = model(latent, action)
    assert mu.shape == sigma.shape == (64, 3)
    assert torch.all(sigma >= 0.05) and torch.all(sigma <= 0.5)
    with pytest.raises(ValueError, match="sigma_min"):
        GaussianLatentTransitionModel(3, 2, 8, sigma_min=0.0)


@pytest.mark.parametrize("kind", ["w1", "gaussian_nll", "energy"])
def test_every_transition_kind_trains_finite_losses_reproducibly(kind):
    torch.set_num_threads(1)
    data = collect_random_transitions(DonutWorld(), 400, seed=0)
    config = LatentModelConfig(transition_kind=kind, n_updates=30, hidden_dim=16, batch_size=32)
    first = train_latent_model(data, config, seed=1)
    second = train_latent_model(data, config, seed=1)
    assert np.all(np.isfinite(first.history["transition"]))
    assert first.history["transition"] == second.history["transition"]  # the energy score's noise is seeded too
    assert isinstance(first.model.transition, GaussianLatentTransitionModel) == (kind != "w1")
    # The transition model is trained: its loss goes down over the short run.
    assert np.mean(first.history["transition"][-5:]) < np.mean(first.history["transition"][:5])
