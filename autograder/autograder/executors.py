"""Running the grading jobs: one process per submission locally, or submitit shards (local or SLURM).

Every finished job is saved at once, atomically, as ``OUT/results/<assignment>/<student>.json`` (with the sha256 of
what was graded), so that a killed run resumes where it stopped and a changed submission is graded again.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path

from autograder.course import RELEASE_DIRECTORY, REPO_ROOT, assignments
from autograder.inputs import Job
from autograder.results import GRADER_ERROR, PartResult, PartStatus, SubmissionResult, SubmissionStatus
from autograder.sandbox import Limits


@dataclass(frozen=True)
class Task:
    """A job and the digest of what it grades (see :func:`autograder.inputs.content_digest`)."""

    job: Job
    digest: str


def result_path(out: Path, job: Job) -> Path:
    return Path(out) / "results" / job.assignment / f"{job.student}.json"


def saved_digest(out: Path, job: Job) -> str | None:
    """The digest of the submission a saved result was computed from (None when there is no usable result)."""
    try:
        return json.loads(result_path(out, job).read_text()).get("digest") or None
    except (OSError, ValueError):
        return None


def _save(out: Path, result: SubmissionResult) -> None:
    target = Path(out) / "results" / result.assignment / f"{result.student}.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(f".tmp{os.getpid()}")
    tmp.write_text(json.dumps(result.to_dict(), indent=1))
    os.replace(tmp, target)


def _identify(result: SubmissionResult, task: Task) -> SubmissionResult:
    job = task.job
    result.name, result.lms, result.lms_id, result.late, result.digest = (
        job.name, job.lms, job.lms_id, job.late, task.digest)
    for note in reversed(job.notes):
        result.flags.insert(0, note)
    if job.path is None:
        result.status, result.reason = SubmissionStatus.UNGRADABLE, job.notes[-1] if job.notes else "no notebook"
    return result


def grade_job(task: Task, out: str, limits: Limits, sandbox: str) -> dict:
    """Grade one (student, assignment) and save the result atomically; safe to run in any process."""
    from autograder.grading import grade_submission

    job = task.job
    assignment = assignments()[job.assignment]
    release = REPO_ROOT / RELEASE_DIRECTORY / job.assignment / f"{job.assignment}.ipynb"
    with tempfile.TemporaryDirectory(prefix="grade-") as scratch:
        try:
            result = grade_submission(job.student, assignment, Path(job.path) if job.path else None,
                                      Path(scratch) / "work", limits=limits, sandbox=sandbox, release=release)
        except Exception as error:  # a fault of the grader itself: recorded, never a silent zero
            result = SubmissionResult(job.student, job.assignment, SubmissionStatus.UNGRADABLE,
                                      f"{GRADER_ERROR}: {error!r}",
                                      [PartResult(p.grade_id, p.points, None, PartStatus.NOT_GRADED,
                                                  f"{GRADER_ERROR}: {error!r}")
                                       for p in assignment.graded_parts()])
    _save(Path(out), _identify(result, task))
    return {"student": job.student, "assignment": job.assignment, "status": str(result.status)}


def grade_shard(tasks: list[Task], out: str, limits: Limits, sandbox: str) -> int:
    """Entry point of one submitit shard: grade its jobs one after the other."""
    for task in tasks:
        grade_job(task, out, limits, sandbox)
    return len(tasks)


class Progress:
    """A tqdm bar on a terminal; otherwise (logs, CI, cluster) a plain line every ``every`` notebooks with an ETA."""

    def __init__(self, total: int, done: int = 0, every: int = 10, stream=None):
        self.total, self.done, self.every = total, done, max(1, every)
        self.stream = stream or sys.stdout
        self.start, self.started_at = time.perf_counter(), done
        self.bar = None
        if sys.stderr.isatty() or os.environ.get("COURSE_PROGRESS") == "1":
            from tqdm import tqdm

            self.bar = tqdm(total=total, initial=done, unit="notebook", desc="grading", dynamic_ncols=True)

    def update(self, label: str = "") -> None:
        self.done += 1
        if self.bar is not None:
            self.bar.update(1)
            self.bar.set_postfix_str(label)
            return
        if self.done % self.every == 0 or self.done == self.total:
            elapsed = time.perf_counter() - self.start
            rate = (self.done - self.started_at) / elapsed if elapsed > 0 else 0.0
            eta = (self.total - self.done) / rate if rate > 0 else float("nan")
            print(f"graded {self.done}/{self.total} notebooks, {elapsed:.0f} s elapsed, ETA {eta:.0f} s"
                  + (f" (last: {label})" if label else ""), file=self.stream, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def run_local(todo: list[Task], out: Path, limits: Limits, sandbox: str, workers: int, progress: Progress) -> None:
    remaining = list(todo)
    attempts: dict[Task, int] = {}
    while remaining:
        try:
            with ProcessPoolExecutor(max_workers=max(1, workers)) as pool:
                futures = {pool.submit(grade_job, task, str(out), limits, sandbox): task for task in remaining}
                for future in as_completed(futures):
                    task = futures[future]
                    future.result()
                    remaining.remove(task)
                    progress.update(f"{task.job.student}/{task.job.assignment}")
        except BrokenProcessPool:
            # A grading process died (only possible without bubblewrap, when a submission can signal it).
            # Retry the unfinished jobs one at a time; a job that breaks a process twice is recorded as such.
            remaining = [t for t in remaining if saved_digest(out, t.job) != t.digest]
            for task in remaining:
                attempts[task] = attempts.get(task, 0) + 1
            if workers > 1:
                workers = 1
                continue
            culprit = remaining.pop(0)
            if attempts[culprit] >= 2:
                _record_failure(out, culprit, "the grading process was killed while grading this submission")
                progress.update(culprit.job.student)
            else:
                remaining.insert(0, culprit)


def _record_failure(out: Path, task: Task, reason: str) -> None:
    parts = [PartResult(p.grade_id, p.points, None, PartStatus.NOT_GRADED, reason)
             for p in assignments()[task.job.assignment].graded_parts()]
    result = SubmissionResult(task.job.student, task.job.assignment, SubmissionStatus.UNGRADABLE, reason, parts)
    _save(out, _identify(result, task))


def run_submitit(todo: list[Task], out: Path, limits: Limits, sandbox: str, executor_kind: str, shards: int,
                 slurm: dict, progress: Progress) -> None:
    import submitit

    folder = out / "submitit"
    if executor_kind == "submitit-local":
        executor = submitit.LocalExecutor(folder=folder)
        executor.update_parameters(timeout_min=60)
    else:
        executor = submitit.AutoExecutor(folder=folder, cluster="slurm")
        executor.update_parameters(**slurm)
    chunks = [todo[i::shards] for i in range(min(shards, len(todo)))]
    jobs = [executor.submit(grade_shard, chunk, str(out), limits, sandbox) for chunk in chunks]
    for job, chunk in zip(jobs, chunks, strict=True):
        job.result()
        for task in chunk:
            progress.update(task.job.student)


def load_results(out: Path, jobs: list[Job]) -> list[SubmissionResult]:
    return [SubmissionResult.from_dict(json.loads(result_path(out, job).read_text()))
            for job in jobs if result_path(out, job).exists()]


def load_saved_results(out: Path, names: list[str]) -> list[SubmissionResult]:
    """Every saved result of the assignments ``names`` (for a re-export without the submissions)."""
    found = []
    for name in names:
        for path in sorted((Path(out) / "results" / name).glob("*.json")):
            found.append(SubmissionResult.from_dict(json.loads(path.read_text())))
    return found
