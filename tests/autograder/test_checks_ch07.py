"""Chapter 7's checks beyond the variants catalogue: the references they compare with, the bootstrap tolerance,
and the bug hunt's guarantees (a test that always fails gains nothing; a test that inspects its caller sees no
mutant under the grader)."""

from __future__ import annotations

import nbformat
import numpy as np
import pandas as pd
import pytest
import torch
from variants import compile_functions

from autograder.checks import CheckFailure
from autograder.checks import research as ch7
from autograder.grading import RemoteFunction
from autograder.sandbox import Limits, Worker
from reference_impl import analysis
from reference_impl.agents import deepmdp, sac_ae

MUTANT_CHECKS = [ch7.check_bug_hunt_mutants_a, ch7.check_bug_hunt_mutants_b, ch7.check_bug_hunt_mutants_c,
                 ch7.check_bug_hunt_mutants_d]
ALL_BUG_HUNT_CHECKS = [ch7.check_bug_hunt_correct, *MUTANT_CHECKS]

STRONG_CASES = '''
import numpy as np

def make_cases():
    rng = np.random.default_rng(1)
    return [{"online": {"w": rng.normal(size=(2, 3)), "b": rng.normal(size=3)},
             "target": {"w": rng.normal(size=(2, 3)), "b": rng.normal(size=3)}, "tau": tau}
            for tau in (0.2, 0.6, 1.0)]
'''


def test_decoder_reference_is_the_quantized_switch_with_its_draw_given():
    """The check's reference equals ``decoder_target: quantized`` (pytorch_sac_ae's preprocess_obs) when the noise
    is that switch's own uniform draw: ``floor(x / 8) / 32 + u / 32 - 0.5``."""
    obs = torch.randint(0, 256, (2, 3, 4, 4), generator=torch.Generator().manual_seed(0)).to(torch.uint8)
    torch.manual_seed(7)
    expected = sac_ae.quantized_target(obs, torch.float64)
    torch.manual_seed(7)
    u = torch.rand_like(obs.to(torch.float64))
    got = ch7.reference_decoder_target(obs.numpy(), (u / 32).numpy())
    np.testing.assert_allclose(got, expected.numpy(), atol=1e-12)
    assert got.min() >= -0.5 and got.max() < 0.5


def test_transition_conventions_differ_by_two_d():
    """Ours (``sum_dims``) over mtrl's (``mean_half``) is exactly 2d: the factor the notebook asks to show."""
    rng = np.random.default_rng(0)
    for d in (1, 3, 50):
        predicted, target = torch.from_numpy(rng.normal(size=(8, d))), torch.from_numpy(rng.normal(size=(8, d)))
        ours = deepmdp.transition_loss_per_sample(predicted, target, None, "mse", "sum_dims").mean()
        assert float(ours) / ch7.reference_transition_loss(predicted.numpy(), target.numpy()) == pytest.approx(2 * d)


def _bootstrap_cases(n: int = 12):
    rng = np.random.default_rng(123)
    return [ch7._ci_inputs(rng, int(rng.integers(1, 5)), levels, 2000, int(rng.integers(0, 2**31 - 1)))
            for levels in ("apart", "close") for _ in range(n // 2)]


def _worst(fn, cases) -> float:
    """The largest distance of ``fn``'s endpoints from the reference's, as a fraction of the check's tolerance."""
    worst = 0.0
    for case in cases:
        expected, tolerance = ch7.reference_ci(case["scores"], case["tasks"], case["reps"])
        got = np.asarray(fn(**{k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in case.items()}))
        worst = max(worst, float(np.max(np.abs(got - expected) / tolerance)))
    return worst


def test_bootstrap_tolerance_separates_correct_draws_from_planted_bugs():
    """Calibration of the tolerance (CI_NOISE_FACTOR standard deviations + CI_FLOOR): correct solutions drawing
    other random numbers than the reference stay well inside it; each planted bug is far outside it somewhere."""
    from variants.ch07_research_engineering import PARTS

    spec = PARTS["stratified_bootstrap_ci"]
    cases = _bootstrap_cases()
    (vectorised,) = compile_functions(spec["alternatives"]["vectorised_per_task"], ("stratified_bootstrap_ci",))
    (loop,) = compile_functions(spec["alternatives"]["loop_with_legacy_generator"], ("stratified_bootstrap_ci",))
    assert _worst(lambda scores, tasks, reps, seed: vectorised(scores, tasks, reps, seed + 1), cases) < 0.75
    assert _worst(loop, cases) < 0.75
    for label, source in spec["bugs"].items():
        (bug,) = compile_functions(source, ("stratified_bootstrap_ci",))
        assert _worst(bug, cases) > 10, label


def _suite(check_case: str, cases: str = STRONG_CASES):
    return compile_functions(cases + check_case, ("make_cases", "check_case"))


def _scores(fns) -> list[bool]:
    """Which of the five bug-hunt cells a submission passes (hidden checks)."""
    passed = []
    for check in ALL_BUG_HUNT_CHECKS:
        try:
            check(*fns, hidden=True)
            passed.append(True)
        except CheckFailure:
            passed.append(False)
    return passed


def test_a_test_that_always_fails_gains_nothing(capsys):
    fns = _suite("\ndef check_case(case, output):\n    raise AssertionError('every mutant dies')\n")
    assert _scores(fns) == [False] * 5
    with pytest.raises(CheckFailure, match="CORRECT soft update"):
        ch7.check_bug_hunt_mutants_a(*fns, hidden=True)


def test_weak_tests_earn_only_the_mutants_they_kill():
    shape_only = _suite('''
def check_case(case, output):
    for name, value in case["target"].items():
        assert output[name].shape == value.shape
''')
    assert _scores(shape_only) == [True, False, False, False, False]
    # one case with a small tau kills every mutant but the one that clips tau to 0.1
    one_tau = compile_functions('''
import numpy as np

def make_cases():
    return [{"online": {"w": np.array([1.0, 2.0]), "b": np.array([3.0])},
             "target": {"w": np.array([0.0, -1.0]), "b": np.array([5.0])}, "tau": 0.05}]

def check_case(case, output):
    for name, target in case["target"].items():
        expected = case["tau"] * case["online"][name] + (1 - case["tau"]) * target
        assert np.allclose(output[name], expected)
''', ("make_cases", "check_case"))
    assert _scores(one_tau) == [True, True, True, True, False]


def test_exact_equality_fails_on_an_equivalent_correct_update():
    exact = _suite('''
def check_case(case, output):
    for name, target in case["target"].items():
        assert (output[name] == case["tau"] * case["online"][name] + (1 - case["tau"]) * target).all()
''')
    with pytest.raises(CheckFailure, match="CORRECT soft update"):
        ch7.check_bug_hunt_correct(*exact)  # already visible: the update is also written as an interpolation
    assert _scores(exact) == [False] * 5


FRAME_READER = STRONG_CASES + '''
import sys

def check_case(case, output):
    """Cheats: looks through its callers' frames for a component whose name says it is a mutant."""
    frame = sys._getframe(1)
    while frame is not None:
        for value in list(frame.f_locals.values()):
            if getattr(value, "__name__", "").startswith("_mutant_"):
                raise AssertionError("found a mutant")
        frame = frame.f_back
'''


def test_a_test_reading_its_callers_frames_sees_no_mutant_under_the_grader(tmp_path):
    """In the notebook, the check runs in the student's own process, which can read anything (nbgrader offers no
    protection there); under ``course-grade`` the student's code runs in the sandbox and receives plain data only,
    so the same cheat kills no mutant and earns only the point for passing on the correct component."""
    local = compile_functions(FRAME_READER, ("make_cases", "check_case"))
    assert _scores(local) == [True] * 5  # the cheat "works" where it runs in the same process
    worker = Worker(tmp_path / "scratch", Limits(cell_seconds=300, call_seconds=120))
    try:
        assert worker.exec_cell("import numpy as np\n" + FRAME_READER)["ok"]

        class Session:
            pass

        session = Session()
        session.worker = worker
        remote = [RemoteFunction(session, name, False) for name in ("make_cases", "check_case")]
        assert _scores(remote) == [True, False, False, False, False]
    finally:
        worker.kill()


def test_iqm_reference_cuts_floor_n_over_4_at_each_end():
    assert analysis.iqm([1.0, 1.0, 1.0, 1.0, 5.0]) == 1.0
    assert analysis.iqm([5.0, -1.0, 3.0, 3.0, 10.0, 0.0, 2.0, 7.0, 100.0]) == pytest.approx(4.0)
    assert analysis.iqm([3.0]) == 3.0


@pytest.mark.slow
def test_the_frame_reading_cheat_through_course_grades_grading(tmp_path):
    """The same cheat in a submitted notebook, graded as ``course-grade`` grades it (sandboxed student cells,
    trusted test cells): one point for passing on the correct update, none of the four mutant groups."""
    from nbgrader_course import notebook_with

    from autograder.course import REPO_ROOT, assignments
    from autograder.grading import FAILED, GRADED, PASSED, grade_submission

    chapter = "07_research_engineering"
    release = REPO_ROOT / "exercises" / chapter / f"{chapter}.ipynb"
    path = tmp_path / f"{chapter}.ipynb"
    nbformat.write(notebook_with(release, {"bug_hunt": FRAME_READER}), path)
    result = grade_submission("student", assignments()[chapter], path, tmp_path / "scratch", release=release)
    assert result.status == GRADED, result.reason
    parts = {part.grade_id: part for part in result.parts}
    assert parts["test_bug_hunt_correct"].status == PASSED
    for group in "abcd":
        part = parts[f"test_bug_hunt_mutants_{group}"]
        assert part.status == FAILED and part.points == 0.0 and "a mutant survived" in part.message, part.message


# Part 3: the score table ---------------------------------------------------------------------------------------

def _table_variant(kind: str, label: str):
    from variants.ch07_research_engineering import PARTS

    (fn,) = compile_functions(PARTS["score_table"][kind][label], ("score_table",))
    return fn


def _sweep_examples(n: int = 8) -> list[dict]:
    """Sweeps drawn like the hidden ones (several configurations, tasks far apart or close, unequal runs)."""
    rng = np.random.default_rng(2026)
    cases = []
    for i in range(n):
        rows = []
        for config in ch7.CONFIG_NAMES[: 2 + i % 4]:
            for t, task in enumerate(ch7.TASK_NAMES[: 1 + i % 3]):
                scores = (200.0 * t if i % 2 else 0.0) + 10 * rng.standard_t(2, size=int(rng.integers(2, 11)))
                rows += [(config, task, seed, float(s)) for seed, s in enumerate(scores, start=1)]
        frame = pd.DataFrame([rows[j] for j in rng.permutation(len(rows))], columns=["config", "task", "seed", "score"])
        cases.append({"frame": frame, "reps": 2000, "seed": int(rng.integers(0, 2**31 - 1))})
    return cases


def _worst_table(fn, cases) -> float:
    """The largest distance of ``fn``'s interval endpoints from the reference's, as a fraction of the tolerance."""
    worst = 0.0
    for case in cases:
        reference, tolerance = ch7.reference_score_table(case["frame"], case["reps"])
        got = fn(case["frame"].copy(), case["reps"], case["seed"]).loc[reference.index]
        distance = np.abs(got[["low", "high"]].to_numpy(float) - reference[["low", "high"]].to_numpy())
        worst = max(worst, float(np.max(distance / tolerance)))
    return worst


def test_score_table_tolerance_separates_other_draws_from_planted_interval_bugs():
    """Part 2's tolerance, applied per configuration: correct tables drawing other random numbers (another seed,
    numpy's legacy generator) stay well inside it; the interval bugs are far outside it somewhere."""
    cases = _sweep_examples()
    vectorised = _table_variant("alternatives", "scipy_vectorised")
    assert _worst_table(lambda frame, reps, seed: vectorised(frame, reps, seed + 1), cases) < 0.75
    assert _worst_table(_table_variant("alternatives", "dict_loops_and_scipy"), cases) < 0.75
    for label in ("bootstrap_pools_tasks", "interval_at_the_quartiles", "percentiles_of_the_scores"):
        assert _worst_table(_table_variant("bugs", label), cases) > 10, label


def test_reference_score_table_on_the_visible_sweep():
    """Known answers: sac_ae and deepmdp tie at an IQM of 20 (rank 1 both), sac has 44/3 (rank 3)."""
    table, tolerance = ch7.reference_score_table(ch7.visible_frame(), 2000)
    assert list(table.columns) == ["iqm", "low", "high", "rank"] and table.index.name == "config"
    assert table.index.tolist() == ["deepmdp", "sac_ae", "sac"]
    np.testing.assert_allclose(table["iqm"], [20.0, 20.0, 44 / 3], rtol=1e-12)
    assert table["rank"].tolist() == [1, 1, 3]
    assert np.all(table["low"] <= table["iqm"]) and np.all(table["iqm"] <= table["high"])
    assert tolerance.shape == (3, 2) and np.all(tolerance > 0)


def test_a_tie_split_by_rounding_is_ranked_from_the_students_own_iqms():
    """Two configurations with equal scores tie exactly in the reference. A table whose IQMs differ from each other
    by rounding (1e-13) and ranks them 1 and 2 accordingly is accepted; the same IQMs ranked 1 and 1 are not."""
    correct = _table_variant("alternatives", "scipy_vectorised")

    def split_tie(frame, reps, seed, share=False):
        table = correct(frame, reps, seed)
        first = table.index[0]
        tied = table.index[(table["iqm"] == table.loc[first, "iqm"]).to_numpy()]
        if len(tied) > 1:
            table.loc[tied[0], "iqm"] += 1e-13 * (1 + abs(table.loc[tied[0], "iqm"]))
            table["rank"] = table["iqm"].rank(method="min", ascending=False)
            if share:
                table.loc[tied, "rank"] = 1
        return table.sort_values("rank")

    ch7.check_score_table(split_tie)  # the visible sweep has such a tie at the top
    ch7.check_score_table(split_tie, hidden=True)
    with pytest.raises(CheckFailure, match="strictly higher IQM"):
        ch7.check_score_table(lambda frame, reps, seed: split_tie(frame, reps, seed, share=True))


def test_score_table_failure_prints_a_frame_that_reproduces_the_input():
    """The failing input is printed as ``pd.DataFrame({...})``, which rebuilds the frame exactly."""
    with pytest.raises(CheckFailure) as failure:
        ch7.check_score_table(_table_variant("bugs", "ranked_ascending"))
    line = next(line for line in str(failure.value).splitlines() if line.strip().startswith("frame = "))
    rebuilt = eval(line.split("=", 1)[1], {"pd": pd, "np": np})  # noqa: S307 - our own message
    pd.testing.assert_frame_equal(rebuilt, ch7.visible_frame())


@pytest.mark.parametrize(("source", "message"), [
    ("def score_table(frame, reps, seed):\n    return frame.groupby('config')['score'].agg(['mean'])\n",
     "no column 'iqm'"),
    ("def score_table(frame, reps, seed):\n    return frame.groupby(['config', 'task'])[['score']].mean()\n",
     "several levels"),
    ("def score_table(frame, reps, seed):\n    return {'iqm': 1.0}\n", "must be a pandas DataFrame"),
    ("def score_table(frame, reps, seed):\n    frame['rank'] = 1\n    return frame\n", "changed its input frame"),
])
def test_score_table_layout_faults_are_named(source, message):
    (fn,) = compile_functions("import pandas as pd\n" + source, ("score_table",))
    with pytest.raises(CheckFailure, match=message):
        ch7.check_score_table(fn)


def test_bootstrap_reference_is_the_median_over_seeds_not_one_rare_seed():
    """Regression: three runs of one task make the bootstrap distribution discrete; the 2.5% point is the lowest
    score unless fewer than 50 of 2000 replicates draw it three times, which the seed below does (about 1 seed in
    2000). Compared with that seed's interval, a correct solution drawing other numbers failed; compared with the
    median over the calibration seeds, it passes."""
    scores = np.array([-7.815132274563334, 6.99429413134054, -1.3118016954412886])
    case = {"scores": scores, "tasks": np.zeros(3, dtype=np.int64), "reps": 2000, "seed": 1712537281}
    _, rare_low, _ = analysis.interval_estimate([scores], reps=2000, seed=case["seed"])
    assert rare_low > scores.min() + 1  # this seed's low endpoint is the rare one
    expected, _ = ch7.reference_ci(case["scores"], case["tasks"], case["reps"])
    assert expected[0] == pytest.approx(scores.min(), abs=1e-12)
    from variants.ch07_research_engineering import PARTS

    (vectorised,) = compile_functions(PARTS["stratified_bootstrap_ci"]["alternatives"]["vectorised_per_task"],
                                      ("stratified_bootstrap_ci",))

    def correct(scores, tasks, reps, seed):  # the reference's method, with another seed
        return vectorised(scores, tasks, reps, seed + 1)

    assert correct(**case)[0] == pytest.approx(scores.min(), abs=1e-12)
    ch7._ci_case(correct, case)  # raised CheckFailure when the reference was this seed's interval
