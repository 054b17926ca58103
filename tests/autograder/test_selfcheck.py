"""The student's self-check runs the visible tests outside Jupyter and explains each result."""

import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from fixture_class import CHAPTER, RELEASE, notebook, wrong

SELFCHECK = str(Path(sys.executable).parent / "course-selfcheck")


def run(nb, tmp_path):
    path = tmp_path / f"{CHAPTER}.ipynb"
    nbformat.write(nb, path)
    return subprocess.run([SELFCHECK, str(path)], capture_output=True, text=True, timeout=300)


def test_blank_notebook_fails_with_a_not_implemented_message(tmp_path):
    result = run(nbformat.read(RELEASE, as_version=4), tmp_path)
    assert result.returncode == 1
    assert result.stdout.count("[FAIL]") == 4 and "not implemented yet" in result.stdout


def test_a_bug_is_explained_and_correct_parts_pass(tmp_path):
    result = run(notebook({"value_iteration": wrong("value_iteration")}), tmp_path)
    assert result.returncode == 1
    assert "[FAIL] test_value_iteration" in result.stdout and "hint:" in result.stdout
    assert result.stdout.count("[PASS]") == 3 and "3/4 visible tests pass" in result.stdout


def test_complete_notebook_passes(tmp_path):
    result = run(notebook(), tmp_path)
    assert result.returncode == 0, result.stdout
    assert "4/4 visible tests pass" in result.stdout


def test_unknown_notebook_is_refused_clearly(tmp_path):
    path = tmp_path / "homework.ipynb"
    nbformat.write(notebook(), path)
    result = subprocess.run([SELFCHECK, str(path)], capture_output=True, text=True)
    assert result.returncode == 2 and "not one of the course's notebooks" in result.stderr


def test_blank_torch_notebook_says_not_implemented_for_every_part(tmp_path):
    """Checks that differentiate the student's result in its own process report a stub just as clearly."""
    chapter = "05_sac_pixels"
    path = tmp_path / f"{chapter}.ipynb"
    nbformat.write(nbformat.read(RELEASE.parents[1] / chapter / f"{chapter}.ipynb", as_version=4), path)
    result = subprocess.run([SELFCHECK, str(path)], capture_output=True, text=True, timeout=300)
    assert result.returncode == 1
    assert result.stdout.count("[FAIL]") == 5 and result.stdout.count("not implemented yet") == 5, result.stdout


def _captured(monkeypatch, argv):
    """Run ``course-selfcheck`` in this process with grading replaced by a recorder: what would it grade?"""
    from autograder import selfcheck
    from autograder.grading import SubmissionResult

    seen = {}

    def record(student, assignment, path, scratch, *, limits, sandbox, release):
        seen.update(assignment=assignment.name, limits=limits, release=release)
        return SubmissionResult(student, assignment.name, "graded")

    monkeypatch.setattr(selfcheck, "grade_submission", record)
    selfcheck.main(argv)
    return seen


def test_selfcheck_uses_the_grading_limits(monkeypatch, tmp_path):
    from autograder.grading import DEFAULT_LIMITS

    path = tmp_path / f"{CHAPTER}.ipynb"
    nbformat.write(notebook(), path)
    assert _captured(monkeypatch, [str(path)])["limits"] == DEFAULT_LIMITS


@pytest.mark.parametrize("name", ["01_mdps-Copy1.ipynb", "alice_01_mdps.ipynb"])
def test_a_renamed_notebook_is_recognised_by_its_name(monkeypatch, tmp_path, name):
    path = tmp_path / name
    nbformat.write(notebook(), path)
    assert _captured(monkeypatch, [str(path)])["assignment"] == CHAPTER


def test_assignment_names_the_chapter_of_any_file(monkeypatch, tmp_path):
    path = tmp_path / "homework.ipynb"
    nbformat.write(notebook(), path)
    assert _captured(monkeypatch, [str(path), "--assignment", CHAPTER])["assignment"] == CHAPTER
    with pytest.raises(SystemExit):
        _captured(monkeypatch, [str(path), "--assignment", "99_nothing"])


def test_a_renamed_copy_is_checked_for_real(tmp_path):
    path = tmp_path / "alice_01_mdps.ipynb"
    nbformat.write(notebook(), path)
    result = subprocess.run([SELFCHECK, str(path)], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "checked as 01_mdps" in result.stdout and "4/4 visible tests pass" in result.stdout
