"""Our DeepMDP update vs the public codes': a resumable learning sweep over the update switches (book chapter 7).

    python benchmarks/switch_sweep.py --out multirun/switches                  # 6 configurations x 5 seeds
    python benchmarks/switch_sweep.py --out DIR --configs ours,public --seeds 1 --steps 300 ...   # a pilot
    python benchmarks/switch_sweep.py --out DIR --dry-run                      # print the Hydra commands

The DeepMDP agent (``agent=deepmdp``, CPU default size) on the plain pixel point mass (``env=point_mass``) under
named configurations of the switches of :mod:`reference_impl.agents.switches`:

* ``ours`` — every switch at the course's value (the defaults);
* ``public`` — every switch at the public codes' value (pytorch_sac_ae, mtrl);
* one configuration per switch, named after it, with that switch alone at the public value.

``gaussian_decoder_input`` is left out: it chooses what the decoders read from a *Gaussian* transition model, and
the agent's transition model is deterministic (``agent.builder.transition_model_cfg.kind=deterministic``), so the
switch changes nothing (chapter 7 measures it on one update of a Gaussian model). ``--gaussian`` sweeps the Gaussian
model instead, with that switch as a seventh configuration.

Each configuration is a Hydra config group option, ``+switches=<name>``, written by this script from
:data:`~reference_impl.agents.switches.CHOICES` to ``<out>/switch_configs/switches/<name>.yaml`` and found through
``hydra.searchpath``; it sets the agent's switches and a top-level key ``sweep_config: <name>``. So one Hydra
multirun sweeps configurations × seeds, every run's ``.hydra/config.yaml`` holds its configuration's name and its
switch values, and ``analysis.load_sweep(out, params=["sweep_config", *SWITCHES])`` reads them as columns.

Runs, resumption and waves are those of ``distractor_sweep.py``: each (configuration, seed) run lives in
``<out>/<config>_seed<seed>/``; a run with ``finished.json`` is skipped, a killed run resumes from its newest
checkpoint; the missing runs go out as multiruns of at most ``--parallel`` jobs through ``submitit_local``.
Extra arguments after ``--`` are passed to every run as Hydra overrides. A sweep that launches runs writes the
command as typed to ``<out>/command.txt``.

``--export DIR`` copies the logs of the finished runs, and nothing else, to a new folder ``DIR`` (what
``benchmarks/results/switch_sweep/`` commits): per run ``train.csv``, ``eval.csv``, ``.hydra/config.yaml``,
``.hydra/overrides.yaml`` and ``finished.json`` (its ``output_dir`` made relative to ``DIR``), and ``command.txt``
with ``--out DIR``. No checkpoints, no submitit files, no ``hydra.yaml`` (it holds the machine's paths).
"""

from __future__ import annotations

import argparse
import math
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from distractor_sweep import (  # noqa: E402
    export_logs,
    missing_runs,
    waves,
    write_command,
)

from reference_impl.agents.switches import CHOICES  # noqa: E402

# The switches that act on the deterministic transition model (gaussian_decoder_input needs a Gaussian one).
SWITCHES = [name for name in CHOICES if name != "gaussian_decoder_input"]
CONFIG_KEY = "sweep_config"  # the top-level config key naming a run's configuration
GROUP = "switches"  # the config group of the configurations
# Budget: chapter 6's DeepMDP agent solves this task within ~2,000 environment steps; 1,500 agent steps (action
# repeat 2: 3,000 environment steps) leave room to see a configuration learn more slowly. An evaluation costs little
# next to the updates, so there are 16 of them, of 10 episodes each.
DEFAULTS = {"env": "point_mass", "seeds": "1,2,3,4,5", "steps": 1500, "eval_freq": 100, "eval_episodes": 10,
            "checkpoint_freq": 500, "init_steps": 250, "parallel": 2}
# Measured CPU time of one run (``reference_impl.train``, agent=deepmdp, size=cpu, one thread, this task; README):
# 47 ms (ours) and 49 ms (public) per agent step with an update; a run without updates (start-up, 100 random steps,
# 2 evaluations) 5 s, the same with 0 or 10 episodes per evaluation, so an episode costs less than the bound below.
SECONDS_PER_UPDATE_STEP = 0.050
SECONDS_PER_RUN_START = 5.0
SECONDS_PER_EVAL_EPISODE = 0.025


def configurations(gaussian: bool = False) -> dict[str, dict[str, str]]:
    """Name -> switch values: ``ours``, ``public``, then each switch alone at its public value."""
    names = [*SWITCHES, "gaussian_decoder_input"] if gaussian else SWITCHES
    ours = {name: CHOICES[name][0] for name in names}
    configs = {"ours": ours, "public": {name: CHOICES[name][1] for name in names}}
    configs |= {name: ours | {name: CHOICES[name][1]} for name in names}
    return configs


def write_config_group(out: Path, configs: dict[str, dict[str, str]]) -> Path:
    """``<out>/switch_configs/switches/<name>.yaml`` for each configuration; returns the search-path folder."""
    root = out / "switch_configs"
    (root / GROUP).mkdir(parents=True, exist_ok=True)
    for name, values in configs.items():
        lines = ["# @package _global_", f"# written by benchmarks/switch_sweep.py: configuration {name!r}",
                 f"{CONFIG_KEY}: {name}", "agent:", *(f"  {key}: {value}" for key, value in values.items())]
        (root / GROUP / f"{name}.yaml").write_text("\n".join(lines) + "\n")
    return root


def hydra_command(out: Path, search_path: Path, group: list[tuple[str, int]], args: argparse.Namespace) -> list[str]:
    names = ",".join(dict.fromkeys(name for name, _ in group))
    seeds = ",".join(dict.fromkeys(str(seed) for _, seed in group))
    gaussian = ["agent.builder.transition_model_cfg.kind=gaussian"] if args.gaussian else []
    return [sys.executable, "-m", "reference_impl.train", "-m", "hydra/launcher=submitit_local",
            f"hydra.launcher.timeout_min={args.timeout_min}", f"hydra.searchpath=[file://{search_path}]",
            f"hydra.sweep.dir={out}", f"hydra.sweep.subdir=${{{CONFIG_KEY}}}_seed${{seed}}", f"env={args.env}",
            "agent=deepmdp", *gaussian, f"+{GROUP}={names}", f"seed={seeds}", f"num_train_steps={args.steps}",
            f"init_steps={args.init_steps}", f"eval_freq={args.eval_freq}", f"num_eval_episodes={args.eval_episodes}",
            f"checkpoint_freq={args.checkpoint_freq}", f"replay_buffer.capacity={max(args.steps, 1)}", "device=cpu",
            "num_threads=1", "progress_bar=false", *args.overrides]


def predicted_run_seconds(args: argparse.Namespace) -> float:
    """One run's CPU time from the measured costs: start-up, updates, evaluation episodes."""
    updates = max(args.steps - args.init_steps, 0)
    evaluations = math.ceil(args.steps / args.eval_freq) + 1
    return (SECONDS_PER_RUN_START + updates * SECONDS_PER_UPDATE_STEP
            + evaluations * args.eval_episodes * SECONDS_PER_EVAL_EPISODE)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="the sweep folder (same folder = same sweep)")
    parser.add_argument("--configs", default=None, help="comma-separated subset of the configurations (default all)")
    parser.add_argument("--gaussian", action="store_true",
                        help="Gaussian transition model, with gaussian_decoder_input as a 7th configuration")
    parser.add_argument("--env", default=DEFAULTS["env"])
    parser.add_argument("--seeds", default=DEFAULTS["seeds"])
    parser.add_argument("--steps", type=int, default=DEFAULTS["steps"], help="agent steps per run (x2 env steps)")
    parser.add_argument("--eval-freq", type=int, default=DEFAULTS["eval_freq"])
    parser.add_argument("--eval-episodes", type=int, default=DEFAULTS["eval_episodes"])
    parser.add_argument("--checkpoint-freq", type=int, default=DEFAULTS["checkpoint_freq"])
    parser.add_argument("--init-steps", type=int, default=DEFAULTS["init_steps"])
    parser.add_argument("--parallel", type=int, default=DEFAULTS["parallel"], help="runs at once (one per core)")
    parser.add_argument("--timeout-min", type=int, default=120, help="submitit's limit per job")
    parser.add_argument("--dry-run", action="store_true", help="print the Hydra commands and stop")
    parser.add_argument("--export", type=Path, default=None, help="copy the finished runs' logs to this new folder")
    parser.add_argument("overrides", nargs="*", help="Hydra overrides for every run (after --)")
    args = parser.parse_args(argv)
    out = args.out.resolve()
    if args.export is not None:
        runs = export_logs(out, args.export.resolve(), str(args.export))
        print(f"exported the logs of {len(runs)} finished run(s) to {args.export}: {', '.join(runs)}")
        return 0
    every = configurations(args.gaussian)
    names = list(every) if args.configs is None else args.configs.split(",")
    unknown = [name for name in names if name not in every]
    if unknown:
        parser.error(f"unknown configuration(s) {unknown}; choose from {list(every)}")
    seeds = [int(seed) for seed in args.seeds.split(",")]
    search_path = write_config_group(out, {name: every[name] for name in names})
    todo = missing_runs(out, names, seeds, args.steps)
    groups = waves(todo, args.parallel)
    predicted = len(groups) * predicted_run_seconds(args)
    print(f"{len(names) * len(seeds) - len(todo)} finished run(s) skipped, {len(todo)} to run in {out}", flush=True)
    print(f"predicted wall time: {predicted / 60:.1f} min ({len(groups)} wave(s) of at most {args.parallel} runs, "
          f"~{predicted_run_seconds(args):.0f} s each with a free core per run)", flush=True)
    if groups and not args.dry_run:
        write_command(out, "benchmarks/switch_sweep.py", sys.argv[1:] if argv is None else argv)
    for number, group in enumerate(groups, start=1):
        command = hydra_command(out, search_path, group, args)
        print(f"wave {number}: {' '.join(f'{name}/seed{seed}' for name, seed in group)}", flush=True)
        if args.dry_run:
            print("  " + " ".join(command[1:]), flush=True)
            continue
        start = time.perf_counter()
        completed = subprocess.run(command, stdout=subprocess.DEVNULL)
        if completed.returncode != 0:
            print(f"wave {number} failed (exit {completed.returncode}); rerun the same command to resume.")
            return completed.returncode
        print(f"  done in {time.perf_counter() - start:.0f} s", flush=True)
    left = missing_runs(out, names, seeds, args.steps)
    if left and not args.dry_run:
        print(f"{len(left)} run(s) did not finish: {left}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
