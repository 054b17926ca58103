"""Whatever a student's function does ends as a failed part that teaches (smallest input, expected/got, hint),
the same in the notebook and through the grader; "grader error" is kept for faults of the grader itself."""

from __future__ import annotations

import re

import nbformat
import numpy as np
import pytest
import torch
from fixture_class import CHAPTER, SOURCE, notebook
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
                            limits=limits or Limits())


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
    assert part.status == FAILED and "did not return in time" in part.message, part.message
    assert "Kernel > Interrupt" in part.message and "to reproduce" in part.message
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
    with pytest.raises(CheckFailure, match="changed its input pi in place"):
        mdps.check_bellman_expectation_backup(compile_function(MUTATES, "bellman_expectation_backup"))
    result = grade(notebook({"bellman_expectation_backup": MUTATES}), tmp_path)
    part = next(p for p in result.parts if p.grade_id == "test_bellman_expectation_backup")
    assert part.status == FAILED and "changed its input pi in place" in part.message, part.message


def test_a_tuple_is_not_a_loss_in_either_path():
    loss_and_extra = compile_function("import torch\ndef reward_loss(predicted_reward, reward):\n"
                                      "    loss = ((predicted_reward.squeeze(-1) - reward) ** 2).mean()\n"
                                      "    return loss, loss.detach()\n", "reward_loss")
    with pytest.raises(CheckFailure, match="must return a torch tensor; got tuple"):
        deepmdp.check_reward_loss(loss_and_extra)
