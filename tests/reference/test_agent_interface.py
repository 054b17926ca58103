"""The agents' constructor interface: mtrl's signature, config single source, deferred init, checkpoint loading,
loss reduction, action boxes and the multi-task configuration."""

import inspect

import numpy as np
import pytest
import torch
from reference_helpers import compose_config

from reference_impl.agents import deepmdp, make_agent, sac, sac_ae
from reference_impl.agents.multitask import SUPPORTED_KEYS, MultitaskConfig, per_task_mean
from reference_impl.agents.switches import UpdateSwitches
from reference_impl.replay_buffer import Batch

OBS_SHAPE = (6, 16, 16)
TINY = ["size.image_size=16", "size.frame_stack=2", "size.num_filters=8", "size.feature_dim=12", "size.hidden_dim=32",
        "size.transition_hidden_dim=32", "size.batch_size=16"]

# mtrl's deepmdp.Agent.__init__ (mtrl/agent/deepmdp.py): names, order and defaults.
MTRL_DEEPMDP_SIGNATURE = [
    ("env_obs_shape", inspect.Parameter.empty), ("action_shape", inspect.Parameter.empty),
    ("action_range", inspect.Parameter.empty), ("device", inspect.Parameter.empty),
    ("actor_cfg", inspect.Parameter.empty), ("critic_cfg", inspect.Parameter.empty),
    ("decoder_cfg", inspect.Parameter.empty), ("reward_decoder_cfg", inspect.Parameter.empty),
    ("transition_model_cfg", inspect.Parameter.empty), ("alpha_optimizer_cfg", inspect.Parameter.empty),
    ("actor_optimizer_cfg", inspect.Parameter.empty), ("critic_optimizer_cfg", inspect.Parameter.empty),
    ("multitask_cfg", inspect.Parameter.empty), ("decoder_optimizer_cfg", inspect.Parameter.empty),
    ("encoder_optimizer_cfg", inspect.Parameter.empty), ("reward_decoder_optimizer_cfg", inspect.Parameter.empty),
    ("transition_model_optimizer_cfg", inspect.Parameter.empty),
    ("discount", 0.99), ("init_temperature", 0.01), ("actor_update_freq", 2), ("critic_tau", 0.005),
    ("critic_target_update_freq", 2), ("encoder_tau", 0.005), ("loss_reduction", "mean"),
    ("decoder_update_freq", 1), ("decoder_latent_lambda", 0.0), ("cfg_to_load_model", None),
    ("should_complete_init", True),
]




def tiny_agent(name="deepmdp", *extra, seed=0, action_range=(-1.0, 1.0)):
    torch.manual_seed(seed)
    cfg = compose_config([f"agent={name}", *TINY, *extra])
    return make_agent(cfg.agent, OBS_SHAPE, (2,), action_range, "cpu")


def random_batch(size=16, seed=0, task=None):
    g = torch.Generator().manual_seed(seed)
    return Batch(
        obs=torch.randint(0, 256, (size, *OBS_SHAPE), dtype=torch.uint8, generator=g),
        action=torch.rand(size, 2, generator=g) * 2 - 1,
        reward=torch.rand(size, 1, generator=g),
        next_obs=torch.randint(0, 256, (size, *OBS_SHAPE), dtype=torch.uint8, generator=g),
        not_done=torch.ones(size, 1),
        task=task,
    )


def parameters(agent):
    out = {f"{n}.{k}": p.detach().clone() for n, net in agent.networks().items() for k, p in net.named_parameters()}
    return out | {"log_alpha": agent.log_alpha.detach().clone()}


# ---------------------------------------------------------------------------------------------------- signature
def test_deepmdp_agent_signature_is_mtrls():
    parameters_ = list(inspect.signature(deepmdp.Agent.__init__).parameters.values())[1:]
    assert [(p.name, p.default) for p in parameters_] == MTRL_DEEPMDP_SIGNATURE
    assert all(p.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD for p in parameters_)


def test_tuned_values_come_from_the_config_only():
    # sac and sac_ae, like mtrl's, have no defaults for the tuned values: the YAML is their one source
    for agent_class in (sac.Agent, sac_ae.Agent):
        signature = inspect.signature(agent_class.__init__).parameters
        for name in ("discount", "init_temperature", "actor_update_freq", "critic_tau", "critic_target_update_freq",
                     "encoder_tau"):
            assert signature[name].default is inspect.Parameter.empty, (agent_class, name)
    agent = tiny_agent("deepmdp")
    cfg = compose_config(["agent=deepmdp", *TINY]).agent.builder
    assert (agent.critic_tau, agent.encoder_tau, agent.decoder_latent_lambda) == (
        cfg.critic_tau, cfg.encoder_tau, cfg.decoder_latent_lambda) == (0.01, 0.05, 1e-6)
    assert agent.alpha.item() == pytest.approx(cfg.init_temperature) and cfg.init_temperature == 0.1


# ---------------------------------------------------------------------------------------------------- init
class AgentWithProbe(deepmdp.Agent):
    """A subclass that adds a network before the optimizers are built, as mtrl's subclasses do."""

    def __init__(self, *args, should_complete_init=True, cfg_to_load_model=None, **kwargs):
        super().__init__(*args, should_complete_init=False, **kwargs)
        self.probe = torch.nn.Linear(self.critic.encoder.feature_dim, 2)
        if should_complete_init:
            self.complete_init(cfg_to_load_model)

    def build_optimizers(self):
        return super().build_optimizers() | {"probe": torch.optim.SGD(self.probe.parameters(), lr=0.1)}


def test_should_complete_init_defers_the_optimizers_so_a_subclass_can_add_components():
    cfg = compose_config(["agent=deepmdp", *TINY])
    builder = {k: v for k, v in sac.to_dict(cfg.agent.builder).items() if k != "_target_"}
    deferred = deepmdp.Agent(OBS_SHAPE, (2,), (-1.0, 1.0), "cpu", **builder, should_complete_init=False)
    with pytest.raises(RuntimeError, match="complete_init"):
        deferred.optimizers()
    deferred.complete_init()
    assert {"encoder", "critic", "actor", "alpha", "decoder", "transition_model", "reward_decoder"} == set(
        deferred.optimizers())
    with pytest.raises(RuntimeError, match="before complete_init"):
        deferred.switches = UpdateSwitches(encoder_optimizer="separate")
    probed = AgentWithProbe(OBS_SHAPE, (2,), (-1.0, 1.0), "cpu", **builder)
    assert probed.optimizers()["probe"].param_groups[0]["params"][0] is probed.probe.weight


@pytest.mark.slow
def test_cfg_to_load_model_loads_the_listed_components_of_a_saved_agent(tmp_path):
    from reference_impl.train import run

    cfg = compose_config(["agent=deepmdp", *TINY, "num_train_steps=24", "init_steps=8", "eval_freq=100",
                          "checkpoint_freq=24", "num_eval_episodes=1", "env.action_repeat=4", "device=cpu"])
    run(cfg, tmp_path)
    saved = sac.read_agent_state(tmp_path)
    fresh = tiny_agent("deepmdp", seed=5)
    assert not torch.equal(fresh.critic.encoder.fc.weight, saved["networks"]["critic"]["encoder.fc.weight"])

    torch.manual_seed(5)
    builder = {k: v for k, v in sac.to_dict(cfg.agent.builder).items() if k != "_target_"}
    loaded = deepmdp.Agent(OBS_SHAPE, (2,), (-1.0, 1.0), "cpu", **builder,
                           cfg_to_load_model={"model_dir": str(tmp_path), "components": ["critic", "log_alpha"]})
    for key, value in saved["networks"]["critic"].items():
        torch.testing.assert_close(loaded.critic.state_dict()[key], value, rtol=0, atol=0)
        torch.testing.assert_close(loaded.critic_target.state_dict()[key], value, rtol=0, atol=0)  # synced
    assert torch.equal(loaded.log_alpha.detach(), saved["log_alpha"])
    # not listed: the decoder keeps its fresh initialisation; the actor's convolutions stay tied to the critic's
    assert torch.equal(loaded.decoder.fc.weight, fresh.decoder.fc.weight)
    assert loaded.actor.encoder.convs[0].weight is loaded.critic.encoder.convs[0].weight
    with pytest.raises(ValueError, match="cannot load components"):
        loaded.load_components(tmp_path, ["critic", "not_a_network"])
    with pytest.raises(FileNotFoundError, match="no agent checkpoint"):
        loaded.load_components(tmp_path / "missing")


# ---------------------------------------------------------------------------------------------------- reduction
def test_loss_reduction_none_gives_the_same_single_task_update_as_mean():
    mean, none = tiny_agent("deepmdp"), tiny_agent("deepmdp", "agent.builder.loss_reduction=none")
    batch = random_batch(seed=1)
    torch.manual_seed(3)
    metrics_mean = mean.update(batch, step=0)
    torch.manual_seed(3)
    metrics_none = none.update(batch, step=0)
    for key, value in parameters(mean).items():
        torch.testing.assert_close(parameters(none)[key], value, rtol=1e-5, atol=1e-6, msg=key)
    assert metrics_none == pytest.approx(metrics_mean, rel=1e-5)
    with pytest.raises(ValueError, match="loss_reduction"):
        tiny_agent("sac", "agent.builder.loss_reduction=sum")


def test_per_task_mean_weighs_tasks_equally():
    loss = torch.tensor([[1.0], [3.0], [10.0]])
    assert per_task_mean(loss, torch.tensor([0, 0, 1]), 3).item() == pytest.approx((2.0 + 10.0) / 2)
    assert per_task_mean(loss, None, 1).item() == pytest.approx(14.0 / 3)


# ---------------------------------------------------------------------------------------------------- action box
def test_any_action_box_is_scaled_onto_the_tanh_policy():
    low, high = np.array([-2.0, 0.0]), np.array([2.0, 0.5])
    boxed = tiny_agent("sac", action_range=(low, high))
    unit = tiny_agent("sac")
    obs = random_batch(size=4).obs
    np.testing.assert_allclose(boxed.act(obs.numpy()), (low + high) / 2 + (high - low) / 2 * unit.act(obs.numpy()),
                               rtol=1e-6)
    # the update sees the stored (box) actions mapped back to [-1, 1]: the same update as the unit agent's
    batch = random_batch(seed=2)
    box_batch = batch._replace(action=torch.as_tensor((low + high) / 2 + (high - low) / 2 * batch.action.numpy(),
                                                      dtype=torch.float32))
    torch.manual_seed(1)
    a = unit.update_critic(batch)
    torch.manual_seed(1)
    b = boxed.update_critic(box_batch)
    assert a == pytest.approx(b, rel=1e-5)
    with pytest.raises(ValueError, match="low < high"):
        tiny_agent("sac", action_range=(1.0, -1.0))


# ---------------------------------------------------------------------------------------------------- multitask
def test_unknown_multitask_keys_are_refused_naming_the_supported_ones():
    with pytest.raises(ValueError, match="should_use_task_encoder") as error:
        MultitaskConfig.from_cfg({"num_envs": 2, "should_use_multi_head_policy": True})
    assert "should_use_multi_head_policy" in str(error.value)
    assert all(key in str(error.value) for key in SUPPORTED_KEYS)
    assert not MultitaskConfig.from_cfg({}).is_multitask


def test_multitask_agent_conditions_on_the_task_and_has_one_temperature_per_task():
    agent = tiny_agent("deepmdp_multitask", "+env.num_tasks=2")
    assert agent.log_alpha.shape == (2,) and agent.loss_reduction == "none"
    obs = random_batch(size=1).obs[0].numpy()
    assert not np.allclose(agent.act(obs, task=0), agent.act(obs, task=1))
    before = parameters(agent)
    task = torch.tensor([0] * 12 + [1] * 4)
    agent.update(random_batch(task=task), step=0)
    after = parameters(agent)
    assert [k for k in before if torch.equal(before[k], after[k])] == []
    with pytest.raises(ValueError, match="task ids"):
        agent.update(random_batch(), step=0)


def test_multitask_agent_averages_per_sample_losses_per_task():
    agent = tiny_agent("deepmdp_multitask", "+env.num_tasks=2")
    task = torch.tensor([0, 0, 0, 1])
    per_sample = torch.tensor([[1.0], [1.0], [1.0], [5.0]])
    batch = random_batch(size=4, task=task)
    assert agent.reduce(per_sample, batch).item() == pytest.approx(3.0)  # (1 + 5) / 2, not the plain mean 2
    single = tiny_agent("deepmdp")
    assert single.reduce(per_sample, random_batch(size=4)).item() == pytest.approx(2.0)


def test_per_sample_transition_losses_average_to_the_chapter_4_losses():
    from reference_impl.deepmdp.losses import deterministic_transition_loss, gaussian_transition_nll

    g = torch.Generator().manual_seed(0)
    mu, target, sigma = torch.randn(8, 5, generator=g), torch.randn(8, 5, generator=g), torch.rand(8, 5, generator=g)
    sigma = sigma + 0.1
    per_sample = deepmdp.transition_loss_per_sample
    for kind in ("mse", "w1"):
        assert torch.equal(per_sample(mu, target, None, kind, "sum_dims").mean(),
                           deterministic_transition_loss(mu, target, kind=kind))
    nll = gaussian_transition_nll(mu, sigma, target)
    assert torch.equal(per_sample(mu, target, sigma, "mse", "sum_dims").mean(), nll)
    # mtrl's form: 1/(2d) of ours for the deterministic model
    torch.testing.assert_close(per_sample(mu, target, None, "mse", "mean_half").mean(),
                               deterministic_transition_loss(mu, target) / (2 * 5))
