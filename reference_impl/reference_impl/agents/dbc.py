"""A DBC-style agent (Zhang et al., 2021; book chapters 4 and 6): the DeepMDP agent's latent model, with the encoder
also trained by the bisimulation loss and without the pixel decoder.

:meth:`Agent.update` runs, in order: critic → actor and α → target networks (as SAC) → the latent model's step,
whose loss is the transition and reward losses of the DeepMDP agent (eqs. 6.1–6.2, or 6.4 for a Gaussian model)
plus ``bisim_coef`` times the bisimulation loss of eq. 4.12 (:func:`reference_impl.deepmdp.dbc.bisimulation_loss`):
latent L1 distances of random pairs of the batch regressed on ``|r_i - r_j| + γ W_2(P̂_i, P̂_j)``, the target computed
from the transition model's prediction and detached (only the encoder learns from it). There is no reconstruction:
the decoder built by the parent class is never stepped. Single-task and ``loss_reduction="mean"`` only (the pair loss
has no per-sample form).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from reference_impl.agents import deepmdp
from reference_impl.deepmdp.dbc import bisimulation_loss
from reference_impl.replay_buffer import Batch


class Agent(deepmdp.Agent):
    """The DeepMDP agent's constructor plus ``bisim_coef``, the weight of the bisimulation loss (DBC's default 0.5)."""

    trains_decoder = False  # DeepMDP's update without its reconstruction step

    def __init__(self, *args: Any, bisim_coef: float = 0.5, **kwargs: Any):
        super().__init__(*args, **kwargs)
        if bisim_coef < 0:
            raise ValueError(f"bisim_coef must be non-negative; got {bisim_coef}.")
        if self.task_dim or self.loss_reduction != "mean":
            raise ValueError("the DBC agent is single-task with loss_reduction='mean' (its loss is over pairs).")
        self.bisim_coef = bisim_coef

    def extra_encoder_loss(self, latent: Tensor, mu: Tensor, sigma: Tensor | None,
                           batch: Batch) -> tuple[Tensor, dict[str, float]]:
        """``bisim_coef · L_bisim`` (eq. 4.12) on a random pairing of the batch."""
        permutation = torch.randperm(latent.shape[0], device=latent.device)
        loss = bisimulation_loss(latent, batch.reward, mu.detach(), None if sigma is None else sigma.detach(),
                                 self.discount, permutation)
        return self.bisim_coef * loss, {"bisim_loss": loss.item()}
