"""The one multi-layer perceptron builder of the course's networks.

``mlp(d_in, h, d_out, n)``: ``n`` hidden layers ``Linear(· → h)`` [``LayerNorm(h)``] ``ReLU``, then
``Linear(h → d_out)`` (with ``n = 0`` a single linear layer). The optional LayerNorm is the form of the DeepMDP
transition model and reward decoder (book chapter 6).
"""

from __future__ import annotations

from torch import nn


def mlp(input_dim: int, hidden_dim: int, output_dim: int, num_hidden_layers: int = 2,
        layer_norm: bool = False) -> nn.Sequential:
    """``num_hidden_layers`` × (Linear [+ LayerNorm] + ReLU) of width ``hidden_dim``, then a linear output layer."""
    if num_hidden_layers < 0:
        raise ValueError(f"num_hidden_layers must be >= 0; got {num_hidden_layers}.")
    layers: list[nn.Module] = []
    width = input_dim
    for _ in range(num_hidden_layers):
        layers.append(nn.Linear(width, hidden_dim))
        if layer_norm:
            layers.append(nn.LayerNorm(hidden_dim))
        layers.append(nn.ReLU())
        width = hidden_dim
    layers.append(nn.Linear(width, output_dim))
    return nn.Sequential(*layers)
