"""The pixel decoder of SAC-AE and DeepMDP (book chapters 5 and 6): a mirror image of :class:`PixelEncoder`.

``x_hat = deconv(reshape(W_fc · z))``: a linear layer back to the last feature map, ``num_layers - 1`` transposed
3×3 convolutions with stride 1 and ReLU, and a final transposed convolution with stride 2 back to the image side.
The output is unbounded and is compared with the pixels scaled to ``[0, 1]`` (eq. 5.8).

The parameters are those of ``nn.ConvTranspose2d`` layers (same names, shapes and count, so checkpoints and the book
are unchanged). The stride-1 layers are evaluated as ordinary convolutions, which the CPU (oneDNN) kernels run
faster than transposed ones (1.24x forward + backward at the public size, ``benchmarks/decoder_speed.py``):

    conv_transpose(x, W) = conv(pad(x, k - 1), flip(W)^T)

a "full" convolution with the kernel flipped in both spatial axes and its input/output channels swapped
(:func:`conv_transpose_as_conv`; an exact re-arrangement of the same sums, tested forward and backward). The final
stride-2 layer stays a transposed convolution: its sub-pixel formulation (four output phases as convolutions and a
pixel shuffle) was measured 1.7-1.9x slower here, as its 9 output channels make the extra copies dominate.
All layers run in the ``channels_last`` layout (same result, faster kernels on CPU).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from reference_impl.networks.encoder import check_obs_shape, conv_output_size


def conv_transpose_as_conv(x: Tensor, layer: nn.ConvTranspose2d) -> Tensor:
    """``layer(x)`` for a stride-1, unpadded transposed convolution, computed as a full convolution."""
    k = layer.kernel_size[0]
    weight = layer.weight.transpose(0, 1).flip(2, 3)  # [in, out, k, k] -> [out, in, k, k], spatially flipped
    return F.conv2d(x, weight, layer.bias, padding=k - 1)


class PixelDecoder(nn.Module):
    """Deconvolutional decoder ``[B, feature_dim] -> [B, C, H, W]`` (floats, the scale of ``x / 255``)."""

    def __init__(self, obs_shape: Sequence[int], feature_dim: int = 50, num_layers: int = 4, num_filters: int = 32):
        super().__init__()
        channels, image_size, _ = check_obs_shape(obs_shape)
        self.obs_shape = (channels, image_size, image_size)
        self.num_filters = num_filters
        self.input_side = conv_output_size(image_size, num_layers)
        last_side = self.input_side + 2 * (num_layers - 1)
        output_padding = image_size - ((last_side - 1) * 2 + 3)
        if output_padding not in (0, 1):
            raise ValueError(f"cannot decode to side {image_size} from {last_side}; output padding {output_padding}.")
        self.fc = nn.Linear(feature_dim, num_filters * self.input_side**2)
        deconvs = [nn.ConvTranspose2d(num_filters, num_filters, 3, stride=1) for _ in range(num_layers - 1)]
        deconvs.append(nn.ConvTranspose2d(num_filters, channels, 3, stride=2, output_padding=output_padding))
        self.deconvs = nn.ModuleList(deconvs).to(memory_format=torch.channels_last)

    def forward(self, latent: Tensor) -> Tensor:
        """Reconstruct an image batch from latents of shape ``[B, feature_dim]``."""
        h = torch.relu(self.fc(latent))
        # (row, column, channel) order, as the encoder flattens: a free view in channels_last memory
        h = h.view(-1, self.input_side, self.input_side, self.num_filters).permute(0, 3, 1, 2)
        for deconv in self.deconvs[:-1]:
            h = torch.relu_(conv_transpose_as_conv(h, deconv))
        return self.deconvs[-1](h)
