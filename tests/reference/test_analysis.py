"""The analysis module's robust statistics (rliable protocol): known answers and properties, fixed seeds."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from reference_impl import analysis

SCORES = arrays(np.float64, st.integers(1, 12), elements=st.floats(-1e3, 1e3, allow_nan=False))


def tidy_finals(scores_per_config, env="toy"):
    """A final-score frame: one row per run; ``scores_per_config`` maps agent -> {env: [scores]} or [scores]."""
    rows = []
    for agent, per_task in scores_per_config.items():
        per_task = per_task if isinstance(per_task, dict) else {env: per_task}
        for task, scores in per_task.items():
            for seed, score in enumerate(scores):
                rows.append({"agent": agent, "env": task, "seed": seed, "run": f"{agent}/{task}/{seed}",
                             "env_step": 1000, "score": float(score)})
    return pd.DataFrame(rows)


# ---------------------------------------------------------------------------------------------------- known answers
def test_iqm_known_answers():
    assert analysis.iqm(np.arange(1.0, 9.0)) == pytest.approx(4.5)  # mean of 3, 4, 5, 6
    assert analysis.iqm([0.0, 10.0, 11.0, 12.0, 1000.0]) == pytest.approx(11.0)  # ⌊5/4⌋ = 1 cut at each end
    assert analysis.iqm([3.0, 5.0]) == pytest.approx(4.0)  # nothing cut below four runs
    assert analysis.iqm([7.0]) == 7.0


def test_bootstrap_of_two_values_has_the_known_distribution():
    """Means of resamples of {0, 1} (n = 2): 0, 1/2, 1 with probabilities 1/4, 1/2, 1/4."""
    replicates = analysis.stratified_bootstrap([np.array([0.0, 1.0])], analysis.iqm_statistic, reps=20000, seed=0)
    values, counts = np.unique(replicates, return_counts=True)
    np.testing.assert_array_equal(values, [0.0, 0.5, 1.0])
    np.testing.assert_allclose(counts / 20000, [0.25, 0.5, 0.25], atol=0.01)
    point, low, high = analysis.interval_estimate([np.array([0.0, 1.0])], reps=20000)
    assert (point, low, high) == (0.5, 0.0, 1.0)


def test_stratification_keeps_every_task_in_every_replicate():
    """Two tasks, each with constant scores: a stratified resample always has 3 zeros and 1 one, so the pooled mean
    never moves; a plain bootstrap over the 4 pooled runs would."""
    def mean(strata):
        return np.concatenate(strata, axis=1).mean(axis=1)

    replicates = analysis.stratified_bootstrap([np.zeros(3), np.ones(1)], mean, reps=500, seed=1)
    np.testing.assert_array_equal(replicates, np.full(500, 0.25))
    plain = analysis.stratified_bootstrap([np.array([0.0, 0.0, 0.0, 1.0])], mean, reps=500, seed=1)
    assert plain.std() > 0.1


def test_score_table_known_answer_and_columns():
    finals = tidy_finals({"a": [1.0, 2.0, 3.0, 4.0, 100.0], "b": [5.0, 5.0, 5.0]})
    table = analysis.score_table(finals, reps=500).set_index("agent")
    assert table.loc["a", "iqm"] == pytest.approx(3.0) and table.loc["a", "mean"] == pytest.approx(22.0)
    assert table.loc["b", "iqm"] == table.loc["b", "ci_low"] == table.loc["b", "ci_high"] == 5.0
    assert table.loc["a", "runs"] == 5 and table.loc["a", "tasks"] == 1
    assert table.loc["a", "env_step_min"] == table.loc["a", "env_step_max"] == 1000
    assert table.loc["a", "ci_low"] < 3.0 < table.loc["a", "ci_high"] <= 100.0


def test_performance_profile_known_answer():
    finals = tidy_finals({"a": {"t1": [1.0, 2.0, 3.0, 4.0], "t2": [10.0, 10.0]}})
    profile = analysis.performance_profiles(finals, taus=[0.0, 2.5, 5.0, 10.0], reps=200)
    # τ = 2.5: half of t1's runs and all of t2's: (0.5 + 1) / 2
    np.testing.assert_allclose(profile["fraction"], [1.0, 0.75, 0.5, 0.0])
    assert (profile["ci_low"] <= profile["fraction"]).all() and (profile["fraction"] <= profile["ci_high"]).all()


def test_final_scores_take_the_last_or_the_requested_evaluation():
    runs = pd.DataFrame({"run": ["r1"] * 3 + ["r2"] * 2, "agent": "a", "env": "toy", "seed": [1, 1, 1, 2, 2],
                         "step": [0, 10, 20, 0, 10], "env_step": [0, 20, 40, 0, 20],
                         "eval_return": [1.0, 2.0, 3.0, 4.0, 5.0]})
    last = analysis.final_scores(runs).set_index("run")
    assert last.loc["r1", "score"] == 3.0 and last.loc["r1", "env_step"] == 40 and last.loc["r2", "score"] == 5.0
    at_20 = analysis.final_scores(runs, at_env_step=20).set_index("run")
    assert at_20["score"].to_dict() == {"r1": 2.0, "r2": 5.0}
    assert analysis.final_scores(runs, at_env_step=40)["run"].tolist() == ["r1"]


def test_score_curves_and_sensitivity():
    runs = pd.DataFrame({"run": np.repeat(["r1", "r2", "r3"], 2), "agent": "a", "env": "toy",
                         "seed": np.repeat([1, 2, 3], 2), "step": [0, 10] * 3, "env_step": [0, 20] * 3,
                         "eval_return": [0.0, 5.0, 0.0, 7.0, 0.0, 9.0], "lr": np.repeat([1e-4, 1e-3, 1e-3], 2)})
    curves = analysis.score_curves(runs, reps=200).set_index("env_step")
    assert curves.loc[0, "iqm"] == 0.0 and curves.loc[20, "iqm"] == pytest.approx(7.0)
    assert curves.loc[20, "runs"] == 3
    table = analysis.sensitivity(analysis.final_scores(runs, by=("agent", "lr")), "lr", reps=200).set_index("lr")
    assert table.loc[1e-4, "iqm"] == 5.0 and table.loc[1e-3, "iqm"] == pytest.approx(8.0)
    ax = analysis.plot_sensitivity(table.reset_index(), "lr")
    assert ax.get_xscale() == "linear" and len(ax.lines) >= 1


# ---------------------------------------------------------------------------------------------------- properties
@settings(max_examples=60, deadline=None, derandomize=True)
@given(scores=SCORES)
def test_iqm_lies_between_min_and_max(scores):
    value = analysis.iqm(scores)
    assert scores.min() - 1e-9 * (1 + abs(scores.min())) <= value <= scores.max() + 1e-9 * (1 + abs(scores.max()))


@settings(max_examples=40, deadline=None, derandomize=True)
@given(strata=st.lists(SCORES, min_size=1, max_size=3), seed=st.integers(0, 2**32 - 1))
def test_ci_contains_the_point_estimate_and_lies_within_the_data(strata, seed):
    point, low, high = analysis.interval_estimate(strata, reps=300, seed=seed)
    pooled = np.concatenate(strata)
    tolerance = 1e-9 * (1 + np.abs(pooled).max())
    assert pooled.min() - tolerance <= low <= point + tolerance
    assert point - tolerance <= high <= pooled.max() + tolerance


@settings(max_examples=25, deadline=None, derandomize=True)
@given(data=st.data())
def test_tables_do_not_depend_on_row_order(data):
    per_agent = {agent: {task: data.draw(st.lists(st.floats(0, 100), min_size=1, max_size=6))
                         for task in ("t1", "t2")} for agent in ("a", "b")}
    finals = tidy_finals(per_agent)
    permutation = data.draw(st.permutations(range(len(finals))))
    shuffled = finals.iloc[list(permutation)].reset_index(drop=True)
    pd.testing.assert_frame_equal(analysis.score_table(finals, reps=200, seed=3),
                                  analysis.score_table(shuffled, reps=200, seed=3))
    taus = [0.0, 50.0, 99.0]
    pd.testing.assert_frame_equal(analysis.performance_profiles(finals, taus, reps=200, seed=3),
                                  analysis.performance_profiles(shuffled, taus, reps=200, seed=3))


def test_a_fixed_seed_fixes_the_replicates():
    strata = [np.random.default_rng(0).normal(size=9)]
    assert analysis.interval_estimate(strata, seed=5) == analysis.interval_estimate(strata, seed=5)
    first, again, other = (analysis.stratified_bootstrap(strata, analysis.iqm_statistic, reps=100, seed=seed)
                           for seed in (5, 5, 6))
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)


def test_analyse_writes_the_robust_table_and_figures(tmp_path):
    for agent, seed, returns in [("sac", 1, [0.0, 5.0]), ("sac", 2, [1.0, 9.0]), ("deepmdp", 1, [0.0, 7.0])]:
        run_dir = tmp_path / "sweep" / f"{agent}_seed{seed}"
        (run_dir / ".hydra").mkdir(parents=True)
        (run_dir / ".hydra" / "config.yaml").write_text(
            f"agent:\n  name: {agent}\n  lr: 0.001\nenv:\n  name: toy\nseed: {seed}\n")
        pd.DataFrame({"step": [0, 10], "env_step": [0, 20], "episode": 0, "eval_return": returns,
                      "wall_time_s": 0.0}).to_csv(run_dir / "eval.csv", index=False)
    analysis.analyse(tmp_path / "sweep", tmp_path / "report")
    scores = pd.read_csv(tmp_path / "report" / "scores.csv").set_index("agent")
    assert scores.loc["sac", "iqm"] == pytest.approx(7.0) and scores.loc["deepmdp", "runs"] == 1
    for name in ("score_curves.png", "performance_profiles.png", "learning_curves.png"):
        assert (tmp_path / "report" / name).stat().st_size > 1000
    runs = analysis.load_sweep(tmp_path / "sweep", params=["agent.lr"])
    assert runs["agent.lr"].eq(0.001).all()
