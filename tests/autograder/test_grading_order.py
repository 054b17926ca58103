"""A test cell sees the notebook as it stands at the test's position, as when the notebook runs top to bottom
(and as nbgrader grades it): a later cell that redefines a function does not change an earlier part's grade."""

import nbformat
from fixture_class import CHAPTER, SOURCE, notebook, wrong

from autograder.course import assignments
from autograder.grading import grade_submission


def grade(nb, tmp_path):
    path = tmp_path / f"{CHAPTER}.ipynb"
    nbformat.write(nb, path)
    result = grade_submission("student", assignments()[CHAPTER], path, tmp_path / "scratch", source=SOURCE)
    return {part.grade_id: part.points for part in result.parts}


def test_a_later_redefinition_does_not_change_an_earlier_grade(tmp_path):
    points = grade(notebook(extra_cells=[wrong("value_iteration")]), tmp_path)
    assert points["test_value_iteration"] == 3.0


def test_a_test_moved_above_its_answer_sees_no_answer(tmp_path):
    nb = notebook()
    ids = [cell.metadata.get("nbgrader", {}).get("grade_id") for cell in nb.cells]
    test = nb.cells.pop(ids.index("test_greedy_policy"))
    nb.cells.insert(ids.index("greedy_policy"), test)
    points = grade(nb, tmp_path)
    assert points["test_greedy_policy"] == 0.0
    assert points["test_value_iteration"] == 3.0
