"""Train a pixel agent: ``python -m reference_impl.train agent=deepmdp env=point_mass seed=1`` (book chapters 5–6).

One readable loop: at each episode boundary evaluate (every ``eval_freq`` steps), checkpoint (every
``checkpoint_freq`` steps), then run one episode in which every step acts, updates the agent (after ``init_steps``)
and stores the transition. The run directory (Hydra's output directory) receives

* ``train.csv`` — one row per training episode: return, length, steps, mean update metrics, wall time;
* ``eval.csv`` — one row per evaluation: mean return of ``num_eval_episodes`` deterministic episodes (and, in a
  multi-task environment, ``eval_return_task<k>`` per task);
* ``checkpoints/step_<n>/`` — agent, optimizers, replay buffer, every random generator's state, counters and the
  log rows so far; ``checkpoints/latest`` names the newest one.

The run folder and every evaluation are printed as plain lines (also when the output is not a terminal).

**Resume.** Restart with the same output directory (``hydra.run.dir=<dir>``) and the run continues from the newest
checkpoint; log rows written after it are discarded and recomputed. On Ctrl-C the run prints where its last
checkpoint is and the exact command that resumes it. With ``deterministic=true`` on a CPU the resumed
run reproduces the uninterrupted one exactly (the tests compare ``train.csv`` and ``eval.csv``).
A run that completes writes ``finished.json``; rerun in the same folder it returns at once, so a killed sweep rerun
with the same command and the same ``hydra.sweep.dir`` skips its finished runs and resumes the others.

**Sweeps.** ``python -m reference_impl.train -m agent=sac,sac_ae,deepmdp seed=1,2,3`` runs locally, one job after
another; add ``hydra/launcher=submitit_local`` (processes) or ``hydra/launcher=slurm
hydra.launcher.partition=<partition>`` (a SLURM cluster, see ``conf/hydra/launcher/slurm.yaml``).

**Multi-task.** ``agent=deepmdp_multitask env=point_mass_multi_goal``: the environment reports each episode's task
in ``info["task"]``; the loop passes it to the agent and stores it in the replay buffer.
Then ``python -m reference_impl.analysis <sweep dir>`` draws the learning curves.
"""

from __future__ import annotations

import csv
import json
import os
import shlex
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import gymnasium as gym
import hydra
import numpy as np
import torch
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig
from tqdm import tqdm

from reference_impl.agents import make_agent
from reference_impl.agents.sac import Agent
from reference_impl.allocator import keep_freed_memory
from reference_impl.envs.multi_goal_point_mass import register_multi_goal_point_mass
from reference_impl.envs.point_mass import register_point_mass
from reference_impl.replay_buffer import ReplayBuffer
from reference_impl.wrappers import ActionRepeat, FrameStack

EVAL_SEED_OFFSET = 1_000_000


# ---------------------------------------------------------------------------------------------------- set-up
def resolve_device(name: str) -> torch.device:
    """``auto`` picks CUDA when available, else the CPU; ``cuda`` without a GPU is an error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name not in ("cpu", "cuda"):
        raise ValueError(f"device must be auto, cpu or cuda; got {name!r}.")
    if name == "cuda" and not torch.cuda.is_available():
        raise ValueError("device=cuda was requested but no CUDA device is available (use device=auto or cpu).")
    return torch.device(name)


def make_env(env_cfg: DictConfig) -> gym.Env:
    """``gym.make(id, **kwargs)`` → :class:`ActionRepeat` → :class:`FrameStack`."""
    register_point_mass()
    register_multi_goal_point_mass()
    env = gym.make(env_cfg.id, **env_cfg.get("kwargs", {}))
    return FrameStack(ActionRepeat(env, env_cfg.action_repeat), env_cfg.frame_stack)


def episode_seed(run_seed: int, episode: int) -> int:
    """A distinct reset seed per (run seed, episode), so every episode's start is reproducible."""
    return int(np.random.SeedSequence([run_seed, episode]).generate_state(1)[0])


class CsvLog:
    """Rows kept in memory and rewritten to ``path`` on every append (columns: union in order of appearance)."""

    def __init__(self, path: Path, rows: list[dict[str, Any]] | None = None):
        self.path = path
        self.rows: list[dict[str, Any]] = list(rows or [])
        self._write()

    def append(self, row: dict[str, Any]) -> None:
        self.rows.append(row)
        self._write()

    def _write(self) -> None:
        columns = list(dict.fromkeys(key for row in self.rows for key in row))
        temporary = self.path.with_suffix(".csv.tmp")
        with open(temporary, "w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=columns)
            writer.writeheader()
            writer.writerows(self.rows)
        os.replace(temporary, self.path)


@torch.no_grad()
def evaluate(agent: Agent, env: gym.Env, num_episodes: int, run_seed: int) -> dict[str, float]:
    """``{"eval_return": mean return}`` of ``num_episodes`` episodes of the deterministic policy ``tanh(mu)`` (same
    starts every time); in a multi-task environment also ``eval_return_task<k>``, each task's mean."""
    agent.train(False)
    returns, per_task = [], {}
    for k in range(num_episodes):
        obs, info = env.reset(seed=episode_seed(run_seed, EVAL_SEED_OFFSET + k))
        task = info.get("task")
        done, episode_return = False, 0.0
        while not done:
            obs, reward, terminated, truncated, _ = env.step(agent.act(obs, sample=False, task=task))
            episode_return += float(reward)
            done = terminated or truncated
        returns.append(episode_return)
        if task is not None:
            per_task.setdefault(int(task), []).append(episode_return)
    agent.train(True)
    return {"eval_return": float(np.mean(returns))} | {
        f"eval_return_task{task}": float(np.mean(values)) for task, values in sorted(per_task.items())}


# ---------------------------------------------------------------------------------------------------- checkpoints
def save_checkpoint(directory: Path, counters: dict[str, Any], agent: Agent, buffer: ReplayBuffer,
                    action_rng: np.random.Generator, logs: dict[str, CsvLog]) -> None:
    """Write ``checkpoints/step_<n>/`` and then point ``checkpoints/latest`` at it (a kill never leaves half a one)."""
    root = directory / "checkpoints"
    target = root / f"step_{counters['step']}"
    target.mkdir(parents=True, exist_ok=True)
    buffer.save(target / "replay_buffer.npz")
    state = {
        "counters": counters,
        "agent": agent.state_dict(),
        "torch_rng": torch.get_rng_state(),
        "cuda_rng": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "action_rng": json.dumps(action_rng.bit_generator.state),
        "logs": {name: log.rows for name, log in logs.items()},
    }
    torch.save(state, target / "state.pt")
    pointer = root / "latest.tmp"
    pointer.write_text(target.name)
    os.replace(pointer, root / "latest")
    for old in root.glob("step_*"):
        if old != target:
            shutil.rmtree(old)


def load_checkpoint(directory: Path) -> tuple[dict[str, Any], Path] | None:
    """The newest checkpoint's state and folder, or ``None`` when the run has none."""
    pointer = directory / "checkpoints" / "latest"
    if not pointer.exists():
        return None
    folder = pointer.parent / pointer.read_text().strip()
    return torch.load(folder / "state.pt", map_location="cpu", weights_only=True), folder


# ---------------------------------------------------------------------------------------------------- finished runs
FINISHED_FILE = "finished.json"


def write_finished(directory: Path, result: dict[str, Any]) -> None:
    """Mark a run finished (atomically): a rerun in the same folder returns at once, which makes sweeps resumable."""
    temporary = directory / f"{FINISHED_FILE}.tmp"
    temporary.write_text(json.dumps(result))
    os.replace(temporary, directory / FINISHED_FILE)


def read_finished(directory: Path) -> dict[str, Any] | None:
    """The result stored by :func:`write_finished`, or ``None`` for a run that has not finished."""
    path = Path(directory) / FINISHED_FILE
    return json.loads(path.read_text()) if path.exists() else None


# ---------------------------------------------------------------------------------------------------- the loop
def say(progress: tqdm, message: str) -> None:
    """Print one line to stdout, above the progress bar when there is one (``tqdm.write``), flushed at once."""
    if progress.disable:
        print(message, flush=True)
    else:
        tqdm.write(message, file=sys.stdout)


def resume_command(output_dir: Path) -> str:
    """The command that resumes the run in ``output_dir``: this job's overrides plus ``hydra.run.dir``."""
    try:
        overrides = [o for o in HydraConfig.get().overrides.task if not o.startswith("hydra.run.dir=")]
    except ValueError:  # run() called without Hydra (tests, notebooks)
        overrides = []
    return shlex.join([sys.executable, "-m", "reference_impl.train", *overrides, f"hydra.run.dir={output_dir}"])


def run(cfg: DictConfig, output_dir: str | os.PathLike) -> dict[str, Any]:
    """Train (or resume) one run in ``output_dir``; returns the final counters and the last evaluation return.

    On Ctrl-C (``KeyboardInterrupt``) it prints where the last checkpoint is and how to resume, then re-raises."""
    output_dir = Path(output_dir).absolute()
    output_dir.mkdir(parents=True, exist_ok=True)
    finished = read_finished(output_dir)
    if finished is not None and finished["step"] >= cfg.num_train_steps:
        print(f"{output_dir}: finished earlier at step {finished['step']}; skipped (delete {FINISHED_FILE} to rerun)")
        return finished
    if cfg.num_threads:
        torch.set_num_threads(cfg.num_threads)
    keep_freed_memory()  # no page faults for the same tensors at every update (reference_impl/allocator.py)
    device = resolve_device(cfg.device)
    if cfg.deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True)
    torch.manual_seed(cfg.seed)
    action_rng = np.random.default_rng(cfg.seed)

    env, eval_env = make_env(cfg.env), make_env(cfg.env)
    obs_shape, action_shape = env.observation_space.shape, env.action_space.shape
    action_low, action_high = env.action_space.low, env.action_space.high
    agent = make_agent(cfg.agent, obs_shape, action_shape, (action_low, action_high), device)
    buffer = ReplayBuffer(obs_shape, action_shape, cfg.replay_buffer.capacity, cfg.replay_buffer.batch_size,
                          device, seed=cfg.seed)

    counters = {"step": 0, "episode": 0, "next_eval_step": 0, "next_checkpoint_step": cfg.checkpoint_freq or 0,
                "checkpoint_step": None, "wall_time_s": 0.0}
    logged_rows: dict[str, list] = {"train": [], "eval": []}
    checkpoint = load_checkpoint(output_dir)
    if checkpoint is not None:
        state, folder = checkpoint
        counters = dict(state["counters"])
        agent.load_state_dict(state["agent"])
        buffer.load(folder / "replay_buffer.npz")
        torch.set_rng_state(state["torch_rng"])
        if state["cuda_rng"] and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state["cuda_rng"])
        action_rng.bit_generator.state = json.loads(state["action_rng"])
        logged_rows = state["logs"]
    logs = {name: CsvLog(output_dir / f"{name}.csv", logged_rows[name]) for name in ("train", "eval")}

    show_progress = sys.stderr.isatty() if cfg.progress_bar == "auto" else bool(cfg.progress_bar)
    progress = tqdm(total=cfg.num_train_steps, initial=counters["step"], disable=not show_progress,
                    desc=f"{cfg.agent.name} seed {cfg.seed}")
    resumed = f" (resuming at step {counters['step']})" if checkpoint is not None else ""
    say(progress, f"run folder: {output_dir}{resumed}")
    start_time = time.perf_counter() - counters["wall_time_s"]
    action_repeat = cfg.env.action_repeat
    stopped, step = False, counters["step"]
    try:
        while True:
            # ---- episode boundary: evaluate, checkpoint, maybe stop
            step = counters["step"]
            counters["wall_time_s"] = time.perf_counter() - start_time
            finished = step >= cfg.num_train_steps
            evaluated_here = bool(logs["eval"].rows) and logs["eval"].rows[-1]["step"] == step
            if (step >= counters["next_eval_step"] or finished) and not evaluated_here:
                returns = evaluate(agent, eval_env, cfg.num_eval_episodes, cfg.seed)
                logs["eval"].append({"step": step, "env_step": step * action_repeat, "episode": counters["episode"],
                                     **returns, "wall_time_s": counters["wall_time_s"]})
                say(progress, f"eval  step {step}  env_step {step * action_repeat}  "
                    + "  ".join(f"{name} {value:.1f}" for name, value in returns.items())
                    + f"  ({counters['wall_time_s']:.0f} s)")
                while counters["next_eval_step"] <= step:
                    counters["next_eval_step"] += cfg.eval_freq
            due = step >= counters["next_checkpoint_step"] or finished
            if cfg.checkpoint_freq and due and counters.get("checkpoint_step") != step:
                while counters["next_checkpoint_step"] <= step:
                    counters["next_checkpoint_step"] += cfg.checkpoint_freq
                counters["checkpoint_step"] = step
                save_checkpoint(output_dir, counters, agent, buffer, action_rng, logs)
            if finished:
                break
            if cfg.stop_after_steps is not None and step >= cfg.stop_after_steps:
                stopped = True
                break

            # ---- one training episode
            obs, info = env.reset(seed=episode_seed(cfg.seed, counters["episode"]))
            task = info.get("task")  # a multi-task environment says which task this episode is
            done, episode_return, episode_length, metric_sums, num_updates = False, 0.0, 0, {}, 0
            while not done:
                if step < cfg.init_steps:
                    action = action_rng.uniform(action_low, action_high, size=action_shape).astype(np.float32)
                else:
                    action = agent.act(obs, sample=True, task=task)
                    for name, value in agent.update(buffer.sample(), step).items():
                        metric_sums[name] = metric_sums.get(name, 0.0) + value
                    num_updates += 1
                next_obs, reward, terminated, truncated, _ = env.step(action)
                buffer.add(obs, action, reward, next_obs, terminated, task=task)  # a truncation is not terminal
                obs, done = next_obs, terminated or truncated
                episode_return += float(reward)
                episode_length += 1
                step += 1
                progress.update(1)
            counters["step"], counters["episode"] = step, counters["episode"] + 1
            row = {"step": step, "env_step": step * action_repeat, "episode": counters["episode"],
                   "episode_return": episode_return, "episode_length": episode_length}
            row |= {"task": task} if task is not None else {}
            row |= {name: total / num_updates for name, total in sorted(metric_sums.items())}
            logs["train"].append(row | {"wall_time_s": time.perf_counter() - start_time})
    except KeyboardInterrupt:
        progress.close()
        pointer = output_dir / "checkpoints" / "latest"
        where = (f"the last checkpoint is {pointer.parent / pointer.read_text().strip()}"
                 if pointer.exists() else "no checkpoint was written yet (checkpoint_freq)")
        print(f"\ninterrupted at step {step}: {where}.\nresume with:\n  {resume_command(output_dir)}", flush=True)
        raise
    progress.close()
    last_eval = logs["eval"].rows[-1]["eval_return"] if logs["eval"].rows else float("nan")
    result = {"step": counters["step"], "episode": counters["episode"], "eval_return": last_eval, "stopped": stopped,
              "output_dir": str(output_dir)}
    if not stopped:
        write_finished(output_dir, result)
    return result


@hydra.main(version_base="1.3", config_path="conf", config_name="config")
def main(cfg: DictConfig) -> float:
    """Hydra entry point; returns the last evaluation return (useful to sweepers)."""
    try:
        return run(cfg, HydraConfig.get().runtime.output_dir)["eval_return"]
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
