"""Grade one submission: student cells run in the sandbox, the source's test cells run here, on plain data.

The test cells come from the instructor's source notebook (hidden tests included) and execute in this trusted
process. Inside them, every name the student defined resolves to a proxy that calls into the sandboxed worker
and returns plain data only (:mod:`autograder.sandbox.protocol`), so the checks, numpy, torch and builtins on this
side cannot be patched by the student. A test cell scores its points when it raises nothing, as in nbgrader, and sees
the student's cells that come before it in the submitted notebook, as when the notebook runs top to bottom.
"""

from __future__ import annotations

import ast
import builtins
import contextlib
import io
import shutil
import time
import traceback
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import nbformat

from autograder.checks import CheckFailure
from autograder.course import Assignment
from autograder.results import (
    GRADER_ERROR,
    PartResult,
    PartStatus,
    SubmissionResult,
    SubmissionStatus,
)
from autograder.sandbox import BudgetExhausted, Limits, RemoteError, Worker, WorkerError, WorkerTimeout
from autograder.submission import ReadNotebook, UnreadableSubmission, read_submission

PASSED, FAILED, NOT_GRADED = PartStatus.PASSED, PartStatus.FAILED, PartStatus.NOT_GRADED
GRADED, PARTLY, UNGRADABLE = SubmissionStatus.GRADED, SubmissionStatus.PARTLY, SubmissionStatus.UNGRADABLE
MAX_CELL_FAILURES = 8
DEFAULT_LIMITS = Limits()


class StudentSession:
    """The student's notebook state in a sandboxed worker, rebuilt after a crash or a timeout."""

    def __init__(self, cells: list[tuple[str, str]], scratch: Path, limits: Limits, sandbox: str):
        self.cells, self.scratch, self.limits, self.sandbox = cells, scratch, limits, sandbox
        self.skipped: dict[int, str] = {}
        self.notes: list[str] = []
        self.output: list[str] = []
        self.worker: Worker | None = None
        self.names: dict[str, str] = {}
        self.executed = 0  # cells run in the current worker
        self.deadline = time.monotonic() + limits.submission_seconds  # shared by every restarted worker
        self.quota_hit = False

    def ensure_started(self, upto: int | None = None) -> None:
        """Have the first ``upto`` cells (all by default) run in a live worker, skipping those that hung or crashed
        before; a worker that died is replaced and the cells re-run in order."""
        upto = len(self.cells) if upto is None else upto
        changed = False  # the worker's names are re-read only when cells ran or the worker was replaced
        while True:
            if self.worker is None or not self.worker.alive:
                self.quota_hit = self.quota_hit or bool(self.worker and self.worker.quota_hit)
                self.worker = Worker(self.scratch, self.limits, sandbox=self.sandbox, deadline=self.deadline)
                self.executed, changed = 0, True
            for index in range(self.executed, upto):
                label, source = self.cells[index]
                self.executed, changed = index + 1, True
                if index in self.skipped:
                    continue
                try:
                    reply = self.worker.exec_cell(source)
                except BudgetExhausted:
                    raise
                except WorkerError as error:
                    self.skipped[index] = str(error)
                    hint = (" (a loop that never ends? run the cell in the notebook and interrupt it: the traceback "
                            "shows the line it was on)" if isinstance(error, WorkerTimeout) else "")
                    self.notes.append(f"{label}: {error}; the cell was skipped{hint}")
                    if len(self.skipped) >= MAX_CELL_FAILURES:
                        raise
                    break
                if reply.get("output") and len(self.output) < 50:
                    self.output.append(reply["output"])
                if not reply.get("ok"):
                    note = f"{label}: raised {reply.get('type')}: {reply.get('error', '')[:300]}"
                    if note not in self.notes:
                        self.notes.append(note)
            if self.worker.alive:
                if changed:
                    self.names = self.worker.names()
                return

    def close(self) -> None:
        if self.worker is not None:
            self.quota_hit = self.quota_hit or self.worker.quota_hit
            self.worker.kill()


class RemoteFunction:
    """A student's function as seen from the trusted side: plain data in, plain data out."""

    def __init__(self, session: StudentSession, name: str, tensors: bool):
        self.session, self.name, self.tensors = session, name, tensors
        self.__name__ = name

    def __call__(self, *args, **kwargs):
        return self._worker().call(self.name, args, kwargs, tensors=self.tensors)

    def call_with_grads(self, inputs: dict[str, Any], wrt: list[str]):
        """``(loss, gradients)`` computed in the student's process (see :meth:`Worker.call`)."""
        return self._worker().call(self.name, (), inputs, tensors=True, grad_wrt=wrt)

    def _worker(self) -> Worker:
        if self.session.worker is None or not self.session.worker.alive:
            raise WorkerError("the student's process stopped during an earlier call")
        return self.session.worker

    def __repr__(self) -> str:
        return f"<student function {self.name}>"


class StudentNames(Mapping):
    """Name lookup for a test cell: trusted imports first, then the student's definitions (as proxies)."""

    def __init__(self, trusted: dict[str, Any], session: StudentSession, tensors: bool):
        self.trusted, self.session, self.tensors = trusted, session, tensors

    def __getitem__(self, name: str) -> Any:
        if name in self.trusted:
            return self.trusted[name]
        kind = self.session.names.get(name)
        if kind == "callable":
            return RemoteFunction(self.session, name, self.tensors)
        if kind == "data":
            reply = self.session.worker.request({"op": "get", "name": name}, self.session.limits.call_seconds,
                                                tensors=self.tensors)
            if reply.get("ok"):
                return reply["value"]
            raise NameError(f"{name!r} holds a value that is not plain data ({reply.get('error', '')})")
        raise KeyError(name)

    def __iter__(self):
        return iter(list(self.trusted) + list(self.session.names))

    def __len__(self) -> int:
        return len(self.trusted) + len(self.session.names)


def trusted_imports(source_nb) -> dict[str, Any]:
    """Run the import statements of the source notebook's non-solution code cells, on the trusted side."""
    namespace: dict[str, Any] = {"__builtins__": builtins}
    for cell in source_nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if cell.cell_type != "code" or meta.get("solution") or meta.get("grade"):
            continue
        try:
            tree = ast.parse(cell.source)
        except SyntaxError:
            continue
        imports = [node for node in tree.body if isinstance(node, ast.Import | ast.ImportFrom)]
        if imports:
            exec(compile(ast.Module(body=imports, type_ignores=[]), "<imports>", "exec"), namespace)
    return namespace


def _test_cells(source_nb) -> list[tuple[str, float, str]]:
    return [(c.metadata["nbgrader"]["grade_id"], float(c.metadata["nbgrader"].get("points", 0)), c.source)
            for c in source_nb.cells if c.metadata.get("nbgrader", {}).get("grade")]


def _short(error: BaseException) -> str:
    if isinstance(error, CheckFailure | AssertionError) and str(error):
        return str(error)
    if isinstance(error, RemoteError):
        return f"your code raised {error}\n{error.student_traceback}".strip()
    if isinstance(error, NameError):
        return f"{error} — is the function defined, and does its cell run without errors?"
    return f"{type(error).__name__}: {error}"


def run_test_cells(session: StudentSession, source_nb, tensors: bool,
                   positions: dict[str, int] | None = None) -> list[PartResult]:
    """Run the source's test cells in order; each sees the student's cells that come before it (``positions``)."""
    trusted = trusted_imports(source_nb)
    results = []
    for grade_id, points, code in _test_cells(source_nb):
        try:
            session.ensure_started((positions or {}).get(grade_id))
        except BudgetExhausted as error:
            results.append(PartResult(grade_id, points, None, NOT_GRADED, f"not run: {error}"))
            continue
        except WorkerError as error:
            results.append(PartResult(grade_id, points, 0.0, FAILED, f"the notebook could not be run: {error}"))
            continue
        names = StudentNames(trusted, session, tensors)
        stdout = io.StringIO()
        try:
            with contextlib.redirect_stdout(stdout):
                exec(compile(code, f"<{grade_id}>", "exec"), dict(trusted), names)
            results.append(PartResult(grade_id, points, points, PASSED, stdout.getvalue().strip()))
        except BudgetExhausted as error:
            results.append(PartResult(grade_id, points, None, NOT_GRADED, f"not finished: {error}"))
        except (AssertionError, NameError, RemoteError, WorkerError) as error:
            results.append(PartResult(grade_id, points, 0.0, FAILED, _short(error)))
        except Exception as error:  # a fault on our side: never a silent zero
            detail = "".join(traceback.format_exception_only(type(error), error)).strip()
            results.append(PartResult(grade_id, points, None, NOT_GRADED, f"{GRADER_ERROR}: {detail}"))
    return results


def grade_submission(student: str, assignment: Assignment, path: Path | None, scratch: Path, *,
                     limits: Limits = DEFAULT_LIMITS, sandbox: str = "auto", release: Path | None = None,
                     source: Path | None = None) -> SubmissionResult:
    """Grade one student's notebook for one assignment; never raises for anything the submission does."""
    start = time.perf_counter()
    source = source or assignment.source
    source_nb = nbformat.read(source, as_version=4)
    tests = _test_cells(source_nb)
    result = SubmissionResult(student, assignment.name, GRADED)
    try:
        read: ReadNotebook = read_submission(path, source, release) if path else read_submission(Path(""), source)
    except UnreadableSubmission as error:
        result.status, result.reason = UNGRADABLE, str(error)
        result.parts = [PartResult(gid, pts, None, NOT_GRADED, str(error)) for gid, pts, _ in tests]
        result.seconds = time.perf_counter() - start
        return result
    result.flags = read.flags
    result.code = {label: src for label, src in read.cells}
    tensors = "torch" in "".join(c.source for c in source_nb.cells if c.cell_type == "code")
    scratch = Path(scratch)
    if scratch.exists():
        shutil.rmtree(scratch, ignore_errors=True)
    session = StudentSession(read.cells, scratch, limits, sandbox)
    try:
        result.parts = run_test_cells(session, source_nb, tensors, read.test_positions)
    finally:
        session.close()
        shutil.rmtree(scratch, ignore_errors=True)
        shutil.rmtree(scratch.parent / f".{scratch.name}-grader", ignore_errors=True)
    result.cell_notes = session.notes
    result.output = "".join(session.output)[-8000:]
    budget = any(p.status == NOT_GRADED and p.message.startswith(("not run:", "not finished:")) for p in result.parts)
    if budget:
        result.flags.append(f"time budget: the notebook used up its {limits.submission_seconds:.0f} s; "
                            "the parts marked 'not graded' were not run (regrade with a larger budget)")
    if session.quota_hit:
        result.flags.append(f"disk quota: the notebook filled its {limits.scratch_bytes >> 20} MiB scratch "
                            "folder (writes beyond it failed)")
    if any(p.status == NOT_GRADED for p in result.parts):
        result.status = PARTLY if any(p.status != NOT_GRADED for p in result.parts) else UNGRADABLE
        result.reason = (f"time budget of {limits.submission_seconds:.0f} s exceeded" if budget else
                         f"some parts could not be graded ({GRADER_ERROR}); see the messages")
    result.seconds = time.perf_counter() - start
    return result
