"""The instructor command on a synthetic class: every student gets the expected status and score, hostile code
reaches nothing, an interrupted run resumes to the same gradebook, and submitit shards merge into one."""

from __future__ import annotations

import csv
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from fixture_class import CHAPTER, POINTS, build_class
from nbgrader.api import Gradebook

GRADE = [str(Path(sys.executable).parent / "course-grade")]
FAST_LIMITS = ["--cell-timeout", "8", "--call-timeout", "4", "--memory-mb", "2048"]


class ConnectionProbe:
    """A loopback TCP server that counts the connections it receives."""

    def __init__(self):
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.connections = 0
        self.server.settimeout(0.2)
        self.running = True
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while self.running:
            try:
                conn, _ = self.server.accept()
                self.connections += 1
                conn.close()
            except OSError:
                continue

    def close(self):
        self.running = False
        self.thread.join()
        self.server.close()


def read_csv(path: Path) -> list[dict]:
    with open(path) as f:
        return list(csv.DictReader(f))


def gradebook_scores(out: Path) -> dict:
    with Gradebook(f"sqlite:///{out / 'course' / 'gradebook.db'}") as gb:
        return {(s.student_id, g.name): g.score for s in gb.assignment_submissions(CHAPTER)
                for nb in s.notebooks for g in nb.grades}


def run_grader(*args: str, timeout: float = 900) -> subprocess.CompletedProcess:
    return subprocess.run([*GRADE, *args], capture_output=True, text=True, timeout=timeout)


def start_then_kill(args: list[str], results: Path, after: int) -> None:
    """Start the grader and SIGKILL its whole process group once ``after`` results are saved."""
    process = subprocess.Popen([*GRADE, *args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               start_new_session=True)
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline and process.poll() is None:
        if len(list(results.glob("*.json"))) >= after:
            break
        time.sleep(0.1)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()


@pytest.fixture(scope="module")
def graded_class(tmp_path_factory):
    root = tmp_path_factory.mktemp("class")
    out = root / "out"
    (out / "course").mkdir(parents=True)
    secret = out / "course" / "gradebook.db"
    secret.write_text("earlier gradebook")  # a hostile submission tries to read it
    probe = ConnectionProbe()
    probes = {"write": root / "outside" / "pwned.txt", "gradebook": secret, "port": probe.port,
              "result": out / "results" / CHAPTER / "fake_grade_file.json"}
    probes["write"].parent.mkdir()
    expected = build_class(root / "submissions", probes)
    args = [str(root / "submissions"), "--assignment", CHAPTER, "--out", str(out), "--workers", "2", *FAST_LIMITS]
    # Interrupt the first run hard, part-way; the second run must resume and finish the class.
    start_then_kill(args, out / "results" / CHAPTER, after=8)
    partial = len(list((out / "results" / CHAPTER).glob("*.json")))
    resumed = run_grader(*args)
    probe.close()
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    return {"out": out, "expected": expected, "probes": probes, "probe": probe, "partial": partial,
            "log": resumed.stdout}


@pytest.mark.slow
def test_class_has_at_least_25_students_covering_bad_inputs_and_cheats(graded_class):
    assert len(graded_class["expected"]) >= 25


@pytest.mark.slow
def test_every_student_gets_the_expected_status_and_points(graded_class):
    out, expected = graded_class["out"], graded_class["expected"]
    rows = read_csv(out / "grades.csv")
    totals = {r["student"]: r for r in read_csv(out / "totals.csv")}
    assert set(totals) == set(expected)
    problems = []
    for student, exp in expected.items():
        if totals[student]["status"] != exp.status:
            problems.append(f"{student}: status {totals[student]['status']!r}, expected {exp.status!r}")
        for part, points in exp.points.items():
            row = next(r for r in rows if r["student"] == student and r["part"] == f"test_{part}")
            got = None if row["points"] == "" else float(row["points"])
            if got != points:
                problems.append(f"{student}/{part}: {got} points, expected {points} ({row['message'][:120]})")
            if points is None:
                assert row["part_status"] == "not graded" and totals[student]["points"] == ""
        for flag in exp.flags:
            if flag not in totals[student]["flags"]:
                problems.append(f"{student}: flag {flag!r} missing from {totals[student]['flags']!r}")
    assert not problems, "\n".join(problems)


@pytest.mark.slow
def test_hostile_code_reached_nothing(graded_class):
    probes = graded_class["probes"]
    assert not probes["write"].exists()
    assert graded_class["probe"].connections == 0
    assert probes["gradebook"].exists()  # rebuilt by the trusted side, not by the student
    fake = json.loads(probes["result"].read_text())
    assert fake["student"] == "fake_grade_file" and all(p["points"] == 0 for p in fake["parts"])


@pytest.mark.slow
def test_resumed_run_skipped_finished_students_and_wrote_every_output(graded_class):
    out = graded_class["out"]
    assert 0 < graded_class["partial"] < len(graded_class["expected"])
    assert f"{graded_class['partial']} already graded" in graded_class["log"]
    for student in graded_class["expected"]:
        assert (out / "feedback" / student / f"{CHAPTER}.html").exists()
    assert (out / "grade_histogram.png").stat().st_size > 0
    summary = (out / "summary.md").read_text()
    assert "pass rate" in summary and "For review" in summary
    scores = gradebook_scores(out)
    assert scores[("correct", "test_value_iteration")] == POINTS["value_iteration"]
    assert scores[("buggy", "test_value_iteration")] == 0


@pytest.mark.slow
def test_feedback_teaches(graded_class):
    page = (graded_class["out"] / "feedback" / "partly_buggy" / f"{CHAPTER}.html").read_text()
    assert "value_iteration" in page and "expected" in page and "hint" in page


@pytest.mark.slow
def test_interrupted_and_sharded_runs_match_an_uninterrupted_one(graded_class, tmp_path):
    """Same gradebook whether the run was uninterrupted, killed and resumed, or split into submitit shards."""
    source = graded_class["out"].parent / "submissions"
    subset = tmp_path / "subset"
    for student in ("correct", "buggy", "partly_buggy", "invalid_json", "os_exit", "alternative0"):
        (subset / student).mkdir(parents=True)
        for f in (source / student).iterdir():
            (subset / student / f.name).write_bytes(f.read_bytes())
    common = [str(subset), "--assignment", CHAPTER, *FAST_LIMITS]
    straight = tmp_path / "straight"
    assert run_grader(*common, "--out", str(straight), "--workers", "1").returncode == 0
    interrupted = tmp_path / "interrupted"
    start_then_kill([*common, "--out", str(interrupted), "--workers", "1"], interrupted / "results" / CHAPTER, 2)
    assert run_grader(*common, "--out", str(interrupted), "--workers", "1").returncode == 0
    sharded = tmp_path / "sharded"
    result = run_grader(*common, "--out", str(sharded), "--executor", "submitit-local", "--shards", "2")
    assert result.returncode == 0, result.stderr[-3000:]
    reference = gradebook_scores(straight)
    assert len(reference) == 6 * len(POINTS)
    for other in (interrupted, sharded):
        assert gradebook_scores(other) == reference
        assert read_csv(other / "grades.csv") == read_csv(straight / "grades.csv")

