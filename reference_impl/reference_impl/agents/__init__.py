"""The pixel agents of chapters 5 and 6, as a class chain: ``sac.Agent → sac_ae.Agent → deepmdp.Agent → dbc.Agent``.

:func:`make_agent` builds one from its Hydra config node (``conf/agent/*.yaml``): the node's ``builder`` holds the
class (``_target_``) and the constructor's keyword arguments, the environment supplies the shapes, and the node's
update switches (:mod:`reference_impl.agents.switches`) are applied before the optimizers are built.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import hydra
import torch

from reference_impl.agents import deepmdp, sac, sac_ae
from reference_impl.agents.sac import ConfigLike, to_dict
from reference_impl.agents.switches import UpdateSwitches


def make_agent(
    agent_cfg: ConfigLike,
    env_obs_shape: Sequence[int],
    action_shape: Sequence[int],
    action_range: tuple[Any, Any] = (-1.0, 1.0),
    device: str | torch.device = "cpu",
) -> sac.Agent:
    """Build the class named by ``agent_cfg.builder._target_`` with the builder's keyword arguments and the
    environment's shapes (the sub-configs arrive as plain, resolved dicts), set the update switches found in
    ``agent_cfg``, then complete the initialisation (unless the builder says ``should_complete_init: false``)."""
    if "builder" not in agent_cfg:
        raise ValueError(f"an agent config needs a 'builder' node with a _target_; got keys {list(agent_cfg)}.")
    builder = to_dict(agent_cfg["builder"])
    agent_class = hydra.utils.get_class(builder.pop("_target_"))
    if not issubclass(agent_class, sac.Agent):
        raise ValueError(f"agent builder must name sac.Agent or a subclass; got {agent_class.__name__}.")
    should_complete_init = builder.pop("should_complete_init", True)
    cfg_to_load_model = builder.pop("cfg_to_load_model", None)
    agent = agent_class(
        env_obs_shape=tuple(env_obs_shape),
        action_shape=tuple(action_shape),
        action_range=tuple(action_range),
        device=device,
        should_complete_init=False,
        **builder,
    )
    agent.switches = UpdateSwitches.from_config(to_dict(agent_cfg))
    agent.precision = str(agent_cfg.get("precision", "fp32"))
    if agent.precision not in sac.PRECISIONS:
        raise ValueError(f"agent.precision must be one of {sac.PRECISIONS}; got {agent.precision!r}.")
    if should_complete_init:
        agent.complete_init(cfg_to_load_model)
    return agent


__all__ = ["deepmdp", "make_agent", "sac", "sac_ae"]
