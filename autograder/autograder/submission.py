"""Read a submitted notebook defensively and compare it with the assignment's source notebook.

Nothing in a submission is trusted: its test cells are never run (the source's are), and its nbgrader
metadata only serves to report tampering. A file that cannot be read as a notebook is "could not be graded",
with the reason, never a silent zero.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

MAX_NOTEBOOK_BYTES = 20 * 2**20

# Patterns worth an instructor's look. They do not change the score: the sandbox and the trusted checks
# already make these attempts useless; the report lists them so that intent is visible.
SUSPICIOUS = {
    r"\breference_impl\b": "imports the reference implementation",
    r"gradebook|\.nbgrader|autograded|/solutions\b|HIDDEN TESTS": "looks for grading files or hidden tests",
    r"\bbuiltins\b|__builtins__": "touches builtins",
    r"def\s+__eq__|__array__": "defines __eq__/__array__ (always-equal objects?)",
    r"(numpy\.testing|np\.testing|torch\.allclose|autograder)[\w.]*\s*=(?!=)|setattr\(\s*(np|numpy|torch|autograder)":
        "monkeypatches numpy, torch or the checks",
    r"os\._exit|os\.kill|signal\.|os\.fork|subprocess|socket": "uses process, signal or network calls",
}


class UnreadableSubmission(ValueError):
    """The file is not a notebook we can grade; the message says why."""


@dataclass
class ReadNotebook:
    cells: list  # code cells to run in the sandbox, in order: [(label, source)]
    flags: list[str] = field(default_factory=list)
    empty: bool = False
    # test grade_id -> how many of ``cells`` come before it in the notebook: the test sees the state there, as
    # when the notebook runs top to bottom (a deleted test cell sees every cell)
    test_positions: dict[str, int] = field(default_factory=dict)


def _grade_cells(nb) -> dict[str, dict]:
    return {c.metadata["nbgrader"]["grade_id"]: c for c in nb.cells
            if c.metadata.get("nbgrader", {}).get("grade") and "grade_id" in c.metadata.get("nbgrader", {})}


def read_submission(path: Path, source: Path, release: Path | None = None) -> ReadNotebook:
    """Parse ``path``; list the code cells to run and the flags for review. Raises :class:`UnreadableSubmission`."""
    path = Path(path)
    if not path.is_file():
        raise UnreadableSubmission("no notebook submitted")
    size = path.stat().st_size
    if size == 0:
        raise UnreadableSubmission("the submitted file is empty (0 bytes)")
    if size > MAX_NOTEBOOK_BYTES:
        raise UnreadableSubmission(f"the file is {size / 2**20:.0f} MiB, over the {MAX_NOTEBOOK_BYTES >> 20} MiB limit")
    try:
        raw = json.loads(path.read_bytes())
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise UnreadableSubmission(f"not valid notebook JSON ({error.__class__.__name__}: {error})") from None
    if not isinstance(raw, dict) or not isinstance(raw.get("cells"), list):
        raise UnreadableSubmission("the file is JSON but not a Jupyter notebook (no list of cells)")
    try:
        nb = nbformat.from_dict(raw)
        if nb.get("nbformat", 4) < 4:
            nb = nbformat.convert(nb, 4)
        cells = [c for c in nb.cells if isinstance(c, dict) and isinstance(c.get("source", ""), str | list)]
    except Exception as error:  # malformed structure deep inside
        raise UnreadableSubmission(f"the notebook structure is damaged ({error})") from None
    for cell in cells:
        if isinstance(cell.get("source"), list):
            cell["source"] = "".join(cell["source"])
        cell.setdefault("metadata", {})

    source_nb = nbformat.read(source, as_version=4)
    reference_nb = nbformat.read(release, as_version=4) if release and Path(release).exists() else source_nb
    expected_tests = _grade_cells(reference_nb)
    accepted = {gid: {cell.source.strip()} for gid, cell in expected_tests.items()}
    for gid, cell in _grade_cells(source_nb).items():
        accepted.setdefault(gid, set()).add(cell.source.strip())
    flags: list[str] = []

    seen: dict[str, int] = {}
    for cell in cells:
        grade_id = cell["metadata"].get("nbgrader", {}).get("grade_id")
        if grade_id:
            seen[grade_id] = seen.get(grade_id, 0) + 1
    flags += [f"nbgrader metadata duplicated: {gid} appears {n} times" for gid, n in seen.items() if n > 1]

    submitted_tests = {}
    for cell in cells:
        meta = cell["metadata"].get("nbgrader", {})
        gid = meta.get("grade_id")
        if gid in expected_tests:
            submitted_tests.setdefault(gid, cell)
    order = [gid for gid in (c["metadata"].get("nbgrader", {}).get("grade_id") for c in cells) if gid in expected_tests]
    for gid, original in expected_tests.items():
        cell = submitted_tests.get(gid)
        if cell is None:
            flags.append(f"test cell {gid} was deleted or its metadata stripped (the original test was run)")
            continue
        if cell["source"].strip() not in accepted[gid]:
            flags.append(f"test cell {gid} was edited (the original test was run)")
        points = cell["metadata"].get("nbgrader", {}).get("points")
        if points != original.metadata["nbgrader"].get("points"):
            flags.append(f"points of {gid} changed to {points!r} (the original points were used)")
    if order != [gid for gid in expected_tests if gid in submitted_tests] and len(set(order)) == len(order):
        flags.append("test cells were reordered (the original order was used)")

    to_run = []
    test_positions: dict[str, int] = {}
    for index, cell in enumerate(cells):
        if cell.get("cell_type") != "code":
            continue
        meta = cell["metadata"].get("nbgrader", {})
        if meta.get("grade_id") in expected_tests or (meta.get("grade") and not meta.get("solution")):
            test_positions.setdefault(meta.get("grade_id"), len(to_run))
            continue  # test cells: the trusted grader runs the source's version instead
        label = meta.get("grade_id") or f"cell {index + 1}"
        to_run.append((label, cell["source"]))

    student_code = "\n".join(source for _, source in to_run)
    for pattern, what in SUSPICIOUS.items():
        if re.search(pattern, student_code):
            flags.append(f"for review: the code {what}")

    solutions = {c.metadata["nbgrader"]["grade_id"]: c.source for c in reference_nb.cells
                 if c.metadata.get("nbgrader", {}).get("solution")}
    answered = {c["metadata"].get("nbgrader", {}).get("grade_id"): c["source"] for c in cells
                if c["metadata"].get("nbgrader", {}).get("solution")}
    empty = all(answered.get(gid, stub).strip() == stub.strip() for gid, stub in solutions.items())
    if release is None:
        empty = False
    if empty:
        flags.append("empty submission: no answer cell was changed")
    return ReadNotebook(to_run, flags, empty, test_positions)
