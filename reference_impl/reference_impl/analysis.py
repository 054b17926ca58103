"""From a sweep folder to a tidy frame, learning curves and robust score tables (book chapters 6–7).

``python -m reference_impl.analysis <sweep dir> [--out <dir>]`` finds every run (a folder with ``eval.csv``; its
agent, environment and seed come from the run's ``.hydra/config.yaml``), and writes

* ``learning_curves.png`` — mean evaluation return per agent against environment steps, with a 95% confidence band;
* ``final_returns.csv`` — per agent: number of seeds, mean final return, the band's half-width, min and max, and
  ``final_step``: the largest *environment* step (agent steps × action repeat) at which a run of that agent had its
  last evaluation — the step the final returns are counted at.
* ``scores.csv`` — per agent: the interquartile mean (IQM) of the final scores and its 95% stratified bootstrap CI.

Two kinds of interval:

* the **t band** of the mean, ``mean ± t_{0.975, n-1} · s / sqrt(n)`` (eq. 6.5), with ``s`` the sample standard
  deviation over the ``n`` seeds (no band for a single seed);
* the **rliable protocol** (Agarwal et al., 2021), for few runs: the score of a run is its final evaluation return;
  the aggregate is the IQM, the mean of the middle 50% of all runs' scores (``scipy.stats.trim_mean(x, 0.25)``,
  which cuts ``⌊n/4⌋`` scores at each end); its 95% CI is the percentile interval of a **stratified bootstrap**:
  each replicate resamples, with replacement, the runs *within each task* (so every task keeps its number of runs)
  and recomputes the IQM over all tasks. Performance profiles (the fraction of runs whose score exceeds ``τ``,
  averaged over tasks) get their CI the same way. Runs are put in a canonical order (task, seed, run) before
  resampling, so results do not depend on the order of the frame's rows, and every bootstrap takes a seed.

**Why numpy/scipy and not the ``rliable`` package.** pip resolves ``rliable==1.2.0`` with the course's pins, but it
requires ``arch < 8``, and ``arch 7.2.0`` (what resolves) fails at import with ``pandas 3.1``
(``TypeError: deprecate_kwarg() missing 1 required positional argument``). It would also bring eight more packages
(statsmodels, seaborn, ...) for what is ~40 lines here, written from the paper's definitions and tested against
known answers.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from omegaconf import OmegaConf
from scipy import stats


def load_sweep(sweep_dir: str | os.PathLike, params: Sequence[str] = ()) -> pd.DataFrame:
    """One row per evaluation of every run under ``sweep_dir`` (a tidy frame).

    Columns: ``run, agent, env, seed, step, env_step, eval_return``, then one column per dotted config key in
    ``params`` (e.g. ``agent.builder.critic_tau``), read from each run's ``.hydra/config.yaml``.
    """
    sweep_dir = Path(sweep_dir)
    if not sweep_dir.is_dir():
        raise FileNotFoundError(f"sweep folder {sweep_dir} does not exist (give the folder of a Hydra multirun, "
                                "e.g. multirun/<date>/<time>).")
    frames = []
    for eval_csv in sorted(sweep_dir.rglob("eval.csv")):
        run_dir = eval_csv.parent
        config_file = run_dir / ".hydra" / "config.yaml"
        if not config_file.exists():
            raise ValueError(f"{run_dir} has eval.csv but no .hydra/config.yaml to say which agent and seed it is.")
        config = OmegaConf.load(config_file)
        frame = pd.read_csv(eval_csv)
        if frame.empty:
            continue
        frame = frame[["step", "env_step", "eval_return"]].assign(
            run=str(run_dir.relative_to(sweep_dir)),
            agent=str(config.agent.name),
            env=str(config.env.name),
            seed=int(config.seed),
        )
        for key in params:
            frame[key] = OmegaConf.select(config, key, throw_on_missing=True)
        frames.append(frame)
    if not frames:
        raise ValueError(f"no runs (folders with a non-empty eval.csv) found under {sweep_dir}.")
    columns = ["run", "agent", "env", "seed", "step", "env_step", "eval_return", *params]
    return pd.concat(frames, ignore_index=True)[columns]


def confidence_half_width(values: Sequence[float], confidence: float = 0.95) -> float:
    """``t_{(1+c)/2, n-1} · s / sqrt(n)`` (eq. 6.5); ``nan`` for fewer than two values."""
    values = np.asarray(values, dtype=float)
    if values.size < 2:
        return float("nan")
    return float(stats.t.ppf((1 + confidence) / 2, values.size - 1) * values.std(ddof=1) / np.sqrt(values.size))


def learning_curves(runs: pd.DataFrame, x: str = "env_step", confidence: float = 0.95) -> pd.DataFrame:
    """Per agent and ``x``: ``mean``, ``half_width`` of the confidence band, and ``n`` seeds."""
    grouped = runs.groupby(["agent", x])["eval_return"]
    curves = grouped.agg(mean="mean", n="count").reset_index()
    half_widths = grouped.apply(lambda v: confidence_half_width(v.to_numpy(), confidence)).rename("half_width")
    return curves.merge(half_widths.reset_index(), on=["agent", x])


def final_return_table(runs: pd.DataFrame, confidence: float = 0.95) -> pd.DataFrame:
    """Per agent, over seeds: the return at each run's last evaluation (mean, band half-width, min, max, n), and
    ``final_step``, the largest environment step among those last evaluations."""
    last = runs.sort_values("step").groupby("run").tail(1)
    table = last.groupby("agent")["eval_return"].agg(n="count", mean="mean", min="min", max="max")
    table["half_width"] = last.groupby("agent")["eval_return"].apply(
        lambda v: confidence_half_width(v.to_numpy(), confidence))
    table["final_step"] = last.groupby("agent")["env_step"].max()
    return table[["n", "mean", "half_width", "min", "max", "final_step"]].reset_index()


# ---------------------------------------------------------------------------------------------------- rliable protocol
Statistic = Callable[[list[np.ndarray]], np.ndarray]


def iqm(scores: Sequence[float] | np.ndarray) -> float:
    """Interquartile mean: the mean of the middle 50% of the scores (``⌊n/4⌋`` cut at each end)."""
    return float(stats.trim_mean(np.asarray(scores, dtype=float).ravel(), 0.25))


def iqm_statistic(strata: list[np.ndarray]) -> np.ndarray:
    """Row-wise IQM over all strata pooled: ``[reps, n_j]`` per stratum -> ``[reps]``."""
    return stats.trim_mean(np.concatenate(strata, axis=1), 0.25, axis=1)


def profile_statistic(taus: Sequence[float]) -> Statistic:
    """Row-wise performance profile ``P(τ) = mean_tasks mean_runs 1[score > τ]``: ``-> [reps, len(taus)]``."""
    taus = np.asarray(taus, dtype=float)

    def statistic(strata: list[np.ndarray]) -> np.ndarray:
        return np.mean([(stratum[:, :, None] > taus).mean(axis=1) for stratum in strata], axis=0)

    return statistic


def stratified_bootstrap(strata: Sequence[np.ndarray], statistic: Statistic, reps: int = 2000,
                         seed: int = 0) -> np.ndarray:
    """``reps`` replicates of ``statistic``; each resamples every stratum's runs with replacement, ``n_j`` of them."""
    if not strata or any(len(stratum) == 0 for stratum in strata):
        raise ValueError("every stratum (task) needs at least one run.")
    rng = np.random.default_rng(seed)
    resampled = [np.asarray(s, float)[rng.integers(0, len(s), size=(reps, len(s)))] for s in strata]
    return statistic(resampled)


def interval_estimate(strata: Sequence[np.ndarray], statistic: Statistic = iqm_statistic, reps: int = 2000,
                      confidence: float = 0.95, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Point estimate and the percentile interval ``[q_{(1-c)/2}, q_{(1+c)/2}]`` of the stratified bootstrap."""
    point = statistic([np.asarray(s, float)[None, :] for s in strata])[0]
    replicates = stratified_bootstrap(strata, statistic, reps, seed)
    low, high = np.percentile(replicates, [50 * (1 - confidence), 50 * (1 + confidence)], axis=0)
    return point, low, high


def final_scores(runs: pd.DataFrame, by: Sequence[str] = ("agent",), at_env_step: int | None = None) -> pd.DataFrame:
    """One row per run: ``score`` = its evaluation return at ``at_env_step`` (default: its last evaluation).

    Columns: ``*by, env, seed, run, env_step, score``; ``env_step`` is the step of the evaluation counted, so a table
    can show that all runs are compared at equal environment steps. Runs that never reached ``at_env_step`` are left
    out.
    """
    keep = list(dict.fromkeys([*by, "env", "seed", "run"]))
    frame = runs if at_env_step is None else runs[runs["env_step"] == at_env_step]
    last = frame.sort_values(["run", "step"]).groupby("run").tail(1)
    return last[[*keep, "env_step", "eval_return"]].rename(columns={"eval_return": "score"}).reset_index(drop=True)


def _strata(group: pd.DataFrame, task: str) -> list[np.ndarray]:
    """Scores per task, each in a canonical (seed, run) order, so a result does not depend on row order."""
    ordered = group.sort_values([task, "seed", "run"])
    return [stratum["score"].to_numpy(float) for _, stratum in ordered.groupby(task, sort=True)]


def score_table(finals: pd.DataFrame, by: Sequence[str] = ("agent",), task: str = "env", reps: int = 2000,
                confidence: float = 0.95, seed: int = 0) -> pd.DataFrame:
    """Per configuration (``by``): IQM of the scores with its stratified bootstrap CI (tasks = ``task`` values).

    Columns: ``*by, runs, tasks, iqm, ci_low, ci_high, mean, min, max, env_step_min, env_step_max`` (the range of
    the environment steps at which the counted evaluations were taken). Pool several tasks only when their scores
    are on one scale (e.g. normalised by the random and the solved return).
    """
    rows = []
    for key, group in finals.groupby(list(by), sort=True):
        point, low, high = interval_estimate(_strata(group, task), iqm_statistic, reps, confidence, seed)
        scores = group["score"].to_numpy(float)
        rows.append(dict(zip(by, key if isinstance(key, tuple) else (key,), strict=True))
                    | {"runs": len(group), "tasks": group[task].nunique(), "iqm": float(point), "ci_low": float(low),
                       "ci_high": float(high), "mean": scores.mean(), "min": scores.min(), "max": scores.max(),
                       "env_step_min": int(group["env_step"].min()), "env_step_max": int(group["env_step"].max())})
    return pd.DataFrame(rows)


def score_curves(runs: pd.DataFrame, by: Sequence[str] = ("agent",), x: str = "env_step", task: str = "env",
                 reps: int = 1000, confidence: float = 0.95, seed: int = 0) -> pd.DataFrame:
    """Learning curves under the rliable protocol: per configuration and ``x``, the IQM over runs and its CI.

    Columns: ``*by, x, runs, iqm, ci_low, ci_high``.
    """
    rows = []
    for key, group in runs.groupby([*by, x], sort=True):
        scores = group.rename(columns={"eval_return": "score"})
        point, low, high = interval_estimate(_strata(scores, task), iqm_statistic, reps, confidence, seed)
        rows.append(dict(zip([*by, x], key, strict=True))
                    | {"runs": len(group), "iqm": float(point), "ci_low": float(low), "ci_high": float(high)})
    return pd.DataFrame(rows)


def performance_profiles(finals: pd.DataFrame, taus: Sequence[float], by: Sequence[str] = ("agent",),
                         task: str = "env", reps: int = 2000, confidence: float = 0.95,
                         seed: int = 0) -> pd.DataFrame:
    """Per configuration and threshold ``τ``: the fraction of runs with score ``> τ`` (averaged over tasks), with
    its stratified bootstrap CI. Columns: ``*by, tau, fraction, ci_low, ci_high``."""
    taus = np.asarray(taus, dtype=float)
    frames = []
    for key, group in finals.groupby(list(by), sort=True):
        point, low, high = interval_estimate(_strata(group, task), profile_statistic(taus), reps, confidence, seed)
        labels = dict(zip(by, key if isinstance(key, tuple) else (key,), strict=True))
        frames.append(pd.DataFrame({"tau": taus, "fraction": point, "ci_low": low, "ci_high": high}).assign(**labels))
    return pd.concat(frames, ignore_index=True)[[*by, "tau", "fraction", "ci_low", "ci_high"]]


def sensitivity(finals: pd.DataFrame, param: str, by: Sequence[str] = (), task: str = "env", reps: int = 2000,
                confidence: float = 0.95, seed: int = 0) -> pd.DataFrame:
    """Score against one hyper-parameter: :func:`score_table` grouped by ``(*by, param)``."""
    return score_table(finals, [*by, param], task, reps, confidence, seed)


# ---------------------------------------------------------------------------------------------------- plots
def _axis(ax=None):
    """``ax``, or the axis of a new 6×4-inch figure."""
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=(6, 4))
    return ax


def save_figure(ax, path: str | os.PathLike) -> Path:
    """Save the axis' figure as a PNG and close it."""
    import matplotlib.pyplot as plt

    path = Path(path)
    ax.figure.tight_layout()
    ax.figure.savefig(path, dpi=120)
    plt.close(ax.figure)
    return path


def plot_score_curves(curves: pd.DataFrame, by: str = "agent", x: str = "env_step", ax=None):
    """IQM learning curve per configuration with its shaded 95% stratified bootstrap CI; returns the axis."""
    ax = _axis(ax)
    for label, curve in curves.groupby(by, sort=True):
        curve = curve.sort_values(x)
        line, = ax.plot(curve[x], curve["iqm"], label=f"{label} (n={int(curve['runs'].max())})")
        ax.fill_between(curve[x], curve["ci_low"], curve["ci_high"], alpha=0.2, color=line.get_color())
    ax.set_xlabel("environment steps" if x == "env_step" else x)
    ax.set_ylabel("evaluation return (IQM)")
    ax.legend(fontsize=8)
    return ax


def plot_performance_profiles(profiles: pd.DataFrame, by: str = "agent", ax=None):
    """Fraction of runs with score ``> τ`` against ``τ``, with CI bands; returns the axis."""
    ax = _axis(ax)
    for label, profile in profiles.groupby(by, sort=True):
        line, = ax.plot(profile["tau"], profile["fraction"], label=str(label))
        ax.fill_between(profile["tau"], profile["ci_low"], profile["ci_high"], alpha=0.2, color=line.get_color())
    ax.set_xlabel("score threshold τ")
    ax.set_ylabel("fraction of runs with score > τ")
    ax.set_ylim(-0.02, 1.02)
    ax.legend(fontsize=8)
    return ax


def plot_sensitivity(table: pd.DataFrame, param: str, by: str | None = None, log_x: bool | None = None, ax=None):
    """IQM score against ``param`` with CI error bars (one line per ``by`` value); returns the axis."""
    ax = _axis(ax)
    groups = table.groupby(by, sort=True) if by else [(None, table)]
    for label, group in groups:
        group = group.sort_values(param)
        values = group[param].to_numpy(float)
        ax.errorbar(values, group["iqm"], yerr=[group["iqm"] - group["ci_low"], group["ci_high"] - group["iqm"]],
                    marker="o", capsize=3, label=None if label is None else str(label))
    positive = table[param].to_numpy(float)
    if log_x is None:
        log_x = bool((positive > 0).all() and positive.max() / positive.min() >= 20)
    if log_x:
        ax.set_xscale("log")
    ax.set_xlabel(param)
    ax.set_ylabel("final score (IQM, 95% CI)")
    if by:
        ax.legend(fontsize=8)
    return ax


def plot_learning_curves(curves: pd.DataFrame, path: str | os.PathLike, x: str = "env_step",
                         title: str | None = None) -> Path:
    """Mean curve and shaded confidence band per agent, saved as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(6, 4))
    for agent, curve in curves.groupby("agent"):
        curve = curve.sort_values(x)
        n = int(curve["n"].max())
        axis.plot(curve[x], curve["mean"], label=f"{agent} (n={n})")
        band = curve["half_width"].fillna(0.0)
        axis.fill_between(curve[x], curve["mean"] - band, curve["mean"] + band, alpha=0.25)
    axis.set_xlabel("environment steps" if x == "env_step" else x)
    axis.set_ylabel("evaluation return")
    axis.set_title(title or "mean evaluation return, 95% confidence band over seeds")
    axis.legend()
    figure.tight_layout()
    path = Path(path)
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return path


def analyse(sweep_dir: str | os.PathLike, out_dir: str | os.PathLike | None = None) -> pd.DataFrame:
    """Write ``learning_curves.png``, ``final_returns.csv`` (t bands), ``scores.csv``, ``score_curves.png`` and
    ``performance_profiles.png`` (rliable protocol, seed 0) to ``out_dir`` (default: the sweep folder)."""
    runs = load_sweep(sweep_dir)  # first: a missing sweep folder is an error, not created empty
    out_dir = Path(out_dir or sweep_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    plot_learning_curves(learning_curves(runs), out_dir / "learning_curves.png")
    table = final_return_table(runs)
    table.to_csv(out_dir / "final_returns.csv", index=False)
    finals = final_scores(runs)
    score_table(finals).to_csv(out_dir / "scores.csv", index=False)
    save_figure(plot_score_curves(score_curves(runs)), out_dir / "score_curves.png")
    taus = np.linspace(finals["score"].min(), finals["score"].max(), 101)
    save_figure(plot_performance_profiles(performance_profiles(finals, taus)), out_dir / "performance_profiles.png")
    return table


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sweep_dir", help="a Hydra multirun folder (or any folder containing run folders)")
    parser.add_argument("--out", default=None, help="where to write the PNG and the CSV (default: sweep_dir)")
    args = parser.parse_args(argv)
    try:
        table = analyse(args.sweep_dir, args.out)
    except (FileNotFoundError, ValueError) as error:
        parser.exit(2, f"error: {error}\n")
    with pd.option_context("display.float_format", "{:.1f}".format):
        print(table.to_string(index=False))
        print(pd.read_csv(Path(args.out or args.sweep_dir) / "scores.csv").to_string(index=False))


if __name__ == "__main__":
    main()
