"""Every chapter's checks: every correct alternative passes (visible and hidden), every planted bug fails the
hidden check, and the chapter registry (notebooks in solutions/ + their declared checks module) is complete."""

import importlib

import nbformat
import pytest
from variants import CHECKS, VARIANTS, compile_functions, functions, graded_cells, parts

from autograder.checks import CheckFailure
from autograder.course import assignments


def cases(kind):
    """One case per variant and graded cell (a part graded by several cells: every cell's check)."""
    for chapter, checks in CHECKS.items():
        for part, spec in parts(chapter).items():
            for cell, check in graded_cells(part, spec).items():
                for label in spec[kind]:
                    yield pytest.param(checks, check, part, functions(part, spec), spec[kind][label],
                                       id=f"{chapter}-{cell.removeprefix('test_')}-{label}")


@pytest.mark.parametrize(("checks", "check", "part", "names", "source"), list(cases("alternatives")))
@pytest.mark.parametrize("hidden", [False, True], ids=["visible", "hidden"])
def test_correct_alternatives_pass(checks, check, part, names, source, hidden, capsys):
    getattr(importlib.import_module(checks), check)(*compile_functions(source, names), hidden=hidden)
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize(("checks", "check", "part", "names", "source"), list(cases("bugs")))
def test_planted_bugs_fail_the_hidden_check(checks, check, part, names, source):
    """The hidden catch rate is 100%: every planted bug of every chapter is rejected by every test cell of its part,
    with a counterexample."""
    with pytest.raises(CheckFailure) as failure:
        getattr(importlib.import_module(checks), check)(*compile_functions(source, names), hidden=True)
    assert str(failure.value).startswith(part) and "on the input" in str(failure.value)


@pytest.mark.parametrize("chapter", sorted(CHECKS))
def test_each_part_has_enough_alternatives_and_bugs(chapter):
    for spec in parts(chapter).values():
        assert len(spec["alternatives"]) >= 2 and len(spec["bugs"]) >= 3


def test_registry_covers_every_chapter_notebook():
    """Each notebook in solutions/ declares a checks module and has a variants catalogue; nothing else is listed."""
    assert list(CHECKS) == list(assignments()) and CHECKS
    for chapter, module in CHECKS.items():
        importlib.import_module(module)
        importlib.import_module(VARIANTS[chapter])


@pytest.mark.parametrize("chapter", sorted(CHECKS))
def test_test_cells_match_the_catalogue(chapter):
    """Naming rule: the solution cell defining ``f`` is graded by the cell ``test_f``, which calls the check that the
    catalogue names for ``f`` (visibly, and with ``hidden=True`` inside the hidden-tests block)."""
    nb = nbformat.read(assignments()[chapter].source, as_version=4)
    graded = {cell.metadata["nbgrader"]["grade_id"]: cell.source for cell in nb.cells
              if cell.metadata.get("nbgrader", {}).get("grade")}
    catalogue = parts(chapter)
    assert set(graded) == {cell for part, spec in catalogue.items() for cell in graded_cells(part, spec)}
    module = importlib.import_module(CHECKS[chapter])
    for part, spec in catalogue.items():
        args = ", ".join(functions(part, spec))
        for cell, check in graded_cells(part, spec).items():
            assert hasattr(module, check), f"{CHECKS[chapter]} has no {check}"
            assert f"{check}({args})" in graded[cell] and f"{check}({args}, hidden=True)" in graded[cell]


VISIBLE_GOAL = 0.8


@pytest.mark.parametrize("chapter", sorted(CHECKS))
def test_visible_tests_catch_most_planted_bugs(chapter, capsys):
    """What a student sees before submitting (the visible tests, ``course-selfcheck``) rejects at least 80% of the
    chapter's planted bugs; ``benchmarks/catch_rates.py`` writes the per-bug table."""
    module = importlib.import_module(CHECKS[chapter])
    missed, total = [], 0
    for part, spec in parts(chapter).items():
        for label, source in spec["bugs"].items():
            total += 1
            try:
                for check in graded_cells(part, spec).values():
                    getattr(module, check)(*compile_functions(source, functions(part, spec)))
            except CheckFailure:
                continue
            missed.append(f"{part}/{label}")
    assert (total - len(missed)) / total >= VISIBLE_GOAL, f"visible tests miss {missed}"
    assert capsys.readouterr().err == ""


def test_a_notebook_must_declare_exactly_one_checks_module(tmp_path):
    from autograder.checks import checks_module_of

    def notebook(setup: str):
        nb = nbformat.v4.new_notebook()
        nb.cells.append(nbformat.v4.new_code_cell(setup, metadata={"nbgrader": {"grade_id": "setup"}}))
        path = tmp_path / "nb.ipynb"
        nbformat.write(nb, path)
        return path

    assert checks_module_of(notebook("import numpy as np\nfrom autograder.checks.mdps import (\n    check_a,\n)")) \
        == "autograder.checks.mdps"
    for setup in ("import numpy as np", "from autograder.checks.mdps import a\nfrom autograder.checks.sac import b"):
        with pytest.raises(ValueError, match="exactly one"):
            checks_module_of(notebook(setup))
