"""Checks for chapter 7 (research engineering). Each ``check_*`` is one call in a notebook test cell.

Student functions take and return plain numpy data, or a pandas DataFrame (Part 3). Parts and what the hidden checks
draw (derandomized):

* ``iqm(scores)``: 1-D arrays of 1-40 scores, of either sign, with ties (whole numbers in -5..5) or without
  (floats in [-1000, 1000]); compared with :func:`reference_impl.analysis.iqm` (⌊n/4⌋ cut at each end).
* ``stratified_bootstrap_ci(scores, tasks, reps, seed)``: 1-4 tasks of 1-10 runs each, task levels far apart or
  close, heavy-tailed scores; ``reps`` in {1000, 2000}; any seed. Exact properties (low <= high, the interval
  within [min, max] of the scores, a zero-width interval when every task's runs are equal) and the reference's
  interval (:func:`reference_impl.analysis.interval_estimate`; each endpoint the median over
  :data:`CI_CALIBRATION_SEEDS` seeds) within :data:`CI_NOISE_FACTOR` standard deviations of that endpoint over
  those seeds (plus :data:`CI_FLOOR` of the score range): a student may draw the resamples with any generator
  and seed (:func:`ci_calibration`).
* ``score_table(frame, reps, seed)``: tidy frames of final scores (columns ``config, task, seed, score``, one row
  per run, rows in any order) of 1-5 configurations on 1-3 tasks, 1-10 runs (seeds 1, 2, ...) per configuration
  and task, the same count everywhere or not; scores whole numbers in -5..5 (ties), floats in [-50, 50], or
  constant per configuration and task; task levels equal or 200 apart; 0 to all but one configurations copy
  the first one's runs (exact ties); ``reps`` in {1000, 2000}, any seed. The table must be indexed by configuration
  with the columns ``iqm, low, high, rank``, rows sorted by rank. Compared with
  :func:`reference_score_table` (:func:`reference_impl.analysis.score_table`): each IQM to 1e-9; each rank
  exactly 1 + the number of configurations whose (returned) IQM is strictly higher — with the IQMs exact, this
  is the reference's ranking wherever IQMs are not tied within 1e-9, and a tie computed as a tie shares its
  rank; each interval with Part 2's exact properties and within Part 2's tolerance of the reference's.
* ``public_decoder_target(obs, noise)``: ``uint8`` images [B, C, H, W] (B 1-3, C 1-3, H = W 1-4) of any pixel
  value, noise in [0, 1/32); compared with pytorch_sac_ae's ``preprocess_obs``
  (:func:`reference_impl.agents.sac_ae.quantized_target`, with its uniform draw replaced by ``noise``).
* ``public_transition_loss(predicted, target)``: [B, d] arrays, B 1-6, d 1-8, values of either sign; compared with
  :func:`reference_impl.agents.deepmdp.transition_loss_per_sample` under ``mean_half`` (mtrl's reduction).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from unittest import mock

import numpy as np
import pandas as pd
import torch
from hypothesis import strategies as st

from autograder.checks import _core
from autograder.checks._core import as_array, call_student, fail, passed, plain_result, quiet, run_property
from autograder.sandbox import BudgetExhausted, WorkerError, protocol, student_call
from reference_impl import analysis
from reference_impl.agents import deepmdp, sac_ae

# Parts 2 and 3's tolerance: the endpoints of a percentile interval from `reps` bootstrap replicates vary with the
# random draws. The check runs the reference with CI_CALIBRATION_SEEDS seeds and accepts an endpoint within
# CI_NOISE_FACTOR standard deviations of the median of the reference's endpoints, plus CI_FLOOR of the score range
# (an endpoint that moves between a few discrete values may show no spread over the calibration seeds); see
# ci_calibration. Measured on 40 random sweeps drawn like the hidden ones (reps = 2000): correct solutions drawing
# other random numbers than the reference (another seed, numpy's legacy generator) stay within 0.53 of this
# tolerance in Part 2 (median 0.11) and 0.46 in Part 3 (median 0.13); each planted interval bug exceeds it 27 to
# 200 times on some sweep (tests/autograder/test_checks_ch07.py).
CI_NOISE_FACTOR = 6.0
CI_CALIBRATION_SEEDS = 60
CI_FLOOR = 0.005
BINS = 32  # 5-bit quantisation of pytorch_sac_ae's preprocess_obs


# Part 1: the interquartile mean -------------------------------------------------------------------------------

def _iqm_case(fn: Callable, case: dict) -> None:
    name = "iqm"
    got = as_array(name, call_student(name, fn, case), case, shape=(), what="the IQM")
    expected = analysis.iqm(case["scores"])
    if not np.isclose(got, expected, rtol=1e-9, atol=1e-9):
        fail(name, "the value differs from the interquartile mean", case, expected=expected, got=float(got),
             hint="sort the scores, drop k = n // 4 of them at EACH end (none when n < 4), average the rest; "
                  "ties are kept as they are (do not select by value against percentiles).")


def _iqm_scores() -> st.SearchStrategy:
    ties = st.lists(st.integers(-5, 5).map(float), min_size=1, max_size=40)
    spread = st.lists(st.floats(-1000, 1000, allow_nan=False), min_size=1, max_size=40)
    return st.one_of(ties, spread).map(lambda values: {"scores": np.array(values, dtype=float)})


def check_iqm(fn: Callable, hidden: bool = False) -> None:
    """The IQM of a 1-D array. Hidden: 60 arrays of 1-40 scores, with and without ties."""
    with quiet():
        if not hidden:
            # ties at the lower quartile (selecting by percentiles keeps a third 2.0), n = 9 (a ceil cuts 3)
            _iqm_case(fn, {"scores": np.array([7.0, 2.0, -1.0, 100.0, 2.0, 12.0, 9.0, 4.0, 2.0])})
            passed("iqm", "fixed array of nine scores")
            return
        run_property(lambda case: _iqm_case(fn, case), _iqm_scores(), max_examples=60)
        passed("iqm", "60 random arrays")


# Part 2: the stratified bootstrap interval of the IQM ---------------------------------------------------------

def _strata(scores: np.ndarray, tasks: np.ndarray) -> list[np.ndarray]:
    return [scores[tasks == task] for task in np.unique(tasks)]


def ci_calibration(strata: list[np.ndarray], reps: int) -> tuple[np.ndarray, np.ndarray]:
    """The reference's 95% interval ``[low, high]`` and the accepted distance per endpoint.

    Each endpoint is the median of the reference's endpoint over :data:`CI_CALIBRATION_SEEDS` seeds, and the
    accepted distance :data:`CI_NOISE_FACTOR` standard deviations of it over those seeds, plus :data:`CI_FLOOR`
    of the score range (and rounding). The median, not one seed's interval: with few runs the bootstrap
    distribution is discrete, and an endpoint can jump to a value that only a few seeds in a thousand give (three
    runs of one task: the 2.5% point is the lowest score unless fewer than 50 of 2000 replicates draw it three
    times); compared with one seed's interval, a correct solution drawing other random numbers failed when that
    seed was one of the few.
    """
    key = (reps, tuple(tuple(np.asarray(stratum, float).tolist()) for stratum in strata))
    center, tolerance = _ci_calibration(key)
    return np.array(center), np.array(tolerance)


@functools.lru_cache(maxsize=4096)
def _ci_calibration(key: tuple) -> tuple[tuple[float, float], tuple[float, float]]:
    """:func:`ci_calibration`, remembered: a property run (shrinking above all) meets the same strata again."""
    reps, strata = key[0], [np.array(stratum) for stratum in key[1]]
    scores = np.concatenate(strata)
    endpoints = np.array([analysis.interval_estimate(strata, reps=reps, seed=10_000 + s)[1:]
                          for s in range(CI_CALIBRATION_SEEDS)])
    spread = float(scores.max() - scores.min())
    tolerance = CI_NOISE_FACTOR * endpoints.std(axis=0) + CI_FLOOR * spread + 1e-9 * (1 + np.abs(scores).max())
    return tuple(np.median(endpoints, axis=0)), tuple(tolerance)


def reference_ci(scores: np.ndarray, tasks: np.ndarray, reps: int) -> tuple[np.ndarray, np.ndarray]:
    """The reference's 95% interval ``[low, high]`` of these runs and its tolerance per endpoint
    (:func:`ci_calibration`)."""
    return ci_calibration(_strata(scores, tasks), reps)


def _ci_case(fn: Callable, case: dict) -> None:
    name = "stratified_bootstrap_ci"
    got = as_array(name, call_student(name, fn, case), case, shape=(2,), what="the interval [low, high]")
    scores, tasks = case["scores"], case["tasks"]
    eps = 1e-9 * (1 + np.abs(scores).max())
    if not np.all(np.isfinite(got)) or got[0] > got[1]:
        fail(name, "the interval must be two finite numbers with low <= high", case, got=got)
    if got[0] < scores.min() - eps or got[1] > scores.max() + eps:
        fail(name, "the interval leaves the range [min, max] of the scores (an IQM of resampled scores cannot)",
             case, expected=np.array([scores.min(), scores.max()]), got=got,
             hint="np.percentile(replicates, [2.5, 97.5]) takes percents, not fractions.")
    if all(np.ptp(stratum) == 0 for stratum in _strata(scores, tasks)) and got[1] - got[0] > eps:
        fail(name, "every task's runs are equal here, so every stratified resample is the same: the interval "
                   "must have zero width", case, got=got,
             hint="resample the runs of each task among themselves only (n_j draws from task j), never from the "
                  "pooled runs.")
    expected, tolerance = reference_ci(scores, tasks, case["reps"])
    if np.any(np.abs(got - expected) > tolerance):
        fail(name, "the interval differs from the reference's by more than bootstrap noise explains", case,
             expected=expected, got=got,
             hint=f"accepted: within {np.array2string(tolerance, precision=4)} of each endpoint. Per replicate, "
                  "draw n_j runs with replacement within each task j, take the IQM of all drawn runs together; "
                  "return np.percentile(replicates, [2.5, 97.5]).")


def _ci_inputs(rng: np.random.Generator, n_tasks: int, levels: str, reps: int, seed: int) -> dict:
    runs = rng.integers(1, 11, size=n_tasks)
    offsets = (100 * np.arange(n_tasks) if levels == "apart" else np.zeros(n_tasks))
    scores, tasks = [], []
    for task, (n, offset) in enumerate(zip(runs, offsets, strict=True)):
        if levels == "constant":
            values = np.full(n, float(rng.integers(-3, 4) + 10 * task))
        else:
            values = offset + 10 * rng.standard_t(2, size=n)
        scores.append(values)
        tasks.append(np.full(n, task))
    order = rng.permutation(int(runs.sum()))  # runs of different tasks interleaved, as in a tidy frame
    return {"scores": np.concatenate(scores)[order], "tasks": np.concatenate(tasks)[order].astype(np.int64),
            "reps": reps, "seed": seed}


def check_stratified_bootstrap_ci(fn: Callable, hidden: bool = False) -> None:
    """95% percentile interval of the IQM under a stratified bootstrap. Hidden: 20 sweeps (module docstring)."""
    name = "stratified_bootstrap_ci"
    with quiet():
        if not hidden:
            case = {"scores": np.array([10.0, 12.0, 55.0, 11.0, 14.0, 50.0, 13.0, 60.0, 58.0, 9.0]),
                    "tasks": np.array([0, 0, 1, 0, 0, 1, 0, 1, 1, 0]), "reps": 2000, "seed": 0}
            _ci_case(fn, case)
            passed(name, "fixed sweep of two tasks")
            return
        strategy = st.builds(lambda seed, *args: _ci_inputs(np.random.default_rng(seed), *args),
                             st.integers(0, 10_000), st.integers(1, 4),
                             st.sampled_from(["apart", "close", "constant"]), st.sampled_from([1000, 2000]),
                             st.integers(0, 2**31 - 1))
        run_property(lambda case: _ci_case(fn, case), strategy, max_examples=20)
        passed(name, "20 random sweeps")


# Part 3: a score table from a sweep's tidy frame -------------------------------------------------------------

TABLE_COLUMNS = ("iqm", "low", "high", "rank")
CONFIG_NAMES = ("sac", "sac_ae", "deepmdp", "dbc", "curl")
TASK_NAMES = ("point_mass", "distractors", "two_goals")


def _config_strata(frame: pd.DataFrame, config: str) -> list[np.ndarray]:
    """One configuration's scores per task, each in seed order (the reference's canonical order)."""
    runs = frame[frame["config"] == config].sort_values(["task", "seed"])
    return [task["score"].to_numpy(float) for _, task in runs.groupby("task", sort=True)]


def reference_score_table(frame: pd.DataFrame, reps: int) -> tuple[pd.DataFrame, np.ndarray]:
    """The reference's table of a tidy frame and the tolerance of each row's ``[low, high]``.

    Indexed by ``config``, sorted by rank (then by name): ``iqm`` from :func:`reference_impl.analysis.score_table`
    (``by = config``, the ``task`` column as strata), ``rank`` = 1 + the number of configurations with a strictly
    higher IQM, and ``low, high`` with their tolerance from :func:`ci_calibration` (Part 2's), per configuration.
    """
    finals = frame.assign(run=frame["seed"].astype(str), env_step=0)
    table = analysis.score_table(finals, by=("config",), task="task", reps=reps).set_index("config")
    table["rank"] = table["iqm"].rank(method="min", ascending=False).astype(np.int64)
    table = table.reset_index().sort_values(["rank", "config"]).set_index("config")
    calibration = [ci_calibration(_config_strata(frame, config), reps) for config in table.index]
    table[["low", "high"]] = np.array([center for center, _ in calibration])
    return table[list(TABLE_COLUMNS)], np.array([tolerance for _, tolerance in calibration])


def _read_table(name: str, got, case: dict, configs: list[str]) -> tuple[list[str], np.ndarray]:
    """The row labels and the ``[n, 4]`` numbers (iqm, low, high, rank) of a returned table, or a clear failure."""
    layout = ("return a DataFrame indexed by configuration, e.g. frame.groupby('config') ... with the columns "
              "iqm, low, high, rank.")
    got = plain_result(name, got, case)  # what crosses the sandbox's boundary, in both paths
    if not student_call.is_frame(got):
        fail(name, f"the table must be a pandas DataFrame; got {type(got).__name__}", case, hint=layout)
    missing = [column for column in TABLE_COLUMNS if column not in list(got.columns)]
    if missing:
        fail(name, f"the table has no column {', '.join(map(repr, missing))}", case, got=got, hint=layout)
    labels = got.index.tolist()
    if sorted(labels, key=repr) != sorted(configs, key=repr):
        fail(name, "the rows must be the configurations, each once, as the index (row labels)", case,
             expected=configs, got=labels, hint=layout + " A table with a 'config' column needs .set_index('config').")
    try:
        values = np.column_stack([got[column].to_numpy(dtype=float) for column in TABLE_COLUMNS])
    except (TypeError, ValueError):
        fail(name, "the columns iqm, low, high, rank must hold numbers", case, got=got)
    if not np.all(np.isfinite(values)):
        fail(name, "the table holds a value that is not a finite number", case, got=got)
    return labels, values


def _table_case(fn: Callable, case: dict) -> None:
    name = "score_table"
    frame = case["frame"]
    configs = sorted(frame["config"].unique().tolist())
    labels, values = _read_table(name, call_student(name, fn, case), case, configs)
    got = pd.DataFrame(values, index=pd.Index(labels, name="config"), columns=list(TABLE_COLUMNS))
    strata = {config: _config_strata(frame, config) for config in labels}
    pooled = {config: np.concatenate(strata[config]) for config in labels}
    expected_iqm = np.array([analysis.iqm(pooled[config]) for config in labels])
    if not np.allclose(got["iqm"], expected_iqm, rtol=1e-9, atol=1e-9):
        fail(name, "an IQM differs from the interquartile mean of that configuration's scores (all its tasks "
                   "pooled)", case, expected=pd.DataFrame({"iqm": expected_iqm}, index=got.index), got=got,
             hint="per configuration, sort ALL its runs together and cut n // 4 at each end (Part 1): not a mean "
                  "of per-task IQMs, not a selection by percentiles.")
    rank, iqms = got["rank"].to_numpy(), got["iqm"].to_numpy()
    expected_rank = np.array([1 + np.sum(iqms > value) for value in iqms])
    if not np.array_equal(rank, expected_rank):
        fail(name, "rank must be 1 + the number of configurations with a strictly higher IQM (1 = best; equal "
                   "IQMs share the smaller rank)", case,
             expected=pd.DataFrame({"iqm": iqms, "rank": expected_rank}, index=got.index), got=got,
             hint="table['iqm'].rank(method='min', ascending=False): highest IQM first, ties get the same, "
                  "smallest rank (1, 1, 3), neither consecutive ranks (1, 2, 3) nor dense ones (1, 1, 2).")
    if np.any(np.diff(rank) < 0):
        fail(name, "the rows must be sorted by rank, best first", case, got=got, hint="table.sort_values('rank')")
    eps = 1e-9 * (1 + np.abs(frame["score"].to_numpy()).max())
    for config, low, high in zip(labels, got["low"], got["high"], strict=True):
        scores = pooled[config]
        if low > high or low < scores.min() - eps or high > scores.max() + eps:
            fail(name, f"the interval of {config!r} must have low <= high and lie within [min, max] of its "
                       "scores", case, expected=np.array([scores.min(), scores.max()]), got=np.array([low, high]),
                 hint="np.percentile(replicates, [2.5, 97.5]) takes percents, not fractions.")
        if all(np.ptp(stratum) == 0 for stratum in strata[config]) and high - low > eps:
            fail(name, f"every task's runs of {config!r} are equal, so every stratified resample is the same: "
                       "its interval must have zero width", case, got=got,
                 hint="resample each configuration's runs within each task (Part 2), never across tasks.")
    reference, tolerance = reference_score_table(frame, case["reps"])
    position = [reference.index.get_loc(config) for config in labels]  # in the order of the student's rows
    reference, tolerance = reference.iloc[position], tolerance[position]
    distance = np.abs(got[["low", "high"]].to_numpy() - reference[["low", "high"]].to_numpy())
    if np.any(distance > tolerance):
        fail(name, "an interval differs from the reference's by more than bootstrap noise explains", case,
             expected=reference, got=got,
             hint=f"accepted: within {np.array2string(tolerance, precision=4)} of each endpoint (rows as in "
                  "yours). Per configuration: Part 2's stratified bootstrap over its runs, the tasks as strata, "
                  "with the given reps and seed.")


@st.composite
def _sweeps(draw) -> dict:
    """A tidy frame of final scores (module docstring), with its ``reps`` and ``seed``."""
    n_configs, n_tasks = draw(st.integers(1, 5)), draw(st.integers(1, 3))
    configs = draw(st.permutations(CONFIG_NAMES))[:n_configs]
    values = draw(st.sampled_from(["whole numbers", "floats", "constant per task"]))
    offsets = draw(st.sampled_from([0.0, 200.0])) * np.arange(n_tasks)  # task levels close or far apart
    balanced = draw(st.booleans())
    runs = draw(st.integers(1, 10))
    rows = []
    for config in configs:
        for task, offset in zip(TASK_NAMES[:n_tasks], offsets, strict=True):
            n = runs if balanced else draw(st.integers(1, 10))
            if values == "whole numbers":
                scores = draw(st.lists(st.integers(-5, 5), min_size=n, max_size=n))
            elif values == "floats":
                scores = draw(st.lists(st.floats(-50, 50, allow_subnormal=False), min_size=n, max_size=n))
            else:
                scores = [draw(st.integers(-3, 3))] * n
            rows += [(config, task, seed, float(score) + offset)
                     for seed, score in enumerate(scores, start=1)]
    copies = draw(st.integers(0, n_configs - 1))  # the last `copies` configurations copy the first: exact ties
    for copy in configs[n_configs - copies:]:
        rows = [row for row in rows if row[0] != copy] + [(copy, *row[1:]) for row in rows if row[0] == configs[0]]
    order = draw(st.permutations(range(len(rows))))  # rows in any order, as in a log
    frame = pd.DataFrame([rows[i] for i in order], columns=["config", "task", "seed", "score"])
    return {"frame": frame, "reps": draw(st.sampled_from([1000, 2000])), "seed": draw(st.integers(0, 2**31 - 1))}


# The visible sweep: two tasks far apart, unequal runs; sac_ae and deepmdp tie for the best IQM (20.0, rank 1 both,
# sac 3), and deepmdp's scores tie at the lower quartile (selecting by percentiles keeps [10, 10, 10, 30], the IQM
# averages [10, 10, 10, 30, 40]).
VISIBLE_SWEEP = [
    ("sac", "plain", [20.0, 22.0, 21.0]), ("sac", "distractors", [2.0, 3.0]),
    ("sac_ae", "plain", [30.0, 31.0, 29.0, 30.0]), ("sac_ae", "distractors", [5.0, 4.0, 6.0]),
    ("deepmdp", "plain", [30.0, 40.0, 45.0]), ("deepmdp", "distractors", [10.0, 10.0, 10.0, 1.0]),
]


def visible_frame() -> pd.DataFrame:
    """The visible case's tidy frame, rows interleaved as in a log."""
    rows = [(config, task, seed, score) for config, task, scores in VISIBLE_SWEEP
            for seed, score in enumerate(scores, start=1)]
    order = np.random.default_rng(7).permutation(len(rows))
    return pd.DataFrame([rows[i] for i in order], columns=["config", "task", "seed", "score"])


def check_score_table(fn: Callable, hidden: bool = False) -> None:
    """Per configuration: IQM, stratified bootstrap 95% interval and rank. Hidden: 15 tidy frames (module
    docstring)."""
    name = "score_table"
    with quiet():
        if not hidden:
            _table_case(fn, {"frame": visible_frame(), "reps": 2000, "seed": 0})
            passed(name, "fixed sweep of three configurations on two tasks")
            return
        run_property(lambda case: _table_case(fn, case), _sweeps(), max_examples=15)
        passed(name, "15 random sweeps")


# Part 4: the public codes' decoder target and transition-loss scale ----------------------------------------

def reference_decoder_target(obs: np.ndarray, noise: np.ndarray) -> np.ndarray:
    """:func:`reference_impl.agents.sac_ae.quantized_target` with its uniform draw ``u ~ U[0, 1)`` (scaled by
    1/32 there) replaced by ``32 * noise``."""
    draw = torch.from_numpy(noise * BINS)
    with mock.patch.object(sac_ae.torch, "rand_like", lambda like: draw.to(like.dtype)):
        return sac_ae.quantized_target(torch.from_numpy(obs), torch.float64).numpy()


def _decoder_case(fn: Callable, case: dict) -> None:
    name = "public_decoder_target"
    expected = reference_decoder_target(case["obs"], case["noise"])
    got = as_array(name, call_student(name, fn, case), case, shape=expected.shape, what="the target")
    if not np.allclose(got, expected, atol=1e-9):
        fail(name, "the target differs from pytorch_sac_ae's preprocess_obs", case, expected=expected, got=got,
             hint="5 bits: floor(obs / 8) / 32 (integer division BEFORE scaling), plus the noise, minus 0.5; "
                  "work in floats so that nothing wraps around in uint8.")


def _decoder_inputs(rng: np.random.Generator, b: int, c: int, h: int) -> dict:
    return {"obs": rng.integers(0, 256, size=(b, c, h, h)).astype(np.uint8),
            "noise": rng.random((b, c, h, h)) / BINS}


def check_public_decoder_target(fn: Callable, hidden: bool = False) -> None:
    """pytorch_sac_ae's decoder target with given noise. Hidden: 30 image batches of any pixel values."""
    name = "public_decoder_target"
    with quiet():
        if not hidden:
            case = {"obs": np.array([[[[0, 7, 8, 255], [100, 31, 32, 200]]]], dtype=np.uint8),
                    "noise": np.array([[[[0.0, 0.01, 0.02, 0.03], [0.005, 0.015, 0.025, 0.0]]]])}
            _decoder_case(fn, case)
            passed(name, "fixed image of 2 x 4 pixels")
            return
        strategy = st.builds(lambda seed, b, c, h: _decoder_inputs(np.random.default_rng(seed), b, c, h),
                             st.integers(0, 10_000), st.integers(1, 3), st.integers(1, 3), st.integers(1, 4))
        run_property(lambda case: _decoder_case(fn, case), strategy, max_examples=30)
        passed(name, "30 random image batches")


def reference_transition_loss(predicted: np.ndarray, target: np.ndarray) -> float:
    """mtrl's transition loss: the batch mean of :func:`transition_loss_per_sample` under ``mean_half``."""
    per_sample = deepmdp.transition_loss_per_sample(torch.from_numpy(predicted), torch.from_numpy(target), None,
                                                    "mse", "mean_half")
    return float(per_sample.mean())


def _transition_case(fn: Callable, case: dict) -> None:
    name = "public_transition_loss"
    expected = reference_transition_loss(case["predicted"], case["target"])
    got = as_array(name, call_student(name, fn, case), case, shape=(), what="the loss")
    if not np.isclose(got, expected, rtol=1e-9, atol=1e-12):
        fail(name, "the loss differs from mtrl's transition loss", case, expected=expected, got=float(got),
             hint="mean over the batch AND the latent dimensions of 0.5 * (predicted - target) ** 2: one number.")


def check_public_transition_loss(fn: Callable, hidden: bool = False) -> None:
    """mtrl's transition-loss scale, a scalar. Hidden: 30 batches, B 1-6, d 1-8."""
    name = "public_transition_loss"
    with quiet():
        if not hidden:
            _transition_case(fn, {"predicted": np.array([[1.0, 2.0, 0.0], [0.5, -1.0, 3.0]]),
                                  "target": np.array([[0.0, 2.0, 1.0], [0.5, 1.0, -1.0]])})
            passed(name, "fixed batch of two")
            return

        def make(seed, b, d):
            rng = np.random.default_rng(seed)
            return {"predicted": 3 * rng.normal(size=(b, d)), "target": 3 * rng.normal(size=(b, d))}

        strategy = st.builds(make, st.integers(0, 10_000), st.integers(1, 6), st.integers(1, 8))
        run_property(lambda case: _transition_case(fn, case), strategy, max_examples=30)
        passed(name, "30 random batches")


# Part 5: a bug hunt graded by mutation ------------------------------------------------------------------------
#
# The student writes `make_cases()` (a list of inputs for the soft target update, plain data) and
# `check_case(case, output)` (raises when `output` cannot be the soft update of `case`). This process runs the
# correct component and the hidden mutants on those cases and passes each output to `check_case`: a mutant is
# killed when `check_case` raises on some case. Under `course-grade`, `check_case` runs in the sandbox and receives
# plain data only: it cannot see which component produced the output, nor its source.

BUG_HUNT = "bug_hunt"
MAX_CASES = 50
MAX_CASE_ENTRIES = 10_000


def soft_update(online: dict, target: dict, tau: float) -> dict:
    """The component under test (book eq. 5.7): each target parameter moves a fraction tau towards the online one."""
    return {name: tau * online[name] + (1 - tau) * target[name] for name in target}


def _soft_update_interpolated(online: dict, target: dict, tau: float) -> dict:
    """Eq. 5.7 written as an interpolation (another rounding of the same function): a test must not demand bit
    equality with one way of writing it."""
    return {name: target[name] + tau * (online[name] - target[name]) for name in target}


CORRECT = (soft_update, _soft_update_interpolated)


def _mutant_hard_copy(online, target, tau):
    return {name: online[name].copy() for name in target}


def _mutant_no_update(online, target, tau):
    return {name: target[name].copy() for name in target}


def _mutant_direction_swapped(online, target, tau):
    return {name: tau * target[name] + (1 - tau) * online[name] for name in target}


def _mutant_target_not_decayed(online, target, tau):
    return {name: target[name] + tau * online[name] for name in target}


def _mutant_tau_ignored(online, target, tau):
    return {name: 0.005 * online[name] + 0.995 * target[name] for name in target}


def _mutant_only_first_parameter(online, target, tau):
    first = next(iter(target))
    return {name: (tau * online[name] + (1 - tau) * target[name]) if name == first else target[name].copy()
            for name in target}


def _mutant_last_entry_skipped(online, target, tau):
    new = {}
    for name in target:
        flat = target[name].astype(float).ravel().copy()
        flat[:-1] = tau * online[name].ravel()[:-1] + (1 - tau) * flat[:-1]
        new[name] = flat.reshape(target[name].shape)
    return new


def _mutant_tau_clipped(online, target, tau):
    tau = min(tau, 0.1)
    return {name: tau * online[name] + (1 - tau) * target[name] for name in target}


# The hidden mutants, two per graded cell, with what the grader tells a student whose tests let one survive.
MUTANTS = {
    "a": {"hard_copy": (_mutant_hard_copy, "copies the online parameters (a hard update)"),
          "no_update": (_mutant_no_update, "returns the target parameters unchanged")},
    "b": {"direction_swapped": (_mutant_direction_swapped, "moves the online network towards the target one"),
          "target_not_decayed": (_mutant_target_not_decayed, "adds tau * online without decaying the target")},
    "c": {"tau_ignored": (_mutant_tau_ignored, "uses a fixed tau = 0.005 whatever tau is given"),
          "only_first_parameter": (_mutant_only_first_parameter, "updates only the first parameter")},
    "d": {"last_entry_skipped": (_mutant_last_entry_skipped, "leaves the last entry of each parameter unchanged"),
          "tau_clipped": (_mutant_tau_clipped, "clips tau to at most 0.1")},
}


def _parameters(case_index: int, case: dict, key: str) -> dict:
    params = case.get(key)
    if not isinstance(params, dict) or not params:
        fail(BUG_HUNT, f"case {case_index}: `{key}` must be a non-empty dict of parameter arrays", {"case": case})
    for name, value in params.items():
        if not isinstance(value, np.ndarray) or value.dtype.kind != "f" or value.size == 0:
            fail(BUG_HUNT, f"case {case_index}: `{key}[{name!r}]` must be a non-empty float numpy array",
                 {"case": case})
    return params


def _valid_cases(make_cases: Callable) -> list[dict]:
    """The student's cases, checked to be inputs the soft update accepts."""
    cases = call_student(BUG_HUNT, make_cases, {})
    try:  # what crosses the sandbox's boundary, in both paths (a numpy scalar becomes a float, as in the grader)
        cases = protocol.decode(protocol.encode({"cases": cases}))["cases"]
    except protocol.ProtocolError as error:
        fail(BUG_HUNT, f"make_cases() must return plain data (dicts, lists, floats, numpy arrays): {error}", {})
    if not isinstance(cases, list | tuple) or not cases:
        fail(BUG_HUNT, "make_cases() must return a non-empty list of cases", {},
             got=type(cases).__name__ if not isinstance(cases, list | tuple) else "an empty list")
    if len(cases) > MAX_CASES:
        fail(BUG_HUNT, f"make_cases() returned {len(cases)} cases; at most {MAX_CASES} are run", {})
    for i, case in enumerate(cases):
        if not isinstance(case, dict):
            fail(BUG_HUNT, f"case {i} must be a dict with keys 'online', 'target', 'tau'", {},
                 got=type(case).__name__)
        online, target = _parameters(i, case, "online"), _parameters(i, case, "target")
        if list(online) != list(target) or any(online[k].shape != target[k].shape for k in target):
            fail(BUG_HUNT, f"case {i}: `online` and `target` must hold the same parameter names, in the same "
                           "order, with the same shapes", {"case": case})
        if sum(v.size for v in target.values()) > MAX_CASE_ENTRIES:
            fail(BUG_HUNT, f"case {i} is too large (at most {MAX_CASE_ENTRIES} numbers per network)", {})
        tau = case.get("tau")
        if type(tau) not in (int, float) or not 0.0 <= tau <= 1.0:
            fail(BUG_HUNT, f"case {i}: `tau` must be a number in [0, 1]", {"case": case})
        case["tau"] = float(tau)
    return list(cases)


def _copy(case: dict) -> dict:
    """A deep copy of a case (arrays copied), so that no call sees what another did."""
    return {k: ({n: a.copy() for n, a in v.items()} if isinstance(v, dict) else
                (v.copy() if isinstance(v, np.ndarray) else v)) for k, v in case.items()}


def _run_check_case(check_case: Callable, case: dict, output: dict) -> str | None:
    """None when ``check_case(case, output)`` returns; otherwise what it raised (a failed test)."""
    inputs = {"case": _copy(case), "output": {k: np.array(v, dtype=float) for k, v in output.items()}}
    try:
        student_call.call(check_case, inputs)
    except (BudgetExhausted, WorkerError) as error:  # no verdict from a dead process: report it as the failure
        _core._student_raised(BUG_HUNT, error, {"case": case, "output": output})
    except Exception as error:  # a test fails by raising, whatever it raises
        kind = getattr(error, "type_name", type(error).__name__)
        return f"{kind}: {getattr(error, 'message', str(error))}"[:500]
    return None


def _outputs(component: Callable, case: dict) -> dict:
    case = _copy(case)
    with np.errstate(all="ignore"):
        return component(case["online"], case["target"], case["tau"])


def _correct_passes(make_cases: Callable, check_case: Callable) -> list[dict]:
    cases = _valid_cases(make_cases)
    for component in CORRECT:
        for i, case in enumerate(cases):
            output = _outputs(component, case)
            error = _run_check_case(check_case, case, output)
            if error is not None:
                fail(BUG_HUNT, f"check_case raised on case {i} with the output of the CORRECT soft update "
                               f"({error}); a test that fails on correct code scores nothing",
                     {"case": case, "output": output},
                     hint="compare with tau * online + (1 - tau) * target up to rounding (np.allclose), not "
                          "with ==, and assert only what every correct soft update satisfies.")
    return cases


def check_bug_hunt_correct(make_cases: Callable, check_case: Callable, hidden: bool = False) -> None:
    """Your tests pass on the correct soft update, written in two ways (the hidden call checks the same)."""
    with quiet():
        cases = _correct_passes(make_cases, check_case)
        passed(BUG_HUNT, f"{len(cases)} cases pass on the correct soft update (two ways of writing it)")


def _check_mutants(group: str, make_cases: Callable, check_case: Callable, hidden: bool) -> None:
    with quiet():
        cases = _correct_passes(make_cases, check_case)
        if not hidden:
            passed(BUG_HUNT, f"{len(cases)} cases pass on the correct soft update; the grader runs them on "
                             f"{len(MUTANTS[group])} hidden mutants")
            return
        for label, (mutant, what) in MUTANTS[group].items():
            killed = False
            for case in cases:
                if _run_check_case(check_case, case, _outputs(mutant, case)) is not None:
                    killed = True
                    break
            if not killed:
                fail(BUG_HUNT, f"a mutant survived your tests: a soft update that {what} ({label}) passes every "
                               "case", {},
                     hint="add a case on which this bug changes the output, and assert what the correct output "
                          "must be.")
        passed(BUG_HUNT, f"both mutants of group {group} killed")


def check_bug_hunt_mutants_a(make_cases: Callable, check_case: Callable, hidden: bool = False) -> None:
    """Hidden: your tests pass on the correct soft update and kill the mutants of group a."""
    _check_mutants("a", make_cases, check_case, hidden)


def check_bug_hunt_mutants_b(make_cases: Callable, check_case: Callable, hidden: bool = False) -> None:
    """Hidden: your tests pass on the correct soft update and kill the mutants of group b."""
    _check_mutants("b", make_cases, check_case, hidden)


def check_bug_hunt_mutants_c(make_cases: Callable, check_case: Callable, hidden: bool = False) -> None:
    """Hidden: your tests pass on the correct soft update and kill the mutants of group c."""
    _check_mutants("c", make_cases, check_case, hidden)


def check_bug_hunt_mutants_d(make_cases: Callable, check_case: Callable, hidden: bool = False) -> None:
    """Hidden: your tests pass on the correct soft update and kill the mutants of group d."""
    _check_mutants("d", make_cases, check_case, hidden)
