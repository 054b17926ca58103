"""Checks called by the notebooks' test cells: one module per chapter (``autograder.checks.mdps`` ...)."""

from autograder.checks._core import CheckFailure

__all__ = ["CheckFailure"]
