"""Chapter 1 checks: failure messages that teach, and refusal of values that are not plain numbers."""

import numpy as np
import pytest
from variants.ch01_mdps import PARTS

from autograder.checks import CheckFailure
from autograder.checks import mdps as checks


def compile_function(source: str, name: str):
    namespace = {"np": np}
    exec(compile(source, f"<{name}>", "exec"), namespace)
    return namespace[name]


def run_check(part: str, fn, hidden: bool):
    getattr(checks, PARTS[part]["check"])(fn, hidden=hidden)


def test_failure_message_teaches(capsys):
    bug = compile_function(PARTS["bellman_expectation_backup"]["bugs"]["missing_gamma"], "bellman_expectation_backup")
    with pytest.raises(CheckFailure) as failure:
        checks.check_bellman_expectation_backup(bug, hidden=True)
    message = str(failure.value)
    for piece in ("differs from the reference", "P = ", "expected:", "got:", "hint:"):
        assert piece in message
    assert capsys.readouterr().err == ""


def test_always_equal_objects_and_wrong_types_are_rejected():
    class AlwaysEqual:
        def __eq__(self, other):
            return True

        def __array__(self, dtype=None, copy=None):
            return np.array([AlwaysEqual()], dtype=object)

    for returned in (AlwaysEqual(), "0.0", {"V": 1}):
        with pytest.raises(CheckFailure):
            checks.check_bellman_expectation_backup(lambda returned=returned, **_: returned)


def test_untransposed_product_fails_the_visible_tests():
    """``P @ V`` where ``(P @ V).T`` is meant broadcasts silently when S = A; the visible case has S != A and no
    symmetry, so every part that planted this bug fails visibly (it used to pass all four visible tests)."""
    for part, spec in PARTS.items():
        for label in ("P_at_V_not_transposed", "transposed_P"):
            if label in spec["bugs"]:
                with pytest.raises(CheckFailure):
                    run_check(part, compile_function(spec["bugs"][label], part), hidden=False)


def test_a_bug_that_raises_on_some_inputs_and_is_wrong_on_others_gives_one_failure():
    """Raising when S != A and returning wrong values when S = A are one bug: one CheckFailure with the smallest
    counterexample, not hypothesis's group of 'distinct failures' (which the grader could not report)."""
    bug = compile_function(PARTS["value_iteration"]["bugs"]["P_at_V_not_transposed"], "value_iteration")
    with pytest.raises(CheckFailure) as failure:
        checks.check_value_iteration(bug, hidden=True)
    assert "on the input" in str(failure.value) and "hint:" in str(failure.value)
