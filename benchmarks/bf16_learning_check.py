"""The learning check that ``agent.precision=bf16`` must pass before it can become a default: the IQM of the bf16
runs' final returns within the 95% stratified bootstrap CI of the fp32 runs', on the course task, same seeds, >= 5.

The runs are the chapter-7 switch sweep's ``ours`` configuration (fp32, the default) and the same configuration and
seeds with ``agent.precision=bf16`` (both precisions share each seed, so they start from the same weights):

    python benchmarks/switch_sweep.py --out multirun/switches                                   # fp32: 'ours'
    python benchmarks/switch_sweep.py --out multirun/bf16 --configs ours -- agent.precision=bf16
    python benchmarks/switch_sweep.py --out multirun/bf16 --export benchmarks/results/bf16_sweep
    python benchmarks/bf16_learning_check.py --fp32 benchmarks/results/switch_sweep --bf16 benchmarks/results/bf16_sweep

Prints both IQMs with their intervals, the per-seed differences and the verdict; writes
``benchmarks/results/bf16_learning_check.json``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import pandas as pd

from reference_impl import analysis

RESULTS = Path(__file__).resolve().parent / "results" / "bf16_learning_check.json"


def finals(folder: Path, precision: str, config: str) -> tuple[object, int]:
    """The final scores of ``folder``'s runs of ``config`` at ``precision``, and the environment step they share."""
    runs = analysis.load_sweep(folder, params=["sweep_config", "agent.precision"])
    runs = runs[(runs["sweep_config"] == config) & (runs["agent.precision"] == precision)]
    if runs.empty:
        raise ValueError(f"no {precision} runs of configuration {config!r} in {folder}")
    step = int(runs.groupby("run")["env_step"].max().min())
    return analysis.final_scores(runs, by=["agent.precision"], at_env_step=step), step


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fp32", type=Path, required=True, help="sweep folder with the fp32 runs")
    parser.add_argument("--bf16", type=Path, required=True, help="sweep folder with the bf16 runs")
    parser.add_argument("--config", default="ours", help="the switch-sweep configuration compared")
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    fp32, fp32_step = finals(args.fp32, "fp32", args.config)
    bf16, bf16_step = finals(args.bf16, "bf16", args.config)
    if fp32_step != bf16_step:
        raise ValueError(f"the runs stop at different budgets: fp32 {fp32_step}, bf16 {bf16_step} environment steps")
    table = analysis.score_table(pd.concat([fp32, bf16]), by=["agent.precision"]).set_index("agent.precision")
    paired = pd.concat([fp32.set_index("seed")["score"].rename("fp32"), bf16.set_index("seed")["score"].rename("bf16")],
                       axis=1, join="inner")
    low, high = table.loc["fp32", ["ci_low", "ci_high"]]
    within = bool(low <= table.loc["bf16", "iqm"] <= high)
    enough = len(paired) >= 5
    print(f"final return at {fp32_step:,} environment steps, configuration {args.config!r}")
    print(table[["runs", "iqm", "ci_low", "ci_high", "min", "max"]].round(1).to_string())
    print("per seed:\n" + paired.assign(difference=paired["bf16"] - paired["fp32"]).round(1).to_string())
    print(f"bf16 IQM {'within' if within else 'OUTSIDE'} the fp32 95% CI"
          + ("" if enough else f" (only {len(paired)} paired seeds: fewer than 5, not a check)"))
    result = {"config": args.config, "env_step": fp32_step, "seeds": [int(s) for s in paired.index],
              "fp32": paired["fp32"].round(4).tolist(), "bf16": paired["bf16"].round(4).tolist(),
              "iqm": {p: round(float(table.loc[p, "iqm"]), 4) for p in ("fp32", "bf16")},
              "ci": {p: [round(float(table.loc[p, "ci_low"]), 4), round(float(table.loc[p, "ci_high"]), 4)]
                     for p in ("fp32", "bf16")},
              "bf16_iqm_within_fp32_ci": within, "enough_seeds": enough}
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2) + "\n")
    return 0 if within and enough else 1


if __name__ == "__main__":
    sys.exit(main())
