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
