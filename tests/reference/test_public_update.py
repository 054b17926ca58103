"""With the public switches, one update of our SAC-AE and DeepMDP agents equals a port of the public codes' update
(pytorch_sac_ae's SAC-AE, mtrl's DeepMDP), written here from their math, to 1e-10 in float64.

The port shares our network modules (the architectures are the same) and rebuilds everything else the public way:
one Adam over the whole critic plus a separate encoder Adam, the ``alpha``-form temperature loss, the quantised
decoder target, mtrl's ``mean_{i,k} [½ (Δ/σ)² + log σ]`` transition loss and decoders reading ``μ + σ ε``. The one
public behaviour it does not port is mtrl #24 (the actor's encoder fc/LayerNorm in no optimizer): here, as in our
agent, the actor's optimizer trains them. Each switch alone is needed: leaving any one at the course's value breaks
the equality.
"""

import copy
import math

import pytest
import torch
import torch.nn.functional as F
from reference_helpers import compose_config

from reference_impl.agents import make_agent
from reference_impl.agents.switches import CHOICES
from reference_impl.replay_buffer import Batch

OBS_SHAPE = (6, 16, 16)
TINY = ["size.image_size=16", "size.frame_stack=2", "size.num_filters=8", "size.feature_dim=12", "size.hidden_dim=32",
        "size.transition_hidden_dim=32", "size.batch_size=16"]
PUBLIC = {name: choices[1] for name, choices in CHOICES.items()}



@pytest.fixture
def float64():
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(previous)


def build(agent_name, switches, *extra):
    torch.manual_seed(0)
    overrides = [f"agent={agent_name}", *TINY, *extra, *(f"agent.{k}={v}" for k, v in switches.items())]
    cfg = compose_config(overrides)
    return make_agent(cfg.agent, OBS_SHAPE, (2,), (-1.0, 1.0), "cpu"), cfg


def random_batch(size=16, seed=0):
    g = torch.Generator().manual_seed(seed)
    return Batch(
        obs=torch.randint(0, 256, (size, *OBS_SHAPE), dtype=torch.uint8, generator=g),
        action=torch.rand(size, 2, generator=g) * 2 - 1,
        reward=torch.rand(size, 1, generator=g),
        next_obs=torch.randint(0, 256, (size, *OBS_SHAPE), dtype=torch.uint8, generator=g),
        not_done=(torch.rand(size, 1, generator=g) > 0.1).to(torch.get_default_dtype()),
    )


def adam(params, cfg):
    return torch.optim.Adam(list(params), lr=cfg.lr, betas=tuple(cfg.betas), weight_decay=cfg.get("weight_decay", 0))


# ---------------------------------------------------------------------------------------------------- the port
def preprocess_obs(obs, bits=5):
    """pytorch_sac_ae's decoder target: 5-bit quantisation, uniform dequantisation noise, centred on 0."""
    bins = 2**bits
    x = torch.floor(obs.to(torch.get_default_dtype()) / 2 ** (8 - bits)) / bins
    return x + torch.rand_like(x) / bins - 0.5


def polyak(target, online, tau):
    with torch.no_grad():
        for t, o in zip(target.parameters(), online.parameters(), strict=True):
            t.copy_(tau * o + (1 - tau) * t)


class PublicUpdate:
    """One update of pytorch_sac_ae (``deepmdp=False``) or mtrl's DeepMDP agent, from the published equations."""

    def __init__(self, agent, cfg, deepmdp):
        names = ["actor", "critic", "critic_target", "decoder"] + (["transition_model", "reward_decoder"] * deepmdp)
        nets = copy.deepcopy({name: agent.networks()[name] for name in names} | {"log_alpha": agent.log_alpha})
        self.__dict__.update(nets)  # one deepcopy: the actor's convolutions stay tied to the critic's
        self.deepmdp, b = deepmdp, cfg.agent.builder
        self.gamma, self.critic_tau, self.encoder_tau = b.discount, b.critic_tau, b.encoder_tau
        self.decoder_lambda, self.target_entropy = b.decoder_latent_lambda, -2.0
        conv_ids = {id(p) for p in self.critic.encoder.conv_parameters()}
        self.opt = {
            "critic": adam(self.critic.parameters(), b.critic_optimizer_cfg),  # encoder included
            "encoder": adam(self.critic.encoder.parameters(), b.encoder_optimizer_cfg),  # and again here
            "actor": adam([p for p in self.actor.parameters() if id(p) not in conv_ids], b.actor_optimizer_cfg),
            "log_alpha": adam([self.log_alpha], b.alpha_optimizer_cfg),
            "decoder": adam(self.decoder.parameters(), b.decoder_optimizer_cfg),
        }
        if deepmdp:
            self.opt["transition_model"] = adam(self.transition_model.parameters(), b.transition_model_optimizer_cfg)
            self.opt["reward_decoder"] = adam(self.reward_decoder.parameters(), b.reward_decoder_optimizer_cfg)

    def descend(self, loss, *names):
        for name in names:
            self.opt[name].zero_grad()
        loss.backward()
        for name in names:
            self.opt[name].step()

    def sample_prediction(self, h, action):
        out = self.transition_model(h, action)
        if not isinstance(out, tuple):
            return out
        mu, sigma = out
        return mu + sigma * torch.randn_like(mu)

    def __call__(self, batch):
        alpha = self.log_alpha.exp()
        with torch.no_grad():  # critic
            _, pi, log_pi, _ = self.actor(batch.next_obs)
            target_v = torch.min(*self.critic_target(batch.next_obs, pi)) - alpha.detach() * log_pi
            target_q = batch.reward + batch.not_done * self.gamma * target_v
        q1, q2 = self.critic(batch.obs, batch.action)
        self.descend(F.mse_loss(q1, target_q) + F.mse_loss(q2, target_q), "critic")

        detached = self.critic.encoder.conv_features(batch.obs).detach()  # actor and alpha, encoder detached
        _, pi, log_pi, _ = self.actor.policy(self.actor.encoder.head(detached))
        actor_q = torch.min(*self.critic.q_values(self.critic.encoder.head(detached), pi))
        self.descend((alpha.detach() * log_pi - actor_q).mean(), "actor")
        self.descend((self.log_alpha.exp() * (-log_pi - self.target_entropy).detach()).mean(), "log_alpha")

        polyak(self.critic_target.Q1, self.critic.Q1, self.critic_tau)
        polyak(self.critic_target.Q2, self.critic.Q2, self.critic_tau)
        polyak(self.critic_target.encoder, self.critic.encoder, self.encoder_tau)

        if self.deepmdp:  # transition and reward
            h = self.critic.encoder(batch.obs)
            out = self.transition_model(h, batch.action)
            mu, sigma = out if isinstance(out, tuple) else (out, torch.ones_like(out))
            next_h = self.critic.encoder(batch.next_obs)
            diff = (mu - next_h.detach()) / sigma
            transition_loss = torch.mean(0.5 * diff.pow(2) + torch.log(sigma))
            reward_loss = F.mse_loss(self.reward_decoder(self.sample_prediction(h, batch.action)), batch.reward)
            self.descend(transition_loss + reward_loss, "transition_model", "reward_decoder", "encoder")

        h = self.critic.encoder(batch.obs)  # decoder
        decoded_from = self.sample_prediction(h, batch.action) if self.deepmdp else h
        target = preprocess_obs(batch.next_obs if self.deepmdp else batch.obs)
        loss = F.mse_loss(target, self.decoder(decoded_from)) + self.decoder_lambda * (0.5 * h.pow(2).sum(1)).mean()
        self.descend(loss, *(["transition_model"] if self.deepmdp else []), "decoder", "encoder")

    def parameters(self):
        nets = {name: getattr(self, name) for name in self.opt if name not in ("encoder", "log_alpha")}
        nets["critic_target"] = self.critic_target
        return {f"{n}.{k}": p for n, net in nets.items() for k, p in net.named_parameters()} | {
            "log_alpha": self.log_alpha}


def agent_parameters(agent, names):
    nets = {name: agent.networks()[name] for name in names}
    return {f"{n}.{k}": p for n, net in nets.items() for k, p in net.named_parameters()} | {
        "log_alpha": agent.log_alpha}


def largest_difference(agent_name, switches, *extra):
    agent, cfg = build(agent_name, switches, *extra)
    port = PublicUpdate(agent, cfg, deepmdp=agent_name == "deepmdp")
    for seed in (1, 2):  # two updates at even steps (every stage runs): Adam's second step sees gradient scales
        batch = random_batch(seed=seed)
        torch.manual_seed(seed)
        agent.update(batch, step=2 * seed)
        torch.manual_seed(seed)
        port(batch)
    theirs = port.parameters()
    ours = agent_parameters(agent, {key.split(".")[0] for key in theirs} - {"log_alpha"})
    assert ours.keys() == theirs.keys()
    return max((ours[k] - theirs[k]).abs().max().item() for k in ours)


@pytest.mark.parametrize(("agent_name", "extra"), [
    ("sac_ae", ()),
    ("deepmdp", ()),
    ("deepmdp", ("agent.builder.transition_model_cfg.kind=gaussian",)),
])
def test_public_switches_reproduce_the_public_update(float64, agent_name, extra):
    assert torch.get_default_dtype() == torch.float64
    assert largest_difference(agent_name, PUBLIC, *extra) < 1e-10


@pytest.mark.parametrize("switch", sorted(set(CHOICES) - {"alpha_loss"}))
def test_each_switch_is_needed(float64, switch):
    extra = ("agent.builder.transition_model_cfg.kind=gaussian",)
    assert largest_difference("deepmdp", PUBLIC | {switch: CHOICES[switch][0]}, *extra) > 1e-6


def test_alpha_loss_switch_scales_the_temperature_loss_by_alpha_over_log_alpha(float64):
    """Adam's step hardly sees a gradient's scale, so the two forms move ``log alpha`` almost alike (the same fixed
    point); the loss itself, and its gradient in ``log alpha``, differ by the factor ``alpha / log alpha``."""
    metrics = {}
    for form in CHOICES["alpha_loss"]:
        agent, _ = build("sac", PUBLIC | {"alpha_loss": form})
        torch.manual_seed(3)
        metrics[form] = agent.update(random_batch(), step=0)
    alpha = metrics["alpha"]["alpha"]  # after the step: the loss was computed at the initial temperature 0.1
    assert metrics["alpha"]["alpha_loss"] / metrics["log_alpha"]["alpha_loss"] == pytest.approx(0.1 / math.log(0.1))
    assert alpha == pytest.approx(metrics["log_alpha"]["alpha"], rel=1e-6)
