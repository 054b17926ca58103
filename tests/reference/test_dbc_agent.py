"""The DBC-style agent: its update adds the bisimulation loss to the latent model's step and never the decoder's."""

import numpy as np
import pytest
import torch
from reference_helpers import compose_config

from reference_impl.agents import dbc, make_agent
from reference_impl.replay_buffer import ReplayBuffer


def agent_and_batch(overrides=()):
    cfg = compose_config(["agent=dbc", "env=point_mass_distractors", *overrides])
    torch.manual_seed(0)
    agent = make_agent(cfg.agent, (9, 32, 32), (2,))
    rng = np.random.default_rng(0)
    buffer = ReplayBuffer((9, 32, 32), (2,), 64, 16, "cpu", seed=0)
    for _ in range(32):
        buffer.add(rng.integers(0, 256, (9, 32, 32), dtype=np.uint8), rng.uniform(-1, 1, 2).astype(np.float32),
                   float(rng.uniform()), rng.integers(0, 256, (9, 32, 32), dtype=np.uint8), False)
    return agent, buffer.sample()


def test_the_config_builds_a_dbc_agent_with_a_gaussian_model():
    agent, _ = agent_and_batch()
    assert isinstance(agent, dbc.Agent) and agent.bisim_coef == 0.5
    assert type(agent.transition_model).__name__ == "GaussianTransitionModel"


def test_an_update_steps_the_bisimulation_loss_and_never_the_decoder():
    agent, batch = agent_and_batch()
    decoder = [p.detach().clone() for p in agent.decoder.parameters()]
    encoder = [p.detach().clone() for p in agent.critic.encoder.parameters()]
    metrics = agent.update(batch, 0)
    assert {"bisim_loss", "transition_loss", "reward_loss", "critic_loss"} <= set(metrics)
    assert "reconstruction_loss" not in metrics and np.isfinite(metrics["bisim_loss"])
    assert all(torch.equal(a, b) for a, b in zip(decoder, agent.decoder.parameters(), strict=True))
    assert any(not torch.equal(a, b) for a, b in zip(encoder, agent.critic.encoder.parameters(), strict=True))


def test_the_bisimulation_loss_trains_only_the_encoder():
    """Its target is detached: from the extra loss alone the encoder gets gradient, the latent model none."""
    agent, batch = agent_and_batch()
    latent = agent.critic.encoder(batch.obs)
    mu, sigma = agent.transition_model(latent, agent.to_policy_action(batch.action))
    loss, _ = agent.extra_encoder_loss(latent, mu, sigma, batch)
    loss.backward()
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in agent.critic.encoder.parameters())
    assert all(p.grad is None for p in agent.transition_model.parameters())


def test_multitask_and_per_sample_losses_are_refused():
    with pytest.raises(ValueError, match="single-task"):
        agent_and_batch(["agent.builder.loss_reduction=none"])
