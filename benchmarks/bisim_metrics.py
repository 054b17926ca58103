"""Benchmarks for the bisimulation metrics of chapter 3.

1. Exact W1 solvers on one call: POT's network simplex (called directly and through ``ot.emd2``) and SciPy's
   ``linprog`` (HiGHS); and, on the Ferns iteration's own LPs, the network simplex warm-started with dual
   potentials and column generation with POT's sparse network simplex (why the iteration uses neither).
2. The speed target: the Ferns et al. metric (weights (1 - gamma, gamma), tol 1e-3) on
   ``random_mdp(64, 4, 0.9, seed=0)``. Baseline: the naive loop calling ``ot.emd2`` once per (s, t, a) per
   iteration, with the same stopping rule (eq. 3.4). Also shown: the plain iteration of the library (pairs s < t,
   one LP each) and the accelerated one (solved values reused under their Lipschitz bound, action elimination,
   stopping by the measured contraction).
3. MICo (eq. 3.10) at |S| = 500 by Smith doubling and by SciPy's Lyapunov solver.
4. Time against |S| for every metric, for the book's scaling figure.
5. Ferns metric scaling 16 ... 512 (|A| = 4, dense P, tol 1e-3): CPU time and peak resident memory, each size in a
   fresh process (``--ferns-scaling``, about 40 minutes; |S| = 512 runs its set-up and first two iterations, the
   second being the first that solves LPs, 30 minutes; partial runs are marked ``converged: false``).

Times are CPU seconds of this process with one BLAS thread (wall seconds are stored too).
Results go to ``benchmarks/results/bisim_metrics.json``. Run: ``python benchmarks/bisim_metrics.py`` (a few minutes;
``--quick`` for a small smoke run).
"""

from __future__ import annotations

import os

# One BLAS thread: timings are per core and do not depend on how busy the other cores are.
for _variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import resource  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import tracemalloc  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import ot  # noqa: E402
import scipy  # noqa: E402
from ot.lp.emd_wrap import emd_c, emd_c_sparse  # noqa: E402
from scipy.optimize import linprog  # noqa: E402

from reference_impl.bisim import (  # noqa: E402
    bisimulation_metric,
    deterministic_bisimulation_metric,
    kantorovich_fixed_point,
    metric_weights,
    mico_distance,
    pi_bisimulation_metric,
)
from reference_impl.bisim.fixed_point import stopping_threshold  # noqa: E402
from reference_impl.bisim.kantorovich import MAX_SIMPLEX_ITERATIONS, network_simplex  # noqa: E402
from reference_impl.mdp import FiniteMDP, random_mdp  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "bisim_metrics.json"


def timed(fn, repeats=1):
    """(median CPU seconds, median wall seconds, last result) over ``repeats`` calls.

    CPU time of this process (one BLAS thread) is the reported measure: it does not grow when other programs
    share the cores, unlike wall time, which is recorded alongside.
    """
    cpu, wall, out = [], [], None
    for _ in range(repeats):
        start_cpu, start_wall = time.process_time(), time.perf_counter()
        out = fn()
        cpu.append(time.process_time() - start_cpu)
        wall.append(time.perf_counter() - start_wall)
    return float(np.median(cpu)), float(np.median(wall)), out


# --------------------------------------------------------------------------------------------- 1. W1 solvers


def linprog_w1(p, q, cost):
    n = len(p)
    A_eq = np.vstack([np.kron(np.eye(n), np.ones(n)), np.kron(np.ones(n), np.eye(n))])
    return linprog(cost.ravel(), A_eq=A_eq, b_eq=np.concatenate([p, q]), bounds=(0, None), method="highs").fun


def solver_comparison(sizes, n_problems):
    rng = np.random.default_rng(0)
    rows = []
    for n in sizes:
        points = rng.normal(size=(n, 3))
        cost = np.linalg.norm(points[:, None] - points[None], axis=-1)
        ps, qs = rng.dirichlet(np.ones(n), size=n_problems), rng.dirichlet(np.ones(n), size=n_problems)
        t_direct, _, direct = timed(lambda: [network_simplex(p, q, cost)[1] for p, q in zip(ps, qs, strict=True)])  # noqa: B023
        t_emd2, _, emd2 = timed(lambda: [ot.emd2(p, q, cost) for p, q in zip(ps, qs, strict=True)])  # noqa: B023
        k = max(1, n_problems // 4)
        t_lp, _, lp = timed(lambda: [linprog_w1(p, q, cost) for p, q in zip(ps[:k], qs[:k], strict=True)])  # noqa: B023
        rows.append({
            "n": n,
            "network_simplex_direct_us": 1e6 * t_direct / n_problems,
            "ot_emd2_us": 1e6 * t_emd2 / n_problems,
            "linprog_highs_us": 1e6 * t_lp / k,
            "max_abs_difference": float(max(np.max(np.abs(np.subtract(direct, emd2))),
                                            np.max(np.abs(np.subtract(direct[:k], lp))))),
        })
        print("W1 n={n}: network simplex {network_simplex_direct_us:.1f} us, ot.emd2 {ot_emd2_us:.1f} us, "
              "linprog {linprog_highs_us:.1f} us (max diff {max_abs_difference:.1e})".format(**rows[-1]), flush=True)
    return rows


def ferns_lp_problems(n_states: int, n_problems: int):
    """Excess LPs of the Ferns iteration at its fixed point: ``(p+, q-, d*[I, J])`` of random pairs and actions of
    ``random_mdp(n_states, 4, 0.9, seed=0)`` (supports of about ``n_states / 2`` each)."""
    mdp = random_mdp(n_states, 4, 0.9, seed=0)
    c_R, c_T = metric_weights(mdp.gamma, "standard")
    d = kantorovich_fixed_point(mdp.P, mdp.R, c_R, c_T, tol=1e-3).distance
    rng = np.random.default_rng(0)
    problems = []
    for _ in range(n_problems):
        (s, t), a = rng.choice(n_states, 2, replace=False), rng.integers(mdp.n_actions)
        diff = mdp.P[a, s] - mdp.P[a, t]
        rows, cols = np.flatnonzero(diff > 0), np.flatnonzero(diff < 0)
        problems.append((diff[rows] / diff[rows].sum(), diff[cols] / diff[cols].sum(),
                         np.ascontiguousarray(d[np.ix_(rows, cols)])))
    return problems


def sparse_column_generation(p, q, cost, k):
    """Exact W on a sparse arc set grown until LP optimality: each row's and column's ``k`` cheapest arcs plus a
    north-west-corner coupling's support (always feasible); POT's sparse network simplex, then every arc's reduced
    cost from its duals; the most violated arc of each row and column is added until none is violated."""
    n, m = cost.shape
    arcs = np.zeros((n, m), dtype=bool)
    arcs[np.arange(n)[:, None], np.argpartition(cost, min(k, m) - 1, axis=1)[:, :k]] = True
    arcs[np.argpartition(cost, min(k, n) - 1, axis=0)[:k], np.arange(m)[None, :]] = True
    i = j = 0
    left_p, left_q = p.copy(), q.copy()
    while i < n and j < m:  # north-west corner rule
        arcs[i, j] = True
        moved = min(left_p[i], left_q[j])
        left_p[i] -= moved
        left_q[j] -= moved
        if left_p[i] <= left_q[j] and i < n - 1:
            i += 1
        else:
            j += 1
    rounds = 0
    while True:
        rounds += 1
        rows, cols = np.nonzero(arcs)
        *_, value, u, v, _ = emd_c_sparse(p, q, rows.astype(np.uint64), cols.astype(np.uint64), cost[rows, cols],
                                          MAX_SIMPLEX_ITERATIONS)
        reduced = cost - u[:, None] - v[None, :]
        violated = reduced < -1e-12
        if not violated.any():
            return value, rounds
        bad_rows, bad_cols = np.flatnonzero(violated.any(axis=1)), np.flatnonzero(violated.any(axis=0))
        arcs[bad_rows, np.argmin(reduced[bad_rows], axis=1)] = True
        arcs[np.argmin(reduced[:, bad_cols], axis=0), bad_cols] = True


def lp_alternatives(sizes, n_problems):
    """What a faster LP could come from, on the Ferns iteration's own LPs: POT's network simplex cold (as used),
    warm-started with the dual potentials of the same LP at a 1% smaller cost (what storing each pair's duals from
    the previous iterate would give, at O(|A| |S|^3) memory), and column generation on a sparse arc set."""
    rows = []
    for n_states in sizes:
        problems = ferns_lp_problems(n_states, n_problems)

        def solve(p, q, cost, u=None, v=None):
            _, value, alpha, beta, _ = emd_c(p, q, cost, MAX_SIMPLEX_ITERATIONS, 1, u, v)
            return value, alpha, beta

        t_cold, _, cold = timed(lambda: [solve(*problem) for problem in problems])  # noqa: B023
        previous = [solve(p, q, 0.99 * cost) for p, q, cost in problems]
        t_warm, _, warm = timed(lambda: [solve(*problem, u, v) for problem, (_, u, v)  # noqa: B023
                                         in zip(problems, previous, strict=True)])  # noqa: B023
        t_sparse, _, sparse = timed(lambda: [sparse_column_generation(*problem, k=4) for problem in problems])  # noqa: B023
        exact = np.array([value for value, *_ in cold])
        rows.append({
            "n_states": n_states, "mean_support": float(np.mean([len(p) for p, _, _ in problems])),
            "cold_us": 1e6 * t_cold / n_problems, "warm_duals_us": 1e6 * t_warm / n_problems,
            "sparse_column_generation_us": 1e6 * t_sparse / n_problems,
            "sparse_mean_rounds": float(np.mean([r for _, r in sparse])),
            "max_abs_difference": float(max(np.max(np.abs(exact - [value for value, *_ in warm])),
                                            np.max(np.abs(exact - [value for value, _ in sparse])))),
        })
        print("Ferns LPs |S|={n_states} (supports ~{mean_support:.0f}): cold {cold_us:.0f} us, warm duals "
              "{warm_duals_us:.0f} us, sparse column generation {sparse_column_generation_us:.0f} us "
              "({sparse_mean_rounds:.1f} rounds); max diff {max_abs_difference:.1e}".format(**rows[-1]), flush=True)
    return rows


# ------------------------------------------------------------------------------------------ 2. speed target


def naive_bisimulation_metric(mdp: FiniteMDP, c_R: float, c_T: float, tol: float, max_iter: int = 10_000):
    """Eq. 3.3 iterated from 0 with one ``ot.emd2`` call per (s, t, a) per iteration; stopping rule of eq. 3.4."""
    S, A = mdp.n_states, mdp.n_actions
    threshold = stopping_threshold(tol, c_T)
    d = np.zeros((S, S))
    for k in range(1, max_iter + 1):
        d_new = np.zeros((S, S))
        for s in range(S):
            for t in range(S):
                d_new[s, t] = max(
                    c_R * abs(mdp.R[s, a] - mdp.R[t, a]) + c_T * ot.emd2(mdp.P[a, s], mdp.P[a, t], d)
                    for a in range(A)
                )
        residual = np.max(np.abs(d_new - d))
        d = d_new
        if residual <= threshold:
            return d, k
    raise RuntimeError("the naive iteration did not converge.")


def speed_target(n_states, n_actions, tol, with_plain):
    mdp = random_mdp(n_states, n_actions, 0.9, seed=0)
    c_R, c_T = metric_weights(mdp.gamma, "standard")
    t_fast, wall_fast, fast = timed(lambda: kantorovich_fixed_point(mdp.P, mdp.R, c_R, c_T, tol=tol), repeats=3)
    print(f"accelerated: {t_fast:.2f} s, {fast.n_iterations} iterations, {fast.n_lp_solves} LP solves, "
          f"{fast.n_certified} values reused under the Lipschitz bound", flush=True)
    out = {
        "mdp": f"random_mdp({n_states}, {n_actions}, 0.9, seed=0)", "weights": [c_R, c_T], "tol": tol,
        "accelerated_seconds": t_fast, "accelerated_wall_seconds": wall_fast,
        "accelerated_iterations": fast.n_iterations,
        "accelerated_lp_solves": fast.n_lp_solves, "accelerated_certified": fast.n_certified,
    }
    if with_plain:
        t_plain, wall_plain, plain = timed(
            lambda: kantorovich_fixed_point(mdp.P, mdp.R, c_R, c_T, tol=tol, accelerate=False)
        )
        out |= {"plain_seconds": t_plain, "plain_wall_seconds": wall_plain, "plain_lp_solves": plain.n_lp_solves,
                "plain_max_abs_difference": float(np.max(np.abs(plain.distance - fast.distance)))}
        print(f"plain (s < t, one LP each): {t_plain:.2f} s, {plain.n_lp_solves} LP solves", flush=True)
    t_naive, wall_naive, (d_naive, k_naive) = timed(lambda: naive_bisimulation_metric(mdp, c_R, c_T, tol))
    difference = float(np.max(np.abs(d_naive - fast.distance)))
    out |= {"naive_seconds": t_naive, "naive_wall_seconds": wall_naive, "naive_iterations": k_naive,
            "naive_emd2_calls": k_naive * n_actions * n_states**2, "max_abs_difference": difference,
            "speedup": t_naive / t_fast}
    print(f"naive (ot.emd2 per (s, t, a)): {t_naive:.2f} s, {k_naive} iterations", flush=True)
    print(f"speed-up naive / accelerated = {t_naive / t_fast:.1f}x (CPU time; wall {wall_naive / wall_fast:.1f}x); "
          f"max |d_naive - d_fast| = {difference:.1e}", flush=True)
    return out


# ------------------------------------------------------------------------------------------------- 3. MICo


def mico_timing(n_states, gammas):
    rows = []
    for gamma in gammas:
        mdp = random_mdp(n_states, 4, gamma, seed=0)
        policy = np.random.default_rng(0).dirichlet(np.ones(4), size=n_states)
        t_doubling, wall_doubling, U = timed(lambda: mico_distance(mdp, policy), repeats=3)  # noqa: B023
        t_scipy, _, U_scipy = timed(lambda: mico_distance(mdp, policy, method="scipy"))  # noqa: B023
        rows.append({"n_states": n_states, "gamma": gamma, "doubling_seconds": t_doubling,
                     "doubling_wall_seconds": wall_doubling,
                     "scipy_lyapunov_seconds": t_scipy, "max_abs_difference": float(np.max(np.abs(U - U_scipy)))})
        print(f"MICo |S|={n_states} gamma={gamma}: doubling {t_doubling:.3f} s, scipy {t_scipy:.3f} s (CPU)",
              flush=True)
    return rows


# ---------------------------------------------------------------------------------------------- 4. scaling


def scaling(sizes):
    uniform = lambda mdp: np.full((mdp.n_states, mdp.n_actions), 1.0 / mdp.n_actions)  # noqa: E731
    cases = {
        "bisimulation_metric": (lambda S: random_mdp(S, 4, 0.9, seed=0), bisimulation_metric),
        "pi_bisimulation_metric": (lambda S: random_mdp(S, 4, 0.9, seed=0),
                                   lambda mdp: pi_bisimulation_metric(mdp, uniform(mdp))),
        "deterministic_bisimulation_metric": (lambda S: random_mdp(S, 4, 0.9, seed=0, n_successors=1),
                                              deterministic_bisimulation_metric),
        "mico_distance": (lambda S: random_mdp(S, 4, 0.9, seed=0), lambda mdp: mico_distance(mdp, uniform(mdp))),
    }
    out = {}
    for name, (make, compute) in cases.items():
        out[name] = []
        for S in sizes[name]:
            mdp = make(S)
            seconds, wall, _ = timed(lambda: compute(mdp))  # noqa: B023
            out[name].append({"n_states": S, "seconds": seconds, "wall_seconds": wall})
            print(f"scaling {name} |S|={S}: {seconds:.3f} s CPU ({wall:.3f} s wall)", flush=True)
    return out


# ------------------------------------------------------------------------------------- 5. Ferns scaling


def ferns_run(n_states: int, tol: float, max_iter: int) -> dict:
    """One Ferns metric computation in this process: CPU/wall seconds, peak RSS (MiB), iterations, LP solves."""
    mdp = random_mdp(n_states, 4, 0.9, seed=0)
    c_R, c_T = metric_weights(mdp.gamma, "standard")
    baseline_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # interpreter, libraries and P
    start_cpu, start_wall = time.process_time(), time.perf_counter()
    try:
        run = kantorovich_fixed_point(mdp.P, mdp.R, c_R, c_T, tol=tol, max_iter=max_iter)
        converged, iterations, lps = True, run.n_iterations, run.n_lp_solves
    except RuntimeError:  # stopped at max_iter: a partial run, reported as such
        converged, iterations, lps = False, max_iter, None
    return {"n_states": n_states, "tol": tol, "converged": converged, "iterations": iterations, "lp_solves": lps,
            "seconds": time.process_time() - start_cpu, "wall_seconds": time.perf_counter() - start_wall,
            "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "baseline_rss_mib": baseline_mib}


def ferns_memory(n_states: int) -> float:
    """Peak traced memory (MiB, ``tracemalloc``) of the metric's set-up and first iteration: every array the
    iteration keeps is allocated by then; later iterations add one LP's cost sub-matrix at a time."""
    mdp = random_mdp(n_states, 4, 0.9, seed=0)
    c_R, c_T = metric_weights(mdp.gamma, "standard")
    tracemalloc.start()
    try:
        kantorovich_fixed_point(mdp.P, mdp.R, c_R, c_T, tol=1e-3, max_iter=1)
    except RuntimeError:
        pass
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak / 2**20


def ferns_scaling(sizes, tol, on_row):
    """Each size in a fresh interpreter, so that the peak resident memory belongs to that size alone.

    ``sizes``: ``(n_states, max_iter or None)``; a run stopped at ``max_iter`` is marked ``converged: false``.
    ``on_row(rows)`` is called after each size (the results file is rewritten as rows arrive)."""
    rows = []
    for n_states, max_iter in sizes:
        code = (f"import json, benchmarks.bisim_metrics as b; "
                f"print(json.dumps(b.ferns_run({n_states}, {tol}, {max_iter or 10_000})))")
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                             cwd=Path(__file__).resolve().parents[1], env=os.environ | {"PYTHONPATH": "."})
        rows.append(json.loads(out.stdout.strip().splitlines()[-1]) | {"traced_peak_mib": ferns_memory(n_states)})
        row = rows[-1]
        print(f"Ferns |S|={n_states}: {row['seconds']:.1f} s CPU ({row['wall_seconds']:.1f} s wall), "
              f"peak RSS {row['peak_rss_mib']:.0f} MiB (+{row['peak_rss_mib'] - row['baseline_rss_mib']:.0f} MiB "
              f"during the run; traced peak {row['traced_peak_mib']:.1f} MiB), {row['iterations']} iterations"
              f"{'' if row['converged'] else ' (stopped there: partial run)'}", flush=True)
        on_row(rows)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes only (smoke run, not the reported numbers)")
    parser.add_argument("--output", type=Path, default=RESULTS)
    parser.add_argument("--ferns-scaling", action="store_true",
                        help="only the Ferns scaling table (section 5), merged into the existing results file")
    parser.add_argument("--sizes", default=None,
                        help="with --ferns-scaling: only these sizes, e.g. 256:2,512:1 (|S|:max_iter, 0 = until "
                             "converged), merged into the stored table")
    args = parser.parse_args()
    if args.ferns_scaling:
        ferns_only(args)
        return
    if args.quick:
        sizes = {"bisimulation_metric": [8, 16], "pi_bisimulation_metric": [8, 16],
                 "deterministic_bisimulation_metric": [16, 64], "mico_distance": [64, 128]}
        speed = dict(n_states=12, n_actions=2, tol=1e-3, with_plain=True)
        mico_states, solver_sizes, n_problems, lp_sizes = 100, [8, 16], 20, [16]
    else:
        sizes = {"bisimulation_metric": [8, 16, 24, 32, 48, 64], "pi_bisimulation_metric": [8, 16, 24, 32, 48, 64],
                 "deterministic_bisimulation_metric": [16, 32, 64, 128, 256, 512],
                 "mico_distance": [64, 125, 250, 500, 1000]}
        speed = dict(n_states=64, n_actions=4, tol=1e-3, with_plain=True)
        mico_states, solver_sizes, n_problems, lp_sizes = 500, [8, 16, 32, 64], 200, [64, 128]

    results = {
        "environment": {
            "python": platform.python_version(), "numpy": np.__version__, "scipy": scipy.__version__,
            "pot": ot.__version__, "machine": platform.machine(), "cpu_count": os.cpu_count(),
            "blas_threads": os.environ["OPENBLAS_NUM_THREADS"], "quick": args.quick,
        },
        "w1_solvers": solver_comparison(solver_sizes, n_problems),
        "ferns_lp_alternatives": lp_alternatives(lp_sizes, n_problems),
        "mico": mico_timing(mico_states, [0.9, 0.99]),
        "scaling": scaling(sizes),
        "bisimulation_metric_speed": speed_target(**speed),
    }
    if args.output.is_file():  # keep the Ferns scaling table (section 5, its own run) of an earlier run
        results |= {key: value for key, value in json.loads(args.output.read_text()).items() if key == "ferns_scaling"}
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {args.output}")


def ferns_only(args) -> None:
    """Section 5 only (the naive-loop comparison at |S| = 64, tol 1e-3, is section 2 of the full run)."""
    if args.quick:
        sizes = [(16, None), (32, None), (64, 2)]
    else:
        sizes = [(16, None), (32, None), (64, None), (128, None), (256, None), (512, 2)]
    results = json.loads(args.output.read_text()) if args.output.is_file() else {}
    args.output.parent.mkdir(parents=True, exist_ok=True)
    kept = []
    if args.sizes:
        sizes = [(int(n), int(k) or None) for n, k in (item.split(":") for item in args.sizes.split(","))]
        kept = [row for row in results.get("ferns_scaling", [])
                if (row["n_states"], None if row["converged"] else row["iterations"]) not in sizes]

    def save(rows):
        results["ferns_scaling"] = sorted(kept + rows, key=lambda row: (row["n_states"], row["iterations"]))
        args.output.write_text(json.dumps(results, indent=2) + "\n")

    save([])
    ferns_scaling(sizes, 1e-3, save)
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
