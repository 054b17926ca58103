"""Every chapter through the instructor's ``course-grade`` command (sandboxed workers, trusted test cells, the
gradebook): solution full marks, blank release zero, a correct alternative full marks, a planted bug zero — in
one run over a class holding all chapters.

Every variant of every chapter is compared between the notebook and the grader's proxy path, at unit level, by
``test_verdicts_both_paths``; this end-to-end run keeps one notebook of each kind per chapter, so that the command
itself (reading the class, workers, outputs) is exercised on every chapter."""

import csv
import importlib
import itertools
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbgrader_course import CHAPTERS, variant_notebooks

from autograder.course import REPO_ROOT

COURSE_GRADE = str(Path(sys.executable).parent / "course-grade")


@pytest.mark.slow
def test_every_chapter_grades_correctly_through_course_grade(tmp_path):
    expected = {}

    def submit(student, chapter, nb, verdict):
        folder = tmp_path / "submissions" / student
        folder.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, folder / f"{chapter}.ipynb")
        expected[student, chapter] = verdict

    for chapter, variants in CHAPTERS.items():
        release = REPO_ROOT / "exercises" / chapter / f"{chapter}.ipynb"
        submit("solution", chapter, nbformat.read(REPO_ROOT / "solutions" / chapter / f"{chapter}.ipynb", 4), "full")
        submit("blank", chapter, nbformat.read(release, 4), "zero")
        parts = importlib.import_module(variants).PARTS
        for kind, verdict in (("alternatives", "full"), ("bugs", "zero")):
            for name, nb in itertools.islice(variant_notebooks(release, parts, kind), 1):
                submit(name, chapter, nb, verdict)

    out = tmp_path / "out"
    run = subprocess.run([COURSE_GRADE, str(tmp_path / "submissions"), "--out", str(out), "--workers", "2"],
                         capture_output=True, text=True, timeout=1800)
    assert run.returncode == 0, run.stderr[-3000:]
    rows = [row for row in csv.DictReader((out / "grades.csv").open()) if (row["student"], row["assignment"])
            in expected]
    assert {(row["student"], row["assignment"]) for row in rows} == set(expected)
    for row in rows:
        verdict = expected[row["student"], row["assignment"]]
        label = f"{row['student']} {row['assignment']} {row['part']}: {row['message'][:300]}"
        assert row["submission_status"] == "graded", label
        if verdict == "full":
            assert float(row["points"]) == float(row["max_points"]), label
        else:
            assert float(row["points"]) == 0.0, label
