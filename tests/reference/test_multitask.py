"""The multi-goal pixel point mass and the multi-task DeepMDP agent (mtrl's task-embedding setting)."""


import gymnasium as gym
import numpy as np
import pandas as pd
import pytest
from reference_helpers import compose_config

from reference_impl.envs import MULTI_GOAL_POINT_MASS_ID, MultiGoalPointMassEnv
from reference_impl.envs.multi_goal_point_mass import RANDOM_POLICY_RETURN
from reference_impl.replay_buffer import ReplayBuffer


# ---------------------------------------------------------------------------------------------------- environment
def test_the_task_sets_the_goal_and_is_reported_but_not_drawn():
    env = MultiGoalPointMassEnv(image_size=16)
    obs0, info0 = env.reset(seed=3, options={"task": 0})
    obs1, info1 = env.reset(seed=3, options={"task": 1})
    assert (info0["task"], info1["task"]) == (0, 1)
    np.testing.assert_array_equal(obs0, obs1)  # same start, different task: the same image
    assert obs0[1].max() == 0  # the green (goal) channel is empty
    env.reset(seed=3, options={"task": 1})
    env.position = np.array([0.6, 0.0])
    _, reward, _, _, info = env.step(np.zeros(2))
    assert reward == pytest.approx(1.0) and info["task"] == 1
    env.reset(seed=3, options={"task": 0})
    env.position = np.array([0.6, 0.0])
    _, reward, _, _, _ = env.step(np.zeros(2))
    assert reward == pytest.approx(max(0.0, 1 - 1.2))
    with pytest.raises(ValueError, match="task must be"):
        env.reset(options={"task": 2})


def test_registered_env_draws_both_tasks_and_truncates_after_100_steps():
    env = gym.make(MULTI_GOAL_POINT_MASS_ID, image_size=16)
    tasks = {env.reset(seed=seed)[1]["task"] for seed in range(20)}
    assert tasks == {0, 1}
    steps, done = 0, False
    while not done:
        _, _, terminated, truncated, _ = env.step(env.action_space.sample())
        steps, done = steps + 1, terminated or truncated
    assert steps == 100


def test_replay_buffer_carries_task_ids(tmp_path):
    buffer = ReplayBuffer((3, 8, 8), (2,), capacity=10, batch_size=4, seed=0)
    obs = np.zeros((3, 8, 8), dtype=np.uint8)
    for k in range(6):
        buffer.add(obs, np.zeros(2), float(k), obs, False, task=k % 2)
    batch = buffer.sample()
    assert batch.task.tolist() == [int(r) % 2 for r in batch.reward[:, 0].tolist()]
    with pytest.raises(ValueError, match="single-task data"):
        buffer.add(obs, np.zeros(2), 0.0, obs, False)
    buffer.save(tmp_path / "b.npz")
    restored = ReplayBuffer((3, 8, 8), (2,), capacity=10, batch_size=4, seed=0)
    restored.load(tmp_path / "b.npz")
    assert restored.has_tasks and restored.task[:6].tolist() == [0, 1, 0, 1, 0, 1]


# ---------------------------------------------------------------------------------------------------- learning
MULTITASK_TINY = ["agent=deepmdp_multitask", "env=point_mass_multi_goal", "size.image_size=16", "size.frame_stack=2",
                  "size.num_filters=8", "size.feature_dim=16", "size.hidden_dim=64", "size.transition_hidden_dim=64",
                  "size.batch_size=32", "checkpoint_freq=null", "num_threads=1", "device=cpu", "progress_bar=false"]
LEARNING_STEPS = 1000
MARGIN = 20.0


@pytest.mark.slow
def test_multitask_deepmdp_learns_both_goals_on_cpu(tmp_path):
    """The goal is invisible, so only the task embedding can tell the agent where to go: after LEARNING_STEPS agent
    steps (2,000 environment steps) the greedy policy beats the random policy by MARGIN on *each* task."""
    from reference_impl.train import run

    cfg = compose_config([*MULTITASK_TINY, f"num_train_steps={LEARNING_STEPS}", "init_steps=100",
                          f"eval_freq={LEARNING_STEPS}", "num_eval_episodes=10", "seed=1"])
    run(cfg, tmp_path)
    final = pd.read_csv(tmp_path / "eval.csv").iloc[-1]
    assert final["eval_return_task0"] >= RANDOM_POLICY_RETURN + MARGIN, final.to_dict()
    assert final["eval_return_task1"] >= RANDOM_POLICY_RETURN + MARGIN, final.to_dict()
