"""Every chapter through real nbgrader: solution full marks, blank release zero, alternatives full, bugs zero.

One nbgrader run per chapter grades all variants as separate students: alternative notebook ``i`` uses the
``i``-th correct alternative of every part, bug notebook ``j`` plants the ``j``-th bug of every part (the
parts are independent functions, so each part's score reflects its own bug; the unit tests in
``test_checks_*`` also reject every bug in isolation).
"""

import importlib
import itertools

import nbformat
import pytest
from nbgrader_course import CHAPTERS, ScratchCourse, variant_notebooks
from variants import graded_cells

from autograder.course import assignments


@pytest.mark.slow
@pytest.mark.parametrize("chapter", sorted(CHAPTERS))
def test_chapter_grades_correctly_through_nbgrader(chapter, tmp_path):
    assert chapter in assignments(), f"solutions/{chapter}/{chapter}.ipynb is missing"
    parts = importlib.import_module(CHAPTERS[chapter]).PARTS
    course = ScratchCourse(tmp_path, chapter)
    source = course.root / "solutions" / chapter / f"{chapter}.ipynb"
    course.submit("solution", nbformat.read(source, as_version=4))
    course.submit("blank", nbformat.read(course.release, as_version=4))
    students = {"solution": "full", "blank": "zero"}
    for name, nb in itertools.chain(variant_notebooks(course.release, parts, "alternatives"),
                                    variant_notebooks(course.release, parts, "bugs")):
        course.submit(name, nb)
        students[name] = "full" if name.startswith("alternatives") else "zero"

    scores = course.autograde()

    assert set(scores) == set(students)
    test_cells = {cell for part, spec in parts.items() for cell in graded_cells(part, spec)}
    for student, expected in students.items():
        assert set(scores[student]) == test_cells, student
        for cell, score in scores[student].items():
            if expected == "full":
                assert score > 0, f"{student} lost the points of {cell}"
            else:
                assert score == 0, f"{student} scored {score} on {cell}"
