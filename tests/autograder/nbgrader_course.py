"""Drive real nbgrader in a scratch course folder: release, submit notebooks, autograde, read the gradebook."""

from __future__ import annotations

import subprocess
from pathlib import Path

import nbformat
from nbgrader.api import Gradebook
from variants import VARIANTS

from autograder.course import make_course, run_nbgrader


def notebook_with(source: Path, replacements: dict[str, str]) -> nbformat.NotebookNode:
    """The notebook at ``source`` with the solution cells named in ``replacements`` (grade_id -> code) replaced."""
    nb = nbformat.read(source, as_version=4)
    for cell in nb.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id in replacements:
            cell.source = replacements[grade_id].strip("\n")
    return nb


# chapter -> module of its correct alternatives and planted bugs (from the chapter registry)
CHAPTERS = VARIANTS


def variant_notebooks(release: Path, parts: dict, kind: str):
    """``(name, notebook)``: notebook ``i`` answers every part with its ``i``-th variant of ``kind`` (cycling)."""
    count = max(len(spec[kind]) for spec in parts.values())
    for i in range(count):
        chosen = {part: list(spec[kind].values())[i % len(spec[kind])] for part, spec in parts.items()}
        yield f"{kind}_{i}", notebook_with(release, chosen)


class ScratchCourse:
    """A throw-away nbgrader course holding one chapter, outside the repository."""

    def __init__(self, root: Path, assignment: str):
        self.root, self.assignment = root, assignment
        self.db_url = f"sqlite:///{root / 'gradebook.db'}"
        make_course(root, [assignment])

    def nbgrader(self, *args: str) -> subprocess.CompletedProcess:
        return run_nbgrader(self.root, *args, "--log-level=ERROR")

    @property
    def release(self) -> Path:
        return self.root / "exercises" / self.assignment / f"{self.assignment}.ipynb"

    def submit(self, student: str, nb: nbformat.NotebookNode) -> None:
        folder = self.root / "submitted" / student / self.assignment
        folder.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, folder / f"{self.assignment}.ipynb")

    def autograde(self) -> dict[str, dict[str, float]]:
        self.nbgrader("autograde", self.assignment, "--force")
        scores: dict[str, dict[str, float]] = {}
        with Gradebook(self.db_url) as gb:
            for submission in gb.assignment_submissions(self.assignment):
                for notebook in submission.notebooks:
                    scores[submission.student_id] = {
                        grade.name: grade.score for grade in notebook.grades if grade.max_score > 0
                    }
        return scores
