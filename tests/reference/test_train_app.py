"""The training app: replay buffer, logs, checkpoint + exact resume, the CLI, a submitit sweep and its analysis."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from reference_helpers import compose_config
from scipy import stats

from reference_impl import analysis
from reference_impl.replay_buffer import ReplayBuffer
from reference_impl.train import resolve_device, run

REPO = Path(__file__).resolve().parents[2]
TINY = [
    "size.image_size=16",
    "size.frame_stack=2",
    "size.num_filters=8",
    "size.feature_dim=12",
    "size.hidden_dim=32",
    "size.transition_hidden_dim=32",
    "size.batch_size=16",
    "replay_buffer.capacity=1000",
    "env.action_repeat=4",  # 25 agent steps per episode
    "init_steps=20",
    "eval_freq=50",
    "num_eval_episodes=1",
    "checkpoint_freq=50",
    "device=cpu",
    "num_threads=1",
    "progress_bar=false",
]



@pytest.fixture
def restore_torch_globals():
    threads, deterministic = torch.get_num_threads(), torch.are_deterministic_algorithms_enabled()
    yield
    torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(deterministic)


def without_wall_time(path):
    return pd.read_csv(path).drop(columns="wall_time_s")


def subprocess_env():
    return os.environ | {"PYTHONHASHSEED": "0", "MPLBACKEND": "Agg"}


# ---------------------------------------------------------------------------------------------------- replay buffer
def filled_buffer(n=30, capacity=50, seed=0):
    buffer = ReplayBuffer((3, 8, 8), (2,), capacity=capacity, batch_size=4, seed=seed)
    rng = np.random.default_rng(1)
    for k in range(n):
        obs = np.full((3, 8, 8), k % 256, np.uint8)
        buffer.add(obs, rng.uniform(-1, 1, 2), float(k), obs + 1, terminated=(k % 10 == 9))
    return buffer


def test_replay_buffer_stores_uint8_and_samples_reproducibly():
    buffer = filled_buffer()
    assert len(buffer) == 30 and buffer.obs.dtype == np.uint8
    batch = buffer.sample()
    assert batch.obs.dtype == torch.uint8 and batch.obs.shape == (4, 3, 8, 8) and batch.reward.shape == (4, 1)
    torch.testing.assert_close(batch.next_obs.float(), batch.obs.float() + 1)  # transitions stay aligned
    torch.testing.assert_close(batch.not_done, (batch.reward % 10 != 9).float())  # 0 only where terminated
    again = filled_buffer().sample()
    assert torch.equal(batch.obs, again.obs) and torch.equal(batch.action, again.action)
    assert not torch.equal(filled_buffer(seed=1).sample(16).reward, filled_buffer().sample(16).reward)
    with pytest.raises(ValueError, match="empty"):
        ReplayBuffer((3, 8, 8), (2,), 5, 2).sample()
    with pytest.raises(ValueError, match="shape"):
        buffer.add(np.zeros((3, 4, 4), np.uint8), np.zeros(2), 0.0, np.zeros((3, 4, 4), np.uint8), False)


def test_replay_buffer_samples_channels_last_pixels_with_the_stored_values(tmp_path):
    """Pixels are kept channels-last, so a batch reaches the encoder in its layout with no copy; values unchanged."""
    buffer = ReplayBuffer((3, 4, 5), (2,), capacity=8, batch_size=8, seed=0)
    frames = np.arange(8 * 60, dtype=np.int64).reshape(8, 3, 4, 5) % 251
    for k, frame in enumerate(frames.astype(np.uint8)):
        buffer.add(frame, np.zeros(2), float(k), 255 - frame, terminated=False)
    batch = buffer.sample()
    assert batch.obs.shape == (8, 3, 4, 5) and batch.obs.is_contiguous(memory_format=torch.channels_last)
    stored = torch.from_numpy(frames.astype(np.uint8))[batch.reward[:, 0].long()]
    assert torch.equal(batch.obs, stored) and torch.equal(batch.next_obs, 255 - stored)
    buffer.save(tmp_path / "buffer.npz")
    restored = ReplayBuffer((3, 4, 5), (2,), capacity=8, batch_size=8, seed=0)
    restored.load(tmp_path / "buffer.npz")
    assert np.array_equal(restored.obs, frames.astype(np.uint8))
    flat = ReplayBuffer((6,), (2,), capacity=4, batch_size=2)  # non-image observations: stored as they are
    assert flat.obs.shape == (4, 6) and flat.obs.flags["C_CONTIGUOUS"]


def test_replay_buffer_is_a_ring():
    buffer = filled_buffer(n=13, capacity=10)
    assert len(buffer) == 10 and buffer.full and buffer.index == 3
    assert sorted(buffer.reward[:, 0].tolist()) == [float(k) for k in range(3, 13)]


def test_replay_buffer_save_load_continues_the_same_samples(tmp_path):
    buffer = filled_buffer()
    buffer.sample()
    buffer.save(tmp_path / "buffer.npz")
    expected = [buffer.sample() for _ in range(3)]
    restored = ReplayBuffer((3, 8, 8), (2,), capacity=50, batch_size=4, seed=123)
    restored.load(tmp_path / "buffer.npz")
    assert len(restored) == 30 and restored.index == buffer.index
    for batch in expected:
        got = restored.sample()
        assert got.task is batch.task is None  # single-task data
        assert all(torch.equal(a, b) for a, b in zip(got[:5], batch[:5], strict=True))


# ---------------------------------------------------------------------------------------------------- training app
def test_resume_after_a_kill_reproduces_the_uninterrupted_run(tmp_path, restore_torch_globals):
    settings = [*TINY, "agent=deepmdp", "num_train_steps=150", "deterministic=true", "seed=3"]
    full = run(compose_config(settings), tmp_path / "full")
    assert full["step"] == 150 and not full["stopped"]

    interrupted_dir = tmp_path / "interrupted"
    stopped = run(compose_config([*settings, "stop_after_steps=75"]), interrupted_dir)
    assert stopped["stopped"] and stopped["step"] == 75
    assert (interrupted_dir / "checkpoints" / "latest").read_text() == "step_50"
    assert pd.read_csv(interrupted_dir / "train.csv")["step"].max() == 75  # rows after the checkpoint exist...
    resumed = run(compose_config(settings), interrupted_dir)
    assert resumed["step"] == 150

    for name in ("train.csv", "eval.csv"):  # ...and are replaced by exactly the uninterrupted ones
        pd.testing.assert_frame_equal(without_wall_time(interrupted_dir / name), without_wall_time(tmp_path / "full" /
                                                                                                     name))
    evals = pd.read_csv(tmp_path / "full" / "eval.csv")
    assert evals["step"].tolist() == [0, 50, 100, 150]
    train = pd.read_csv(tmp_path / "full" / "train.csv")
    assert train["episode_length"].eq(25).all() and {"critic_loss", "transition_loss"} <= set(train.columns)

    run(compose_config(settings), tmp_path / "full")  # re-running a finished run adds nothing
    assert pd.read_csv(tmp_path / "full" / "eval.csv")["step"].tolist() == [0, 50, 100, 150]


def test_resolve_device():
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    with pytest.raises(ValueError, match="device must be"):
        resolve_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="no CUDA"):
            resolve_device("cuda")


@pytest.mark.slow  # an end-to-end run of the training command
def test_command_line_run_writes_logs_config_and_checkpoint_without_a_progress_bar(tmp_path):
    overrides = [o for o in TINY if not o.startswith("progress_bar")]
    command = [sys.executable, "-m", "reference_impl.train", *overrides, "agent=sac", "num_train_steps=50",
               f"hydra.run.dir={tmp_path}"]
    completed = subprocess.run(command, cwd=tmp_path, env=subprocess_env(), capture_output=True, text=True,
                               timeout=300)
    assert completed.returncode == 0, completed.stderr
    assert "it/s" not in completed.stderr  # tqdm is off when stderr is not a terminal
    for name in ("train.csv", "eval.csv", ".hydra/config.yaml", "checkpoints/latest"):
        assert (tmp_path / name).exists(), name
    assert pd.read_csv(tmp_path / "eval.csv")["step"].tolist() == [0, 50]
    # the run folder and every evaluation are printed as lines, even though stdout is not a terminal
    lines = completed.stdout.splitlines()
    assert f"run folder: {tmp_path}" in lines
    assert [line.split("  ")[1] for line in lines if line.startswith("eval  ")] == ["step 0", "step 50"]


def test_ctrl_c_says_where_the_checkpoint_is_and_how_to_resume(tmp_path, monkeypatch, capsys):
    from reference_impl import train

    cfg = compose_config([*TINY, "agent=sac", "num_train_steps=100"])
    original, calls = train.evaluate, []

    def evaluate_then_interrupt(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:  # the evaluation at step 100, after the checkpoint at step 50
            raise KeyboardInterrupt
        return original(*args, **kwargs)

    monkeypatch.setattr(train, "evaluate", evaluate_then_interrupt)
    with pytest.raises(KeyboardInterrupt):
        run(cfg, tmp_path)
    out = capsys.readouterr().out
    assert "interrupted at step 100" in out
    assert f"the last checkpoint is {tmp_path / 'checkpoints' / 'step_50'}" in out
    command = out.split("resume with:\n", 1)[1].strip()
    assert command.endswith(f"-m reference_impl.train hydra.run.dir={tmp_path}")
    monkeypatch.setattr(train, "evaluate", original)
    result = run(cfg, tmp_path)  # what the printed command does: continue from the checkpoint
    assert "resuming at step 50" in capsys.readouterr().out and result["step"] == 100


@pytest.mark.slow  # an end-to-end run of the training command
def test_submitit_local_sweep_then_analysis(tmp_path):
    sweep_dir = tmp_path / "sweep"
    command = [sys.executable, "-m", "reference_impl.train", "-m", "hydra/launcher=submitit_local",
               "hydra.launcher.timeout_min=10", *TINY, "agent=sac,deepmdp", "num_train_steps=50",
               "checkpoint_freq=null", f"hydra.sweep.dir={sweep_dir}"]
    completed = subprocess.run(command, cwd=tmp_path, env=subprocess_env(), capture_output=True, text=True,
                               timeout=400)
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert len(list(sweep_dir.glob("*/eval.csv"))) == 2
    assert (sweep_dir / ".submitit").is_dir()

    table = analysis.analyse(sweep_dir, tmp_path / "report")
    assert sorted(table["agent"]) == ["deepmdp", "sac"] and table["n"].tolist() == [1, 1]
    assert (tmp_path / "report" / "learning_curves.png").stat().st_size > 1000
    assert (tmp_path / "report" / "final_returns.csv").exists()


# ---------------------------------------------------------------------------------------------------- analysis
def write_fake_run(directory, agent, seed, returns):
    directory.mkdir(parents=True)
    (directory / ".hydra").mkdir()
    (directory / ".hydra" / "config.yaml").write_text(f"agent:\n  name: {agent}\nenv:\n  name: toy\nseed: {seed}\n")
    steps = np.arange(len(returns)) * 10
    pd.DataFrame({"step": steps, "env_step": 2 * steps, "episode": 0, "eval_return": returns,
                  "wall_time_s": 0.0}).to_csv(directory / "eval.csv", index=False)


def test_learning_curves_mean_and_t_interval(tmp_path):
    returns = {1: [0.0, 10.0, 20.0], 2: [0.0, 14.0, 30.0], 3: [0.0, 12.0, 25.0]}
    for seed, values in returns.items():
        write_fake_run(tmp_path / f"a{seed}", "deepmdp", seed, values)
    write_fake_run(tmp_path / "b1", "sac", 1, [1.0, 2.0, 3.0])
    runs = analysis.load_sweep(tmp_path)
    assert len(runs) == 12 and set(runs["agent"]) == {"deepmdp", "sac"}
    curves = analysis.learning_curves(runs).set_index(["agent", "env_step"])
    finals = np.array([20.0, 30.0, 25.0])
    expected_half_width = stats.t.ppf(0.975, 2) * finals.std(ddof=1) / np.sqrt(3)
    assert curves.loc[("deepmdp", 40), "mean"] == pytest.approx(25.0)
    assert curves.loc[("deepmdp", 40), "half_width"] == pytest.approx(expected_half_width)
    assert curves.loc[("deepmdp", 0), "half_width"] == 0.0
    assert np.isnan(curves.loc[("sac", 40), "half_width"])  # one seed: no band
    table = analysis.final_return_table(runs).set_index("agent")
    assert table.loc["deepmdp", "n"] == 3 and table.loc["deepmdp", "mean"] == pytest.approx(25.0)
    assert table.loc["deepmdp", "half_width"] == pytest.approx(expected_half_width)
    with pytest.raises(ValueError, match="no runs"):
        analysis.load_sweep(tmp_path / "a1" / ".hydra")


def test_analysis_of_a_missing_folder_is_a_clear_error(tmp_path, capsys):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        analysis.load_sweep(tmp_path / "no_such_sweep")
    with pytest.raises(SystemExit) as exit_info:
        analysis.main([str(tmp_path / "no_such_sweep")])
    assert exit_info.value.code == 2
    assert f"error: sweep folder {tmp_path / 'no_such_sweep'} does not exist" in capsys.readouterr().err
