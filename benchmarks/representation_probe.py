"""What each agent's encoder represents after the distractor sweep: linear probes of position, velocity, distractors.

    python benchmarks/representation_probe.py multirun/distractors --csv benchmarks/results/distractor_probe.csv
    python benchmarks/representation_probe.py multirun/switches --match 'ours_seed*' --csv ...   # the plain task

For every finished run ``<sweep>/<agent>_seed<seed>/`` it rebuilds the agent from the run's ``.hydra/config.yaml``,
loads its last checkpoint, and probes the critic's encoder features ``φ(x)`` (the representation the critic and the
auxiliary losses share) with :mod:`reference_impl.probe`; the same agent at initialisation (same seed, before any
update) and the raw pixels are the controls. All encoders see the same observations: ``--episodes`` episodes of
uniformly random actions in the sweep's environment, ``--steps-per-episode`` agent steps each (many short episodes
spread the agent's positions over the arena). Writes one row per (agent, seed, encoder, target group) with the
held-out R².
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import pandas as pd
import torch
from omegaconf import OmegaConf

from reference_impl.agents import make_agent
from reference_impl.probe import collect, encoder_features, pixel_features, probe_groups
from reference_impl.train import load_checkpoint, make_env, read_finished


def rebuild(run: Path, trained: bool):
    """The run's agent, at its last checkpoint (``trained``) or as initialised by ``torch.manual_seed(seed)``."""
    cfg = OmegaConf.load(run / ".hydra" / "config.yaml")
    env = make_env(cfg.env)
    space = env.action_space
    torch.manual_seed(cfg.seed)
    agent = make_agent(cfg.agent, env.observation_space.shape, space.shape, (space.low, space.high), "cpu")
    env.close()
    if trained:
        state, _ = load_checkpoint(run)
        agent.load_state_dict(state["agent"])
    return cfg, agent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sweep", type=Path, help="a sweep folder of benchmarks/distractor_sweep.py")
    parser.add_argument("--csv", type=Path, required=True, help="where to write the table")
    parser.add_argument("--episodes", type=int, default=100, help="probe episodes (a third held out for testing)")
    parser.add_argument("--steps-per-episode", type=int, default=20, help="agent steps recorded per episode")
    parser.add_argument("--seed", type=int, default=12345, help="seed of the probe episodes and their actions")
    parser.add_argument("--match", default="*", help="only the run folders whose name matches this glob pattern")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    runs = sorted(run for run in args.sweep.glob(args.match)
                  if (run / ".hydra" / "config.yaml").exists() and read_finished(run))
    if not runs:
        print(f"no finished runs in {args.sweep}", file=sys.stderr)
        return 2
    start = time.perf_counter()
    env_cfg = OmegaConf.load(runs[0] / ".hydra" / "config.yaml").env
    data = collect(env_cfg, args.episodes, args.seed, args.steps_per_episode)
    print(f"{len(data.observations)} observations from {args.episodes} random-action episodes of {env_cfg.id} "
          f"({args.steps_per_episode} agent steps each)", flush=True)
    rows = [{"agent": "pixels", "seed": 0, "encoder": "pixels", "step": 0, "target": name, "r2": r2}
            for name, r2 in probe_groups(pixel_features(data.observations), data).items()]
    for number, run in enumerate(runs, start=1):
        for trained in (False, True):
            cfg, agent = rebuild(run, trained)
            scores = probe_groups(encoder_features(agent.critic.encoder, data.observations), data)
            step = read_finished(run)["step"] if trained else 0
            rows += [{"agent": cfg.agent.name, "seed": int(cfg.seed), "encoder": "trained" if trained else "initial",
                      "step": step, "target": name, "r2": r2} for name, r2 in scores.items()]
        print(f"[{number}/{len(runs)}] {run.name}, trained encoder: "
              + ", ".join(f"{target} {r2:.2f}" for target, r2 in scores.items()), flush=True)
    table = pd.DataFrame(rows)
    args.csv.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(args.csv, index=False, float_format="%.4f")
    print(table.groupby(["agent", "encoder", "target"])["r2"].agg(["mean", "min", "max"]).round(3).to_string())
    print(f"wrote {args.csv} in {time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
