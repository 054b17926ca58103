"""``course-grade``: grade a class's submissions in a sandbox, resumably, in parallel or on a cluster.

    course-grade SUBMISSIONS --assignment 01_mdps --out grading/ [--workers 2] [--regrade]
    course-grade class.zip --assignment all --out grading/ --executor slurm --shards 20

SUBMISSIONS is a folder with one sub-folder per student (``alice/01_mdps.ipynb`` or nbgrader's
``alice/01_mdps/01_mdps.ipynb``) or an LMS zip (per-student folders, or flat files named
``<student>_..._<assignment>.ipynb``). Every finished student is saved at once under ``OUT/results``; a rerun
(after a crash or Ctrl-C) skips them unless ``--regrade`` is given, and rebuilds the same outputs:

* ``OUT/grades.csv`` one row per question with a status (passed / failed / not graded) and the check's message;
  ``OUT/totals.csv`` one row per student and assignment (graded / partly graded / could not be graded + reason);
* ``OUT/feedback/<student>/<assignment>.html``; ``OUT/summary.md`` and ``OUT/grade_histogram.png``;
* ``OUT/course/gradebook.db``, nbgrader's gradebook, written only by this trusted process.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
import zipfile
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path

from autograder.course import (
    RELEASE_DIRECTORY,
    REPO_ROOT,
    SOURCE_DIRECTORY,
    assignments,
    config_file_text,
    nbgrader_env,
)
from autograder.grading import GRADED, NOT_GRADED, UNGRADABLE, PartResult, SubmissionResult, grade_submission
from autograder.report import write_csvs, write_feedback, write_summary
from autograder.sandbox import Limits

MAX_ZIP_BYTES = 2 * 2**30
STUDENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,99}$")


@dataclass(frozen=True)
class Job:
    student: str
    assignment: str
    path: str | None
    note: str = ""


# -- finding submissions -----------------------------------------------------------------------------------

def extract_zip(archive: Path, target: Path) -> Path:
    """Extract an LMS zip safely (no absolute paths, no ``..``, bounded total size)."""
    with zipfile.ZipFile(archive) as zf:
        total = sum(info.file_size for info in zf.infolist())
        if total > MAX_ZIP_BYTES:
            raise SystemExit(f"{archive}: the archive expands to {total >> 20} MiB, over the limit")
        for info in zf.infolist():
            name = Path(info.filename)
            if name.is_absolute() or ".." in name.parts or info.filename.startswith("__MACOSX"):
                continue
            zf.extract(info, target)
    flat = [p for p in target.iterdir() if p.is_file()]
    if flat:  # LMS style: student_123_456_01_mdps.ipynb -> student/01_mdps.ipynb
        for path in flat:
            student = path.name.split("_")[0] or path.stem
            (target / student).mkdir(exist_ok=True)
            path.rename(target / student / path.name)
    return target


def find_jobs(folder: Path, names: list[str]) -> list[Job]:
    jobs = []
    for student_dir in sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")):
        student = student_dir.name
        if not STUDENT_ID.match(student):
            student = re.sub(r"[^A-Za-z0-9._@-]", "_", student)[:100] or "unnamed"
        files = sorted(p for p in student_dir.rglob("*") if p.is_file() and ".ipynb_checkpoints" not in p.parts)
        notebooks = [p for p in files if p.suffix == ".ipynb"]
        for name in names:
            exact = [p for p in notebooks if p.name == f"{name}.ipynb"]
            suffixed = [p for p in notebooks if p.stem.endswith(name)]
            if exact or suffixed:
                jobs.append(Job(student, name, str((exact or suffixed)[0])))
            elif len(names) == 1 and len(notebooks) == 1:
                jobs.append(Job(student, name, str(notebooks[0]),
                                f"misnamed file {notebooks[0].name} (expected {name}.ipynb); graded anyway"))
            else:
                found = ", ".join(p.name for p in files[:5]) or "nothing"
                jobs.append(Job(student, name, None, f"no {name}.ipynb found (found: {found})"))
    return jobs


# -- grading -----------------------------------------------------------------------------------------------

def result_path(out: Path, job: Job) -> Path:
    return out / "results" / job.assignment / f"{job.student}.json"


def grade_job(job: Job, out: str, limits: Limits, sandbox: str) -> dict:
    """Grade one (student, assignment) and save the result atomically; safe to run in any process."""
    out_path = Path(out)
    assignment = assignments()[job.assignment]
    release = REPO_ROOT / RELEASE_DIRECTORY / job.assignment / f"{job.assignment}.ipynb"
    with tempfile.TemporaryDirectory(prefix="grade-") as scratch:
        try:
            result = grade_submission(job.student, assignment, Path(job.path) if job.path else None,
                                      Path(scratch) / "work", limits=limits, sandbox=sandbox, release=release)
        except Exception as error:  # a fault of the grader itself: recorded, never a silent zero
            result = SubmissionResult(job.student, job.assignment, UNGRADABLE, f"grader error: {error!r}",
                                      [PartResult(p.grade_id, p.points, None, NOT_GRADED, repr(error))
                                       for p in assignment.graded_parts()])
    if job.note:
        result.flags.insert(0, job.note)
        if job.path is None:
            result.status, result.reason = UNGRADABLE, job.note
    target = result_path(out_path, job)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(f".tmp{os.getpid()}")
    tmp.write_text(json.dumps(result.to_dict(), indent=1))
    os.replace(tmp, target)
    return {"student": job.student, "assignment": job.assignment, "status": result.status}


def grade_shard(jobs: list[Job], out: str, limits: Limits, sandbox: str) -> int:
    """Entry point of one submitit shard: grade its jobs one after the other."""
    for job in jobs:
        grade_job(job, out, limits, sandbox)
    return len(jobs)


def _progress(total: int, initial: int):
    from tqdm import tqdm

    return tqdm(total=total, initial=initial, unit="notebook", desc="grading", dynamic_ncols=True,
                disable=not sys.stderr.isatty() and os.environ.get("COURSE_PROGRESS") != "1")


def run_local(todo: list[Job], out: Path, limits: Limits, sandbox: str, workers: int, done: int) -> None:
    bar = _progress(done + len(todo), done)
    remaining = list(todo)
    attempts: dict[Job, int] = {}
    while remaining:
        try:
            with ProcessPoolExecutor(max_workers=max(1, workers)) as pool:
                futures = {pool.submit(grade_job, job, str(out), limits, sandbox): job for job in remaining}
                for future in as_completed(futures):
                    job = futures[future]
                    future.result()
                    remaining.remove(job)
                    bar.update(1)
                    bar.set_postfix_str(f"{job.student}/{job.assignment}")
        except BrokenProcessPool:
            # A grading process died (only possible without bubblewrap, when a submission can signal it).
            # Retry the unfinished jobs one at a time; a job that breaks a process twice is recorded as such.
            remaining = [job for job in remaining if not result_path(out, job).exists()]
            for job in remaining:
                attempts[job] = attempts.get(job, 0) + 1
            if workers > 1:
                workers = 1
                continue
            culprit = remaining.pop(0)
            if attempts[culprit] >= 2:
                _record_failure(out, culprit, "the grading process was killed while grading this submission")
                bar.update(1)
            else:
                remaining.insert(0, culprit)
    bar.close()


def _record_failure(out: Path, job: Job, reason: str) -> None:
    parts = [PartResult(p.grade_id, p.points, None, NOT_GRADED, reason)
             for p in assignments()[job.assignment].graded_parts()]
    result = SubmissionResult(job.student, job.assignment, UNGRADABLE, reason, parts)
    target = result_path(out, job)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(result.to_dict(), indent=1))


def run_submitit(todo: list[Job], out: Path, limits: Limits, sandbox: str, executor_kind: str, shards: int,
                 slurm: dict) -> None:
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
    bar = _progress(len(todo), 0)
    for job in jobs:
        bar.update(job.result())
    bar.close()


# -- merging -----------------------------------------------------------------------------------------------

def load_results(out: Path, jobs: list[Job]) -> list[SubmissionResult]:
    return [SubmissionResult.from_dict(json.loads(result_path(out, job).read_text()))
            for job in jobs if result_path(out, job).exists()]


def write_gradebook(results: list[SubmissionResult], out: Path, names: list[str]) -> Path:
    """Rebuild nbgrader's gradebook from the saved results (the same database whatever the run history)."""
    from nbgrader.api import Gradebook

    course = out / "course"
    db = course / "gradebook.db"
    if db.exists():
        db.unlink()
    (course / "nbgrader_config.py").parent.mkdir(parents=True, exist_ok=True)
    (course / "nbgrader_config.py").write_text(config_file_text(course, f"sqlite:///{db}"))
    for name in names:
        target = course / SOURCE_DIRECTORY / name
        if target.exists():
            shutil.rmtree(target)
        shutil.copytree(REPO_ROOT / SOURCE_DIRECTORY / name, target)
        subprocess.run([sys.executable, "-m", "nbgrader", "generate_assignment", name, "--force",
                        "--log-level=ERROR"], cwd=course, check=True, env=nbgrader_env(),
                       stdout=subprocess.DEVNULL)
    with warnings.catch_warnings(), Gradebook(f"sqlite:///{db}") as gb:
        warnings.simplefilter("ignore")  # nbgrader's own SQLAlchemy warnings
        for r in results:
            gb.update_or_create_student(r.student)
            gb.add_submission(r.assignment, r.student)
            notebook = assignments()[r.assignment].source.stem
            for part in r.parts:
                grade = gb.find_grade(part.grade_id, notebook, r.assignment, r.student)
                grade.auto_score = part.points
                grade.needs_manual_grade = part.points is None
        gb.db.commit()
    return db


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="course-grade", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("submissions", type=Path, help="folder of per-student folders, or an LMS .zip")
    parser.add_argument("--assignment", default="all", help="chapter to grade (e.g. 01_mdps) or 'all'")
    parser.add_argument("--out", type=Path, required=True, help="working folder for results (outside the repo)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="parallel submissions")
    parser.add_argument("--regrade", action="store_true", help="grade again students already graded")
    parser.add_argument("--sandbox", choices=["auto", "bubblewrap", "process"], default="auto")
    parser.add_argument("--executor", choices=["local", "submitit-local", "slurm"], default="local")
    parser.add_argument("--shards", type=int, default=4, help="number of submitit jobs")
    parser.add_argument("--slurm-partition", default=None)
    parser.add_argument("--slurm-time-min", type=int, default=60)
    parser.add_argument("--cell-timeout", type=float, default=Limits.cell_seconds, help="seconds per cell")
    parser.add_argument("--call-timeout", type=float, default=Limits.call_seconds, help="seconds per call")
    parser.add_argument("--memory-mb", type=int, default=Limits.memory_bytes >> 20)
    args = parser.parse_args(argv)

    known = assignments()
    names = sorted(known) if args.assignment == "all" else [args.assignment]
    if any(n not in known for n in names):
        parser.error(f"unknown assignment {args.assignment!r}; known: {sorted(known)} or 'all'")
    out = args.out.resolve()
    if out == REPO_ROOT or REPO_ROOT in out.parents:
        parser.error("--out must be outside the course repository (grading never writes into it)")
    out.mkdir(parents=True, exist_ok=True)
    source = args.submissions
    if source.is_file() and zipfile.is_zipfile(source):
        incoming = out / "incoming"
        if incoming.exists():
            shutil.rmtree(incoming)
        source = extract_zip(source, incoming)
    elif not source.is_dir():
        parser.error(f"{source} is neither a folder nor a zip archive")

    limits = Limits(cell_seconds=args.cell_timeout, call_seconds=args.call_timeout,
                    memory_bytes=args.memory_mb << 20)
    jobs = find_jobs(source, names)
    if args.regrade:
        for job in jobs:
            result_path(out, job).unlink(missing_ok=True)
    todo = [job for job in jobs if not result_path(out, job).exists()]
    start = time.perf_counter()
    print(f"{len(jobs)} notebooks, {len(jobs) - len(todo)} already graded, {len(todo)} to grade "
          f"({args.executor}, sandbox={args.sandbox})", flush=True)
    if todo and args.executor == "local":
        run_local(todo, out, limits, args.sandbox, args.workers, len(jobs) - len(todo))
    elif todo:
        slurm = {"timeout_min": args.slurm_time_min, "slurm_partition": args.slurm_partition}
        run_submitit(todo, out, limits, args.sandbox, args.executor, args.shards,
                     {k: v for k, v in slurm.items() if v is not None})

    results = load_results(out, jobs)
    write_csvs(results, out)
    write_feedback(results, out)
    write_summary(results, out)
    db = write_gradebook(results, out, names)
    graded = sum(r.status == GRADED for r in results)
    print(f"done in {time.perf_counter() - start:.1f} s: {graded}/{len(results)} fully graded; "
          f"grades {out / 'grades.csv'}, feedback {out / 'feedback'}, summary {out / 'summary.md'}, gradebook {db}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
