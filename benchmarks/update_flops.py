"""How close the update is to the machine's limit: FLOPs per update, the rate each update reaches, and the best
speed-up over the pytorch_sac_ae-style baseline that fp32 arithmetic allows at our FLOP count.

    python benchmarks/update_flops.py [--size public|cpu|both] [--agents sac_ae,deepmdp] [--updates 4]

FLOPs are counted by ``torch.utils.flop_counter.FlopCounterMode`` (matrix products and convolutions, forward and
backward) over two updates (one full cycle: the actor and the targets are updated every second step) and halved.
The machine's rate is that of the encoder's own convolutions, forward and backward, on the same batch (the kind of
work that dominates an update, in fp32, one thread). Then ``our FLOPs / that rate`` is a floor for our update's time
(everything that is not a convolution runs no faster), and ``baseline time / floor`` bounds the fp32 speed-up at our
FLOP count. Updates of the course's agent and the baseline are interleaved and share this process's allocator
(``keep_freed_memory``). Results: ``benchmarks/results/update_flops.csv``.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import pandas as pd
import torch
from agent_update_speed import SIZES, BaselineAgent, course_variant, in_course_layout, random_batch, time_pair
from torch.utils.flop_counter import FlopCounterMode

from reference_impl.allocator import keep_freed_memory

RESULTS = Path(__file__).resolve().parent / "results" / "update_flops.csv"


def flops_per_update(agent, batch) -> float:
    with FlopCounterMode(display=False) as counter:
        for step in range(2):
            agent.update(batch, step)
    return counter.get_total_flops() / 2


def encoder_rate(encoder, obs, rounds: int) -> float:
    """GFLOP/s of the encoder's convolutions, forward and backward, on ``obs`` (median of ``rounds``)."""
    def step():
        encoder.zero_grad(set_to_none=True)
        encoder.conv_features(obs).sum().backward()

    with FlopCounterMode(display=False) as counter:
        step()
    seconds = []
    for _ in range(rounds):
        start = time.perf_counter()
        step()
        seconds.append(time.perf_counter() - start)
    return counter.get_total_flops() / statistics.median(seconds) / 1e9


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", choices=["public", "cpu", "both"], default="both")
    parser.add_argument("--agents", default="sac_ae,deepmdp")
    parser.add_argument("--updates", type=int, default=4)
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args()
    torch.set_num_threads(1)
    keep_freed_memory()
    device = torch.device("cpu")
    rows = []
    for size_name in (["public", "cpu"] if args.size == "both" else [args.size]):
        size = SIZES[size_name]
        obs_shape = (3 * size["frame_stack"], size["image_size"], size["image_size"])
        batch = random_batch(obs_shape, size["batch_size"], 6, device)
        ours_batch = in_course_layout(batch)
        for agent_name in args.agents.split(","):
            ours = course_variant("fp32", agent_name, obs_shape, size, device)
            baseline = BaselineAgent(obs_shape, 6, size, deepmdp=agent_name == "deepmdp", device=device)
            flops = {"ours": flops_per_update(ours, ours_batch), "baseline": flops_per_update(baseline, batch)}
            rate = encoder_rate(ours.critic.encoder, ours_batch.obs, rounds=max(3, args.updates))
            t = time_pair({"ours": ours, "baseline": baseline}, {"ours": ours_batch, "baseline": batch},
                          args.updates, 1, device)
            floor_ms = 1e3 * flops["ours"] / (rate * 1e9)
            row = {"size": size_name, "agent": agent_name, "batch": size["batch_size"],
                   "ours_gflop": round(flops["ours"] / 1e9, 2), "baseline_gflop": round(flops["baseline"] / 1e9, 2),
                   "ours_ms": round(t["ours", "wall"], 1), "baseline_ms": round(t["baseline", "wall"], 1),
                   "ours_gflop_per_s": round(flops["ours"] / t["ours", "wall"] / 1e6, 1),
                   "baseline_gflop_per_s": round(flops["baseline"] / t["baseline", "wall"] / 1e6, 1),
                   "encoder_conv_gflop_per_s": round(rate, 1), "ours_floor_ms": round(floor_ms, 1),
                   "speedup": round(t["baseline", "wall"] / t["ours", "wall"], 2),
                   "speedup_bound_fp32": round(t["baseline", "wall"] / floor_ms, 2)}
            rows.append(row)
            print("{size} {agent}: ours {ours_gflop} GFLOP in {ours_ms} ms ({ours_gflop_per_s} GFLOP/s), baseline "
                  "{baseline_gflop} GFLOP in {baseline_ms} ms ({baseline_gflop_per_s} GFLOP/s); encoder convolutions "
                  "{encoder_conv_gflop_per_s} GFLOP/s -> floor {ours_floor_ms} ms; speed-up {speedup}x, at most "
                  "{speedup_bound_fp32}x in fp32 at our FLOPs".format(**row), flush=True)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows).to_csv(args.output, index=False)
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
