"""The committed student notebooks in exercises/ are exactly what nbgrader generates from solutions/."""

import nbformat
import pytest

from autograder.course import REPO_ROOT, assignments, normalised_json
from autograder.release import generate


@pytest.mark.slow
def test_exercises_are_in_sync_with_solutions(tmp_path):
    names = sorted(assignments())
    assert names, "no chapter notebooks found in solutions/"
    generate(names, tmp_path)
    for name in names:
        fresh = tmp_path / name / f"{name}.ipynb"
        committed = REPO_ROOT / "exercises" / name / f"{name}.ipynb"
        assert committed.exists(), f"exercises/{name} is missing: run `make exercises`"
        assert normalised_json(fresh) == normalised_json(committed), (
            f"exercises/{name} is out of date with solutions/{name}: run `make exercises` and commit."
        )


@pytest.mark.parametrize("name", sorted(assignments()))
def test_release_has_stubs_and_no_solutions_or_hidden_tests(name):
    text = (REPO_ROOT / "exercises" / name / f"{name}.ipynb").read_text()
    assert "BEGIN SOLUTION" not in text and "HIDDEN TESTS" not in text and "hidden=True" not in text
    nb = nbformat.read(REPO_ROOT / "exercises" / name / f"{name}.ipynb", as_version=4)
    stubs = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("solution")]
    assert stubs and all("raise NotImplementedError()" in c.source for c in stubs)
