"""The machinery every check shares: quiet execution, plain-data conversion, property runs, clear failures.

A check compares a student's function with the reference implementation. It must

* give the same verdict on every run (hypothesis is derandomized and keeps no example database);
* write nothing to stderr (nbgrader scores a test cell 0 when it does);
* treat the student's function as a black box that takes and returns plain data, so the same check runs
  in the notebook (a local function) and in the sandboxed grader (a proxy to another process);
* on failure, raise :class:`CheckFailure` naming the property, the smallest failing input found, the
  expected and the actual value, and one hint.
"""

from __future__ import annotations

import contextlib
import io
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Flaky

# Bounded, reproducible property runs (each check states its own number of examples).
PROPERTY_SETTINGS = dict(
    derandomize=True,
    database=None,
    deadline=None,
    print_blob=False,
    suppress_health_check=list(HealthCheck),
    phases=(Phase.explicit, Phase.generate, Phase.shrink),
)


class CheckFailure(AssertionError):
    """A check found an input on which the student's function is wrong."""


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """Silence warnings and stderr while a check runs (nbgrader gives 0 for any stderr output)."""
    with warnings.catch_warnings(), np.errstate(all="ignore"), contextlib.redirect_stderr(io.StringIO()):
        warnings.simplefilter("ignore")
        yield


def _as_numpy(value: Any) -> Any:
    """A torch tensor as a numpy array (for display only); anything else unchanged."""
    if type(value).__module__.startswith("torch") and hasattr(value, "detach"):
        return value.detach().cpu().numpy()
    return value


def format_value(value: Any) -> str:
    value = _as_numpy(value)
    if isinstance(value, np.ndarray):
        return np.array2string(value, precision=4, suppress_small=True, max_line_width=100, threshold=60)
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, dict):  # weights of a network: values when small, otherwise shapes
        return "{" + ", ".join(f"{key!r}: {_format_entry(entry)}" for key, entry in value.items()) + "}"
    return repr(value)


def _format_entry(value: Any) -> str:
    value = _as_numpy(value)
    if isinstance(value, np.ndarray) and value.size > 4:
        return f"<array of shape {value.shape}>"
    if isinstance(value, np.ndarray):
        return np.array2string(value, precision=4, suppress_small=True, separator=", ").replace("\n", "")
    return format_value(value)


def fail(function: str, prop: str, inputs: dict[str, Any], *, expected: Any = None, got: Any = None,
         hint: str = "") -> None:
    """Raise a :class:`CheckFailure` whose message teaches: property, input, expected vs got, hint."""
    lines = [f"{function}: {prop}", "  on the input (the smallest failing case found):"]
    for name, value in inputs.items():
        text = format_value(value).replace("\n", "\n" + " " * (6 + len(name) + 3))
        lines.append(f"      {name} = {text}")
    if expected is not None:
        lines.append("  expected: " + format_value(expected).replace("\n", "\n            "))
    if got is not None:
        lines.append("  got:      " + format_value(got).replace("\n", "\n            "))
    if hint:
        lines.append(f"  hint: {hint}")
    raise CheckFailure("\n".join(lines))


def call_student(function: str, fn: Callable, inputs: dict[str, Any]) -> Any:
    """Call the student's function on copies of the inputs; turn its exceptions into a clear failure."""
    if not callable(fn):
        raise CheckFailure(f"{function}: expected a function, got {type(fn).__name__}.")
    args = {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in inputs.items()}
    try:
        return fn(**args)
    except CheckFailure:
        raise
    except Exception as error:  # the student's code raised: report it as the failure of this property
        _student_raised(function, error, inputs)


def _student_raised(function: str, error: Exception, inputs: dict[str, Any]) -> None:
    """Turn an exception from the student's code into the failure of the property being checked."""
    # In the sandboxed grader the error arrives as a proxy carrying the student's exception type.
    kind, message = getattr(error, "type_name", type(error).__name__), getattr(error, "message", str(error))
    if kind == "NotImplementedError":
        raise CheckFailure(f"{function}: not implemented yet — replace `raise NotImplementedError()` "
                           "with your code and run the cell that defines the function.") from None
    fail(function, f"raised {kind}: {message}", inputs,
         hint="run the function on this input in the notebook to see the traceback.")


def call_with_grads(function: str, fn: Callable, inputs: dict[str, Any], wrt: list[str]):
    """Call the student's function and backpropagate its result (summed if it is not a scalar): returns
    ``(result, {name: gradient or None})``.

    In the notebook this runs here; in the sandboxed grader the proxy runs it in the student's process and only
    the loss value and the gradients come back.
    """
    import torch

    if hasattr(fn, "call_with_grads"):
        try:
            return fn.call_with_grads(inputs, wrt)
        except Exception as error:
            _student_raised(function, error, inputs)

    def leaf(x):
        if isinstance(x, torch.Tensor) and x.is_floating_point():
            return x.detach().clone().requires_grad_(True)
        if isinstance(x, dict):
            return {k: leaf(v) for k, v in x.items()}
        return x

    def grads(x):
        if isinstance(x, torch.Tensor):
            return None if x.grad is None else x.grad.detach()
        if isinstance(x, dict):
            return {k: grads(v) for k, v in x.items()}
        return None

    args = {k: (leaf(v) if k in wrt else (v.clone() if isinstance(v, torch.Tensor) else v)) for k, v in inputs.items()}
    loss = call_student(function, fn, args)
    if not isinstance(loss, torch.Tensor):
        fail(function, f"must return a torch tensor; got {type(loss).__name__}", inputs)
    if loss.requires_grad:
        loss.sum().backward()  # for a non-scalar result: the gradient of the sum of its entries
    return loss.detach(), {name: grads(args[name]) for name in wrt}


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
    """Run ``body(case)`` on ``max_examples`` derandomized examples; re-raise the shrunk failure cleanly."""
    test = settings(max_examples=max_examples, **PROPERTY_SETTINGS)(given(strategy)(body))
    try:
        test()
    except CheckFailure as failure:
        # Hypothesis attaches notes ("Falsifying example: ..."); our message already shows the input.
        raise CheckFailure(str(failure)) from None
    except Flaky as flaky:
        first = next((e for e in getattr(flaky, "exceptions", ()) if isinstance(e, CheckFailure)), None)
        raise CheckFailure("the function gave different results when called again on the same input "
                           "(does it depend on global state, randomness or the time?)"
                           + (f"\n{first}" if first else "")) from None


def passed(function: str, what: str) -> None:
    print(f"✓ {function}: {what}")
