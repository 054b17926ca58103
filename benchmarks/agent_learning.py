"""Pixel SAC vs SAC-AE vs DeepMDP on the pixel point mass, at equal environment steps and paired seeds.

    python benchmarks/agent_learning.py [--steps 1000] [--seeds 1,2,3] [--agents sac,sac_ae,deepmdp]

Every agent runs with the CPU default architecture (``size=cpu``) and the same seeds; a seed fixes the network
initialisation, the replay sampling and every episode's start, so runs with the same seed are paired. Each run's
``train.csv``/``eval.csv`` (and its resolved config) go to ``benchmarks/results/agent_learning/<agent>_seed<k>/``;
:mod:`reference_impl.analysis` then writes ``learning_curves.png`` and ``final_returns.csv`` there. The final-return
table is printed with the random-policy return of the task for reference. Runs one job at a time on one thread.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import pandas as pd
from hydra import compose, initialize_config_module
from omegaconf import OmegaConf

from reference_impl import analysis
from reference_impl.envs.point_mass import RANDOM_POLICY_RETURN, SOLVED_RETURN
from reference_impl.train import run

RESULTS = Path(__file__).resolve().parent / "results" / "agent_learning"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=1000, help="agent steps per run (x2 environment steps)")
    parser.add_argument("--seeds", default="1,2,3")
    parser.add_argument("--agents", default="sac,sac_ae,deepmdp")
    parser.add_argument("--eval-freq", type=int, default=100)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    for seed in [int(s) for s in args.seeds.split(",")]:
        for agent in args.agents.split(","):
            run_dir = args.out / f"{agent}_seed{seed}"
            overrides = [f"agent={agent}", f"seed={seed}", f"num_train_steps={args.steps}", "init_steps=200",
                         f"eval_freq={args.eval_freq}", "num_eval_episodes=10", "checkpoint_freq=null",
                         "device=cpu", "num_threads=1", "progress_bar=false"]
            with initialize_config_module("reference_impl.conf", version_base="1.3"):
                cfg = compose("config", overrides=overrides)
            (run_dir / ".hydra").mkdir(parents=True, exist_ok=True)
            OmegaConf.save(cfg, run_dir / ".hydra" / "config.yaml", resolve=True)
            start = time.perf_counter()
            result = run(cfg, run_dir)
            print(f"{agent:8s} seed {seed}: final eval return {result['eval_return']:6.1f} "
                  f"({time.perf_counter() - start:.0f} s)", flush=True)
    table = analysis.analyse(args.out)
    with pd.option_context("display.float_format", "{:.1f}".format):
        print(table.to_string(index=False))
    print(f"random policy: {RANDOM_POLICY_RETURN}, solved: {SOLVED_RETURN}; curves in {args.out}")


if __name__ == "__main__":
    main()
