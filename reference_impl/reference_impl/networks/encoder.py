"""The pixel encoder shared by every pixel agent (book chapter 5).

``phi(x) = tanh(LayerNorm(W_fc · flatten(conv(x / 255))))``  (eq. 5.1)

``conv`` is a stack of 3×3 convolutions with ReLU, the first with stride 2 and the others with stride 1, no padding.
The encoder is split into two named stages so that agents can run the (expensive) convolutions once and reuse
the flat features: :meth:`PixelEncoder.conv_features` and :meth:`PixelEncoder.head`.

Convolutions run in the ``channels_last`` memory layout: it changes only how tensors are laid out in memory, not the
result, and makes the CPU (oneDNN) convolution kernels about twice as fast in the forward pass.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn


def conv_output_size(image_size: int, num_layers: int) -> int:
    """Side of the last feature map: ``(H - 3) // 2 + 1`` after the stride-2 layer, then ``- 2`` per stride-1 layer."""
    size = (image_size - 3) // 2 + 1 - 2 * (num_layers - 1)
    if size < 1:
        raise ValueError(f"{num_layers} conv layers do not fit an image of side {image_size}; got output side {size}.")
    return size


def check_obs_shape(obs_shape: Sequence[int]) -> tuple[int, int, int]:
    """Return ``(C, H, W)`` after checking the observation is a square channel-first image."""
    if len(obs_shape) != 3 or obs_shape[1] != obs_shape[2]:
        raise ValueError(f"obs_shape must be (channels, height, width) with height == width; got {tuple(obs_shape)}.")
    return int(obs_shape[0]), int(obs_shape[1]), int(obs_shape[2])


class PixelEncoder(nn.Module):
    """Convolutional encoder ``uint8 [B, C, H, W] -> [B, feature_dim]`` (eq. 5.1)."""

    def __init__(self, obs_shape: Sequence[int], feature_dim: int = 50, num_layers: int = 4, num_filters: int = 32):
        super().__init__()
        channels, image_size, _ = check_obs_shape(obs_shape)
        if num_layers < 1 or num_filters < 1 or feature_dim < 1:
            raise ValueError(
                f"num_layers, num_filters and feature_dim must be positive; got {num_layers}, {num_filters}, "
                f"{feature_dim}."
            )
        self.obs_shape = (channels, image_size, image_size)
        self.feature_dim = feature_dim
        self.num_layers = num_layers
        self.num_filters = num_filters
        self.output_side = conv_output_size(image_size, num_layers)
        convs = [nn.Conv2d(channels, num_filters, 3, stride=2)]
        convs += [nn.Conv2d(num_filters, num_filters, 3, stride=1) for _ in range(num_layers - 1)]
        self.convs = nn.ModuleList(convs).to(memory_format=torch.channels_last)
        self.fc = nn.Linear(num_filters * self.output_side**2, feature_dim)
        self.ln = nn.LayerNorm(feature_dim)

    def preprocess(self, obs: Tensor) -> Tensor:
        """Pixels to floats in ``[0, 1]``: ``x / 255`` (the first step of eq. 5.1), in ``channels_last`` memory.

        The layout changes while the pixels are still bytes (a quarter of the memory traffic); the float copy
        keeps it (a new tensor even for float input) and is scaled in place."""
        if obs.shape[1:] != self.obs_shape:
            raise ValueError(f"expected observations of shape [B, {', '.join(map(str, self.obs_shape))}]; "
                             f"got {tuple(obs.shape)}.")
        dtype = self.fc.weight.dtype  # float32 unless the encoder was converted (e.g. to float64 for tests)
        return obs.contiguous(memory_format=torch.channels_last).to(dtype, copy=True).div_(255.0)

    def conv_features(self, obs: Tensor) -> Tensor:
        """``flatten(conv(x / 255))``: the flat convolutional features, shape ``[B, num_filters · side²]``.

        The feature map is flattened in (row, column, channel) order, which in ``channels_last`` memory is a free
        view; any fixed order of the features is the same model, since ``fc`` is a dense layer on all of them.
        """
        h = self.preprocess(obs)
        for conv in self.convs:
            h = torch.relu_(conv(h))  # in place: a convolution does not keep its output for the backward pass
        return h.permute(0, 2, 3, 1).flatten(start_dim=1)

    def head(self, conv_features: Tensor) -> Tensor:
        """``tanh(LayerNorm(W_fc · h))``: the trainable head on top of the convolutions."""
        return torch.tanh(self.ln(self.fc(conv_features)))

    def forward(self, obs: Tensor) -> Tensor:
        """``phi(x)`` (eq. 5.1)."""
        return self.head(self.conv_features(obs))

    def tie_conv_weights_to(self, source: PixelEncoder) -> None:
        """Make this encoder's convolutions *use the same Parameter objects* as ``source`` (tied, not copied)."""
        if len(self.convs) != len(source.convs):
            raise ValueError(f"cannot tie {len(self.convs)} conv layers to {len(source.convs)}.")
        for own, theirs in zip(self.convs, source.convs, strict=True):
            if own.weight.shape != theirs.weight.shape:
                raise ValueError(f"conv shapes differ: {tuple(own.weight.shape)} vs {tuple(theirs.weight.shape)}.")
            own.weight = theirs.weight
            own.bias = theirs.bias

    def conv_parameters(self) -> list[nn.Parameter]:
        """The convolution weights and biases (the part an actor shares with its critic)."""
        return list(self.convs.parameters())
