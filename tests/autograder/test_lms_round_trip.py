"""An LMS class end to end: a flat folder of Canvas files and student folders whose names normalise alike are graded
as distinct students with their LMS ids and late marker; formgrader opens every submission and a manual score
given through its API reaches the LMS grade file; a replaced notebook is graded again; --student regrades one."""

from __future__ import annotations

import csv
import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import nbformat
import pytest
from fixture_class import CHAPTER, notebook, wrong
from nbgrader.api import Gradebook

GRADE = [str(Path(sys.executable).parent / "course-grade")]
FAST_LIMITS = ["--cell-timeout", "8", "--call-timeout", "4", "--memory-mb", "2048", "--workers", "2"]
TOKEN = "formgrader-test-token"


def read_csv(path: Path) -> list[dict]:
    with open(path) as f:
        return list(csv.DictReader(f))


def run_grader(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*GRADE, *args], capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def lms_class(tmp_path_factory):
    root = tmp_path_factory.mktemp("lms")
    subs, out = root / "submissions", root / "out"
    subs.mkdir()
    nbformat.write(notebook(), subs / f"smithjohn_1000_52001_{CHAPTER}.ipynb")
    nbformat.write(notebook({"value_iteration": wrong("value_iteration")}),
                   subs / f"smithjohn_LATE_2000_52002_{CHAPTER}.ipynb")
    for folder, nb in (("ann b", notebook()), ("ann_b", notebook({"greedy_policy": wrong("greedy_policy")}))):
        (subs / folder).mkdir()
        nbformat.write(nb, subs / folder / f"{CHAPTER}.ipynb")
    (subs / f"broken_3000_52010_{CHAPTER}.ipynb").write_text('{"cells": [')
    args = [str(subs), "--assignment", CHAPTER, "--out", str(out), *FAST_LIMITS]
    first = run_grader(*args)
    assert first.returncode == 0, first.stdout[-2000:] + first.stderr[-3000:]
    return {"subs": subs, "out": out, "args": args, "log": first.stdout}


@pytest.mark.slow
def test_distinct_submitters_stay_distinct_with_their_lms_identity(lms_class):
    totals = {r["student"]: r for r in read_csv(lms_class["out"] / "totals.csv")}
    assert len(totals) == 5
    canvas = {r["lms_id"]: r for r in totals.values() if r["lms"] == "canvas"}
    assert set(canvas) == {"1000", "2000", "3000"}
    assert canvas["1000"]["points"] == "9.0" and canvas["2000"]["points"] == "6.0"
    assert canvas["2000"]["late"] == "late" and canvas["1000"]["late"] == ""
    folders = {r["name"]: r for r in totals.values() if r["lms"] == "folder"}
    assert set(folders) == {"ann b", "ann_b"}
    assert folders["ann b"]["points"] == "9.0" and folders["ann_b"]["points"] == "7.0"
    assert "kept apart" in folders["ann b"]["flags"]
    grades = read_csv(lms_class["out"] / "grades.csv")
    assert {r["lms_id"] for r in grades if r["lms"] == "canvas"} == {"1000", "2000", "3000"}
    assert "sandbox: " in lms_class["log"] and "0 with a grader error" in lms_class["log"]


@pytest.mark.slow
def test_ungradable_part_stays_empty_in_the_lms_files_and_is_listed(lms_class):
    out = lms_class["out"]
    canvas = read_csv(out / "canvas_grades.csv")
    assert list(canvas[0])[:5] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]
    rows = {r["ID"]: r for r in canvas if r["Student"] != "Points Possible"}
    assert rows["3000"][CHAPTER] == "" and rows["1000"][CHAPTER] == "9"
    generic = {r["student"]: r for r in read_csv(out / "lms_grades.csv")}
    assert generic["broken-3000"]["points"] == "" and "test_value_iteration" in generic["broken-3000"]["needs_review"]
    assert [r["student"] for r in read_csv(out / "lms_review.csv")] == ["broken-3000"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def request(url: str, method: str = "GET", body: dict | None = None) -> tuple[int, str]:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method,
                                 headers={"Authorization": f"token {TOKEN}", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=60) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode(errors="replace")


@pytest.fixture
def formgrader(lms_class, tmp_path):
    """nbgrader's formgrader (a Jupyter server on loopback) opened on the grading course folder."""
    course = lms_class["out"] / "course"
    port = free_port()
    env = {**os.environ, "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"), "JUPYTER_CONFIG_DIR": str(tmp_path)}
    server = subprocess.Popen([sys.executable, "-m", "jupyter_server", "--no-browser", "--allow-root",
                               f"--port={port}", "--ip=127.0.0.1", f"--IdentityProvider.token={TOKEN}",
                               f"--ServerApp.root_dir={course}", "--ServerApp.port_retries=0"],
                              cwd=course, env=env, stdout=subprocess.DEVNULL, stderr=open(tmp_path / "log", "w"))
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            try:
                if request(f"{base}/api/status")[0] == 200:
                    break
            except OSError:
                time.sleep(0.5)
        else:
            pytest.fail("formgrader did not start: " + (tmp_path / "log").read_text()[-2000:])
        yield base
    finally:
        server.terminate()
        server.wait(timeout=30)


@pytest.mark.slow
def test_formgrader_opens_submissions_and_manual_credit_reaches_the_lms_file(lms_class, formgrader):
    out = lms_class["out"]
    with Gradebook(f"sqlite:///{out / 'course' / 'gradebook.db'}") as gb:
        ids = {s.student_id: gb.find_submission_notebook(CHAPTER, CHAPTER, s.student_id).id
               for s in gb.assignment_submissions(CHAPTER)}
        late = gb.find_submission_notebook(CHAPTER, CHAPTER, "smithjohn-2000")
        grade_id = next(g.id for g in late.grades if g.name == "test_value_iteration")
        broken = gb.find_submission_notebook(CHAPTER, CHAPTER, "broken-3000")
        broken_grades = [g.id for g in broken.grades if g.max_score > 0]
    assert len(ids) == 5
    status, listing = request(f"{formgrader}/formgrader/api/submitted_notebooks/{CHAPTER}/{CHAPTER}")
    assert status == 200 and len(json.loads(listing)) == 5, "formgrader lists every submission"
    for student, submission in ids.items():
        status, page = request(f"{formgrader}/formgrader/submissions/{submission}/")
        assert status == 200, f"{student}: HTTP {status}: {page[-500:]}"
        assert "test_value_iteration" in page
    # partial credit for the failed part, and a grade for every part of the file that could not be read
    assert request(f"{formgrader}/formgrader/api/grade/{grade_id}", "PUT", {"manual_score": 1.5})[0] == 200
    for gid in broken_grades:
        assert request(f"{formgrader}/formgrader/api/grade/{gid}", "PUT", {"manual_score": 1})[0] == 200
    exported = run_grader("--export-only", "--assignment", CHAPTER, "--out", str(out))
    assert exported.returncode == 0, exported.stderr
    rows = {r["ID"]: r[CHAPTER] for r in read_csv(out / "canvas_grades.csv")}
    assert rows["2000"] == "7.5" and rows["3000"] == "4" and rows["1000"] == "9"
    assert read_csv(out / "lms_review.csv") == []
    # a rerun rebuilds the gradebook and keeps the manual scores of unchanged submissions
    rerun = run_grader(*lms_class["args"])
    assert rerun.returncode == 0 and "0 to grade" in rerun.stdout
    assert {r["ID"]: r[CHAPTER] for r in read_csv(out / "canvas_grades.csv")}["2000"] == "7.5"


@pytest.mark.slow
def test_a_replaced_notebook_is_graded_again_and_student_forces_a_regrade(lms_class):
    subs, out = lms_class["subs"], lms_class["out"]
    nbformat.write(notebook({"value_iteration": wrong("value_iteration")}),
                   subs / f"smithjohn_1000_52001_{CHAPTER}.ipynb")
    rerun = run_grader(*lms_class["args"])
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    assert "4 already graded, 1 to grade (1 changed" in rerun.stdout
    totals = {r["student"]: r for r in read_csv(out / "totals.csv")}
    assert totals["smithjohn-1000"]["points"] == "6.0", "the old grade was kept"
    forced = run_grader(*lms_class["args"], "--student", "ann_b", "--student", "2000")
    assert forced.returncode == 0 and "3 already graded, 2 to grade" in forced.stdout
    unknown = run_grader(*lms_class["args"], "--student", "nobody")
    assert unknown.returncode != 0 and "nobody" in unknown.stderr
