"""Per chapter, the correct alternatives each check must accept and the planted bugs it must reject.

Naming rule: chapter ``NN_slug`` has the module ``variants/chNN_slug.py`` with a dict ``PARTS`` keyed by the
function each solution cell defines (its test cell is ``test_<function>``); each entry names its ``check`` and
holds ``alternatives`` and ``bugs`` as ``{label: source}``. The chapter list comes from
:func:`autograder.checks.chapter_checks` (the notebooks in ``solutions/``), never from a list kept here.
"""

from __future__ import annotations

import importlib

from autograder.checks import chapter_checks

CHECKS: dict[str, str] = chapter_checks()  # chapter -> its checks module, as its notebook's setup cell imports it
VARIANTS: dict[str, str] = {chapter: f"variants.ch{chapter}" for chapter in CHECKS}  # chapter -> its variants module


def parts(chapter: str) -> dict:
    """The ``PARTS`` catalogue of a chapter."""
    return importlib.import_module(VARIANTS[chapter]).PARTS


def graded_cells(part: str, spec: dict) -> dict[str, str]:
    """``{test cell grade_id: check name}`` of a part: ``test_<part>`` graded by ``spec["check"]``.

    The one allowed exception to one test cell per part: a part whose solution cell defines several functions
    that are graded together (chapter 7's bug hunt: ``make_cases`` and ``check_case``) declares them in
    ``"functions"`` and its test cells in ``"checks"`` (``{cell suffix: check name}``); each cell ``test_<suffix>``
    calls ``check(<functions, comma-separated>)``, and with ``hidden=True`` in its hidden block.
    """
    checks = spec["checks"] if "checks" in spec else {part: spec["check"]}
    return {f"test_{suffix}": check for suffix, check in checks.items()}


def functions(part: str, spec: dict) -> tuple[str, ...]:
    """The names the part's solution cell defines, in the order its checks take them (default: the part)."""
    return tuple(spec.get("functions", (part,)))


def compile_functions(source: str, names: tuple[str, ...], namespace: dict | None = None) -> list:
    """The functions ``names`` defined by a variant's ``source``."""
    import numpy as np

    namespace = {"np": np} if namespace is None else namespace
    exec(compile(source, f"<{'+'.join(names)}>", "exec"), namespace)
    return [namespace[name] for name in names]
