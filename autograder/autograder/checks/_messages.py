"""How a failure reads: the input as copy-pasteable literals with every digit, expected vs got, the hint.

The input is printed so that pasting it into the notebook and running the ``to reproduce`` line shows the same
failure; inputs too large to print are described by shape and range.
"""

from __future__ import annotations

import sys
import textwrap
from typing import Any

import numpy as np

from autograder.sandbox import student_call

LITERAL_MAX_ENTRIES = 400  # inputs up to this size are printed in full, as copy-pasteable literals
# What a notebook shows of a failure is wrapped for `nbgrader validate`, which cuts every line longer than 87
# characters after its 4-space indent (the message itself, as in grades.csv, is not wrapped).
WIDTH = 83


def _as_numpy(value: Any) -> Any:
    """A torch tensor as a numpy array (for display only); anything else unchanged."""
    if student_call.is_tensor(value):
        return value.detach().cpu().numpy()
    return value


def format_value(value: Any) -> str:
    """An expected or obtained value, with enough digits to see a difference at the checks' tolerances."""
    value = _as_numpy(value)
    if student_call.is_frame(value):
        return value.to_string(float_format=lambda x: f"{x:.10g}")
    if isinstance(value, np.ndarray):
        return np.array2string(value, precision=8, floatmode="maxprec", max_line_width=WIDTH - 14, threshold=200)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, dict):  # weights of a network: values when small, otherwise shapes
        return "{" + ", ".join(f"{key!r}: {_format_entry(entry)}" for key, entry in value.items()) + "}"
    return repr(value)


def _format_entry(value: Any) -> str:
    value = _as_numpy(value)
    if isinstance(value, np.ndarray) and value.size > 4:
        return f"<array of shape {value.shape}>"
    if isinstance(value, np.ndarray):
        return np.array2string(value, precision=8, floatmode="maxprec", separator=", ").replace("\n", "")
    return format_value(value)


def _size(value: Any) -> int:
    if isinstance(value, np.ndarray) or student_call.is_tensor(value) or student_call.is_frame(value):
        return int(np.prod(tuple(value.shape)))
    if isinstance(value, dict):
        return sum(_size(v) for v in value.values())
    if isinstance(value, list | tuple):
        return sum(_size(v) for v in value)
    return 1


def format_input(value: Any) -> str:
    """An input as a Python literal that reproduces it exactly (every digit), e.g. ``np.array([[0.5, 0.25]])``;
    inputs larger than :data:`LITERAL_MAX_ENTRIES` numbers are described by their shape instead."""
    if _size(value) > LITERAL_MAX_ENTRIES:
        return _describe(value)
    if student_call.is_tensor(value):
        array = value.detach().cpu().numpy()
        return f"torch.tensor({_literal(array)}, dtype={value.dtype})"
    if isinstance(value, np.ndarray):
        dtype = "" if value.dtype in (np.float64, np.int64, np.bool_) else f", dtype=np.{value.dtype}"
        return f"np.array({_literal(value)}{dtype})"
    if student_call.is_frame(value):  # pd.DataFrame({column: [values]}), plus the row labels unless 0, 1, ...
        columns = ", ".join(f"{label!r}: {format_input(value.iloc[:, i].tolist())}"
                            for i, label in enumerate(value.columns))
        index = value.index
        plain = index.name is None and index.tolist() == list(range(len(index)))
        rows = "" if plain else f", index=pd.Index({format_input(index.tolist())}, name={index.name!r})"
        return f"pd.DataFrame({{{columns}}}{rows})"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k!r}: {format_input(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        items = ", ".join(format_input(v) for v in value)
        return f"[{items}]" if isinstance(value, list) else f"({items}{',' if len(value) == 1 else ''})"
    if isinstance(value, float | np.floating):
        return repr(float(value))
    return repr(value)


def _literal(array: np.ndarray) -> str:
    if array.ndim == 0:
        return repr(array.item())
    return np.array2string(array, separator=", ", floatmode="unique", threshold=sys.maxsize, max_line_width=WIDTH - 20)


def _describe(value: Any) -> str:
    if student_call.is_frame(value):
        return f"<DataFrame of {len(value)} rows, columns {list(value.columns)}>"
    array = _as_numpy(value)
    if isinstance(array, np.ndarray):
        kind = "tensor" if student_call.is_tensor(value) else "array"
        summary = f", values in [{array.min():.6g}, {array.max():.6g}]" if array.size and array.dtype.kind in "biuf" \
            else ""
        return f"<{kind} of shape {tuple(array.shape)}, dtype {array.dtype}{summary}>"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k!r}: {_describe(v)}" for k, v in value.items()) + "}"
    return f"<{type(value).__name__} of {len(value)} items>" if hasattr(value, "__len__") else repr(value)


def failure_message(function: str, prop: str, inputs: dict[str, Any], *, expected: Any = None, got: Any = None,
                    hint: str = "") -> str:
    """Property, input (copy-pasteable), expected vs got, hint."""
    lines = [f"{function}: {prop}", "  on the input (the smallest failing case found):"]
    for name, value in inputs.items():
        text = format_input(value).replace("\n", "\n" + " " * (6 + len(name) + 3))
        lines.append(f"      {name} = {text}")
    if inputs:
        call = ", ".join(f"{name}={name}" for name in inputs)
        lines.append(f"  to reproduce: {function}({call})")
    if expected is not None:
        lines.append("  expected: " + format_value(expected).replace("\n", "\n            "))
    if got is not None:
        lines.append("  got:      " + format_value(got).replace("\n", "\n            "))
    if hint:
        lines.append(f"  hint: {hint}")
    return "\n".join(lines)


def wrap(text: str) -> str:
    """Wrap lines longer than :data:`WIDTH` at spaces (continuations indented under their line)."""
    out = []
    for line in text.splitlines():
        if len(line) <= WIDTH:
            out.append(line.rstrip())
            continue
        indent = " " * (len(line) - len(line.lstrip()))
        out += textwrap.wrap(line, width=WIDTH, subsequent_indent=indent + "    ", break_long_words=False,
                             break_on_hyphens=False)
    return "\n".join(out)
