"""Latent recovery on DonutWorld (book chapter 4): DeepMDP vs an autoencoder vs an untrained encoder.

Trains both models on the one-track and four-track variants for several seeds, each on its own random-policy data
set, plus an ablation (the DeepMDP trained on the reward loss alone, c_P = 0). Reports held-out linear decodability
of the angle (R^2, eq. 4.14), k-NN overlap with the true track position (eq. 4.15) and the cross-track ratio
(eq. 4.16), as mean ± standard deviation over seeds.

    python benchmarks/donut_recovery.py            # full run: 3 trained models x 2 variants x 3 seeds
    python benchmarks/donut_recovery.py --quick    # the book's short setting
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from pathlib import Path

import pandas as pd
import torch

from reference_impl.deepmdp.recovery import VARIANTS, random_encoder_metrics, recovery_config, run_recovery

METRICS = ("r2", "knn_overlap", "cross_track_ratio", "train_seconds")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=3, help="number of seeds (0, 1, ...)")
    parser.add_argument("--quick", action="store_true", help="short training (the book build's setting)")
    parser.add_argument("--output", type=Path, default=Path(__file__).parent / "results" / "donut_recovery.csv")
    args = parser.parse_args()
    torch.set_num_threads(1)

    rows = []
    for variant in VARIANTS:
        for seed in range(args.seeds):
            baseline = random_encoder_metrics(variant, seed=seed)
            rows.append(
                {"method": "random_encoder", "variant": variant, "seed": seed, **vars(baseline), "train_seconds": 0.0}
            )
            reward_only = dataclasses.replace(recovery_config("deepmdp", quick=args.quick), transition_weight=0.0)
            for label, config in (
                ("deepmdp", recovery_config("deepmdp", quick=args.quick)),
                ("autoencoder", recovery_config("autoencoder", quick=args.quick)),
                ("deepmdp_reward_only", reward_only),
            ):
                start = time.perf_counter()
                run = run_recovery(config.method, variant, seed=seed, config=config)
                rows.append(run.as_row(variant, seed, label))
                print(
                    f"{variant:10s} {label:19s} seed {seed}: R2 {run.metrics.r2:.3f}  "
                    f"kNN {run.metrics.knn_overlap:.3f}  ratio {run.metrics.cross_track_ratio:.3f}  "
                    f"({time.perf_counter() - start:.1f} s)",
                    flush=True,
                )

    results = pd.DataFrame(rows)
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
    print(f"\nmean ± std over {args.seeds} seeds (written to {args.output})")
    print(table.to_string())


if __name__ == "__main__":
    main()
