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

MAX_FILE_BYTES = 256 * 2**20  # a file larger than this is not read at all
MAX_CODE_BYTES = 8 * 2**20  # the code cells' text, once outputs (never graded) are dropped

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


def _nbgrader(cell: dict) -> dict:
    meta = cell.get("metadata", {}).get("nbgrader", {})
    return meta if isinstance(meta, dict) else {}


def _not_a_notebook(data: bytes, error: Exception) -> str:
    """One sentence for a file that is not notebook JSON, naming what it looks like when that is clear."""
    kinds = {b"%PDF": "a PDF document", b"PK": "a zip archive (or a Word/OpenOffice document)",
             b"\x89PNG": "a PNG image", b"\xff\xd8": "a JPEG image"}
    kind = next((what for magic, what in kinds.items() if data.startswith(magic)), None)
    head = data[:200].lstrip().lower()
    if kind is None and head.startswith((b"<!doctype html", b"<html")):
        kind = "an HTML page (a notebook exported as HTML?)"
    if kind is None and (head.startswith((b"import ", b"from ", b"def ", b"#")) or b"\ndef " in data[:4000]):
        kind = "a Python script"
    what = f"this file is {kind}, not a Jupyter notebook" if kind else "this file is not a Jupyter notebook"
    detail = "" if kind else f" (it is not valid notebook JSON: {str(error)[:80]})"
    return (f"{what}{detail}; submit the .ipynb file itself (in Jupyter: File > Download, or the file "
            "under exercises/)")


def parse_notebook(path: Path) -> list[dict]:
    """The submitted notebook's cells (outputs dropped: they are never graded), as plain dicts with a string
    ``source`` and a ``metadata`` dict. Raises :class:`UnreadableSubmission` with a sentence saying why not."""
    path = Path(path)
    if not path.is_file():
        raise UnreadableSubmission("no notebook submitted")
    size = path.stat().st_size
    if size == 0:
        raise UnreadableSubmission("the submitted file is empty (0 bytes)")
    if size > MAX_FILE_BYTES:
        raise UnreadableSubmission(f"the file is {size / 2**20:.0f} MiB, over the {MAX_FILE_BYTES >> 20} MiB limit")
    data = path.read_bytes()
    try:
        raw = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise UnreadableSubmission(_not_a_notebook(data, error)) from None
    if not isinstance(raw, dict) or not isinstance(raw.get("cells"), list):
        raise UnreadableSubmission("this file is JSON but not a Jupyter notebook (it has no list of cells); "
                                   "submit the .ipynb file itself")
    for cell in raw["cells"]:
        if isinstance(cell, dict):
            cell.pop("outputs", None)  # outputs are never graded and may be huge: drop them before any limit
            cell.pop("attachments", None)
            if cell.get("cell_type") == "code":
                cell["outputs"], cell["execution_count"] = [], None
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
        if not isinstance(cell.get("metadata"), dict):
            cell["metadata"] = {}
    code = sum(len(c.get("source", "").encode()) for c in cells if c.get("cell_type") == "code")
    if code > MAX_CODE_BYTES:
        raise UnreadableSubmission(f"the notebook holds {code / 2**20:.0f} MiB of code, over the "
                                   f"{MAX_CODE_BYTES >> 20} MiB limit")
    return cells


def find_test_cells(cells: list[dict], reference_nb, source_nb) -> tuple[dict[int, str], list[str]]:
    """Which submitted cells are the assignment's test cells (by nbgrader id, else by unchanged content when the
    metadata was stripped) and the flags comparing them with the originals: ``({cell index: grade_id}, flags)``."""
    expected = _grade_cells(reference_nb)
    accepted = {gid: {cell.source.strip()} for gid, cell in expected.items()}
    for gid, cell in _grade_cells(source_nb).items():
        accepted.setdefault(gid, set()).add(cell.source.strip())
    flags: list[str] = []
    seen: dict[str, int] = {}
    for cell in cells:
        if gid := _nbgrader(cell).get("grade_id"):
            seen[gid] = seen.get(gid, 0) + 1
    flags += [f"nbgrader metadata duplicated: {gid} appears {n} times" for gid, n in seen.items() if n > 1]

    tests: dict[int, str] = {}
    for index, cell in enumerate(cells):
        gid = _nbgrader(cell).get("grade_id")
        if gid in expected and gid not in tests.values():
            tests[index] = gid
    for index, cell in enumerate(cells):  # metadata stripped: recognise an unchanged test cell by its text
        if index in tests or _nbgrader(cell) or cell.get("cell_type") != "code":
            continue
        gid = next((g for g in expected if g not in tests.values() and cell["source"].strip() in accepted[g]), None)
        if gid:
            tests[index] = gid
    by_id = {gid: cells[index] for index, gid in tests.items()}
    for gid, original in expected.items():
        cell = by_id.get(gid)
        if cell is None or _nbgrader(cell).get("grade_id") != gid:
            found = " (found by its content)" if cell is not None else ""
            flags.append(f"test cell {gid} was deleted or its metadata stripped{found} (the original test was run)")
            continue
        if cell["source"].strip() not in accepted[gid]:
            flags.append(f"test cell {gid} was edited (the original test was run)")
        points = _nbgrader(cell).get("points")
        if points != original.metadata["nbgrader"].get("points"):
            flags.append(f"points of {gid} changed to {points!r} (the original points were used)")
    order = [tests[i] for i in sorted(tests)]
    if order != [gid for gid in expected if gid in by_id] and len(set(order)) == len(order):
        flags.append("test cells were reordered (the original order was used)")
    return tests, flags


def runnable_cells(cells: list[dict], tests: dict[int, str]) -> tuple[list[tuple[str, str]], dict[str, int]]:
    """The code cells to run in the sandbox, in order, as ``[(label, source)]`` (test cells excluded: the trusted
    grader runs the source's version), and for each test how many of them come before it."""
    to_run: list[tuple[str, str]] = []
    positions: dict[str, int] = {}
    for index, cell in enumerate(cells):
        if cell.get("cell_type") != "code":
            continue
        meta = _nbgrader(cell)
        if index in tests or (meta.get("grade") and not meta.get("solution")):
            positions.setdefault(tests.get(index, meta.get("grade_id")), len(to_run))
            continue
        to_run.append((meta.get("grade_id") or f"cell {index + 1}", cell["source"]))
    return to_run, positions


def review_flags(to_run: list[tuple[str, str]], release_nb) -> tuple[list[str], bool]:
    """Flags for an instructor's look (suspicious patterns; an empty submission) and whether it is empty.

    Empty means no code was written: every code cell that would run is unchanged from the released notebook
    (compared by content, so a notebook whose metadata was stripped is judged the same way)."""
    student_code = "\n".join(source for _, source in to_run)
    flags = [f"for review: the code {what}" for pattern, what in SUSPICIOUS.items() if re.search(pattern, student_code)]
    empty = False
    if release_nb is not None:
        released = {c.source.strip() for c in release_nb.cells if c.cell_type == "code"}
        empty = all(source.strip() in released for _, source in to_run)
        if empty:
            flags.append("empty submission: no answer cell was changed")
    return flags, empty


def read_submission(path: Path, source: Path, release: Path | None = None) -> ReadNotebook:
    """Parse ``path``; list the code cells to run and the flags for review. Raises :class:`UnreadableSubmission`."""
    cells = parse_notebook(path)
    source_nb = nbformat.read(source, as_version=4)
    release_nb = nbformat.read(release, as_version=4) if release and Path(release).exists() else None
    tests, flags = find_test_cells(cells, release_nb or source_nb, source_nb)
    to_run, positions = runnable_cells(cells, tests)
    more, empty = review_flags(to_run, release_nb)
    return ReadNotebook(to_run, flags + more, empty, positions)
