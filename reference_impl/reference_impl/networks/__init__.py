"""Neural networks of the pixel agents (book chapters 5 and 6), one module per network, and their initialisation."""

from __future__ import annotations

import torch
from torch import nn

from reference_impl.networks.actor import Actor, squashed_gaussian_log_prob
from reference_impl.networks.critic import Critic, QFunction
from reference_impl.networks.decoder import PixelDecoder
from reference_impl.networks.encoder import PixelEncoder, conv_output_size
from reference_impl.networks.mlp import mlp
from reference_impl.networks.reward_decoder import RewardDecoder
from reference_impl.networks.task_encoder import TaskEncoder
from reference_impl.networks.transition_model import (
    DeterministicTransitionModel,
    GaussianTransitionModel,
    make_transition_model,
)


def orthogonal_init_(module: nn.Module) -> None:
    """Orthogonal init for linear and embedding layers, delta-orthogonal for (transposed) convolutions, zero biases.

    Use as ``network.apply(orthogonal_init_)``. Delta-orthogonal puts an orthogonal matrix at the kernel centre and
    zeros elsewhere, so every layer starts as an isometry on its centre pixel (ReLU gain).
    """
    if isinstance(module, nn.Linear):
        nn.init.orthogonal_(module.weight)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.Embedding):
        nn.init.orthogonal_(module.weight)
    elif isinstance(module, nn.Conv2d | nn.ConvTranspose2d):
        with torch.no_grad():
            module.weight.zero_()
            centre = module.weight.shape[2] // 2
            nn.init.orthogonal_(module.weight[:, :, centre, centre], gain=nn.init.calculate_gain("relu"))
            if module.bias is not None:
                module.bias.zero_()


__all__ = [
    "Actor",
    "Critic",
    "DeterministicTransitionModel",
    "GaussianTransitionModel",
    "PixelDecoder",
    "PixelEncoder",
    "QFunction",
    "RewardDecoder",
    "TaskEncoder",
    "conv_output_size",
    "make_transition_model",
    "mlp",
    "orthogonal_init_",
    "squashed_gaussian_log_prob",
]
