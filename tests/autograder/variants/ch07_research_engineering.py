"""Chapter 7: correct alternatives each check must accept, planted bugs it must reject."""

_RANDOM_CASES = '''
import numpy as np

def make_cases():
    rng = np.random.default_rng(0)
    shapes = {"weight": (2, 3), "bias": (3,)}
    return [{"online": {k: rng.normal(size=s) for k, s in shapes.items()},
             "target": {k: rng.normal(size=s) for k, s in shapes.items()}, "tau": tau} for tau in (0.3, 0.6, 1.0)]
'''

_AGAINST_FORMULA = '''
def check_case(case, output):
    assert list(output) == list(case["target"])
    for name, target in case["target"].items():
        expected = case["tau"] * case["online"][name] + (1 - case["tau"]) * target
        np.testing.assert_allclose(output[name], expected, rtol=1e-10, atol=1e-12)
'''

_SCORE_TABLE = '''
import numpy as np
import pandas as pd
from scipy import stats

def score_table(frame, reps, seed):
    rows = {}
    for config, runs in frame.groupby("config"):
        s, t = runs["score"].to_numpy(float), runs["task"].to_numpy()
        rng = np.random.default_rng(seed)
        columns = [s[t == task][rng.integers(0, np.sum(t == task), size=(reps, np.sum(t == task)))]
                   for task in np.unique(t)]
        low, high = np.percentile(stats.trim_mean(np.concatenate(columns, axis=1), 0.25, axis=1), [2.5, 97.5])
        rows[config] = {"iqm": stats.trim_mean(s, 0.25), "low": low, "high": high}
    table = pd.DataFrame.from_dict(rows, orient="index")
    table["rank"] = table["iqm"].rank(method="min", ascending=False)
    return table.sort_values("rank")
'''

PARTS = {
    "iqm": {
        "check": "check_iqm",
        "alternatives": {
            "sort_and_slice": '''
import numpy as np

def iqm(scores):
    x = np.sort(np.asarray(scores, dtype=float))
    k = len(x) // 4
    return float(x[k:len(x) - k].mean())
''',
            "scipy_trim_mean": '''
from scipy import stats

def iqm(scores):
    return stats.trim_mean(scores, 0.25)
''',
            "python_lists": '''
def iqm(scores):
    values = sorted(float(s) for s in scores)
    cut = len(values) // 4
    middle = values[cut:len(values) - cut]
    return sum(middle) / len(middle)
''',
        },
        "bugs": {
            "plain_mean": '''
import numpy as np

def iqm(scores):
    return float(np.mean(scores))
''',
            "select_by_percentiles": '''
import numpy as np

def iqm(scores):
    low, high = np.percentile(scores, [25, 75])
    return float(np.mean(scores[(scores >= low) & (scores <= high)]))
''',
            "ceil_cut": '''
import math
import numpy as np

def iqm(scores):
    x = np.sort(scores)
    k = math.ceil(len(x) / 4) if len(x) > 2 else 0
    return float(x[k:len(x) - k].mean())
''',
            "unsorted_slice": '''
import numpy as np

def iqm(scores):
    k = len(scores) // 4
    return float(np.asarray(scores)[k:len(scores) - k].mean())
''',
            "cut_bottom_only": '''
import numpy as np

def iqm(scores):
    x = np.sort(scores)
    return float(x[len(x) // 4:].mean())
''',
        },
    },
    "stratified_bootstrap_ci": {
        "check": "check_stratified_bootstrap_ci",
        "alternatives": {
            "vectorised_per_task": '''
import numpy as np

def stratified_bootstrap_ci(scores, tasks, reps, seed):
    rng = np.random.default_rng(seed)
    columns = []
    for task in np.unique(tasks):
        runs = scores[tasks == task]
        columns.append(runs[rng.integers(0, len(runs), size=(reps, len(runs)))])
    resampled = np.sort(np.concatenate(columns, axis=1), axis=1)
    k = resampled.shape[1] // 4
    replicates = resampled[:, k:resampled.shape[1] - k].mean(axis=1)
    return np.percentile(replicates, [2.5, 97.5])
''',
            "loop_with_legacy_generator": '''
import numpy as np

def _iqm(x):
    x = np.sort(x)
    k = len(x) // 4
    return x[k:len(x) - k].mean()

def stratified_bootstrap_ci(scores, tasks, reps, seed):
    rng = np.random.RandomState(seed % 2**32)
    groups = {}
    for score, task in zip(scores, tasks):
        groups.setdefault(int(task), []).append(float(score))
    replicates = []
    for _ in range(reps):
        drawn = [rng.choice(np.array(runs), size=len(runs), replace=True) for runs in groups.values()]
        replicates.append(_iqm(np.concatenate(drawn)))
    low, high = np.percentile(replicates, [2.5, 97.5])
    return np.array([low, high])
''',
        },
        "bugs": {
            "pooled_resampling": '''
import numpy as np

def stratified_bootstrap_ci(scores, tasks, reps, seed):
    rng = np.random.default_rng(seed)
    resampled = np.sort(scores[rng.integers(0, len(scores), size=(reps, len(scores)))], axis=1)
    k = len(scores) // 4
    return np.percentile(resampled[:, k:len(scores) - k].mean(axis=1), [2.5, 97.5])
''',
            "mean_instead_of_iqm": '''
import numpy as np

def stratified_bootstrap_ci(scores, tasks, reps, seed):
    rng = np.random.default_rng(seed)
    columns = [scores[tasks == t][rng.integers(0, np.sum(tasks == t), size=(reps, np.sum(tasks == t)))]
               for t in np.unique(tasks)]
    return np.percentile(np.concatenate(columns, axis=1).mean(axis=1), [2.5, 97.5])
''',
            "fractions_given_to_percentile": '''
import numpy as np
from scipy import stats

def stratified_bootstrap_ci(scores, tasks, reps, seed):
    rng = np.random.default_rng(seed)
    columns = [scores[tasks == t][rng.integers(0, np.sum(tasks == t), size=(reps, np.sum(tasks == t)))]
               for t in np.unique(tasks)]
    replicates = stats.trim_mean(np.concatenate(columns, axis=1), 0.25, axis=1)
    return np.percentile(replicates, [0.025, 0.975])
''',
            "without_replacement": '''
import numpy as np
from scipy import stats

def stratified_bootstrap_ci(scores, tasks, reps, seed):
    rng = np.random.default_rng(seed)
    replicates = []
    for _ in range(reps):
        drawn = [rng.permutation(scores[tasks == t]) for t in np.unique(tasks)]
        replicates.append(stats.trim_mean(np.concatenate(drawn), 0.25))
    return np.percentile(replicates, [2.5, 97.5])
''',
        },
    },
    "score_table": {
        "check": "check_score_table",
        "alternatives": {
            "groupby_with_helpers": '''
import numpy as np
import pandas as pd

def _table_iqm(x):
    x = np.sort(np.asarray(x, dtype=float))
    k = len(x) // 4
    return float(x[k:len(x) - k].mean())

def _table_ci(scores, tasks, reps, seed):
    rng = np.random.default_rng(seed)
    columns = []
    for task in np.unique(tasks):
        runs = scores[tasks == task]
        columns.append(runs[rng.integers(0, len(runs), size=(reps, len(runs)))])
    resampled = np.sort(np.concatenate(columns, axis=1), axis=1)
    k = resampled.shape[1] // 4
    return np.percentile(resampled[:, k:resampled.shape[1] - k].mean(axis=1), [2.5, 97.5])

def score_table(frame, reps, seed):
    rows = {}
    for config, runs in frame.groupby("config"):
        low, high = _table_ci(runs["score"].to_numpy(), runs["task"].to_numpy(), reps, seed)
        rows[config] = {"iqm": _table_iqm(runs["score"]), "low": low, "high": high}
    table = pd.DataFrame.from_dict(rows, orient="index")
    table["rank"] = table["iqm"].rank(method="min", ascending=False).astype(int)
    return table.sort_values("rank")
''',
            "dict_loops_and_scipy": '''
import numpy as np
import pandas as pd
from scipy import stats

def score_table(frame, reps, seed):
    records = frame.to_dict("records")
    configs = sorted({r["config"] for r in records})
    rows = []
    for config in configs:
        runs = [r for r in records if r["config"] == config]
        by_task = {}
        for r in runs:
            by_task.setdefault(r["task"], []).append(r["score"])
        rng = np.random.RandomState(seed % 2**32)
        drawn = np.concatenate([rng.choice(v, size=(reps, len(v))) for v in by_task.values()], axis=1)
        low, high = np.percentile(stats.trim_mean(drawn, 0.25, axis=1), [2.5, 97.5])
        rows.append((config, stats.trim_mean([r["score"] for r in runs], 0.25), low, high))
    iqms = [row[1] for row in rows]
    ranks = [1 + sum(other > value for other in iqms) for value in iqms]
    table = pd.DataFrame([(*row[1:], rank) for row, rank in zip(rows, ranks)],
                         index=pd.Index([row[0] for row in rows], name="config"),
                         columns=["iqm", "low", "high", "rank"])
    return table.sort_values("rank", kind="stable")
''',
            "scipy_vectorised": _SCORE_TABLE,  # each planted bug below but the first changes one line of this
        },
        "bugs": {
            "iqm_by_percentile_selection": '''
import numpy as np
import pandas as pd

def _select_iqm(x):
    """Row-wise: the mean of the scores between the 25th and the 75th percentile."""
    low, high = np.percentile(x, [25, 75], axis=-1, keepdims=True)
    keep = (x >= low) & (x <= high)
    return np.sum(np.where(keep, x, 0.0), axis=-1) / np.sum(keep, axis=-1)

def score_table(frame, reps, seed):
    rows = {}
    for config, runs in frame.groupby("config"):
        scores, tasks = runs["score"].to_numpy(), runs["task"].to_numpy()
        rng = np.random.default_rng(seed)
        drawn = np.concatenate([rng.choice(scores[tasks == t], size=(reps, np.sum(tasks == t)))
                                for t in np.unique(tasks)], axis=1)
        low, high = np.percentile(_select_iqm(drawn), [2.5, 97.5])
        rows[config] = {"iqm": float(_select_iqm(scores)), "low": low, "high": high}
    table = pd.DataFrame.from_dict(rows, orient="index")
    table["rank"] = table["iqm"].rank(method="min", ascending=False)
    return table.sort_values("rank")
''',
            "ranked_ascending": _SCORE_TABLE.replace('ascending=False', 'ascending=True'),
            "bootstrap_pools_tasks": _SCORE_TABLE.replace(
                "columns = [s[t == task][rng.integers(0, np.sum(t == task), size=(reps, np.sum(t == task)))]\n"
                "                   for task in np.unique(t)]",
                "columns = [s[rng.integers(0, len(s), size=(reps, len(s)))]]"),
            # (a 90% interval, [5, 95], is not told apart from bootstrap noise reliably at Part 2's tolerance)
            "interval_at_the_quartiles": _SCORE_TABLE.replace("[2.5, 97.5]", "[25, 75]"),
            "percentiles_of_the_scores": _SCORE_TABLE.replace(
                "np.percentile(stats.trim_mean(np.concatenate(columns, axis=1), 0.25, axis=1), [2.5, 97.5])",
                "np.percentile(s, [2.5, 97.5])"),
            "dense_ranks": _SCORE_TABLE.replace('method="min"', 'method="dense"'),
            "consecutive_ranks_for_ties": _SCORE_TABLE.replace('method="min"', 'method="first"'),
            "mean_of_per_task_iqms": _SCORE_TABLE.replace(
                '"iqm": stats.trim_mean(s, 0.25)',
                '"iqm": np.mean([stats.trim_mean(s[t == task], 0.25) for task in np.unique(t)])'),
        },
    },
    "public_decoder_target": {
        "check": "check_public_decoder_target",
        "alternatives": {
            "floor_divide": '''
import numpy as np

def public_decoder_target(obs, noise):
    return np.floor(obs.astype(np.float64) / 8) / 32 + noise - 0.5
''',
            "bit_shift": '''
import numpy as np

def public_decoder_target(obs, noise):
    return (obs >> 3).astype(np.float64) / 2**5 + noise - 0.5
''',
        },
        "bugs": {
            "scaled_to_unit_interval": '''
import numpy as np

def public_decoder_target(obs, noise):
    return obs / 255.0 + noise - 0.5
''',
            "no_shift": '''
import numpy as np

def public_decoder_target(obs, noise):
    return np.floor(obs / 8) / 32 + noise
''',
            "floor_after_scaling": '''
import numpy as np

def public_decoder_target(obs, noise):
    return np.floor(obs / 8 / 32) + noise - 0.5
''',
            "rounded_not_floored": '''
import numpy as np

def public_decoder_target(obs, noise):
    return np.round(obs / 8) / 32 + noise - 0.5
''',
        },
    },
    "public_transition_loss": {
        "check": "check_public_transition_loss",
        "alternatives": {
            "half_mean_square": '''
import numpy as np

def public_transition_loss(predicted, target):
    return 0.5 * np.mean((predicted - target) ** 2)
''',
            "sum_over_size": '''
import numpy as np

def public_transition_loss(predicted, target):
    delta = predicted - target
    return float(np.sum(delta * delta) / (2 * delta.size))
''',
        },
        "bugs": {
            "sum_over_dims": '''
import numpy as np

def public_transition_loss(predicted, target):
    return np.mean(np.sum((predicted - target) ** 2, axis=1))
''',
            "no_half": '''
import numpy as np

def public_transition_loss(predicted, target):
    return np.mean((predicted - target) ** 2)
''',
            "norm_not_squared": '''
import numpy as np

def public_transition_loss(predicted, target):
    return 0.5 * np.mean(np.linalg.norm(predicted - target, axis=1))
''',
            "mean_before_square": '''
import numpy as np

def public_transition_loss(predicted, target):
    return 0.5 * np.mean(predicted - target) ** 2
''',
        },
    },
    "bug_hunt": {  # one solution cell, two functions, five graded cells (the registry's documented exception)
        "functions": ("make_cases", "check_case"),
        "checks": {"bug_hunt_correct": "check_bug_hunt_correct",
                   "bug_hunt_mutants_a": "check_bug_hunt_mutants_a", "bug_hunt_mutants_b": "check_bug_hunt_mutants_b",
                   "bug_hunt_mutants_c": "check_bug_hunt_mutants_c", "bug_hunt_mutants_d": "check_bug_hunt_mutants_d"},
        "alternatives": {
            "random_cases_against_the_formula": _RANDOM_CASES + _AGAINST_FORMULA,
            "known_answers_in_the_cases": '''
import numpy as np

def make_cases():
    cases = []
    for tau in (0.25, 0.8):
        ones = {"w": np.ones((2, 2)), "b": np.ones(3)}
        zeros = {"w": np.zeros((2, 2)), "b": np.zeros(3)}
        cases.append({"online": ones, "target": zeros, "tau": tau,
                      "expected": {k: np.full(v.shape, tau) for k, v in ones.items()}})
        cases.append({"online": zeros, "target": ones, "tau": tau,
                      "expected": {k: np.full(v.shape, 1 - tau) for k, v in ones.items()}})
    return cases

def check_case(case, output):
    assert sorted(output) == sorted(case["expected"])
    for name, expected in case["expected"].items():
        assert np.shape(output[name]) == expected.shape
        assert np.allclose(output[name], expected, rtol=0, atol=1e-12), name
''',
        },
        "bugs": {
            "always_raises": _RANDOM_CASES + '''
def check_case(case, output):
    raise AssertionError("no output is good enough")
''',
            "expects_the_direction_swapped": _RANDOM_CASES + '''
def check_case(case, output):
    for name, target in case["target"].items():
        assert np.allclose(output[name], case["tau"] * target + (1 - case["tau"]) * case["online"][name])
''',
            "exact_float_equality": _RANDOM_CASES + '''
def check_case(case, output):
    for name, target in case["target"].items():
        assert np.array_equal(output[name], case["tau"] * case["online"][name] + (1 - case["tau"]) * target)
''',
            "tau_in_percent": _RANDOM_CASES.replace("(0.3, 0.6, 1.0)", "(30.0, 60.0, 100.0)") + _AGAINST_FORMULA,
        },
    },
}
