"""The run's outputs that need no grading run: the final counts line and the exit status on a grader error, progress
lines in logs, the summary's class statistics and most common failures, and the similar-answers report."""

from __future__ import annotations

import io

import autograder.grade as grade
from autograder.executors import Progress, _save
from autograder.report import write_summary
from autograder.results import GRADER_ERROR, PartResult, SubmissionResult
from autograder.similarity import normalise, similar_groups

A = "01_mdps"


def result(student: str, points: list[float | None], status: str = "graded", messages=None, code=None,
           reason: str = "") -> SubmissionResult:
    parts = []
    for i, p in enumerate(points):
        message = (messages or {}).get(i, "")
        part_status = "passed" if p == 2 else ("not graded" if p is None else "failed")
        parts.append(PartResult(f"test_part{i}", 2.0, p, part_status, message))
    return SubmissionResult(student, A, status, reason, parts, code=code or {})


def test_final_line_counts_each_status_and_shouts_about_grader_errors():
    results = [result("a", [2, 2]), result("b", [2, 0]),
               result("c", [None, None], "could not be graded", reason="not valid notebook JSON"),
               result("d", [2, None], "partly graded", {1: f"{GRADER_ERROR}: KeyError('x')"})]
    line, errors = grade.run_summary(results)
    assert line.startswith("4 submissions: 2 graded, 1 partly graded, 1 could not be graded, 1 with a grader error")
    assert errors == 1 and "GRADER ERROR" in line and "d/01_mdps" in line
    assert grade.run_summary(results[:3])[1] == 0


def test_a_grader_error_makes_the_run_exit_non_zero(tmp_path, monkeypatch, capsys):
    subs = tmp_path / "subs"
    (subs / "alice").mkdir(parents=True)
    (subs / "alice" / f"{A}.ipynb").write_text('{"cells": []}')

    def fake_run_local(todo, out, limits, sandbox, workers, progress):
        for task in todo:
            broken = result(task.job.student, [None, None, None, None], "could not be graded",
                            {i: f"{GRADER_ERROR}: RuntimeError('boom')" for i in range(4)})
            broken.digest = task.digest
            _save(out, broken)

    monkeypatch.setattr(grade, "run_local", fake_run_local)
    monkeypatch.setattr(grade, "write_course", lambda *args: tmp_path / "gradebook.db")
    code = grade.main([str(subs), "--assignment", A, "--out", str(tmp_path / "out"), "--sandbox", "process"])
    printed = capsys.readouterr().out
    assert code == 1
    assert "1 with a grader error" in printed and "GRADER ERROR" in printed
    assert "sandbox: process (chosen with --sandbox)" in printed


def test_progress_prints_a_line_every_n_notebooks_with_an_eta_when_not_on_a_terminal(monkeypatch):
    monkeypatch.delenv("COURSE_PROGRESS", raising=False)
    stream = io.StringIO()
    progress = Progress(total=5, done=0, every=2, stream=stream)
    for i in range(5):
        progress.update(f"s{i}")
    lines = stream.getvalue().splitlines()
    assert [line.split(" notebooks")[0] for line in lines] == ["graded 2/5", "graded 4/5", "graded 5/5"]
    assert all("ETA" in line for line in lines)


def test_summary_has_mean_median_and_the_most_common_failure(tmp_path):
    wrong = "value_iteration: the values differ from the Bellman fixed point on n=3 states\nhint: ..."
    results = [result("a", [2, 2]), result("b", [2, 0], messages={1: wrong}),
               result("c", [0, 0], messages={0: "stub", 1: wrong.replace("n=3", "n=5")}),
               result("d", [None, None], "could not be graded")]
    text = write_summary(results, tmp_path)
    assert "Class mean 2.00 / 4, median 2 / 4 (over the 3 submissions with every part graded)" in text
    row = next(line for line in text.splitlines() if line.startswith("| test_part1 "))
    assert "2×: value_iteration: the values differ from the Bellman fixed point on n=# states" in row


CORRECT = '''
def value_iteration(P, R, gamma, tol):
    """Iterate the Bellman optimality backup."""
    import numpy as np
    V = np.zeros(P.shape[1])
    n = 0
    while True:
        Q = R + gamma * np.einsum("ast,t->sa", P, V)  # one backup
        V_new = Q.max(axis=1)
        n += 1
        if np.max(np.abs(V_new - V)) < tol:
            return V_new, n
        V = V_new
'''


def test_similar_answers_are_found_after_renaming_and_comments():
    renamed = (CORRECT.replace("V_new", "values").replace("Q", "q_table").replace("# one backup", "")
               .replace('"""Iterate the Bellman optimality backup."""', "# copied"))
    near = renamed.replace("n += 1", "n = n + 1")
    different = "def value_iteration(P, R, gamma, tol):\n    raise NotImplementedError()\n"
    assert normalise(CORRECT) == normalise(renamed)
    results = [SubmissionResult(s, A, "graded", code={"value_iteration": c})
               for s, c in (("ann", CORRECT), ("bob", renamed), ("cid", near), ("dee", different),
                            ("eve", "def value_iteration(P, R, gamma, tol):\n    return 0, 0\n"))]
    groups = similar_groups(results, {"value_iteration": different})
    kinds = {kind.split(" ")[0]: students for kind, students in groups["value_iteration"]}
    assert kinds["identical"] == ["ann", "bob"]
    assert set(kinds["near-identical"]) == {"ann", "bob", "cid"}
    assert all("dee" not in s and "eve" not in s for _, s in groups["value_iteration"])


def test_lms_files_key_canvas_on_the_user_id_and_leave_ungraded_totals_empty(tmp_path):
    from autograder.lms_export import write_lms_files

    graded, broken, folder = (result("smithjohn-1000", [2, 1.5]), result("broken-3000", [None, None],
                              "could not be graded", reason="not valid notebook JSON"), result("ann_b", [2, 2]))
    for r, lms, lms_id, late in ((graded, "canvas", "1000", True), (broken, "canvas", "3000", False),
                                 (folder, "folder", "", False)):
        r.lms, r.lms_id, r.name, r.late = lms, lms_id, r.student.split("-")[0], late
    results = [graded, broken, folder]
    scores = {(r.student, r.assignment): {p.grade_id: p.points for p in r.parts} for r in results}
    scores[("smithjohn-1000", A)]["test_part1"] = 2.0  # a manual score given in formgrader
    review = write_lms_files(results, scores, tmp_path, {A: "Homework 1 (12345)"})
    canvas = (tmp_path / "canvas_grades.csv").read_text().splitlines()
    assert canvas == ["Student,ID,SIS User ID,SIS Login ID,Section,Homework 1 (12345)",
                      "Points Possible,,,,,4", "smithjohn,1000,,,,4", "broken,3000,,,,"]
    generic = (tmp_path / "lms_grades.csv").read_text().splitlines()
    assert "smithjohn-1000,smithjohn,canvas,1000,late,01_mdps,4,4,graded," in generic
    assert "broken-3000,broken,canvas,3000,,01_mdps,,4,could not be graded,test_part0; test_part1" in generic
    assert [row["result"].student for row in review] == ["broken-3000"]
    assert "broken-3000" in (tmp_path / "lms_review.csv").read_text()


def test_every_sandbox_limit_can_be_set_from_the_command_line(tmp_path):
    """The time budget per submission and the scratch quota are flags like the other limits (README's table)."""
    from autograder.grade import limits_from, parse_args
    from autograder.sandbox import Limits

    _, args = parse_args([str(tmp_path), "--out", str(tmp_path / "out")])
    assert limits_from(args) == Limits()
    _, args = parse_args([str(tmp_path), "--out", str(tmp_path / "out"), "--submission-timeout", "45",
                          "--scratch-mb", "16", "--cell-timeout", "7", "--call-timeout", "3", "--memory-mb", "512"])
    limits = limits_from(args)
    assert (limits.submission_seconds, limits.scratch_bytes) == (45.0, 16 << 20)
    assert (limits.cell_seconds, limits.call_seconds, limits.memory_bytes) == (7.0, 3.0, 512 << 20)
