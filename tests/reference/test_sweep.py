"""The distractor sweep is resumable: killed, then rerun with the same command, it skips finished runs."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "benchmarks"))

import distractor_sweep  # noqa: E402
from distractor_sweep import missing_runs, waves  # noqa: E402

from reference_impl import train  # noqa: E402

TINY = ["size.image_size=16", "size.frame_stack=2", "size.num_filters=8", "size.feature_dim=12",
        "size.hidden_dim=32", "size.transition_hidden_dim=32", "size.batch_size=16", "env.action_repeat=4"]


def sweep_command(out):
    return [sys.executable, str(REPO / "benchmarks" / "distractor_sweep.py"), "--out", str(out),
            "--agents", "sac", "--seeds", "1,2", "--steps", "100", "--init-steps", "20", "--eval-freq", "50",
            "--eval-episodes", "1", "--checkpoint-freq", "25", "--parallel", "1", "--", *TINY]


def test_waves_are_products_of_agents_and_seeds():
    runs = [(agent, seed) for agent in ("sac", "sac_ae", "deepmdp") for seed in range(1, 6)]
    groups = waves(runs, 2)
    assert sorted(run for group in groups for run in group) == sorted(runs)
    for group in groups:
        agents, seeds = {a for a, _ in group}, {s for _, s in group}
        assert len(group) <= 2 and len(agents) * len(seeds) == len(group)
    assert len(groups) == 8
    assert distractor_sweep.FINISHED_FILE == train.FINISHED_FILE  # the script reads what the app writes


def test_a_finished_run_is_not_run_again(tmp_path):
    train.write_finished(tmp_path, {"step": 40, "eval_return": 1.5})
    assert train.read_finished(tmp_path) == distractor_sweep.read_finished(tmp_path) == {"step": 40,
                                                                                          "eval_return": 1.5}
    assert missing_runs(tmp_path.parent, ["x"], [1], 40) == [("x", 1)]  # another folder: not finished


def test_a_killed_sweep_rerun_with_the_same_command_finishes_only_the_missing_runs(tmp_path):
    out = tmp_path / "sweep"
    env = os.environ | {"PYTHONHASHSEED": "0", "MPLBACKEND": "Agg"}
    log = open(tmp_path / "first.log", "w")
    first = subprocess.Popen(sweep_command(out), cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT,
                             start_new_session=True)
    deadline = time.monotonic() + 240
    try:  # kill the whole sweep (launcher and jobs) once wave 1 is finished and wave 2 has a checkpoint
        while time.monotonic() < deadline and first.poll() is None:
            if missing_runs(out, ["sac"], [1, 2], 100) == [("sac", 2)] and (out / "sac_seed2" / "checkpoints" /
                                                                             "latest").exists():
                break
            time.sleep(0.05)
    finally:
        os.killpg(first.pid, signal.SIGKILL)
        first.wait()
        log.close()
    assert missing_runs(out, ["sac"], [1, 2], 100) == [("sac", 2)], (tmp_path / "first.log").read_text()[-2000:]
    assert pd.read_csv(out / "sac_seed2" / "train.csv")["step"].max() < 100  # killed mid-run
    finished_before = (out / "sac_seed1" / "finished.json").stat().st_mtime_ns

    second = subprocess.run(sweep_command(out), cwd=tmp_path, env=env, capture_output=True, text=True, timeout=240)
    assert second.returncode == 0, second.stdout + second.stderr[-3000:]
    assert "1 finished run(s) skipped, 1 to run" in second.stdout
    assert "wave 1: sac/seed2\n" in second.stdout and "wave 2" not in second.stdout
    assert missing_runs(out, ["sac"], [1, 2], 100) == []
    assert (out / "sac_seed1" / "finished.json").stat().st_mtime_ns == finished_before  # not launched again
    assert pd.read_csv(out / "sac_seed2" / "eval.csv")["step"].tolist() == [0, 50, 100]  # resumed and finished
    train_log = pd.read_csv(out / "sac_seed2" / "train.csv")
    assert train_log["step"].is_monotonic_increasing and train_log["step"].is_unique

    third = subprocess.run(sweep_command(out), cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert third.returncode == 0 and "2 finished run(s) skipped, 0 to run" in third.stdout
