"""LMS-ready grade files, written from the gradebook after review (formgrader's manual scores included).

* ``lms_grades.csv``: one row per student and assignment (student id, the name and LMS user id as the source gave
  them, late marker, points, status);
* ``canvas_grades.csv``: Canvas's gradebook-import layout (``Student, ID, SIS User ID, SIS Login ID, Section``,
  then one column per assignment, a ``Points Possible`` row), keyed on the Canvas user id (``ID``) taken from the
  submission file names; only students whose files came from Canvas are in it;
* ``lms_review.csv``: every submission whose total is left **empty** in both files because a part could not be
  graded and nobody has graded it by hand yet (Canvas leaves an empty cell unchanged on import: never a 0).
"""

from __future__ import annotations

import csv
from pathlib import Path

from autograder.results import SubmissionResult

CANVAS_FIXED = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]


def _fmt(value: float | None) -> str:
    return "" if value is None else f"{value:g}"


def totals(results: list[SubmissionResult], scores: dict) -> list[dict]:
    """One row per submission: total points after review, or None (and the parts left) when a part has none."""
    rows = []
    for r in results:
        parts = scores.get((r.student, r.assignment), {p.grade_id: p.points for p in r.parts})
        missing = [gid for gid, points in parts.items() if points is None]
        rows.append({"result": r, "points": None if missing else sum(parts.values()), "missing": missing})
    return rows


def write_lms_files(results: list[SubmissionResult], scores: dict, out: Path,
                    canvas_columns: dict[str, str] | None = None) -> list[dict]:
    """Write the three files; returns the rows that need review (empty totals)."""
    rows = totals(results, scores)
    out = Path(out)
    with open(out / "lms_grades.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["student", "name", "lms", "lms_id", "late", "assignment", "points", "max_points",
                         "status", "needs_review"])
        for row in rows:
            r = row["result"]
            writer.writerow([r.student, r.name, r.lms, r.lms_id, "late" if r.late else "", r.assignment,
                             _fmt(row["points"]), _fmt(r.max_points), r.status, "; ".join(row["missing"])])
    assignments = sorted({r.assignment for r in results})
    columns = {a: (canvas_columns or {}).get(a, a) for a in assignments}
    maximum = {r.assignment: r.max_points for r in results}
    by_student: dict[str, dict] = {}
    for row in rows:
        r = row["result"]
        if r.lms == "canvas" and r.lms_id:
            entry = by_student.setdefault(r.lms_id, {"name": r.name, "points": {}})
            entry["points"][r.assignment] = row["points"]
    with open(out / "canvas_grades.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(CANVAS_FIXED + [columns[a] for a in assignments])
        writer.writerow(["Points Possible", "", "", "", ""] + [_fmt(maximum[a]) for a in assignments])
        for lms_id, entry in sorted(by_student.items(), key=lambda item: int(item[0])):
            writer.writerow([entry["name"], lms_id, "", "", ""]
                            + [_fmt(entry["points"].get(a)) for a in assignments])
    review = [row for row in rows if row["points"] is None]
    with open(out / "lms_review.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["student", "name", "lms_id", "assignment", "parts_without_points", "status", "reason"])
        for row in review:
            r = row["result"]
            writer.writerow([r.student, r.name, r.lms_id, r.assignment, "; ".join(row["missing"]), r.status,
                             r.reason])
    return review
