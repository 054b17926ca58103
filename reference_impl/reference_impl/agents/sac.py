"""Soft actor-critic from pixels (book chapter 5).

One call to :meth:`Agent.update` runs, in order,

1. :meth:`Agent.update_critic` — regress both Q heads on the soft Bellman target (eq. 5.2, eq. 5.3);
2. :meth:`Agent.update_actor_and_alpha` every ``actor_update_freq`` steps — the actor loss (eq. 5.5) on a *detached*
   encoding, then the temperature loss on ``log alpha`` with target entropy ``-|A|`` (eq. 5.6);
3. :meth:`Agent.soft_update_targets` every ``critic_target_update_freq`` steps — Polyak averaging (eq. 5.7) with
   ``critic_tau`` for the Q heads and ``encoder_tau`` for the encoder.

Parameter ownership (with the default ``encoder_optimizer="shared"``, each trainable parameter is in exactly one
optimizer):

* ``encoder_optimizer``: the critic's encoder (convolutions, fc, LayerNorm). The actor's encoder *ties* its
  convolutions to these (same ``Parameter`` objects), so the convolutions learn only from the critic loss (and, in
  the subclasses, from the representation losses).
* ``critic_optimizer``: the two Q heads.
* ``actor_optimizer``: the actor's own encoder fc/LayerNorm and its policy trunk — everything of the actor except
  the tied convolutions.
* ``alpha_optimizer``: ``log alpha``.

Splitting the critic into "encoder" and "Q heads" optimizers with the same hyper-parameters is the same algorithm as
one Adam over the whole critic (Adam's state is per parameter); it lets SAC-AE and DeepMDP step the encoder from
their own losses without putting any parameter in two optimizers. The public codes' arrangement (the encoder in the
critic's Adam *and* in an encoder Adam) is ``encoder_optimizer="separate"`` (:mod:`reference_impl.agents.switches`).

The constructor follows mtrl's ``sac.Agent`` (with SAC-AE's ``encoder_optimizer_cfg``): the tuned values come from
the Hydra config (``conf/agent/sac.yaml``). ``should_complete_init=False`` stops before :meth:`Agent.complete_init`
(optimizers, checkpoint loading), so that a subclass can add its networks first and then call it.

Actions: the policy acts in ``[-1, 1]^|A|``; :meth:`Agent.act` maps it affinely onto the environment's box
``action_range = (low, high)`` (scalars or per-coordinate), and the update maps the stored actions back.
"""

from __future__ import annotations

import copy
import math
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import hydra
import numpy as np
import torch
from omegaconf import DictConfig, OmegaConf
from torch import Tensor, nn

from reference_impl.agents import sac_losses as losses
from reference_impl.agents.multitask import MultitaskConfig, per_task_mean
from reference_impl.agents.switches import UpdateSwitches
from reference_impl.networks import Actor, Critic, TaskEncoder, orthogonal_init_
from reference_impl.replay_buffer import Batch

ConfigLike = DictConfig | Mapping[str, Any]
LOSS_REDUCTIONS = ("mean", "none")
PRECISIONS = ("fp32", "bf16")


def to_dict(cfg: ConfigLike | None) -> dict[str, Any]:
    """A resolved plain ``dict`` from a Hydra/OmegaConf node or a mapping (``{}`` for ``None``)."""
    if cfg is None:
        return {}
    if isinstance(cfg, DictConfig):
        return OmegaConf.to_container(cfg, resolve=True)  # type: ignore[return-value]
    return dict(cfg)


FUSED_OPTIMIZERS = ("torch.optim.Adam", "torch.optim.AdamW")


def make_optimizer(cfg: ConfigLike, params: Iterable[nn.Parameter]) -> torch.optim.Optimizer:
    """Instantiate ``cfg`` (e.g. ``{_target_: torch.optim.Adam, lr: 1e-3}``) on ``params``.

    Adam and AdamW run fused (one kernel for all parameters, on CPU and CUDA) unless ``cfg`` sets ``fused`` or
    ``foreach``: the same update up to float rounding (tested), 1.05-1.08x faster updates at the CPU default.
    """
    params = list(params)
    cfg = to_dict(cfg)
    if not params:
        raise ValueError(f"optimizer {cfg.get('_target_')} got no parameters.")
    if cfg.get("_target_") in FUSED_OPTIMIZERS and "fused" not in cfg and "foreach" not in cfg:
        cfg["fused"] = all(p.device.type in ("cpu", "cuda") and p.dtype.is_floating_point for p in params)
    return hydra.utils.instantiate(cfg, params=params, _convert_="all")


def soft_update_(target: nn.Module, online: nn.Module, tau: float) -> None:
    """Polyak averaging (eq. 5.7): ``theta_target <- (1 - tau) theta_target + tau theta_online``, in place."""
    target_params = list(target.parameters())
    torch._foreach_lerp_(target_params, [p.detach() for p in online.parameters()], tau)


def parameters_except(module: nn.Module, excluded: Iterable[nn.Parameter]) -> list[nn.Parameter]:
    """``module``'s parameters without those in ``excluded`` (compared by identity, as tied weights are)."""
    excluded_ids = {id(p) for p in excluded}
    return [p for p in module.parameters() if id(p) not in excluded_ids]


def read_agent_state(path: str | os.PathLike) -> dict[str, Any]:
    """The agent state saved by the training loop: ``path`` is a run folder (its newest checkpoint), a checkpoint
    folder ``checkpoints/step_<n>`` or a ``state.pt`` file."""
    path = Path(path)
    if (path / "checkpoints" / "latest").exists():
        path = path / "checkpoints" / (path / "checkpoints" / "latest").read_text().strip()
    if path.is_dir():
        path = path / "state.pt"
    if not path.exists():
        raise FileNotFoundError(f"no agent checkpoint at {path} (give a run folder, a checkpoint folder or state.pt).")
    return torch.load(path, map_location="cpu", weights_only=True)["agent"]


def _action_bounds(action_range: Sequence[Any], action_dim: int) -> tuple[np.ndarray, np.ndarray]:
    if len(action_range) != 2:
        raise ValueError(f"action_range must be (low, high); got {action_range!r}.")
    low, high = (np.broadcast_to(np.asarray(bound, dtype=np.float64), (action_dim,)) for bound in action_range)
    if not (np.all(np.isfinite(low)) and np.all(np.isfinite(high)) and np.all(low < high)):
        raise ValueError(f"action_range must be a finite box with low < high; got low {low}, high {high}.")
    return low, high


class Agent:
    """Pixel SAC with a shared convolutional encoder (the chapter 5 agent)."""

    def __init__(
        self,
        env_obs_shape: Sequence[int],
        action_shape: Sequence[int],
        action_range: tuple[Any, Any],
        device: str | torch.device,
        actor_cfg: ConfigLike,
        critic_cfg: ConfigLike,
        alpha_optimizer_cfg: ConfigLike,
        actor_optimizer_cfg: ConfigLike,
        critic_optimizer_cfg: ConfigLike,
        multitask_cfg: ConfigLike,
        encoder_optimizer_cfg: ConfigLike,
        discount: float,
        init_temperature: float,
        actor_update_freq: int,
        critic_tau: float,
        critic_target_update_freq: int,
        encoder_tau: float,
        loss_reduction: str = "mean",
        cfg_to_load_model: ConfigLike | None = None,
        should_complete_init: bool = True,
    ):
        if len(action_shape) != 1:
            raise ValueError(f"action_shape must be (|A|,); got {tuple(action_shape)}.")
        if loss_reduction not in LOSS_REDUCTIONS:
            raise ValueError(f"loss_reduction must be one of {LOSS_REDUCTIONS}; got {loss_reduction!r}.")
        if init_temperature <= 0:
            raise ValueError(f"init_temperature must be positive; got {init_temperature}.")
        self.device = torch.device(device)
        self.action_dim = int(action_shape[0])
        low, high = _action_bounds(action_range, self.action_dim)
        self.action_range = (low, high)
        # a = centre + half_width · u maps the policy's u in [-1, 1] onto the box; identity for [-1, 1]
        self.rescales_actions = not (np.all(low == -1.0) and np.all(high == 1.0))
        self.action_centre = torch.as_tensor((high + low) / 2, dtype=torch.float32, device=self.device)
        self.action_half_width = torch.as_tensor((high - low) / 2, dtype=torch.float32, device=self.device)
        self.discount = discount
        self.actor_update_freq = actor_update_freq
        self.critic_tau = critic_tau
        self.critic_target_update_freq = critic_target_update_freq
        self.encoder_tau = encoder_tau
        self.loss_reduction = loss_reduction
        self.target_entropy = -float(self.action_dim)  # (eq. 5.6): H_target = -|A|
        self._switches = UpdateSwitches()
        self.precision = "fp32"  # of the update's forward passes: fp32 | bf16 (make_agent sets agent.precision)
        self.multitask = MultitaskConfig.from_cfg(to_dict(multitask_cfg))
        self._optimizer_cfgs = {"encoder": encoder_optimizer_cfg, "critic": critic_optimizer_cfg,
                                "actor": actor_optimizer_cfg, "alpha": alpha_optimizer_cfg}
        self._optimizers: dict[str, torch.optim.Optimizer] = {}

        self.task_encoder: TaskEncoder | None = None
        task_dim = 0
        if self.multitask.should_use_task_encoder:
            task_encoder_cfg = dict(self.multitask.task_encoder_cfg)
            self._optimizer_cfgs["task_encoder"] = task_encoder_cfg.pop("optimizer_cfg")
            self.task_encoder = TaskEncoder(self.multitask.num_envs, **task_encoder_cfg).to(self.device)
            self.task_encoder.apply(orthogonal_init_)
            task_dim = self.task_encoder.output_dim
        self.task_dim = task_dim
        self.critic = Critic(env_obs_shape, self.action_dim, task_dim=task_dim, **to_dict(critic_cfg)).to(self.device)
        self.critic.apply(orthogonal_init_)
        self.critic_target = copy.deepcopy(self.critic).requires_grad_(False)  # starts equal to the online critic
        self.actor = Actor(env_obs_shape, self.action_dim, task_dim=task_dim, **to_dict(actor_cfg)).to(self.device)
        self.actor.apply(orthogonal_init_)
        self.actor.encoder.tie_conv_weights_to(self.critic.encoder)
        num_temperatures = self.multitask.num_envs if self.multitask.should_use_disentangled_alpha else None
        log_alpha = torch.tensor(math.log(init_temperature), device=self.device)
        self.log_alpha = (log_alpha if num_temperatures is None else log_alpha.repeat(num_temperatures))
        self.log_alpha.requires_grad_(True)
        if should_complete_init:
            self.complete_init(cfg_to_load_model)

    def complete_init(self, cfg_to_load_model: ConfigLike | None = None) -> None:
        """Build the optimizers (after every network exists), then load ``cfg_to_load_model``'s components.

        ``cfg_to_load_model = {"model_dir": <run folder | checkpoint folder | state.pt>, "components": [names]}``
        loads the listed networks (names of :meth:`networks`, and ``log_alpha``; all of them when ``components`` is
        absent) from a checkpoint written by the training loop; the optimizers start fresh. A loaded critic is
        copied into the target critic unless ``critic_target`` is listed too.
        """
        self._optimizers = self.build_optimizers()
        if cfg_to_load_model:
            self.load_components(**to_dict(cfg_to_load_model))

    def build_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        """One optimizer per parameter group (see the module docstring); subclasses add theirs."""
        cfgs = self._optimizer_cfgs
        encoder_params = list(self.critic.encoder.parameters())
        head_params = list(nn.ModuleList(self.critic.heads()).parameters())
        critic_params = head_params if self.switches.encoder_optimizer == "shared" else encoder_params + head_params
        actor_params = parameters_except(self.actor, self.critic.encoder.conv_parameters())
        optimizers = {
            "encoder": make_optimizer(cfgs["encoder"], encoder_params),
            "critic": make_optimizer(cfgs["critic"], critic_params),
            "actor": make_optimizer(cfgs["actor"], actor_params),
            "alpha": make_optimizer(cfgs["alpha"], [self.log_alpha]),
        }
        if self.task_encoder is not None:
            optimizers["task_encoder"] = make_optimizer(cfgs["task_encoder"], self.task_encoder.parameters())
        return optimizers

    def load_components(self, model_dir: str | os.PathLike, components: Sequence[str] | None = None) -> None:
        """Load the listed networks (and ``log_alpha``) from a training checkpoint; see :meth:`complete_init`."""
        state = read_agent_state(model_dir)
        available = [*self.networks(), "log_alpha"]
        names = list(available if components is None else components)
        unknown = sorted(set(names) - set(available))
        if unknown:
            raise ValueError(f"cannot load components {unknown}; this agent has {available}.")
        for name in names:
            if name == "log_alpha":
                with torch.no_grad():
                    self.log_alpha.copy_(state["log_alpha"])
            else:
                self.networks()[name].load_state_dict(state["networks"][name])
        if "critic" in names and "critic_target" not in names:
            self.critic_target.load_state_dict(self.critic.state_dict())

    # ------------------------------------------------------------------ bookkeeping
    @property
    def switches(self) -> UpdateSwitches:
        """The update switches (:mod:`reference_impl.agents.switches`); :func:`make_agent` sets them from the config.
        Set them before :meth:`complete_init` (``should_complete_init=False``) when building an agent by hand."""
        return self._switches

    @switches.setter
    def switches(self, switches: UpdateSwitches) -> None:
        if self._optimizers and switches.encoder_optimizer != self._switches.encoder_optimizer:
            raise RuntimeError("encoder_optimizer decides how the optimizers are built: set it before complete_init().")
        self._switches = switches

    @property
    def alpha(self) -> Tensor:
        """The temperature ``alpha = exp(log alpha)`` (one per task with ``should_use_disentangled_alpha``)."""
        return self.log_alpha.exp()

    def alpha_for(self, task: Tensor | None) -> Tensor:
        """The temperature of each sample, ``[B, 1]`` per task, or the single ``alpha``."""
        if self.log_alpha.ndim == 0:
            return self.alpha
        if task is None:
            raise ValueError("this agent has one temperature per task: the batch must carry task ids.")
        return self.log_alpha[task.long()].exp().unsqueeze(1)

    def log_alpha_for(self, task: Tensor | None) -> Tensor:
        return self.log_alpha if self.log_alpha.ndim == 0 else self.log_alpha[task.long()].unsqueeze(1)

    def networks(self) -> dict[str, nn.Module]:
        """Every network of the agent by name (targets included)."""
        networks = {"actor": self.actor, "critic": self.critic, "critic_target": self.critic_target}
        return networks | ({"task_encoder": self.task_encoder} if self.task_encoder is not None else {})

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        """Every optimizer of the agent by name (built by :meth:`complete_init`)."""
        if not self._optimizers:
            raise RuntimeError("the agent's optimizers are built by complete_init(), which has not run yet.")
        return dict(self._optimizers)

    @property
    def encoder_optimizer(self) -> torch.optim.Optimizer:
        return self.optimizers()["encoder"]

    @property
    def critic_optimizer(self) -> torch.optim.Optimizer:
        return self.optimizers()["critic"]

    @property
    def actor_optimizer(self) -> torch.optim.Optimizer:
        return self.optimizers()["actor"]

    @property
    def alpha_optimizer(self) -> torch.optim.Optimizer:
        return self.optimizers()["alpha"]

    def train(self, training: bool = True) -> None:
        for network in self.networks().values():
            network.train(training)

    def state_dict(self) -> dict[str, Any]:
        """Networks, ``log alpha`` and optimizer states (everything :meth:`update` changes)."""
        return {
            "networks": {name: net.state_dict() for name, net in self.networks().items()},
            "log_alpha": self.log_alpha.detach().clone(),
            "optimizers": {name: opt.state_dict() for name, opt in self.optimizers().items()},
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        for name, net in self.networks().items():
            net.load_state_dict(state["networks"][name])
        with torch.no_grad():
            self.log_alpha.copy_(state["log_alpha"])
        for name, opt in self.optimizers().items():
            opt.load_state_dict(state["optimizers"][name])

    # ------------------------------------------------------------------ acting
    def with_task(self, latent: Tensor, task: Tensor | None, detach: bool = False) -> Tensor:
        """``[phi(x), e(task)]`` in the multi-task mode with a task encoder, else ``phi(x)`` unchanged."""
        if self.task_encoder is None:
            return latent
        if task is None:
            raise ValueError("this agent conditions on the task: pass the task ids (Batch.task, act(task=...)).")
        embedding = self.task_encoder(task.to(latent.device))
        return torch.cat([latent, embedding.detach() if detach else embedding], dim=-1)

    def to_policy_action(self, action: Tensor) -> Tensor:
        """Map environment actions in ``[low, high]`` to the policy's ``[-1, 1]`` (identity for ``[-1, 1]``)."""
        return (action - self.action_centre) / self.action_half_width if self.rescales_actions else action

    @torch.no_grad()
    def act(self, obs: np.ndarray, sample: bool = False, task: int | None = None) -> np.ndarray:
        """Action for one ``uint8 [C, H, W]`` observation (or a batch): ``tanh(mu)``, or a sample if ``sample``,
        mapped onto the environment's action box; ``task`` is the episode's task id in the multi-task mode."""
        obs_t = torch.as_tensor(np.asarray(obs), device=self.device)
        single = obs_t.ndim == 3
        obs_t = obs_t.unsqueeze(0) if single else obs_t
        task_t = None if task is None else torch.as_tensor(task, device=self.device).reshape(-1).expand(len(obs_t))
        mode, action, _, _ = self.actor.policy(self.with_task(self.actor.encoder(obs_t), task_t), sample=sample)
        action = (action if sample else mode).clamp(-1.0, 1.0)
        if self.rescales_actions:
            action = self.action_centre + self.action_half_width * action
        action = action.cpu().numpy()
        return action[0] if single else action

    # ------------------------------------------------------------------ learning
    def reduce(self, loss: Tensor, batch: Batch) -> Tensor:
        """A scalar from a batch mean (returned as is) or from per-sample losses ``[B, 1]``: their mean with
        ``loss_reduction="mean"``, with ``"none"`` the mean per task and then over tasks (:func:`per_task_mean`)."""
        if loss.ndim == 0:
            return loss
        if self.loss_reduction == "mean":
            return loss.mean()
        return per_task_mean(loss, batch.task, self.multitask.num_envs)

    def autocast(self) -> torch.autocast:
        """The update's forward passes in bfloat16 when ``precision == "bf16"`` (autocast on the CPU or CUDA: matrix
        products and convolutions in bf16, reductions and losses in fp32; parameters, gradients and Adam's state
        stay fp32). A disabled context for ``"fp32"``. Not validated for learning yet: see the README."""
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {PRECISIONS}; got {self.precision!r}.")
        return torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.precision == "bf16")

    def step_optimizers(self, loss: Tensor, *names: str) -> None:
        """Zero the named optimizers' gradients, back-propagate ``loss`` and step them (outside autocast)."""
        optimizers = [self._optimizers[name] for name in names]
        for optimizer in optimizers:
            optimizer.zero_grad(set_to_none=True)
        with torch.autocast(self.device.type, enabled=False):
            loss.backward()
            for optimizer in optimizers:
                optimizer.step()

    def encoder_optimizer_names(self) -> tuple[str, ...]:
        """Optimizers that a representation loss steps: the encoder's (and the task encoder's)."""
        return ("encoder", "task_encoder") if self.task_encoder is not None else ("encoder",)

    def update(self, batch: Batch, step: int) -> dict[str, float]:
        """One SAC step: critic → actor and α (every ``actor_update_freq``) → targets (every ``..._target_...``)."""
        with self.autocast():
            metrics = self.update_critic(batch)
            if step % self.actor_update_freq == 0:
                metrics.update(self.update_actor_and_alpha(batch))
            if step % self.critic_target_update_freq == 0:
                self.soft_update_targets()
        return metrics

    def update_critic(self, batch: Batch) -> dict[str, float]:
        """Clipped double-Q regression on the soft Bellman target.

        ``y = r + gamma · not_done · (min_j Q_bar_j(x', a') - alpha · log pi(a'|x')),  a' ~ pi(.|x')``  (eq. 5.2)
        ``L_Q = sum_j mean (Q_j(x, a) - y)²``  (eq. 5.3)

        The target uses the target critic and is built under ``torch.no_grad``: no gradient reaches the targets.
        With ``encoder_optimizer="separate"`` the critic's own optimizer holds the encoder too.
        """
        task = batch.task
        with torch.no_grad():
            _, next_action, next_log_pi, _ = self.actor.policy(
                self.with_task(self.actor.encoder(batch.next_obs), task))
            target_q1, target_q2 = self.critic_target.q_values(
                self.with_task(self.critic_target.encoder(batch.next_obs), task), next_action)
        target_q = losses.critic_target(batch.reward, batch.not_done, target_q1, target_q2, next_log_pi,
                                        self.alpha_for(task), self.discount)
        q1, q2 = self.critic.q_values(self.with_task(self.critic.encoder(batch.obs), task),
                                      self.to_policy_action(batch.action))
        critic_loss = self.reduce(losses.critic_loss(q1, q2, target_q, reduction=self.loss_reduction), batch)

        encoder = ("encoder",) if self.switches.encoder_optimizer == "shared" else ()
        task_encoder = ("task_encoder",) if self.task_encoder is not None else ()
        self.step_optimizers(critic_loss, *encoder, "critic", *task_encoder)
        return {"critic_loss": critic_loss.item(), "q1": q1.mean().item(), "target_q": target_q.mean().item()}

    def update_actor_and_alpha(self, batch: Batch) -> dict[str, float]:
        """Actor and temperature losses on a detached encoding.

        ``L_pi = mean [alpha · log pi(a|x) - min_j Q_j(phi(x), a)],  a ~ pi(.|x)``  (eq. 5.5)
        ``L_alpha = mean [log alpha · (-log pi(a|x) - H_target)]`` with ``H_target = -|A|``  (eq. 5.6;
        ``alpha_loss="alpha"`` puts ``alpha`` in place of ``log alpha``)

        The shared convolutions run once, under ``no_grad`` (the actor must not shape the encoder); the actor's own
        fc/LayerNorm and trunk learn. The critic (and the task embedding) is only evaluated: not stepped here.
        """
        task = batch.task
        with torch.no_grad():
            conv_features = self.critic.encoder.conv_features(batch.obs)  # tied: the actor's convs are the same
            critic_latent = self.with_task(self.critic.encoder.head(conv_features), task)
        actor_latent = self.with_task(self.actor.encoder.head(conv_features), task, detach=True)
        _, action, log_pi, log_std = self.actor.policy(actor_latent)
        q1, q2 = self.critic.q_values(critic_latent, action)
        actor_loss = self.reduce(
            losses.actor_loss(log_pi, q1, q2, self.alpha_for(task), reduction=self.loss_reduction), batch)
        self.step_optimizers(actor_loss, "actor")

        alpha_loss = self.reduce(losses.alpha_loss(self.log_alpha_for(task), log_pi, self.target_entropy,
                                                   reduction=self.loss_reduction, form=self.switches.alpha_loss),
                                 batch)
        self.step_optimizers(alpha_loss, "alpha")
        entropy = -log_pi.detach().mean()
        return {
            "actor_loss": actor_loss.item(),
            "alpha_loss": alpha_loss.item(),
            "alpha": self.alpha.mean().item(),
            "entropy": entropy.item(),
            "log_std": log_std.detach().mean().item(),
        }

    def soft_update_targets(self) -> None:
        """(eq. 5.7) with ``critic_tau`` for both Q heads and ``encoder_tau`` for the encoder."""
        soft_update_(self.critic_target.Q1, self.critic.Q1, self.critic_tau)
        soft_update_(self.critic_target.Q2, self.critic.Q2, self.critic_tau)
        soft_update_(self.critic_target.encoder, self.critic.encoder, self.encoder_tau)
