"""Checks called by the notebooks' test cells: one module per chapter (``autograder.checks.mdps`` ...).

The chapter registry has one source: the course's assignment list (``solutions/NN_slug/NN_slug.ipynb``) and, in
each notebook's locked ``setup`` cell, the one ``from autograder.checks.<module> import ...`` line that declares
the chapter's checks module. :func:`chapter_checks` reads both, so adding a chapter needs no list to be edited.
"""

from __future__ import annotations

import re

from autograder.checks._core import CheckFailure

__all__ = ["CheckFailure", "chapter_checks", "checks_module_of"]

_IMPORT = re.compile(r"^from (autograder\.checks\.[a-z_][a-z0-9_]*) import", re.MULTILINE)


def checks_module_of(notebook) -> str:
    """The checks module that a chapter notebook's ``setup`` cell imports (exactly one is allowed)."""
    import nbformat

    nb = nbformat.read(notebook, as_version=4)
    modules = {module for cell in nb.cells if cell.cell_type == "code"
               and cell.metadata.get("nbgrader", {}).get("grade_id") == "setup"
               for module in _IMPORT.findall(cell.source)}
    if len(modules) != 1:
        raise ValueError(f"{notebook}: the locked `setup` cell must import from exactly one autograder.checks "
                         f"module; found {sorted(modules) or 'none'}")
    return modules.pop()


def chapter_checks() -> dict[str, str]:
    """``{chapter: checks module}`` for every chapter notebook in ``solutions/``, in chapter order."""
    from autograder.course import assignments

    return {name: checks_module_of(assignment.source) for name, assignment in assignments().items()}
