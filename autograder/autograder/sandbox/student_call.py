"""Calling a student's function: one implementation for both sides of the sandbox.

The checks call it in the notebook (:mod:`autograder.checks._core`) and the sandboxed worker calls it for the
grader (:mod:`autograder.sandbox.worker`), so a verdict cannot depend on where the function ran:

* :func:`call` runs ``fn(**inputs)`` and compares every input afterwards with a copy taken before: a function
  that changes an input array, tensor or pandas DataFrame in place raises :class:`InputMutated` naming it;
* :func:`call_with_grads` gives the inputs named in ``wrt`` fresh leaf tensors that require gradients, calls
  the function through :func:`call`, requires a tensor back (a loss; ``(loss, extra)`` is refused with
  :class:`WrongReturnType`), backpropagates the sum of its entries and returns
  ``(result detached, {name: gradient or None})``.

This file is copied into the sandbox and runs there under ``python -S``: it imports only the standard library
and numpy; torch is imported only when a value is already a tensor, pandas never (a frame's own methods are used).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np


class InputMutated(Exception):
    """The student's function changed one of its inputs in place."""


class WrongReturnType(TypeError):
    """The student's function returned something other than what the exercise asks for."""


def is_tensor(value: Any) -> bool:
    return type(value).__module__.startswith("torch") and hasattr(value, "detach") and hasattr(value, "clone")


def is_frame(value: Any) -> bool:
    return type(value).__module__.startswith("pandas") and type(value).__name__ == "DataFrame"


def snapshot(value: Any) -> Any:
    """A deep copy of the arrays, tensors and frames inside ``value`` (dicts, lists and tuples are walked)."""
    if is_tensor(value):
        return value.detach().clone()
    if is_frame(value):
        return value.copy(deep=True)
    if isinstance(value, np.ndarray):
        return value.copy()
    if isinstance(value, dict):
        return {k: snapshot(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [snapshot(v) for v in value]
    return value


def _same(before: Any, after: Any) -> bool:
    if is_tensor(before):
        if not is_tensor(after) or before.shape != after.shape or before.dtype != after.dtype:
            return False
        return bool(np.array_equal(before.cpu().numpy(), after.detach().cpu().numpy(), equal_nan=True))
    if is_frame(before):  # same labels in the same order, same dtypes, same values (NaN equal to NaN)
        return (is_frame(after) and before.columns.equals(after.columns) and before.index.equals(after.index)
                and before.index.name == after.index.name and before.equals(after))
    if isinstance(before, np.ndarray):
        if not isinstance(after, np.ndarray) or before.shape != after.shape or before.dtype != after.dtype:
            return False
        return bool(np.array_equal(before, after, equal_nan=before.dtype.kind in "fc"))
    if isinstance(before, dict):
        return isinstance(after, dict) and before.keys() == after.keys() and all(
            _same(before[k], after[k]) for k in before)
    if isinstance(before, list):
        return isinstance(after, list | tuple) and len(before) == len(after) and all(
            _same(b, a) for b, a in zip(before, after, strict=True))
    return True  # numbers and strings cannot be changed in place


def call(fn: Callable, inputs: dict[str, Any], args: tuple = ()) -> Any:
    """``fn(*args, **inputs)``; raises :class:`InputMutated` if an input array or tensor was changed in place."""
    before = {name: snapshot(value) for name, value in inputs.items()}
    before_args = [snapshot(value) for value in args]
    value = fn(*args, **inputs)
    changed = [name for name in inputs if not _same(before[name], inputs[name])]
    changed += [f"argument {i + 1}" for i, (b, a) in enumerate(zip(before_args, args, strict=True)) if not _same(b, a)]
    if changed:
        raise InputMutated(f"changed its input {', '.join(changed)} in place")
    return value


def _leaf(value: Any) -> Any:
    """A copy of ``value`` whose floating-point tensors (also inside dicts, lists, tuples) require gradients."""
    if is_tensor(value) and value.is_floating_point():
        return value.detach().clone().requires_grad_(True)
    if isinstance(value, dict):
        return {k: _leaf(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_leaf(v) for v in value)
    return value


def _grads(value: Any) -> Any:
    if is_tensor(value):
        return None if value.grad is None else value.grad.detach()
    if isinstance(value, dict):
        return {k: _grads(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_grads(v) for v in value]
    return None


def call_with_grads(fn: Callable, inputs: dict[str, Any], wrt: list[str]) -> tuple[Any, dict[str, Any]]:
    """Call ``fn`` with the ``wrt`` inputs as gradient-requiring leaves and backpropagate its result.

    Returns ``(result detached, {name: gradient of sum(result) w.r.t. that input, or None})``.
    """
    args = {name: (_leaf(value) if name in wrt else value) for name, value in inputs.items()}
    result = call(fn, args)
    if not is_tensor(result):
        raise WrongReturnType(f"must return a torch tensor; got {type(result).__name__}")
    if result.requires_grad:
        result.sum().backward()  # for a non-scalar result: the gradient of the sum of its entries
    return result.detach(), {name: _grads(args[name]) for name in wrt}
