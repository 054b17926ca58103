"""Latent recovery on DonutWorld (book chapter 4): DeepMDP vs an autoencoder vs an untrained encoder.

Trains the models on the one-track and four-track variants for several seeds, each on its own random-policy data
set: the DeepMDP (squared transition loss), the autoencoder, an ablation (the DeepMDP trained on the reward loss
alone, c_P = 0), and the DeepMDP with the transition loss of each metric of the chapter's "variety of metrics"
section: W1 (eq. 4.7), a Gaussian model's negative log-likelihood (the total-variation surrogate, eq. 4.9) and a
Gaussian model's energy score (the squared norm-MMD, eq. 4.20). Reports held-out linear decodability of the angle
(R^2, eq. 4.14), k-NN overlap with the true track position (eq. 4.15) and the cross-track ratio (eq. 4.16), as
mean ± standard deviation over seeds.

    python benchmarks/donut_recovery.py                     # everything: 6 models x 2 variants x 3 seeds
    python benchmarks/donut_recovery.py --methods deepmdp_w1,deepmdp_energy   # only these rows
    python benchmarks/donut_recovery.py --quick             # the book's short setting

Rows of the output CSV that were not re-run are kept, so a subset can be (re)measured without the rest.
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from pathlib import Path

import pandas as pd
import torch

from reference_impl.deepmdp.latent_model import LatentModelConfig
from reference_impl.deepmdp.recovery import VARIANTS, random_encoder_metrics, recovery_config, run_recovery

METRICS = ("r2", "knn_overlap", "cross_track_ratio", "train_seconds")
KEY = ["method", "variant", "seed"]


def method_configs(quick: bool) -> dict[str, LatentModelConfig | None]:
    """Every row label and its training configuration (``None``: the untrained encoder)."""
    deepmdp = recovery_config("deepmdp", quick=quick)
    return {
        "random_encoder": None,
        "deepmdp": deepmdp,
        "autoencoder": recovery_config("autoencoder", quick=quick),
        "deepmdp_reward_only": dataclasses.replace(deepmdp, transition_weight=0.0),
        "deepmdp_w1": dataclasses.replace(deepmdp, transition_kind="w1"),
        "deepmdp_gaussian_nll": dataclasses.replace(deepmdp, transition_kind="gaussian_nll"),
        "deepmdp_energy": dataclasses.replace(deepmdp, transition_kind="energy"),
    }


def comma_list(text: str) -> list[str]:
    return [item for item in text.split(",") if item]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=3, help="number of seeds (0, 1, ...)")
    parser.add_argument("--quick", action="store_true", help="short training (the book build's setting)")
    parser.add_argument("--methods", type=comma_list, default=None, help="comma-separated row labels (default: all)")
    parser.add_argument("--variants", type=comma_list, default=list(VARIANTS), help="one_track,four_track")
    parser.add_argument("--output", type=Path, default=Path(__file__).parent / "results" / "donut_recovery.csv")
    args = parser.parse_args()
    configs = method_configs(args.quick)
    methods = list(configs) if args.methods is None else args.methods
    unknown = sorted(set(methods) - set(configs)) + sorted(set(args.variants) - set(VARIANTS))
    if unknown:
        parser.error(f"unknown methods or variants {unknown}; methods: {list(configs)}, variants: {list(VARIANTS)}")
    torch.set_num_threads(1)

    rows = []
    for variant in args.variants:
        for seed in range(args.seeds):
            for label in methods:
                start = time.perf_counter()
                config = configs[label]
                if config is None:
                    metrics = random_encoder_metrics(variant, seed=seed)
                    rows.append({"method": label, "variant": variant, "seed": seed, **vars(metrics),
                                 "train_seconds": 0.0})
                else:
                    run = run_recovery(config.method, variant, seed=seed, config=config)
                    metrics = run.metrics
                    rows.append(run.as_row(variant, seed, label))
                print(
                    f"{variant:10s} {label:20s} seed {seed}: R2 {metrics.r2:.3f}  kNN {metrics.knn_overlap:.3f}  "
                    f"ratio {metrics.cross_track_ratio:.3f}  ({time.perf_counter() - start:.1f} s)",
                    flush=True,
                )

    results = pd.DataFrame(rows)
    if args.output.is_file():  # keep the rows of methods, variants and seeds that were not re-run
        previous = pd.read_csv(args.output)
        kept = previous.merge(results[KEY], on=KEY, how="left", indicator=True)
        results = pd.concat([previous[kept["_merge"].eq("left_only").to_numpy()], results], ignore_index=True)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    results.to_csv(args.output, index=False)

    summary = results.groupby(["variant", "method"], sort=False)[list(METRICS)].agg(["mean", "std"])
    table = pd.DataFrame(
        {
            metric: [
                f"{mean:.3f} ± {std:.3f}" if pd.notna(mean) else "—"
                for mean, std in zip(summary[(metric, "mean")], summary[(metric, "std")], strict=True)
            ]
            for metric in METRICS
        },
        index=summary.index,
    )
    print(f"\nmean ± std over seeds (written to {args.output})")
    print(table.to_string())


if __name__ == "__main__":
    main()
