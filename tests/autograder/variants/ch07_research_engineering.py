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
