"""The decoder's stride-1 layers run as full convolutions: the same function and gradients as nn.ConvTranspose2d."""

import importlib.util
from pathlib import Path

import pytest
import torch
from torch import nn

from reference_impl.networks import PixelDecoder
from reference_impl.networks.decoder import conv_transpose_as_conv


def transposed_forward(decoder, latent):
    """The decoder evaluated with its nn.ConvTranspose2d modules (the former forward pass)."""
    h = torch.relu(decoder.fc(latent))
    h = h.view(-1, decoder.input_side, decoder.input_side, decoder.num_filters).permute(0, 3, 1, 2)
    for deconv in decoder.deconvs[:-1]:
        h = torch.relu(deconv(h))
    return decoder.deconvs[-1](h)


def grads(module, inputs, forward):
    module.zero_grad(set_to_none=True)
    inputs = inputs.detach().clone().requires_grad_()
    out = forward(inputs)
    (out * torch.linspace(-1, 1, out.numel(), dtype=out.dtype).view_as(out)).sum().backward()
    return out.detach(), inputs.grad, [p.grad.clone() for p in module.parameters()]


@pytest.mark.parametrize("channels_last", [False, True])
def test_full_convolution_equals_the_transposed_one_forward_and_backward(channels_last):
    torch.manual_seed(0)
    layer = nn.ConvTranspose2d(5, 4, 3).double()
    x = torch.randn(3, 5, 7, 7, dtype=torch.float64)
    if channels_last:
        layer, x = layer.to(memory_format=torch.channels_last), x.contiguous(memory_format=torch.channels_last)
    expected = grads(layer, x, layer)
    got = grads(layer, x, lambda h: conv_transpose_as_conv(h, layer))
    torch.testing.assert_close(got[0], expected[0], rtol=0, atol=1e-13)
    torch.testing.assert_close(got[1], expected[1], rtol=0, atol=1e-13)
    for g, e in zip(got[2], expected[2], strict=True):
        torch.testing.assert_close(g, e, rtol=0, atol=1e-12)


@pytest.mark.parametrize("obs_shape, layers", [((3, 32, 32), 2), ((6, 33, 33), 3), ((9, 84, 84), 4)])
def test_decoder_equals_its_transposed_convolution_form(obs_shape, layers):
    torch.manual_seed(1)
    decoder = PixelDecoder(obs_shape, feature_dim=12, num_layers=layers, num_filters=8).double()
    latent = torch.randn(2, 12, dtype=torch.float64)
    expected = grads(decoder, latent, lambda z: transposed_forward(decoder, z))
    got = grads(decoder, latent, decoder)
    torch.testing.assert_close(got[0], expected[0], rtol=0, atol=1e-12)
    torch.testing.assert_close(got[1], expected[1], rtol=0, atol=1e-12)
    for g, e in zip(got[2], expected[2], strict=True):
        torch.testing.assert_close(g, e, rtol=1e-12, atol=1e-12)
    # float32, channels_last as trained: equal up to float rounding
    decoder = decoder.float()
    torch.testing.assert_close(decoder(latent.float()), transposed_forward(decoder, latent.float()),
                               rtol=1e-5, atol=1e-5)


def test_parameter_layout_is_that_of_transposed_convolutions():
    decoder = PixelDecoder((9, 84, 84))
    shapes = {name: tuple(p.shape) for name, p in decoder.named_parameters()}
    assert shapes["deconvs.0.weight"] == (32, 32, 3, 3) and shapes["deconvs.3.weight"] == (32, 9, 3, 3)
    assert all(isinstance(layer, nn.ConvTranspose2d) for layer in decoder.deconvs)
    assert sum(p.numel() for p in decoder.parameters()) == 50 * 32 * 35 * 35 + 32 * 35 * 35 + 3 * (32 * 32 * 9 + 32) + (
        32 * 9 * 9 + 9)


@pytest.mark.parametrize("output_padding", [0, 1])
def test_benchmarked_subpixel_stride2_variant_is_exact(output_padding):
    """The slower sub-pixel variant measured in benchmarks/decoder_speed.py computes the same function."""
    path = Path(__file__).resolve().parents[2] / "benchmarks" / "decoder_speed.py"
    spec = importlib.util.spec_from_file_location("decoder_speed", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    torch.manual_seed(2)
    layer = nn.ConvTranspose2d(5, 3, 3, stride=2, output_padding=output_padding).double()
    x = torch.randn(2, 5, 7, 7, dtype=torch.float64)
    torch.testing.assert_close(module.subpixel_stride2(x, layer), layer(x), rtol=0, atol=1e-13)
