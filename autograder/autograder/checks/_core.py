"""The machinery every check shares: quiet execution, plain-data conversion, property runs, clear failures.

A check compares a student's function with the reference implementation. It must

* give the same verdict on every run (hypothesis is derandomized and keeps no example database);
* write nothing to stderr (nbgrader scores a test cell 0 when it does);
* treat the student's function as a black box that takes and returns plain data, so the same check runs
  in the notebook (a local function) and in the sandboxed grader (a proxy to another process);
* on failure, raise :class:`CheckFailure` naming the property, the smallest failing input found, the
  expected and the actual value, and one hint.

The message is written by :mod:`autograder.checks._messages`, stderr is kept closed by
:mod:`autograder.checks._quiet`, and the student's function is called through
:mod:`autograder.sandbox.student_call`, exactly as the sandboxed worker calls it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Flaky

from autograder.checks._messages import failure_message, format_input, format_value, wrap
from autograder.checks._quiet import quiet
from autograder.sandbox import BudgetExhausted, WorkerError, WorkerTimeout, protocol, student_call

__all__ = ["CheckFailure", "as_array", "call_student", "call_with_grads", "fail", "failure_message", "format_input",
           "format_value", "passed", "plain_result", "quiet", "run_property"]

# Bounded, reproducible property runs (each check states its own number of examples). When one student function
# fails in several ways, only the failure with the smallest input is reported (never an ExceptionGroup).
PROPERTY_SETTINGS = dict(
    derandomize=True,
    database=None,
    deadline=None,
    print_blob=False,
    report_multiple_bugs=False,
    suppress_health_check=list(HealthCheck),
    phases=(Phase.explicit, Phase.generate, Phase.shrink),
)


class CheckFailure(AssertionError):
    """A check found an input on which the student's function is wrong."""

    def _render_traceback_(self) -> list[str]:
        """What IPython shows for a failed check: the message alone (wrapped), not the frames of the grader's code."""
        return wrap(f"CheckFailure: {self}").splitlines()


class _ProcessLost(BaseException):
    """The student's process timed out or died during a property run: stop at once (no shrinking, no more calls
    into a dead process) and raise ``error``: the failure on the input it was working on, or the end of the
    submission's time budget. Not an ``Exception``, so hypothesis lets it pass."""

    def __init__(self, error: Exception):
        super().__init__(str(error))
        self.error = error


_property_depth = 0  # > 0 while run_property drives the student's function


def fail(function: str, prop: str, inputs: dict[str, Any], *, expected: Any = None, got: Any = None,
         hint: str = "") -> None:
    """Raise a :class:`CheckFailure` whose message teaches: property, input, expected vs got, hint."""
    raise CheckFailure(failure_message(function, prop, inputs, expected=expected, got=got, hint=hint))


def call_student(function: str, fn: Callable, inputs: dict[str, Any]) -> Any:
    """Call the student's function on copies of the inputs; turn its exceptions into a clear failure."""
    if not callable(fn):
        raise CheckFailure(f"{function}: expected a function, got {type(fn).__name__}.")
    args = {k: (v.copy() if isinstance(v, np.ndarray) or student_call.is_frame(v) else v) for k, v in inputs.items()}
    try:
        return student_call.call(fn, args)
    except CheckFailure:
        raise
    except Exception as error:  # the student's code raised: report it as the failure of this property
        _student_raised(function, error, inputs)


TIMEOUT_HINT = ("look for a loop that never ends on this input: a `while` whose condition never becomes false "
                "(a variable not updated, a tolerance that cannot be reached, a count that skips its limit). "
                "Run the call under `to reproduce` in the notebook, interrupt it (Kernel > Interrupt, or the "
                "stop button) after a few seconds: the traceback shows the line it was stuck on.")


def _student_raised(function: str, error: Exception, inputs: dict[str, Any]) -> None:
    """Turn an exception from the student's code into the failure of the property being checked."""
    if isinstance(error, BudgetExhausted):  # not a verdict: the grader reports the parts it could not run
        if _property_depth:
            raise _ProcessLost(error)
        raise error
    if isinstance(error, WorkerError):  # the sandboxed process hung or died: no further call can be made
        if isinstance(error, WorkerTimeout):
            failure = CheckFailure(failure_message(function, f"did not return in time ({error})", inputs,
                                                   hint=TIMEOUT_HINT))
        else:
            failure = CheckFailure(failure_message(
                function, f"the process running your code stopped: {error}", inputs,
                hint="your code ended the Python process (os._exit, sys.exit) or used too much memory or CPU "
                     "time on this input; run the call under `to reproduce` in the notebook."))
        if _property_depth:
            raise _ProcessLost(failure)
        raise failure from None
    # In the sandboxed grader the error arrives as a proxy carrying the student's exception type.
    kind, message = getattr(error, "type_name", type(error).__name__), getattr(error, "message", str(error))
    if kind == "NotImplementedError":
        raise CheckFailure(f"{function}: not implemented yet — replace `raise NotImplementedError()` "
                           "with your code and run the cell that defines the function.") from None
    if kind == "InputMutated":
        fail(function, message, inputs,
             hint="work on a copy (x = x.copy() for an array, x = x.clone() for a tensor) or build a new value "
                  "instead of writing into an argument: the caller's data must stay unchanged.")
    if kind == "UnsupportedValue":
        fail(function, message, inputs, hint=PLAIN_DATA_HINT)
    if kind == "WrongReturnType":
        fail(function, message, inputs, hint="return only the loss, as one tensor (not a tuple or a number).")
    fail(function, f"raised {kind}: {message}", inputs,
         hint="run the call under `to reproduce` in the notebook to see the traceback.")


PLAIN_DATA_HINT = "return what the exercise asks for: numbers, numpy arrays, or a DataFrame with one level of labels."


def plain_result(function: str, value: Any, inputs: dict[str, Any]) -> Any:
    """``value`` as it crosses the sandbox's boundary (:mod:`autograder.sandbox.protocol`), or the failure the
    grader reports for a value that cannot: the same in the notebook as through the grader's proxy."""
    try:
        return protocol.decode(protocol.encode({"value": value}))["value"]
    except protocol.ProtocolError as error:
        fail(function, protocol.unsupported(value, error), inputs, hint=PLAIN_DATA_HINT)


def call_with_grads(function: str, fn: Callable, inputs: dict[str, Any], wrt: list[str]):
    """Call the student's function and backpropagate its result (summed if it is not a scalar): returns
    ``(result, {name: gradient or None})`` (:func:`autograder.sandbox.student_call.call_with_grads`).

    In the notebook this runs here; in the sandboxed grader the proxy runs the same code in the student's process
    and only the result and the gradients come back.
    """
    try:
        if hasattr(fn, "call_with_grads"):
            return fn.call_with_grads(inputs, wrt)
        return student_call.call_with_grads(fn, inputs, wrt)
    except CheckFailure:
        raise
    except Exception as error:
        _student_raised(function, error, inputs)


def as_array(function: str, value: Any, inputs: dict[str, Any], *, shape: tuple[int, ...],
             dtype: str = "float", what: str = "the result") -> np.ndarray:
    """Convert a returned value to a plain numeric array of the given shape, or fail with a clear message.

    Only numeric data is accepted: objects with custom ``__eq__`` or ``__array__`` tricks, object arrays and
    strings are rejected rather than trusted.
    """
    if hasattr(value, "detach") and hasattr(value, "numpy"):  # a torch tensor
        value = value.detach().cpu().numpy()
    if not isinstance(value, np.ndarray | float | int | np.number | list | tuple | bool | np.bool_):
        fail(function, f"{what} must be a numpy array; got an object of type {type(value).__name__}", inputs)
    try:
        array = np.array(value, dtype=None)
    except Exception:
        fail(function, f"{what} could not be read as an array", inputs)
    if array.dtype.kind not in "biuf":
        fail(function, f"{what} must hold numbers; got an array of dtype {array.dtype}", inputs)
    if dtype == "int":
        if array.dtype.kind == "f" and not np.all(np.isfinite(array) & (array == np.round(array))):
            fail(function, f"{what} must hold whole numbers (action indices)", inputs, got=array)
        array = array.astype(np.int64)
    else:
        array = array.astype(float)
    if array.shape != shape:
        fail(function, f"{what} has shape {array.shape}; expected shape {shape}", inputs, got=array,
             hint="check which axis you reduce over and that you return one value per state.")
    return array


def run_property(body: Callable[..., None], strategy: st.SearchStrategy, *, max_examples: int) -> None:
    """Run ``body(case)`` on ``max_examples`` derandomized examples; re-raise the shrunk failure cleanly.

    Whatever the student's function does ends as one :class:`CheckFailure`: several distinct failures (an
    ``ExceptionGroup``) are reported by the smallest, a hung or dead process by the input it was working on.
    """
    global _property_depth
    test = settings(max_examples=max_examples, **PROPERTY_SETTINGS)(given(strategy)(body))
    _property_depth += 1
    try:
        test()
    except CheckFailure as failure:
        # Hypothesis attaches notes ("Falsifying example: ..."); our message already shows the input.
        raise CheckFailure(str(failure)) from None
    except _ProcessLost as lost:
        raise lost.error from None
    except Flaky as flaky:
        first = next((e for e in _leaves(flaky) if isinstance(e, CheckFailure)), None)
        raise CheckFailure("the function gave different results when called again on the same input "
                           "(does it depend on global state, randomness or the time?)"
                           + (f"\n{first}" if first else "")) from None
    except BaseExceptionGroup as group:
        first = next((e for e in _leaves(group) if isinstance(e, CheckFailure)), None)
        if first is None:
            raise
        raise CheckFailure(str(first)) from None
    finally:
        _property_depth -= 1


def _leaves(error: BaseException) -> list[BaseException]:
    """The exceptions inside an exception group, depth first, in order."""
    if isinstance(error, BaseExceptionGroup):
        return [leaf for inner in error.exceptions for leaf in _leaves(inner)]
    return [error]


def passed(function: str, what: str) -> None:
    print(f"✓ {function}: {what}")
