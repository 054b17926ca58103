"""Chapter 7's checks beyond the variants catalogue: the references they compare with, the bootstrap tolerance,
and the bug hunt's guarantees (a test that always fails gains nothing; a test that inspects its caller sees no
mutant under the grader)."""

from __future__ import annotations

import nbformat
import numpy as np
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
        expected, tolerance = ch7.reference_ci(case["scores"], case["tasks"], case["reps"], case["seed"])
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
