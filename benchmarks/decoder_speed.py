"""Decoder forward + backward: transposed convolutions (``nn.ConvTranspose2d``) against :class:`PixelDecoder`'s
forward (stride-1 layers as full convolutions), and a variant that also runs the stride-2 layer as a sub-pixel
convolution (four output phases, then an interleave), which the decoder does not use because it is slower.

Interleaved rounds in one process, 1 thread, medians; also the encoder's convolutions for the rate they reach.
Run: ``python benchmarks/decoder_speed.py [--size public|cpu] [--rounds 20]``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from reference_impl.networks import PixelDecoder, PixelEncoder
from reference_impl.networks.decoder import conv_transpose_as_conv

SIZES = {"public": dict(obs=(9, 84, 84), layers=4, filters=32, batch=128),
         "cpu": dict(obs=(3, 32, 32), layers=2, filters=16, batch=64)}
RESULTS = Path(__file__).resolve().parent / "results" / "decoder_speed.json"


def transposed_forward(decoder: PixelDecoder, latent: torch.Tensor) -> torch.Tensor:
    """The same decoder evaluated with the ``nn.ConvTranspose2d`` modules themselves (the former forward pass)."""
    h = torch.relu(decoder.fc(latent))
    h = h.view(-1, decoder.input_side, decoder.input_side, decoder.num_filters).permute(0, 3, 1, 2)
    for deconv in decoder.deconvs[:-1]:
        h = torch.relu_(deconv(h))
    return decoder.deconvs[-1](h)


PHASE_TAPS = ([2, 0], [1])  # kernel taps seen by output parity 0 / 1 (input rows i - 1, i / row i)


def subpixel_stride2(x: torch.Tensor, layer: nn.ConvTranspose2d) -> torch.Tensor:
    """A 3x3, stride-2 transposed convolution as four phase convolutions (exact; tested in the suite)."""
    side = x.shape[-1]
    side_out = (side - 1) * 2 + 3 + layer.output_padding[0]
    padded = F.pad(x, (1, 1, 1, 1))
    weight = layer.weight.transpose(0, 1)
    rows = []
    for a in (0, 1):
        phases = [F.conv2d(padded[:, :, a:, b:], weight[:, :, PHASE_TAPS[a]][..., PHASE_TAPS[b]], layer.bias)
                  [:, :, : side + 1, : side + 1] for b in (0, 1)]
        rows.append(torch.stack(phases, dim=-1))
    y = torch.stack(rows, dim=3)  # [B, C, H + 1, 2, W + 1, 2]
    return y.reshape(y.shape[0], y.shape[1], 2 * side + 2, 2 * side + 2)[..., :side_out, :side_out]


def subpixel_forward(decoder: PixelDecoder, latent: torch.Tensor) -> torch.Tensor:
    h = torch.relu(decoder.fc(latent))
    h = h.view(-1, decoder.input_side, decoder.input_side, decoder.num_filters).permute(0, 3, 1, 2)
    for deconv in decoder.deconvs[:-1]:
        h = torch.relu_(conv_transpose_as_conv(h, deconv))
    return subpixel_stride2(h, decoder.deconvs[-1])


def conv_flops(decoder: PixelDecoder, batch: int) -> float:
    """Multiply-adds x 2 of the transposed convolutions, forward pass (the backward pass is about twice this)."""
    flops, side = 0.0, decoder.input_side
    for deconv in decoder.deconvs:
        c_in, c_out, k, _ = deconv.weight.shape
        flops += 2 * batch * c_in * c_out * k * k * side * side  # each input pixel scatters a k x k x c_out block
        side = (side - 1) * deconv.stride[0] + k + deconv.output_padding[0]
    return flops


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", choices=list(SIZES), default="public")
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    cfg = SIZES[args.size]
    torch.manual_seed(0)
    decoder = PixelDecoder(cfg["obs"], 50, cfg["layers"], cfg["filters"])
    encoder = PixelEncoder(cfg["obs"], 50, cfg["layers"], cfg["filters"])
    latent = torch.randn(cfg["batch"], 50)
    target = torch.rand(cfg["batch"], *cfg["obs"])
    pixels = torch.randint(0, 256, (cfg["batch"], *cfg["obs"]), dtype=torch.uint8)

    def step(forward):
        decoder.zero_grad(set_to_none=True)
        start = time.perf_counter()
        ((forward(decoder, latent) - target) ** 2).mean().backward()
        return time.perf_counter() - start

    def encoder_step():
        encoder.zero_grad(set_to_none=True)
        start = time.perf_counter()
        encoder.conv_features(pixels).square().mean().backward()
        return time.perf_counter() - start

    methods = {"transposed": lambda: step(transposed_forward), "reformulated": lambda: step(PixelDecoder.forward),
               "reformulated_and_subpixel": lambda: step(subpixel_forward), "encoder_convs": encoder_step}
    for run in methods.values():  # warm-up
        run()
    times = {name: [] for name in methods}
    for _ in range(args.rounds):
        for name, run in methods.items():
            times[name].append(run())
    median = {name: statistics.median(values) for name, values in times.items()}
    flops = 3 * conv_flops(decoder, cfg["batch"])  # forward + backward (input and weight gradients)
    out = {"size": args.size, "threads": args.threads, "rounds": args.rounds, "median_seconds": median,
           "decoder_gflops_per_s": {name: flops / median[name] / 1e9 for name in methods if name != "encoder_convs"},
           "speedup": median["transposed"] / median["reformulated"]}
    print(json.dumps(out, indent=2))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    stored = json.loads(RESULTS.read_text()) if RESULTS.is_file() else {}
    RESULTS.write_text(json.dumps(stored | {args.size: out}, indent=2) + "\n")


if __name__ == "__main__":
    main()
