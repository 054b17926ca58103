"""The gradient-flow trace of chapters 5-6: which loss trains, reaches or stops which parameter group."""

import pytest
import torch
from hydra import compose, initialize_config_module

from reference_impl.agents import make_agent
from reference_impl.agents.gradient_flow import group_order, parameter_groups, trace_gradient_flow
from reference_impl.replay_buffer import Batch

OBS_SHAPE = (6, 16, 16)
TINY = ["size.image_size=16", "size.frame_stack=2", "size.num_filters=8", "size.feature_dim=12",
        "size.hidden_dim=32", "size.transition_hidden_dim=32", "size.batch_size=16"]


def tiny_agent(name):
    torch.manual_seed(0)
    with initialize_config_module("reference_impl.conf", version_base="1.3"):
        cfg = compose("config", overrides=[f"agent={name}", *TINY])
    return make_agent(cfg.agent, OBS_SHAPE, (2,), (-1.0, 1.0), "cpu")


def batch(size=8):
    g = torch.Generator().manual_seed(0)
    return Batch(
        obs=torch.randint(0, 256, (size, *OBS_SHAPE), dtype=torch.uint8, generator=g),
        action=torch.rand(size, 2, generator=g) * 2 - 1,
        reward=torch.rand(size, 1, generator=g),
        next_obs=torch.randint(0, 256, (size, *OBS_SHAPE), dtype=torch.uint8, generator=g),
        not_done=torch.ones(size, 1),
    )


def by_loss(flows):
    return {flow.loss: flow for flow in flows}


def test_sac_flow_matches_the_chapter():
    flows = by_loss(trace_gradient_flow(tiny_agent("sac"), batch()))
    assert list(flows) == ["critic loss", "actor loss", "temperature loss"]
    critic, actor, alpha = flows["critic loss"], flows["actor loss"], flows["temperature loss"]
    assert critic.stepped == {"shared conv layers", "critic fc + LayerNorm", "Q heads"}
    assert {"target critic", "policy trunk"} <= critic.stopped  # the target is built under no_grad
    # The actor loss trains the actor's own head only; the shared convolutions run under no_grad.
    assert actor.stepped == {"actor fc + LayerNorm", "policy trunk"}
    assert actor.reached_only == {"Q heads"}  # the critic is evaluated, not trained, by the actor loss
    assert "shared conv layers" in actor.stopped
    assert alpha.stepped == {"log α"} and not alpha.reached_only


def test_deepmdp_flow_adds_the_latent_model_losses():
    flows = by_loss(trace_gradient_flow(tiny_agent("deepmdp"), batch()))
    assert list(flows) == ["critic loss", "actor loss", "temperature loss", "transition + reward loss",
                           "decoder loss"]
    model = flows["transition + reward loss"]
    assert model.stepped == {"shared conv layers", "critic fc + LayerNorm", "transition model",
                             "reward decoder"}
    assert not model.reached_only
    decoder = flows["decoder loss"]
    assert decoder.stepped == {"shared conv layers", "critic fc + LayerNorm", "transition model",
                               "pixel decoder"}
    assert "reward decoder" not in decoder.stepped | decoder.reached_only


def test_groups_cover_every_parameter_once_with_tied_convolutions():
    agent = tiny_agent("deepmdp")
    groups = parameter_groups(agent)
    conv_ids = {id(p) for p in agent.actor.encoder.conv_parameters()}
    assert conv_ids and all(groups[pid] == "shared conv layers" for pid in conv_ids)
    assert group_order(agent)[0] == "shared conv layers"
    assert set(group_order(agent)) == set(groups.values())


@pytest.mark.parametrize("name", ["sac", "sac_ae", "deepmdp"])
def test_trace_leaves_torch_and_the_agent_unpatched(name):
    agent = tiny_agent(name)
    original_backward = torch.Tensor.backward
    trace_gradient_flow(agent, batch())
    assert torch.Tensor.backward is original_backward
    assert "update_critic" not in vars(agent)
    assert all("step" not in vars(optimizer) for optimizer in agent.optimizers().values())
