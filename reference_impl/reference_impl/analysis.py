"""From a sweep folder to learning curves and a final-return table (book chapters 6–7).

``python -m reference_impl.analysis <sweep dir> [--out <dir>]`` finds every run (a folder with ``eval.csv``; its
agent, environment and seed come from the run's ``.hydra/config.yaml``), and writes

* ``learning_curves.png`` — mean evaluation return per agent against environment steps, with a 95% confidence band;
* ``final_returns.csv`` — per agent: number of seeds, mean final return, the band's half-width, min and max, and
  ``final_step``: the largest *environment* step (agent steps × action repeat) at which a run of that agent had its
  last evaluation — the step the final returns are counted at.

The band is Student's t interval over seeds, ``mean ± t_{0.975, n-1} · s / sqrt(n)`` (eq. 6.5), with ``s`` the
sample standard deviation over the ``n`` seeds at that step (no band for a single seed).
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from omegaconf import OmegaConf
from scipy import stats


def load_sweep(sweep_dir: str | os.PathLike) -> pd.DataFrame:
    """One row per evaluation of every run under ``sweep_dir``.

    Columns: ``run, agent, env, seed, step, env_step, eval_return``.
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
        frames.append(frame)
    if not frames:
        raise ValueError(f"no runs (folders with a non-empty eval.csv) found under {sweep_dir}.")
    return pd.concat(frames, ignore_index=True)[["run", "agent", "env", "seed", "step", "env_step", "eval_return"]]


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
    """Write ``learning_curves.png`` and ``final_returns.csv`` to ``out_dir`` (default: the sweep folder)."""
    out_dir = Path(out_dir or sweep_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    runs = load_sweep(sweep_dir)
    plot_learning_curves(learning_curves(runs), out_dir / "learning_curves.png")
    table = final_return_table(runs)
    table.to_csv(out_dir / "final_returns.csv", index=False)
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


if __name__ == "__main__":
    main()
