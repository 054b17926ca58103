"""The switch sweep: its configurations, its Hydra commands, and a tiny sweep that is stopped and resumed."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "benchmarks"))

import distractor_sweep  # noqa: E402
import switch_sweep  # noqa: E402
from distractor_sweep import missing_runs  # noqa: E402

from reference_impl import analysis  # noqa: E402
from reference_impl.agents.switches import CHOICES  # noqa: E402

TINY = ["size.image_size=16", "size.frame_stack=2", "size.num_filters=8", "size.feature_dim=12",
        "size.hidden_dim=32", "size.transition_hidden_dim=32", "size.batch_size=16", "env.action_repeat=4"]
ENV = os.environ | {"PYTHONHASHSEED": "0", "MPLBACKEND": "Agg"}


def sweep(out, *arguments, overrides=()):
    command = [sys.executable, str(REPO / "benchmarks" / "switch_sweep.py"), "--out", str(out), *arguments,
               "--steps", "100", "--init-steps", "20", "--eval-freq", "50", "--eval-episodes", "1",
               "--checkpoint-freq", "25", "--", *TINY, *overrides]
    return subprocess.run(command, cwd=out.parent, env=ENV, capture_output=True, text=True, timeout=300)


def test_each_single_switch_configuration_differs_from_ours_in_that_switch_only():
    configs = switch_sweep.configurations()
    assert list(configs) == ["ours", "public", "decoder_target", "encoder_optimizer", "alpha_loss",
                             "transition_loss_reduction"]
    assert configs["ours"] == {name: CHOICES[name][0] for name in switch_sweep.SWITCHES}
    assert configs["public"] == {name: CHOICES[name][1] for name in switch_sweep.SWITCHES}
    for name in switch_sweep.SWITCHES:
        changed = {key for key, value in configs[name].items() if value != configs["ours"][key]}
        assert changed == {name}
    gaussian = switch_sweep.configurations(gaussian=True)
    assert len(gaussian) == 7 and gaussian["gaussian_decoder_input"]["gaussian_decoder_input"] == "sample"


def test_the_dry_run_prints_one_multirun_per_wave_and_launches_nothing(tmp_path):
    out = tmp_path / "sweep"
    command = [sys.executable, str(REPO / "benchmarks" / "switch_sweep.py"), "--out", str(out), "--dry-run"]
    result = subprocess.run(command, cwd=tmp_path, env=ENV, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == f"0 finished run(s) skipped, 30 to run in {out}"
    assert lines[1].startswith("predicted wall time: ") and "15 wave(s) of at most 2 runs" in lines[1]
    commands = [line.split() for line in lines if line.startswith("  -m reference_impl.train")]
    assert len(commands) == 15
    planned = set()
    for words in commands:
        options = dict(word.split("=", 1) for word in words if "=" in word)
        names, seeds = options["+switches"].split(","), options["seed"].split(",")
        assert len(names) * len(seeds) <= 2
        planned |= {(name, int(seed)) for name in names for seed in seeds}
        assert options["hydra.sweep.subdir"] == "${sweep_config}_seed${seed}"
        assert options["env"] == "point_mass" and options["agent"] == "deepmdp"
        assert options["num_train_steps"] == "1500" and options["num_eval_episodes"] == "10"
    assert planned == {(name, seed) for name in switch_sweep.configurations() for seed in range(1, 6)}
    assert not list(out.glob("*_seed*"))  # nothing ran
    public = (out / "switch_configs" / "switches" / "public.yaml").read_text()
    assert "sweep_config: public" in public and "  encoder_optimizer: separate" in public


def test_unknown_configuration_is_refused(tmp_path):
    with pytest.raises(SystemExit):
        switch_sweep.main(["--out", str(tmp_path), "--configs", "ours,gaussian_decoder_input", "--dry-run"])


def test_export_copies_only_the_finished_runs_logs_without_machine_paths(tmp_path):
    out = tmp_path / "raw"
    for name, finished in [("ours_seed1", True), ("public_seed1", False)]:
        (out / name / ".hydra").mkdir(parents=True)
        for log in [*distractor_sweep.RUN_LOGS, ".hydra/hydra.yaml", "train.log"]:
            (out / name / log).write_text(f"{name} {log}")
        (out / name / "checkpoints").mkdir()
        if finished:
            (out / name / "finished.json").write_text(json.dumps({"step": 100, "output_dir": str(out / name)}))
    (out / "command.txt").write_text(f"python benchmarks/switch_sweep.py --out {out} --seeds 1 --steps 100\n")
    dest = tmp_path / "results"
    assert switch_sweep.main(["--out", str(out), "--export", str(dest)]) == 0
    assert sorted(str(p.relative_to(dest)) for p in dest.rglob("*") if p.is_file()) == sorted(
        ["command.txt", "ours_seed1/finished.json", *(f"ours_seed1/{log}" for log in distractor_sweep.RUN_LOGS)])
    assert (dest / "ours_seed1" / "eval.csv").read_text() == "ours_seed1 eval.csv"
    assert json.loads((dest / "ours_seed1" / "finished.json").read_text()) == {"step": 100, "output_dir": "ours_seed1"}
    typed = f"python benchmarks/switch_sweep.py --out {dest} --seeds 1 --steps 100\n"
    assert (dest / "command.txt").read_text() == typed
    with pytest.raises(FileExistsError, match="not empty"):  # a second export would mix old and new runs
        switch_sweep.main(["--out", str(out), "--export", str(dest)])


@pytest.mark.slow  # three launches of the training command through submitit
def test_a_stopped_sweep_rerun_resumes_the_unfinished_run_and_skips_the_finished_one(tmp_path):
    out = tmp_path / "sweep"
    first = sweep(out, "--configs", "ours", "--seeds", "1")
    assert first.returncode == 0, first.stdout + first.stderr[-3000:]
    finished_before = (out / "ours_seed1" / "finished.json").stat().st_mtime_ns
    typed = (out / distractor_sweep.COMMAND_FILE).read_text()
    assert typed.startswith(f"python benchmarks/switch_sweep.py --out {out} --configs ours --seeds 1 --steps 100")

    # Every run stops (as if killed) at its step-50 checkpoint: the finished run is not launched again.
    stopped = sweep(out, "--configs", "ours,public", "--seeds", "1", overrides=["stop_after_steps=50"])
    assert stopped.returncode == 1, stopped.stdout + stopped.stderr[-3000:]
    assert "1 finished run(s) skipped, 1 to run" in stopped.stdout and "wave 1: public/seed1\n" in stopped.stdout
    assert missing_runs(out, ["ours", "public"], [1], 100) == [("public", 1)]
    assert pd.read_csv(out / "public_seed1" / "train.csv")["step"].max() == 50

    resumed = sweep(out, "--configs", "ours,public", "--seeds", "1")
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr[-3000:]
    assert "1 finished run(s) skipped, 1 to run" in resumed.stdout
    assert (out / "ours_seed1" / "finished.json").stat().st_mtime_ns == finished_before
    assert pd.read_csv(out / "public_seed1" / "eval.csv")["step"].tolist() == [0, 50, 100]
    train_log = pd.read_csv(out / "public_seed1" / "train.csv")
    assert train_log["step"].is_monotonic_increasing and train_log["step"].is_unique

    again = sweep(out, "--configs", "ours,public", "--seeds", "1")
    assert again.returncode == 0 and "2 finished run(s) skipped, 0 to run" in again.stdout

    # Each run's configuration comes back from its .hydra/config.yaml.
    runs = analysis.load_sweep(out, params=["sweep_config", *(f"agent.{name}" for name in switch_sweep.SWITCHES)])
    configs = runs.drop_duplicates("run").set_index("sweep_config")
    assert set(configs.index) == {"ours", "public"}
    for name, values in switch_sweep.configurations().items():
        if name in configs.index:
            assert {key: configs.loc[name, f"agent.{key}"] for key in values} == values
