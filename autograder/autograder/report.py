"""Grading outputs: per-question CSV with a status column, totals, feedback HTML per student, summary + histogram."""

from __future__ import annotations

import csv
import html
import statistics
from collections import Counter
from pathlib import Path

from autograder.results import PartStatus, SubmissionResult, SubmissionStatus
from autograder.similarity import similar_groups

IDENTITY_COLUMNS = ["student", "name", "lms", "lms_id", "late"]
PART_COLUMNS = [*IDENTITY_COLUMNS, "assignment", "part", "points", "max_points", "part_status", "submission_status",
                "reason", "flags", "message"]
TOTAL_COLUMNS = [*IDENTITY_COLUMNS, "assignment", "points", "max_points", "status", "reason", "flags"]


def _identity(r: SubmissionResult) -> list:
    return [r.student, r.name, r.lms, r.lms_id, "late" if r.late else ""]


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else ""


def write_csvs(results: list[SubmissionResult], out: Path) -> None:
    """``grades.csv`` (one row per question) and ``totals.csv`` (one row per student and assignment).

    ``points`` is empty, never 0, when a question could not be graded; ``part_status`` then says so. The
    identity columns keep what the source said: the name, the LMS and its user id, and the late marker.
    """
    with open(out / "grades.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(PART_COLUMNS)
        for r in results:
            for p in r.parts:
                writer.writerow([*_identity(r), r.assignment, p.grade_id, "" if p.points is None else p.points,
                                 p.max_points, p.status, r.status, r.reason, "; ".join(r.flags), p.message])
    with open(out / "totals.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(TOTAL_COLUMNS)
        for r in results:
            ungraded = r.status != SubmissionStatus.GRADED and all(p.points is None for p in r.parts)
            writer.writerow([*_identity(r), r.assignment, "" if ungraded else r.points, r.max_points, r.status,
                             r.reason, "; ".join(r.flags)])


_STYLE = """
body { font-family: system-ui, sans-serif; max-width: 60rem; margin: 2rem auto; line-height: 1.45; color: #222; }
h1 { font-size: 1.5rem; } .passed { color: #17692e; } .failed { color: #a31515; } .notgraded { color: #8a5a00; }
pre { background: #f5f5f5; padding: .75rem; overflow-x: auto; border-radius: 4px; }
table { border-collapse: collapse; } td, th { padding: .3rem .8rem; border-bottom: 1px solid #ddd; text-align: left; }
.flag { background: #fff6e0; padding: .5rem .75rem; border-left: 4px solid #e0a000; }
"""


def feedback_html(result: SubmissionResult) -> str:
    esc = html.escape
    total = "—" if result.status == SubmissionStatus.UNGRADABLE else f"{result.points:g} / {result.max_points:g}"
    rows, details = [], []
    for p in result.parts:
        css = p.status.replace(" ", "")
        score = "—" if p.points is None else f"{p.points:g}"
        rows.append(f"<tr><td>{esc(p.grade_id)}</td><td class='{css}'>{esc(p.status)}</td>"
                    f"<td>{score} / {p.max_points:g}</td></tr>")
        details.append(f"<h3 class='{css}'>{esc(p.grade_id)}: {esc(p.status)}</h3><pre>{esc(p.message)}</pre>")
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>{esc(result.assignment)} — "
             f"{esc(result.student)}</title><style>{_STYLE}</style></head><body>",
             f"<h1>{esc(result.assignment)}: feedback for {esc(result.student)}</h1>",
             f"<p><b>Score:</b> {total} &nbsp; <b>Status:</b> {esc(result.status)}</p>"]
    if result.reason:
        parts.append(f"<p class='flag'>{esc(result.reason)}</p>")
    parts.append("<table><tr><th>question</th><th>result</th><th>points</th></tr>" + "".join(rows) + "</table>")
    parts += details
    if result.cell_notes:
        parts.append("<h2>Cells that failed to run</h2><pre>" + esc("\n".join(result.cell_notes)) + "</pre>")
    if result.output:
        parts.append("<h2>Your notebook's output while grading</h2><pre>" + esc(result.output[-4000:]) + "</pre>")
    return "".join(parts) + "</body></html>"


def write_feedback(results: list[SubmissionResult], out: Path) -> None:
    for r in results:
        folder = out / "feedback" / r.student
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{r.assignment}.html").write_text(feedback_html(r))


def _failure_key(message: str) -> str:
    """The first line of a failure message, numbers blanked, so that the same failure on other inputs counts once."""
    import re

    return re.sub(r"-?\d+(\.\d+)?(e-?\d+)?", "#", _first_line(message))[:160]


def class_statistics(group: list[SubmissionResult]) -> str:
    """Mean and median total over the submissions with every part graded."""
    totals = [r.points for r in group if r.complete and r.status != SubmissionStatus.UNGRADABLE]
    if not totals:
        return "No submission has every part graded yet."
    maximum = group[0].max_points
    return (f"Class mean {statistics.mean(totals):.2f} / {maximum:g}, median {statistics.median(totals):g} / "
            f"{maximum:g} (over the {len(totals)} submissions with every part graded).")


def write_summary(results: list[SubmissionResult], out: Path, stubs: dict[str, dict[str, str]] | None = None) -> str:
    """``summary.md`` (status counts, mean and median, per-question pass rates and most common failure, flags,
    similar answers) and ``grade_histogram.png``. ``stubs``: assignment -> answer cell id -> the release's stub."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    lines = ["# Grading summary", ""]
    by_assignment: dict[str, list[SubmissionResult]] = {}
    for r in results:
        by_assignment.setdefault(r.assignment, []).append(r)
    fig, axes = plt.subplots(1, max(1, len(by_assignment)), figsize=(4.5 * max(1, len(by_assignment)), 3.2),
                             squeeze=False)
    for ax, (assignment, group) in zip(axes[0], sorted(by_assignment.items()), strict=False):
        statuses = Counter(str(r.status) for r in group)
        lines += [f"## {assignment}", "", f"{len(group)} submissions: "
                  + ", ".join(f"{n} {s}" for s, n in sorted(statuses.items())), "", class_statistics(group), "",
                  "| question | passed | failed | not graded | pass rate | most common failure |",
                  "|---|---|---|---|---|---|"]
        part_ids = list(dict.fromkeys(p.grade_id for r in group for p in r.parts))
        for gid in part_ids:
            mine = [p for r in group for p in r.parts if p.grade_id == gid]
            counts = Counter(p.status for p in mine)
            graded = counts[PartStatus.PASSED] + counts[PartStatus.FAILED]
            rate = f"{100 * counts[PartStatus.PASSED] / graded:.0f}%" if graded else "—"
            failures = Counter(_failure_key(p.message) for p in mine if p.status == PartStatus.FAILED)
            common = ""
            if failures:
                text, n = failures.most_common(1)[0]
                common = f"{n}×: {text}".replace("|", "\\|")
            lines.append(f"| {gid} | {counts[PartStatus.PASSED]} | {counts[PartStatus.FAILED]} | "
                         f"{counts[PartStatus.NOT_GRADED]} | {rate} | {common} |")
        flagged = [r for r in group if r.flags or r.status != SubmissionStatus.GRADED]
        if flagged:
            lines += ["", "For review:", ""]
            lines += [f"- **{r.student}** ({r.status}{': ' + r.reason if r.reason else ''}): "
                      + "; ".join(r.flags) for r in flagged]
        groups = similar_groups(group, (stubs or {}).get(assignment, {}))
        lines += ["", "Similar answers (normalised code; for review, not proof of anything):", ""]
        if not groups:
            lines.append("- none found")
        for part, found in groups.items():
            lines += [f"- **{part}**: {kind}: {', '.join(students)}" for kind, students in found]
        lines.append("")
        totals = [r.points for r in group if r.status != SubmissionStatus.UNGRADABLE]
        maximum = group[0].max_points or 1
        ax.hist(totals, bins=min(20, max(5, int(maximum) + 1)), range=(0, maximum), color="#3b6ea8")
        ax.set_title(f"{assignment} ({len(totals)} graded)")
        ax.set_xlabel("points")
        ax.set_ylabel("students")
    fig.tight_layout()
    fig.savefig(out / "grade_histogram.png", dpi=120)
    plt.close(fig)
    text = "\n".join(lines)
    (out / "summary.md").write_text(text)
    return text
