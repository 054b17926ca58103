"""Whatever a student's function does ends as a failed part that teaches (smallest input, expected/got, hint),
the same in the notebook and through the grader; "grader error" is kept for faults of the grader itself."""

from __future__ import annotations

import re

import nbformat
import numpy as np
import pytest
import torch
from fixture_class import CHAPTER, RELEASE, SOURCE, notebook
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from autograder.checks import CheckFailure, deepmdp, mdps
from autograder.checks import _core as core
from autograder.course import assignments
from autograder.grading import FAILED, GRADED, grade_submission
from autograder.sandbox import Limits

# `P @ V` where `(P @ V).T` is meant: wrong values when |S| = |A|, a broadcasting error otherwise, so hypothesis
# finds two distinct failures (an ExceptionGroup before the fix, which the grader recorded as "grader error").
P_AT_V = {
    "bellman_expectation_backup": '''
import numpy as np

def bellman_expectation_backup(P, R, gamma, V, pi):
    Q = R + gamma * P @ V
    return (pi * Q).sum(axis=1)
''',
    "value_iteration": '''
import numpy as np

def value_iteration(P, R, gamma, tol):
    V = np.zeros(R.shape[0])
    k = 0
    while True:
        k += 1
        V_next = (R + gamma * P @ V).max(axis=1)
        if np.abs(V_next - V).max() <= tol * (1 - gamma) / gamma:
            return V_next, k
        V = V_next
''',
}


def flat(text: str) -> str:
    """The message with its line wrapping undone."""
    return " ".join(text.split())


def compile_function(source: str, name: str):
    namespace: dict = {}
    exec(compile(source, f"<{name}>", "exec"), namespace)
    return namespace[name]


@pytest.mark.parametrize("part", sorted(P_AT_V))
def test_several_distinct_failures_end_as_one_failure_with_the_smallest_input(part):
    check = getattr(mdps, f"check_{part}")
    with pytest.raises(CheckFailure) as failure:
        check(compile_function(P_AT_V[part], part), hidden=True)
    message = str(failure.value)
    assert message.startswith(part) and "on the input" in message and "hint:" in message


def test_printed_inputs_reproduce_the_failure_exactly():
    part = "bellman_expectation_backup"
    bug = compile_function(P_AT_V[part], part)
    with pytest.raises(CheckFailure) as failure:
        mdps.check_bellman_expectation_backup(bug, hidden=True)
    message = str(failure.value)
    block = message.split("on the input (the smallest failing case found):\n")[1].split("  to reproduce:")[0]
    namespace = {"np": np}
    exec(re.sub(r"^ {6}", "", block, flags=re.M), namespace)
    case = {k: namespace[k] for k in ("P", "R", "gamma", "V", "pi")}
    with pytest.raises(CheckFailure) as again:
        mdps._bellman_backup_case(bug, case)
    assert str(again.value) == message


@settings(max_examples=40, deadline=None, derandomize=True, database=None)
@given(hnp.arrays(st.sampled_from([np.float64, np.int64, np.bool_, np.float32]), hnp.array_shapes(max_dims=3),
                  elements={"allow_nan": False, "allow_infinity": False}))
def test_input_literals_round_trip(array):
    again = eval(core.format_input(array), {"np": np})
    assert again.dtype == array.dtype and again.shape == array.shape and np.array_equal(again, array)
    tensor = torch.as_tensor(array.astype(np.float64))
    assert torch.equal(eval(core.format_input(tensor), {"torch": torch}), tensor)


def test_the_notebook_shows_the_message_not_the_grader_frames():
    with pytest.raises(CheckFailure) as failure:
        mdps.check_bellman_expectation_backup(compile_function(P_AT_V["bellman_expectation_backup"],
                                                               "bellman_expectation_backup"), hidden=True)
    shown = failure.value._render_traceback_()
    assert shown[0].startswith("CheckFailure: bellman_expectation_backup")
    assert "\n".join(shown).count("File ") == 0 and any("hint:" in line for line in shown)


def test_a_group_without_check_failures_is_still_a_grader_error():
    def body(case):
        raise ValueError("a bug in a check") if case else KeyError(case)

    with pytest.raises(Exception) as error:
        core.run_property(body, st.integers(0, 3), max_examples=10)
    assert not isinstance(error.value, CheckFailure)


def grade(nb, tmp_path, limits: Limits | None = None):
    path = tmp_path / f"{CHAPTER}.ipynb"
    nbformat.write(nb, path)
    return grade_submission("student", assignments()[CHAPTER], path, tmp_path / "scratch", source=SOURCE,
                            release=RELEASE, limits=limits or Limits())


def test_the_grader_records_a_failed_part_with_input_and_hint_not_a_grader_error(tmp_path):
    result = grade(notebook(P_AT_V), tmp_path)
    assert result.status == GRADED, result.reason
    parts = {p.grade_id: p for p in result.parts}
    for part in P_AT_V:
        failed = parts[f"test_{part}"]
        assert failed.status == FAILED and failed.points == 0.0, failed.message
        assert "grader error" not in failed.message and "on the input" in failed.message and "hint:" in failed.message
    assert parts["test_greedy_policy"].points == 2.0


def test_a_hanging_function_fails_once_with_a_hint_on_finding_the_loop(tmp_path):
    hang = ("import numpy as np\ndef value_iteration(P, R, gamma, tol):\n    if P.shape[1] > 1:\n"
            "        while True:\n            pass\n    return np.zeros(R.shape[0]), 1\n")
    nb = notebook({"value_iteration": hang})
    result = grade(nb, tmp_path, Limits(call_seconds=3, cell_seconds=60))
    part = next(p for p in result.parts if p.grade_id == "test_value_iteration")
    assert part.status == FAILED and "did not return in time" in flat(part.message), part.message
    assert "Kernel > Interrupt" in flat(part.message) and "to reproduce" in part.message
    assert result.seconds < 60  # the timed-out call is not shrunk call after call


MUTATES = '''
import numpy as np

def bellman_expectation_backup(P, R, gamma, V, pi):
    R *= 1.0                      # in place: the caller's R is rewritten (here with the same values)
    V[:] = V
    pi /= pi.sum(axis=1, keepdims=True) + 1.0
    Q = R + gamma * (P @ V).T
    return (pi * Q).sum(axis=1) * 2
'''


def test_changing_an_input_in_place_fails_the_same_way_in_the_notebook_and_through_the_grader(tmp_path):
    with pytest.raises(CheckFailure) as failure:
        mdps.check_bellman_expectation_backup(compile_function(MUTATES, "bellman_expectation_backup"))
    assert "changed its input pi in place" in flat(str(failure.value))
    result = grade(notebook({"bellman_expectation_backup": MUTATES}), tmp_path)
    part = next(p for p in result.parts if p.grade_id == "test_bellman_expectation_backup")
    assert part.status == FAILED and "changed its input pi in place" in flat(part.message), part.message


def test_a_tuple_is_not_a_loss_in_either_path():
    loss_and_extra = compile_function("import torch\ndef reward_loss(predicted_reward, reward):\n"
                                      "    loss = ((predicted_reward.squeeze(-1) - reward) ** 2).mean()\n"
                                      "    return loss, loss.detach()\n", "reward_loss")
    with pytest.raises(CheckFailure) as failure:
        deepmdp.check_reward_loss(loss_and_extra)
    assert "must return a torch tensor; got tuple" in flat(str(failure.value))


LOGS_TO_STDERR = '''
import logging, os, sys
import numpy as np
logging.basicConfig(level=logging.INFO)
log, err = logging.getLogger("student"), sys.stderr

def greedy_policy(P, R, gamma, V):
    log.info("greedy policy on %d states", R.shape[0])
    print("debug", file=err)
    os.write(2, b"from a C library\\n")
    return np.argmax(R + gamma * np.einsum("ast,t->sa", P, V), axis=1)
'''


def test_correct_code_that_logs_to_stderr_leaves_the_test_cell_clean_in_a_kernel():
    """nbgrader scores a test cell 0 when it shows stderr output: the check must keep the student's logging,
    prints to a saved ``sys.stderr`` and writes to file descriptor 2 out of the test cell."""
    from nbclient import NotebookClient

    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell(LOGS_TO_STDERR),
        nbformat.v4.new_code_cell("from autograder.checks.mdps import check_greedy_policy\n"
                                  "check_greedy_policy(greedy_policy)\n"
                                  "check_greedy_policy(greedy_policy, hidden=True)"),
        nbformat.v4.new_code_cell("log.info('after the check')"),
    ])
    NotebookClient(nb, timeout=300, kernel_name="python3").execute()
    test_outputs = nb.cells[1].outputs
    assert test_outputs and all(o.get("name") == "stdout" for o in test_outputs), test_outputs
    assert "40 random MDPs" in "".join(o.text for o in test_outputs)
    assert any(o.get("name") == "stderr" for o in nb.cells[2].outputs), "logging is restored after the check"


def test_restarts_cannot_exceed_the_submission_time_budget(tmp_path):
    """A slow first cell and four hanging functions: each timeout restarts the worker and re-runs the slow cell.
    The budget bounds the total, the parts it cut are 'not graded' (never a silent 0) and the status says why."""
    hang = "def {}(*args, **kwargs):\n    while True:\n        pass\n"
    nb = notebook({part: hang.format(part) for part in P_AT_V | {"policy_evaluation": 0, "greedy_policy": 0}})
    nb.cells.insert(0, nbformat.v4.new_code_cell("import time\ntime.sleep(3)"))
    limits = Limits(cell_seconds=30, call_seconds=2, submission_seconds=14)
    result = grade(nb, tmp_path, limits)
    assert result.seconds < 14 + 10
    assert any(flag.startswith("time budget") for flag in result.flags), result.flags
    assert "time budget of 14 s exceeded" in result.reason
    cut = [p for p in result.parts if p.points is None]
    assert cut and all("time budget" in p.message for p in cut)
    assert all(p.status == FAILED for p in result.parts if p.points is not None)


def test_a_full_scratch_disk_is_reported(tmp_path):
    fill = ("import os\nfor i in range(12):\n    with open(os.path.join(os.environ['HOME'], f'b{i}'), 'wb') as f:\n"
            "        f.write(b'x' * 2**22)\n")
    nb = notebook()
    nb.cells.insert(0, nbformat.v4.new_code_cell(fill))
    result = grade(nb, tmp_path, Limits(scratch_bytes=16 * 2**20))
    assert any(flag.startswith("disk quota") for flag in result.flags), result.flags
    assert result.points == result.max_points  # the answers above the cell are still graded


def test_nbgrader_validate_shows_the_whole_message():
    """``nbgrader validate`` prints a failed cell's traceback and cuts every line longer than its width."""
    from nbgrader.validator import Validator

    with pytest.raises(CheckFailure) as failure:
        mdps.check_value_iteration(compile_function(P_AT_V["value_iteration"], "value_iteration"), hidden=True)
    cell = nbformat.v4.new_code_cell("check_value_iteration(value_iteration, hidden=True)")
    cell.outputs = [nbformat.v4.new_output("error", ename="CheckFailure", evalue=str(failure.value),
                                           traceback=failure.value._render_traceback_())]
    validator = Validator()
    shown = validator._indent(validator._extract_error(cell))
    assert "..." not in shown
    hint = str(failure.value).split("hint: ")[1]
    assert " ".join(hint.split()) in " ".join(shown.split())
