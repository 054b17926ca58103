"""Pixel SAC, SAC-AE, DeepMDP and DBC on the point mass with distractors: a resumable sweep (``submitit_local``).

    python benchmarks/distractor_sweep.py --out multirun/distractors                # the full table (see README)
    python benchmarks/distractor_sweep.py --out DIR --seeds 1,2 --steps 2500 ...    # a pilot
    python benchmarks/distractor_sweep.py --out DIR --dry-run                       # print the Hydra commands

Every (agent, seed) run goes to ``<out>/<agent>_seed<seed>/`` (``train.csv``, ``eval.csv``, ``.hydra/``,
checkpoints): the folder is a function of the run, not of Hydra's job number, so the same command finds its runs
again. The missing runs are launched as Hydra multiruns (``python -m reference_impl.train -m
hydra/launcher=submitit_local ...``) of at most ``--parallel`` jobs each, because submitit's local executor starts
all the jobs of one multirun at once.

**Resumable.** A finished run holds ``finished.json`` and is skipped (not even launched); a killed run resumes from
its newest checkpoint (``checkpoint_freq`` agent steps) when its wave is launched again. So a killed sweep rerun
with the same command finishes the missing runs and skips the finished ones (``tests/reference/test_sweep.py``).
Then ``python -m reference_impl.analysis <out>`` (or the chapter-6 code) reads the folder.

Extra arguments after ``--`` are passed to every run as Hydra overrides (e.g. ``-- size.batch_size=32``).
"""

from __future__ import annotations

import argparse
import json
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

FINISHED_FILE = "finished.json"  # written by reference_impl.train.write_finished when a run completes
COMMAND_FILE = "command.txt"  # the sweep command that launched the runs, as typed (the book prints it)
RUN_LOGS = ["train.csv", "eval.csv", ".hydra/config.yaml", ".hydra/overrides.yaml"]  # what --export copies
# The table's protocol: equal environment steps for every agent (action repeat 2, so 2 env steps per agent step).
DEFAULTS = {"env": "point_mass_distractors", "agents": "sac,sac_ae,deepmdp,dbc", "seeds": "1,2,3,4,5", "steps": 10000,
            "eval_freq": 1000, "eval_episodes": 10, "checkpoint_freq": 1000, "init_steps": 1000, "parallel": 2}


def run_folder(out: Path, agent: str, seed: int) -> Path:
    """``<out>/<agent>_seed<seed>``: also what ``hydra.sweep.subdir`` resolves to for that job."""
    return out / f"{agent}_seed{seed}"


def read_finished(folder: Path) -> dict | None:
    """The finished run's result (as :func:`reference_impl.train.read_finished`, without importing torch)."""
    path = folder / FINISHED_FILE
    return json.loads(path.read_text()) if path.exists() else None


def missing_runs(out: Path, agents: list[str], seeds: list[int], steps: int) -> list[tuple[str, int]]:
    """The (agent, seed) runs without a ``finished.json`` that reaches ``steps``, agent-major."""
    missing = []
    for agent in agents:
        for seed in seeds:
            finished = read_finished(run_folder(out, agent, seed))
            if finished is None or finished["step"] < steps:
                missing.append((agent, seed))
    return missing


def waves(runs: list[tuple[str, int]], parallel: int) -> list[list[tuple[str, int]]]:
    """Groups of at most ``parallel`` runs, each a product ``agents × seeds`` (what one multirun sweeps).

    Greedy: the first pending agent's first seeds (at most ``parallel``), joined by every other agent that also
    misses those seeds while the product still fits.
    """
    pending = list(runs)
    groups = []
    while pending:
        seeds_of: dict[str, list[int]] = {}
        for agent, seed in pending:
            seeds_of.setdefault(agent, []).append(seed)
        first = next(iter(seeds_of))
        seeds = seeds_of[first][:parallel]
        agents = [first]
        for agent, agent_seeds in seeds_of.items():
            if agent != first and set(seeds) <= set(agent_seeds) and (len(agents) + 1) * len(seeds) <= parallel:
                agents.append(agent)
        group = [(agent, seed) for agent in agents for seed in seeds]
        groups.append(group)
        pending = [run for run in pending if run not in group]
    return groups


def write_command(out: Path, script: str, typed: list[str]) -> None:
    """Record the sweep command as typed in ``<out>/command.txt``."""
    out.mkdir(parents=True, exist_ok=True)
    (out / COMMAND_FILE).write_text(shlex.join(["python", script, *typed]) + "\n")


def export_logs(out: Path, dest: Path, dest_name: str) -> list[str]:
    """Copy the finished runs' logs (:data:`RUN_LOGS`, ``finished.json`` with its ``output_dir`` made relative, and
    ``command.txt`` with ``--out dest_name``) from ``out`` to the new folder ``dest``: what a repository keeps of a
    sweep, without checkpoints or machine paths. Returns the exported run names."""
    if dest.exists() and any(dest.iterdir()):
        raise FileExistsError(f"{dest} is not empty; remove it first (git rm -r) so that no stale run stays.")
    runs = sorted(folder.name for folder in out.iterdir() if read_finished(folder) is not None)
    for name in runs:
        for log in RUN_LOGS:
            (dest / name / log).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(out / name / log, dest / name / log)
        finished = read_finished(out / name) | {"output_dir": name}
        (dest / name / FINISHED_FILE).write_text(json.dumps(finished))
    command = shlex.split((out / COMMAND_FILE).read_text())
    command[command.index("--out") + 1] = dest_name
    (dest / COMMAND_FILE).write_text(shlex.join(command) + "\n")
    return runs


def hydra_command(out: Path, group: list[tuple[str, int]], args: argparse.Namespace) -> list[str]:
    agents = ",".join(dict.fromkeys(a for a, _ in group))
    seeds = ",".join(dict.fromkeys(str(s) for _, s in group))
    return [sys.executable, "-m", "reference_impl.train", "-m", "hydra/launcher=submitit_local",
            f"hydra.launcher.timeout_min={args.timeout_min}", f"hydra.sweep.dir={out}",
            "hydra.sweep.subdir=${agent.name}_seed${seed}", f"env={args.env}", f"agent={agents}", f"seed={seeds}",
            f"num_train_steps={args.steps}", f"init_steps={args.init_steps}", f"eval_freq={args.eval_freq}",
            f"num_eval_episodes={args.eval_episodes}", f"checkpoint_freq={args.checkpoint_freq}",
            f"replay_buffer.capacity={max(args.steps, 1)}", "device=cpu", "num_threads=1", "progress_bar=false",
            *args.overrides]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="the sweep folder (same folder = same sweep)")
    parser.add_argument("--env", default=DEFAULTS["env"])
    parser.add_argument("--agents", default=DEFAULTS["agents"])
    parser.add_argument("--seeds", default=DEFAULTS["seeds"])
    parser.add_argument("--steps", type=int, default=DEFAULTS["steps"], help="agent steps per run (x2 env steps)")
    parser.add_argument("--eval-freq", type=int, default=DEFAULTS["eval_freq"])
    parser.add_argument("--eval-episodes", type=int, default=DEFAULTS["eval_episodes"])
    parser.add_argument("--checkpoint-freq", type=int, default=DEFAULTS["checkpoint_freq"])
    parser.add_argument("--init-steps", type=int, default=DEFAULTS["init_steps"])
    parser.add_argument("--parallel", type=int, default=DEFAULTS["parallel"], help="runs at once (one per core)")
    parser.add_argument("--timeout-min", type=int, default=600, help="submitit's limit per job")
    parser.add_argument("--dry-run", action="store_true", help="print the Hydra commands and stop")
    parser.add_argument("--export", type=Path, default=None, help="copy the finished runs' logs to this new folder")
    parser.add_argument("overrides", nargs="*", help="Hydra overrides for every run (after --)")
    args = parser.parse_args(argv)
    out = args.out.resolve()
    if args.export is not None:
        runs = export_logs(out, args.export.resolve(), str(args.export))
        print(f"exported the logs of {len(runs)} finished run(s) to {args.export}: {', '.join(runs)}")
        return 0
    agents, seeds = args.agents.split(","), [int(s) for s in args.seeds.split(",")]
    todo = missing_runs(out, agents, seeds, args.steps)
    print(f"{len(agents) * len(seeds) - len(todo)} finished run(s) skipped, {len(todo)} to run in {out}", flush=True)
    if todo and not args.dry_run:
        write_command(out, "benchmarks/distractor_sweep.py", sys.argv[1:] if argv is None else argv)
    for number, group in enumerate(waves(todo, args.parallel), start=1):
        command = hydra_command(out, group, args)
        print(f"wave {number}: {' '.join(f'{a}/seed{s}' for a, s in group)}", flush=True)
        if args.dry_run:
            print("  " + " ".join(command[1:]), flush=True)
            continue
        start = time.perf_counter()
        completed = subprocess.run(command, stdout=subprocess.DEVNULL)
        if completed.returncode != 0:
            print(f"wave {number} failed (exit {completed.returncode}); rerun the same command to resume.")
            return completed.returncode
        print(f"  done in {time.perf_counter() - start:.0f} s", flush=True)
    left = missing_runs(out, agents, seeds, args.steps)
    if left and not args.dry_run:
        print(f"{len(left)} run(s) did not finish: {left}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
