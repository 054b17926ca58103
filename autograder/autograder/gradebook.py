"""nbgrader's side of grading: the course folder ``OUT/course`` that formgrader opens, and its gradebook.

``write_course`` rebuilds ``gradebook.db`` from the saved results (the same database whatever the run history),
writes each student's ``submitted/`` notebook (the file as received) and ``autograded/`` notebook (the student's
cells, the source's test cells with the check's verdict as their output), so formgrader lists every submission and
an instructor can review it and give manual or partial credit. Manual scores and comments given in formgrader are
carried over to the rebuilt gradebook as long as the submission they were given for is unchanged (same digest),
and :func:`final_scores` reads them back (manual score first, then the grader's) for the LMS grade file.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import warnings
from pathlib import Path

import nbformat

from autograder.course import RELEASE_DIRECTORY, make_course
from autograder.results import PartStatus, SubmissionResult, SubmissionStatus

BASIS_FILE = "graded_digests.json"  # student/assignment -> digest of the submission the gradebook holds


def _gradebook(db: Path):
    from nbgrader.api import Gradebook

    return Gradebook(f"sqlite:///{db}")


def _manual_edits(course: Path) -> dict[tuple[str, str], dict]:
    """``(student, assignment) -> {"digest", "scores": {grade_id: manual}, "comments": {cell: text}}`` from the
    current gradebook, before it is rebuilt."""
    db, basis_file = course / "gradebook.db", course / BASIS_FILE
    if not db.exists() or not basis_file.exists():
        return {}
    basis = json.loads(basis_file.read_text())
    edits: dict[tuple[str, str], dict] = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with _gradebook(db) as gb:
            for assignment in gb.assignments:
                for submission in gb.assignment_submissions(assignment.name):
                    key = (submission.student_id, assignment.name)
                    entry = {"digest": basis.get(f"{key[0]}/{key[1]}"), "scores": {}, "comments": {}}
                    for notebook in submission.notebooks:
                        for grade in notebook.grades:
                            if grade.manual_score is not None or grade.extra_credit:
                                entry["scores"][grade.name] = (grade.manual_score, grade.extra_credit)
                        for comment in notebook.comments:
                            if comment.manual_comment:
                                entry["comments"][comment.name] = comment.manual_comment
                    if entry["scores"] or entry["comments"]:
                        edits[key] = entry
    return edits


def _test_output(status: str, message: str) -> list:
    if status == PartStatus.PASSED:
        return [nbformat.v4.new_output("stream", name="stdout", text=(message + "\n" if message else "") + status)]
    name = "AssertionError" if status == PartStatus.FAILED else "NotGraded"
    return [nbformat.v4.new_output("error", ename=name, evalue=message.splitlines()[0] if message else status,
                                   traceback=[f"{name}: {message or status}"])]


def autograded_notebook(result: SubmissionResult, release: Path, source: Path) -> nbformat.NotebookNode:
    """The notebook formgrader shows: the release notebook's cells (nbgrader metadata as in the gradebook) with the
    student's answers, the source's test cells with the verdict as output, then the student's other code."""
    nb = nbformat.read(release, as_version=4)
    source_tests = {c.metadata["nbgrader"]["grade_id"]: c.source for c in nbformat.read(source, as_version=4).cells
                    if c.metadata.get("nbgrader", {}).get("grade")}
    parts = {p.grade_id: p for p in result.parts}
    answered = dict(result.code)
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        gid = meta.get("grade_id")
        if cell.cell_type != "code":
            continue
        if meta.get("solution") and gid in answered:
            cell.source = answered.pop(gid)
        elif meta.get("grade") and gid in parts:
            cell.source = source_tests.get(gid, cell.source)
            cell.outputs = _test_output(parts[gid].status, parts[gid].message)
    if result.status != SubmissionStatus.GRADED and result.reason:
        nb.cells.insert(0, nbformat.v4.new_markdown_cell(f"**{result.status}:** {result.reason}"))
    release_code = {c.source.strip() for c in nb.cells if c.cell_type == "code"}
    answered = {label: src for label, src in answered.items() if src.strip() and src.strip() not in release_code}
    if answered:  # the student's other cells (helpers, extra code): shown for review, not marked
        nb.cells.append(nbformat.v4.new_markdown_cell("**The student's other code cells:**"))
        nb.cells += [nbformat.v4.new_code_cell(src) for src in answered.values()]
    for cell in nb.cells:
        cell.pop("id", None)
    nbformat.validator.normalize(nb)
    return nb


def _fresh_gradebook(course: Path, names: list[str], sources: list[Path]) -> None:
    """``course/gradebook.db`` holding the released assignments and no submission. ``generate_assignment`` runs
    only when the source notebooks changed; otherwise a saved copy of its empty gradebook is reused."""
    digest = hashlib.sha256(json.dumps(names).encode())
    for source in sources:
        digest.update(Path(source).read_bytes())
    stamp, template = course / ".empty-gradebook.sha256", course / ".empty-gradebook.db"
    released = all((course / RELEASE_DIRECTORY / n / f"{n}.ipynb").exists() for n in names)
    if released and template.exists() and stamp.exists() and stamp.read_text() == digest.hexdigest():
        shutil.copyfile(template, course / "gradebook.db")
        return
    make_course(course, names)
    shutil.copyfile(course / "gradebook.db", template)
    stamp.write_text(digest.hexdigest())


def write_course(results: list[SubmissionResult], out: Path, names: list[str],
                 submitted: dict[tuple[str, str], str | None]) -> Path:
    """Rebuild ``OUT/course`` (config, release, gradebook, submitted/ and autograded/ notebooks); returns the db."""
    from autograder.course import assignments

    course = Path(out) / "course"
    edits = _manual_edits(course)
    db = course / "gradebook.db"
    if db.exists():
        db.unlink()
    for step in ("submitted", "autograded"):
        for name in names:
            for folder in (course / step).glob(f"*/{name}"):
                shutil.rmtree(folder)
    known = assignments()
    _fresh_gradebook(course, names, [known[n].source for n in names])
    basis = {}
    with warnings.catch_warnings(), _gradebook(db) as gb:
        warnings.simplefilter("ignore")  # nbgrader's own SQLAlchemy warnings
        for r in results:
            notebook = known[r.assignment].source.stem
            student_kwargs = {"last_name": r.name or r.student}
            if r.lms_id:
                student_kwargs["lms_user_id"] = r.lms_id
            gb.update_or_create_student(r.student, **student_kwargs)
            gb.add_submission(r.assignment, r.student)
            carried = edits.get((r.student, r.assignment))
            if carried and carried["digest"] != r.digest:
                carried = None  # a new submission: earlier manual grades do not apply to it
            for part in r.parts:
                grade = gb.find_grade(part.grade_id, notebook, r.assignment, r.student)
                grade.auto_score = part.points
                grade.needs_manual_grade = part.points is None
                if carried and part.grade_id in carried["scores"]:
                    grade.manual_score, grade.extra_credit = carried["scores"][part.grade_id]
                    grade.needs_manual_grade = False
            if carried:
                for cell, text in carried["comments"].items():
                    gb.find_comment(cell, notebook, r.assignment, r.student).manual_comment = text
            basis[f"{r.student}/{r.assignment}"] = r.digest
            folder = Path(r.student) / r.assignment
            path = submitted.get((r.student, r.assignment))
            (course / "submitted" / folder).mkdir(parents=True, exist_ok=True)
            if path and Path(path).is_file():
                shutil.copyfile(path, course / "submitted" / folder / f"{notebook}.ipynb")
            release = course / RELEASE_DIRECTORY / r.assignment / f"{notebook}.ipynb"
            (course / "autograded" / folder).mkdir(parents=True, exist_ok=True)
            nbformat.write(autograded_notebook(r, release, known[r.assignment].source),
                           course / "autograded" / folder / f"{notebook}.ipynb")
        gb.db.commit()
    (course / BASIS_FILE).write_text(json.dumps(basis, indent=1, sort_keys=True))
    return db


def final_scores(out: Path, results: list[SubmissionResult]) -> dict[tuple[str, str], dict[str, float | None]]:
    """``(student, assignment) -> {grade_id: points}`` after review: formgrader's manual score where one was given,
    else the grader's; None where neither exists (the part still needs a person)."""
    db = Path(out) / "course" / "gradebook.db"
    scores = {(r.student, r.assignment): {p.grade_id: p.points for p in r.parts} for r in results}
    if not db.exists():
        return scores
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with _gradebook(db) as gb:
            for (student, assignment), parts in scores.items():
                try:
                    submission = gb.find_submission(assignment, student)
                except Exception:  # not in the gradebook (an older run): the grader's scores stand
                    continue
                for notebook in submission.notebooks:
                    for grade in notebook.grades:
                        if grade.name in parts and grade.manual_score is not None:
                            parts[grade.name] = float(grade.manual_score) + float(grade.extra_credit or 0)
    return scores
