"""The pixel agents of chapters 5 and 6, as a class chain: ``sac.Agent → sac_ae.Agent → deepmdp.Agent``.

:func:`make_agent` builds one from its Hydra config node (``conf/agent/*.yaml``): the node's ``builder`` holds the
class (``_target_``) and the constructor's keyword arguments; the environment supplies the shapes.
"""

from __future__ import annotations

from collections.abc import Sequence

import hydra
import torch

from reference_impl.agents import deepmdp, sac, sac_ae
from reference_impl.agents.sac import Batch, ConfigLike, to_dict

AGENT_CLASSES = {"sac": sac.Agent, "sac_ae": sac_ae.Agent, "deepmdp": deepmdp.Agent}


def make_agent(
    agent_cfg: ConfigLike,
    env_obs_shape: Sequence[int],
    action_shape: Sequence[int],
    action_range: tuple[float, float] = (-1.0, 1.0),
    device: str | torch.device = "cpu",
) -> sac.Agent:
    """Build the class named by ``agent_cfg.builder._target_`` with the builder's keyword arguments and the
    environment's shapes (the sub-configs arrive as plain, resolved dicts)."""
    if "builder" not in agent_cfg:
        raise ValueError(f"an agent config needs a 'builder' node with a _target_; got keys {list(agent_cfg)}.")
    builder = to_dict(agent_cfg["builder"])
    agent_class = hydra.utils.get_class(builder.pop("_target_"))
    if not issubclass(agent_class, sac.Agent):
        raise ValueError(f"agent builder must name sac.Agent or a subclass; got {agent_class.__name__}.")
    agent = agent_class(
        env_obs_shape=tuple(env_obs_shape),
        action_shape=tuple(action_shape),
        action_range=tuple(action_range),
        device=device,
        **builder,
    )
    return agent


__all__ = ["AGENT_CLASSES", "Batch", "deepmdp", "make_agent", "sac", "sac_ae"]
