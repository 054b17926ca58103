"""The README's plain-nbgrader commands, run verbatim: they grade a notebook, write nothing into the repository and
give no checksum warning for untouched test cells (while a test cell a student edited is still reported)."""

from __future__ import annotations

import csv
import os
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from autograder.course import REPO_ROOT

GRADING_FILES = ["gradebook.db", "submitted", "autograded", "feedback", "grades.csv", "autograder/gradebook.db",
                 "autograder/grades.csv", "autograder/submitted", "autograder/autograded"]


def readme_block() -> str:
    text = (REPO_ROOT / "README.md").read_text()
    section = text[text.index("**Plain nbgrader**"):]
    return re.search(r"```bash\n(.*?)```", section, re.S).group(1)


def run_bash(script: str, home: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("COURSE_ROOT", "VIRTUAL_ENV")}
    env["HOME"] = str(home)
    return subprocess.run(["bash", "-c", "set -euo pipefail\n" + script], cwd=REPO_ROOT, env=env,
                          capture_output=True, text=True, timeout=900)


@pytest.mark.slow
def test_readme_plain_nbgrader_commands_work_verbatim(tmp_path):
    script = readme_block()
    assert "source .venv/bin/activate" in script
    # the same commands, with the environment of this test run standing in for the repository's .venv
    script = script.replace("source .venv/bin/activate", f"source {Path(sys.executable).parent / 'activate'}")
    before = {p: (REPO_ROOT / p).exists() for p in GRADING_FILES}
    run = run_bash(script, tmp_path)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-3000:]
    course = tmp_path / "grading" / "plain"
    rows = list(csv.DictReader(open(course / "grades.csv")))
    assert [(r["student_id"], float(r["score"]), float(r["max_score"])) for r in rows] == [("alice", 0.0, 9.0)]
    assert "checksum" not in run.stdout + run.stderr, "spurious checksum warning on untouched cells"
    assert {p: (REPO_ROOT / p).exists() for p in GRADING_FILES} == before, "grading wrote into the repository"

    # a student who edits a test cell is still reported
    nb = nbformat.read(REPO_ROOT / "exercises" / "01_mdps" / "01_mdps.ipynb", as_version=4)
    next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade")).source = "pass"
    (course / "submitted" / "bob" / "01_mdps").mkdir(parents=True)
    nbformat.write(nb, course / "submitted" / "bob" / "01_mdps" / "01_mdps.ipynb")
    lines = script.splitlines()
    setup = [line for line in lines if line.startswith(("source", "export", "cd "))]
    edited = run_bash("\n".join([*setup, "nbgrader autograde 01_mdps --student bob"]), tmp_path)
    assert edited.returncode == 0, edited.stderr[-3000:]
    assert re.search(r"Attribute 'checksum' for cell test_\w+ has changed", edited.stdout + edited.stderr)


def test_a_course_folder_inside_the_repository_is_refused(tmp_path):
    env = {**os.environ, "COURSE_ROOT": str(REPO_ROOT / "grading"), "HOME": str(tmp_path)}
    run = subprocess.run([sys.executable, "-m", "nbgrader", "generate_assignment", "01_mdps"],
                         cwd=REPO_ROOT / "autograder", env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode != 0 and "inside the course repository" in run.stdout + run.stderr
    assert not (REPO_ROOT / "grading").exists()
