"""Which loss trains which parameters: traced from one real update of an agent (book chapters 5 and 6).

:func:`trace_gradient_flow` runs ``agent.update`` once and records, for every ``backward`` call (one per loss), which
parameter groups

* are **stepped**: their gradient changed in this backward pass and an optimizer applied it before the next loss;
* are **reached only**: they received a gradient that no optimizer of this loss applied (e.g. the critic's Q heads
  under the actor loss: the critic is evaluated, not trained);
* are **stopped**: they took part in the forward pass of this loss's update step but received no gradient — a
  stop-gradient (``torch.no_grad`` or ``detach``), e.g. the target critic in the critic loss.

Nothing here is declared by hand: the groups come from the parameters' names, the three sets from hooks on
``torch.Tensor.backward``, on every optimizer's ``step`` and on the modules' forward passes.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field

import torch
from torch import nn

from reference_impl.agents.sac import Agent, Batch

# Parameter groups by name prefix (first match wins), in display order.
GROUP_RULES = (
    ("critic.encoder.convs", "shared conv layers"),
    ("critic.encoder", "critic fc + LayerNorm"),
    ("critic.Q", "Q heads"),
    ("critic_target", "target critic"),
    ("actor.encoder.convs", "shared conv layers"),
    ("actor.encoder", "actor fc + LayerNorm"),
    ("actor.trunk", "policy trunk"),
    ("log_alpha", "log α"),
    ("transition_model", "transition model"),
    ("reward_decoder", "reward decoder"),
    ("decoder", "pixel decoder"),
)

# The loss of each backward pass, by the update method that calls it (in call order within the method).
LOSS_NAMES = {
    "update_critic": ("critic loss",),
    "update_actor_and_alpha": ("actor loss", "temperature loss"),
    "update_transition_reward_model": ("transition + reward loss",),
    "update_decoder": ("decoder loss",),
}


@dataclass
class LossFlow:
    """Parameter groups that one loss steps, reaches without stepping, or stops (see the module docstring)."""

    loss: str
    stepped: set[str] = field(default_factory=set)
    reached_only: set[str] = field(default_factory=set)
    stopped: set[str] = field(default_factory=set)


def parameter_groups(agent: Agent) -> dict[int, str]:
    """``id(parameter) -> group name`` for every parameter of the agent (tied parameters appear once)."""
    named: list[tuple[str, nn.Parameter]] = [("log_alpha", agent.log_alpha)]
    networks = agent.networks()
    for network_name in ("critic", "critic_target", *[n for n in networks if n not in ("critic", "critic_target")]):
        named += [(f"{network_name}.{name}", p) for name, p in networks[network_name].named_parameters()]
    groups: dict[int, str] = {}
    for name, parameter in named:
        group = next((label for prefix, label in GROUP_RULES if name.startswith(prefix)), name.split(".")[0])
        groups.setdefault(id(parameter), group)
    return groups


def group_order(agent: Agent) -> list[str]:
    """The agent's groups in display order."""
    present = set(parameter_groups(agent).values())
    ordered = list(dict.fromkeys(label for _, label in GROUP_RULES))
    return [g for g in ordered if g in present] + sorted(present - set(ordered))


@contextlib.contextmanager
def _patched(obj: object, name: str, wrapper) -> Iterator[None]:
    """Replace ``obj.name`` by ``wrapper(original)`` for the duration; afterwards ``obj`` is as before (an attribute
    that came from the class is deleted from the instance again, not copied onto it)."""
    own = name in vars(obj)
    original = getattr(obj, name)
    setattr(obj, name, wrapper(original))
    try:
        yield
    finally:
        if own:
            setattr(obj, name, original)
        else:
            delattr(obj, name)


def trace_gradient_flow(agent: Agent, batch: Batch, step: int = 0) -> list[LossFlow]:
    """Run ``agent.update(batch, step)`` once and return one :class:`LossFlow` per loss, in update order.

    The agent is updated for real (its parameters change); pass a throw-away agent. ``step = 0`` runs every
    scheduled part of the update (actor, targets, decoder).
    """
    groups = parameter_groups(agent)
    parameters = {id(p): p for network in agent.networks().values() for p in network.parameters()}
    parameters[id(agent.log_alpha)] = agent.log_alpha
    flows: list[LossFlow] = []
    phase = {"name": None, "count": 0, "forward": set()}
    pending_steps: list[set[int]] = []  # optimizer steps since the last backward

    def grads() -> dict[int, torch.Tensor | None]:
        return {pid: None if p.grad is None else p.grad.detach().clone() for pid, p in parameters.items()}

    def close_last_flow() -> None:
        if flows and "_changed" in flows[-1].__dict__:
            stepped_ids = set().union(*pending_steps) if pending_steps else set()
            flow, changed = flows[-1], flows[-1].__dict__.pop("_changed")
            flow.stepped = {groups[pid] for pid in changed & stepped_ids}
            flow.reached_only = {groups[pid] for pid in changed - stepped_ids} - flow.stepped
            forward_groups = {groups[pid] for pid in phase["forward"] if pid in groups}
            flow.stopped = forward_groups - flow.stepped - flow.reached_only
        pending_steps.clear()

    def wrap_backward(original):
        def backward(tensor, *args, **kwargs):
            before = grads()
            original(tensor, *args, **kwargs)
            after = grads()
            changed = {
                pid for pid, grad in after.items()
                if grad is not None and (before[pid] is None or not torch.equal(before[pid], grad))
            }
            close_last_flow()
            names = LOSS_NAMES.get(phase["name"], (phase["name"],))
            label = names[min(phase["count"], len(names) - 1)]
            phase["count"] += 1
            flow = LossFlow(label)
            flow.__dict__["_changed"] = changed
            flows.append(flow)

        return backward

    def wrap_step(optimizer):
        def wrapper(original):
            def step_(*args, **kwargs):
                pending_steps.append({id(p) for group in optimizer.param_groups for p in group["params"]
                                      if p.grad is not None})
                return original(*args, **kwargs)

            return step_

        return wrapper

    def wrap_phase(method_name):
        def wrapper(original):
            def run(*args, **kwargs):
                close_last_flow()
                phase.update(name=method_name, count=0, forward=set())
                return original(*args, **kwargs)

            return run

        return wrapper

    def record_forward(module, _inputs, _output):
        phase["forward"].update(id(p) for p in module.parameters(recurse=False))

    hooks = [module.register_forward_hook(record_forward)
             for network in agent.networks().values() for module in network.modules()]
    with contextlib.ExitStack() as stack:
        stack.enter_context(_patched(torch.Tensor, "backward", wrap_backward))
        for optimizer in agent.optimizers().values():
            stack.enter_context(_patched(optimizer, "step", wrap_step(optimizer)))
        for method_name in LOSS_NAMES:
            if hasattr(agent, method_name):
                stack.enter_context(_patched(agent, method_name, wrap_phase(method_name)))
        try:
            agent.update(batch, step)
            close_last_flow()  # the last loss: its steps have run
        finally:
            for hook in hooks:
                hook.remove()
    return flows


CELL_STYLES = {  # state: (face colour, text)
    "stepped": ("#2b8c4a", "trains"),
    "reached_only": ("#f2b134", "gradient,\nnot applied"),
    "stopped": ("#d0d0d0", "stop-\ngradient"),
}


def plot_gradient_flow(flows: list[LossFlow], groups: list[str], ax, title: str | None = None) -> None:
    """Draw ``flows`` on the matplotlib axes ``ax``: one column per loss (in update order), one row per parameter
    group; a cell says whether the loss trains the group, reaches it without training it, or stops its gradient."""
    from matplotlib.patches import Rectangle

    ax.set_xlim(0, len(flows))
    ax.set_ylim(len(groups), 0)
    for column, flow in enumerate(flows):
        for row, group in enumerate(groups):
            state = next((s for s in CELL_STYLES if group in getattr(flow, s)), None)
            face, text = CELL_STYLES[state] if state else ("white", "")
            ax.add_patch(Rectangle((column + 0.03, row + 0.05), 0.94, 0.9, facecolor=face, edgecolor="#888888", lw=0.6))
            if text:
                ax.text(column + 0.5, row + 0.5, text, ha="center", va="center", fontsize=8,
                        color="white" if state == "stepped" else "black")
    ax.set_xticks([c + 0.5 for c in range(len(flows))], [f.loss.replace(" + ", " +\n").replace(" loss", "\nloss")
                                                          for f in flows], fontsize=9.5)
    ax.xaxis.tick_top()
    ax.set_yticks([r + 0.5 for r in range(len(groups))], groups, fontsize=9.5)
    ax.tick_params(length=0)
    for spine in ax.spines.values():
        spine.set_visible(False)
    if title:
        ax.set_title(title, fontsize=11, pad=10, loc="left")
