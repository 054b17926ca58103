"""A property run in which every failure of one check counts as the same bug.

Hypothesis tells failures apart by where they were raised and by the exception they were raised during; a
student's function that raises on some inputs and returns wrong values on others would then be reported as
several bugs at once (an ``ExceptionGroup`` instead of one clear failure). Here each failure is re-raised from a
single place with no context, so hypothesis shrinks all of them together and reports the smallest one.
"""

from __future__ import annotations

from collections.abc import Callable

from hypothesis import strategies as st

from autograder.checks import _core
from autograder.checks._core import CheckFailure


def run_property(body: Callable[..., None], strategy: st.SearchStrategy, *, max_examples: int) -> None:
    """:func:`autograder.checks._core.run_property` on ``body``, with one failure origin for the whole check."""

    def one_origin(case) -> None:
        message = None
        try:
            body(case)
        except CheckFailure as failure:
            message = str(failure)
        if message is not None:  # raised outside the except block: no context, the same origin every time
            raise CheckFailure(message)

    _core.run_property(one_origin, strategy, max_examples=max_examples)
