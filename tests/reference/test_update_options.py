"""Performance options of the update: fused Adam (same step up to float rounding) and ``precision=bf16``."""

import copy

import pytest
import torch
from test_agents import AGENTS, random_batch, tiny_agent

from reference_impl.agents.sac import make_optimizer


def adam_step_result(fused_cfg):
    torch.manual_seed(0)
    params = [torch.randn(8, 8, 3, 3, requires_grad=True), torch.randn(5, requires_grad=True),
              torch.tensor(0.3, requires_grad=True)]
    optimizer = make_optimizer({"_target_": "torch.optim.Adam", "lr": 1e-3, "betas": [0.5, 0.999]} | fused_cfg,
                               params)
    for k in range(3):
        for p in params:
            p.grad = torch.full_like(p, 0.1) * (k + 1) + torch.sin(p.detach())
        optimizer.step()
    return optimizer, [p.detach() for p in params]


def test_adam_is_fused_by_default_and_takes_the_same_steps():
    fused, fused_params = adam_step_result({})
    plain, plain_params = adam_step_result({"foreach": False})
    assert fused.param_groups[0]["fused"] is True
    assert not plain.param_groups[0]["fused"]
    for a, b in zip(fused_params, plain_params, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-7)  # same math; rounding order may differ by an ulp


def test_an_explicit_fused_setting_is_respected():
    optimizer, _ = adam_step_result({"fused": False})
    assert not optimizer.param_groups[0]["fused"]


def test_agents_build_fused_adams():
    agent = tiny_agent("deepmdp")
    assert all(opt.param_groups[0]["fused"] for opt in agent.optimizers().values())


@pytest.mark.parametrize("name", AGENTS)
def test_bf16_update_runs_and_stays_close_to_fp32(name):
    """One update in each precision from the same state: finite losses, parameters and gradients stay fp32,
    losses within a few percent (bf16 has 8 mantissa bits). Learning is not validated by this test."""
    agent = tiny_agent(name)
    twin = copy.deepcopy(agent)
    twin.precision = "bf16"
    batch = random_batch()
    torch.manual_seed(1)  # the same policy samples in both updates
    fp32 = agent.update(batch, step=2)
    torch.manual_seed(1)
    bf16 = twin.update(batch, step=2)
    assert fp32.keys() == bf16.keys()
    for key, value in fp32.items():
        assert torch.isfinite(torch.tensor(bf16[key])), key
        assert abs(bf16[key] - value) <= 0.05 * abs(value) + 0.05, (key, value, bf16[key])
    for network in twin.networks().values():
        assert all(p.dtype == torch.float32 for p in network.parameters())


def test_precision_is_checked():
    agent = tiny_agent("sac")
    agent.precision = "fp16"
    with pytest.raises(ValueError, match="precision must be one of"):
        agent.update(random_batch(), step=1)
    with pytest.raises(ValueError, match="precision must be one of"):
        tiny_agent("sac", "agent.precision=fp8")
