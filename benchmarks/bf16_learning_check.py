"""The learning check that ``precision=bf16`` must pass before it can become a default: final returns of bf16 runs
within the 95% confidence interval of the fp32 runs, on the course task, same seeds (paired), at least 5 seeds.

    python benchmarks/bf16_learning_check.py [--agent deepmdp] [--seeds 1,2,3,4,5] [--steps 5000]

Each run is ``python -m reference_impl.train agent=<agent> agent.precision=<p> seed=<k> num_train_steps=<steps>``
(CPU default size, 1 thread); both precisions share the seed, so they start from the same initialisation. The final
return is the mean of the last evaluation (10 episodes). Prints both means with t-based 95% CIs and the verdict;
results in ``benchmarks/results/bf16_learning_check.json``. At the default settings this needs several hours of one
CPU core (about 2 x 5 x 5000 updates); on a CUDA machine add ``--device cuda`` (bf16 autocast there too).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
from hydra import compose, initialize_config_module
from scipy import stats

from reference_impl.train import run

RESULTS = Path(__file__).resolve().parent / "results" / "bf16_learning_check.json"


def mean_ci(values: list[float]) -> tuple[float, float]:
    """Mean and half-width of the t-based 95% confidence interval."""
    values = np.asarray(values, dtype=float)
    if len(values) < 2:
        return float(values.mean()), float("nan")
    return float(values.mean()), float(stats.t.ppf(0.975, len(values) - 1) * values.std(ddof=1) / np.sqrt(len(values)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agent", default="deepmdp")
    parser.add_argument("--seeds", default="1,2,3,4,5")
    parser.add_argument("--steps", type=int, default=5000, help="agent steps per run (x2 environment steps)")
    parser.add_argument("--init-steps", type=int, default=500)
    parser.add_argument("--eval-freq", type=int, default=1000)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args()
    returns: dict[str, list[float]] = {"fp32": [], "bf16": []}
    seeds = [int(seed) for seed in args.seeds.split(",")]
    with tempfile.TemporaryDirectory() as folder:
        for seed in seeds:
            for precision in returns:
                overrides = [f"agent={args.agent}", f"agent.precision={precision}", f"seed={seed}",
                             f"num_train_steps={args.steps}", f"init_steps={args.init_steps}",
                             f"eval_freq={args.eval_freq}", "num_eval_episodes=10", "checkpoint_freq=null",
                             f"device={args.device}", "num_threads=1", "progress_bar=false"]
                with initialize_config_module("reference_impl.conf", version_base="1.3"):
                    cfg = compose("config", overrides=overrides)
                start = time.perf_counter()
                result = run(cfg, Path(folder) / f"{precision}_seed{seed}")
                returns[precision].append(result["eval_return"])
                print(f"{precision} seed {seed}: final return {result['eval_return']:.1f} "
                      f"({time.perf_counter() - start:.0f} s)", flush=True)
    (fp32_mean, fp32_ci), (bf16_mean, bf16_ci) = mean_ci(returns["fp32"]), mean_ci(returns["bf16"])
    within = bool(abs(bf16_mean - fp32_mean) <= fp32_ci)
    out = {"agent": args.agent, "seeds": seeds, "steps": args.steps, "returns": returns,
           "fp32": [fp32_mean, fp32_ci], "bf16": [bf16_mean, bf16_ci], "bf16_mean_within_fp32_ci": within,
           "enough_seeds": len(seeds) >= 5}
    print(f"fp32 {fp32_mean:.1f} ± {fp32_ci:.1f}, bf16 {bf16_mean:.1f} ± {bf16_ci:.1f}: bf16 mean "
          f"{'within' if within else 'OUTSIDE'} the fp32 95% CI" + ("" if len(seeds) >= 5 else " (fewer than 5 seeds)"))
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
