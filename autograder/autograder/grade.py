"""``course-grade``: grade a class's submissions in a sandbox, resumably, in parallel or on a cluster.

    course-grade SUBMISSIONS --assignment 01_mdps --out grading/ [--workers 2] [--student NAME ...]
    course-grade class.zip --assignment all --out grading/ --executor slurm --shards 20
    course-grade --export-only --assignment 01_mdps --out grading/      # after review in formgrader

SUBMISSIONS is a folder with one sub-folder per student (``alice/01_mdps.ipynb`` or nbgrader's
``alice/01_mdps/01_mdps.ipynb``), an LMS zip, or the unzipped LMS folder (Canvas, Moodle and Blackboard file
names are recognised: see :mod:`autograder.inputs`). Every finished student is saved at once under
``OUT/results`` with the digest of what was graded; a rerun grades only new and changed submissions (and those
named with ``--student``), and rebuilds the same outputs:

* ``OUT/grades.csv`` one row per question with a status (passed / failed / not graded) and the check's message;
  ``OUT/totals.csv`` one row per student and assignment (graded / partly graded / could not be graded + reason);
  both keep the source's name, LMS user id and late marker;
* ``OUT/feedback/<student>/<assignment>.html``; ``OUT/summary.md`` and ``OUT/grade_histogram.png``;
* ``OUT/course/``: nbgrader's course folder (gradebook, submitted/ and autograded/ notebooks) for formgrader;
* ``OUT/lms_grades.csv``, ``OUT/canvas_grades.csv``, ``OUT/lms_review.csv``: the grade files for the LMS.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
import zipfile
from collections import Counter
from pathlib import Path

import nbformat

from autograder.course import RELEASE_DIRECTORY, REPO_ROOT, assignments
from autograder.executors import (
    Progress,
    Task,
    load_results,
    load_saved_results,
    run_local,
    run_submitit,
    saved_digest,
)
from autograder.gradebook import final_scores, write_course
from autograder.inputs import NoSubmissions, content_digest, extract_zip, find_jobs, require_notebooks
from autograder.lms_export import write_lms_files
from autograder.report import write_csvs, write_feedback, write_summary
from autograder.results import SubmissionResult, SubmissionStatus
from autograder.sandbox import Limits, bubblewrap


def release_stubs(names: list[str]) -> dict[str, dict[str, str]]:
    """assignment -> answer cell id -> the stub students start from (for the similarity report)."""
    stubs = {}
    for name in names:
        nb = nbformat.read(REPO_ROOT / RELEASE_DIRECTORY / name / f"{name}.ipynb", as_version=4)
        stubs[name] = {c.metadata["nbgrader"]["grade_id"]: c.source for c in nb.cells
                       if c.metadata.get("nbgrader", {}).get("solution")}
    return stubs


def resolve_sandbox(choice: str) -> tuple[str, str]:
    """The sandbox every worker will use, and a sentence saying why."""
    if choice == "auto":
        if bubblewrap():
            return "bubblewrap", "sandbox: bubblewrap (found on PATH)"
        return "process", ("sandbox: process — bubblewrap is NOT installed, workers are plain subprocesses with "
                           "limits; install bubblewrap (apt-get install bubblewrap) for a real class")
    return choice, f"sandbox: {choice} (chosen with --sandbox)"


def run_summary(results: list[SubmissionResult]) -> tuple[str, int]:
    """The final line (graded / partly / could not / grader-error counts) and how many grader errors there were."""
    counts = Counter(str(r.status) for r in results)
    errors = sum(r.grader_error for r in results)
    line = (f"{len(results)} submissions: {counts[SubmissionStatus.GRADED]} graded, "
            f"{counts[SubmissionStatus.PARTLY]} partly graded, {counts[SubmissionStatus.UNGRADABLE]} could not be "
            f"graded, {errors} with a grader error")
    if errors:
        names = ", ".join(f"{r.student}/{r.assignment}" for r in results if r.grader_error)
        line += (f"\nGRADER ERROR: {errors} submission(s) hit a fault of the grader itself ({names}); their parts "
                 f"are 'not graded'. See grades.csv, fix the grader and rerun with --student.")
    return line, errors


def export(results: list[SubmissionResult], out: Path, canvas_columns: dict[str, str]) -> str:
    review = write_lms_files(results, final_scores(out, results), out, canvas_columns)
    text = f"LMS grade files {out / 'lms_grades.csv'}, {out / 'canvas_grades.csv'}"
    if review:
        text += (f"; {len(review)} total(s) left empty until reviewed (listed in {out / 'lms_review.csv'}): "
                 + ", ".join(f"{row['result'].student}/{row['result'].assignment}" for row in review[:10]))
    return text


def parse_args(argv: list[str] | None) -> tuple[argparse.ArgumentParser, argparse.Namespace]:
    parser = argparse.ArgumentParser(prog="course-grade", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("submissions", type=Path, nargs="?",
                        help="folder of per-student folders or of LMS files, or an LMS .zip")
    parser.add_argument("--assignment", default="all", help="chapter to grade (e.g. 01_mdps) or 'all'")
    parser.add_argument("--out", type=Path, required=True, help="working folder for results (outside the repo)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="parallel submissions")
    parser.add_argument("--student", action="append", default=[], metavar="NAME",
                        help="grade this student again even if unchanged (id, name or LMS id; repeatable)")
    parser.add_argument("--regrade", action="store_true", help="grade every student again")
    parser.add_argument("--export-only", action="store_true",
                        help="only rewrite the LMS grade files from the gradebook (after review in formgrader)")
    parser.add_argument("--canvas-column", action="append", default=[], metavar="ASSIGNMENT=COLUMN",
                        help="the Canvas gradebook column of an assignment, e.g. '01_mdps=Homework 1 (12345)'")
    parser.add_argument("--sandbox", choices=["auto", "bubblewrap", "process"], default="auto")
    parser.add_argument("--executor", choices=["local", "submitit-local", "slurm"], default="local")
    parser.add_argument("--shards", type=int, default=4, help="number of submitit jobs")
    parser.add_argument("--slurm-partition", default=None)
    parser.add_argument("--slurm-time-min", type=int, default=60)
    parser.add_argument("--progress-every", type=int, default=10,
                        help="when not on a terminal, print a progress line every N notebooks")
    parser.add_argument("--cell-timeout", type=float, default=Limits.cell_seconds, help="seconds per cell")
    parser.add_argument("--call-timeout", type=float, default=Limits.call_seconds, help="seconds per call")
    parser.add_argument("--memory-mb", type=int, default=Limits.memory_bytes >> 20)
    parser.add_argument("--submission-timeout", type=float, default=Limits.submission_seconds,
                        help="seconds for everything one submission runs, worker restarts included")
    parser.add_argument("--scratch-mb", type=int, default=Limits.scratch_bytes >> 20,
                        help="size of the submission's scratch folder (its HOME and TMPDIR)")
    return parser, parser.parse_args(argv)


def limits_from(args: argparse.Namespace) -> Limits:
    """The sandbox limits the command line asks for (every flag's default is :class:`Limits`' own)."""
    return Limits(cell_seconds=args.cell_timeout, call_seconds=args.call_timeout, memory_bytes=args.memory_mb << 20,
                  submission_seconds=args.submission_timeout, scratch_bytes=args.scratch_mb << 20)


def main(argv: list[str] | None = None) -> int:
    parser, args = parse_args(argv)
    known = assignments()
    names = sorted(known) if args.assignment == "all" else [args.assignment]
    if any(n not in known for n in names):
        parser.error(f"unknown assignment {args.assignment!r}; known: {sorted(known)} or 'all'")
    out = args.out.resolve()
    if out == REPO_ROOT or REPO_ROOT in out.parents:
        parser.error("--out must be outside the course repository (grading never writes into it)")
    canvas_columns = dict(item.split("=", 1) for item in args.canvas_column if "=" in item)
    if args.export_only:
        results = load_saved_results(out, names)
        if not results:
            parser.error(f"no saved results for {', '.join(names)} in {out}: grade first")
        print(export(results, out, canvas_columns))
        return 0
    if args.submissions is None:
        parser.error("give the submissions (a folder or a zip), or --export-only")
    out.mkdir(parents=True, exist_ok=True)
    source = args.submissions
    if source.is_file() and zipfile.is_zipfile(source):
        incoming = out / "incoming"
        if incoming.exists():
            shutil.rmtree(incoming)
        source = extract_zip(source, incoming)
    elif not source.is_dir():
        parser.error(f"{source} is neither a folder nor a zip archive")

    found = find_jobs(source, names)
    try:
        require_notebooks(found, source, names)
    except NoSubmissions as error:
        print(f"course-grade: error: {error}", file=sys.stderr)
        return 2
    for clash in found.clashes:
        print(f"warning: {clash}", flush=True)
    jobs = found.jobs
    chosen = set(args.student)
    unknown = chosen - {value for job in jobs for value in (job.student, job.name, job.lms_id) if value}
    if unknown:
        parser.error(f"--student {', '.join(sorted(unknown))}: not among the submissions "
                     f"(ids: {', '.join(sorted({j.student for j in jobs})[:20])} ...)")
    tasks = [Task(job, content_digest(job.path, known[job.assignment].source)) for job in jobs]
    todo, changed = [], 0
    for task in tasks:
        saved = saved_digest(out, task.job)
        forced = args.regrade or chosen & {task.job.student, task.job.name, task.job.lms_id}
        if forced or saved != task.digest:
            todo.append(task)
            changed += saved is not None and saved != task.digest
    sandbox, why = resolve_sandbox(args.sandbox)
    limits = limits_from(args)
    start = time.perf_counter()
    print(f"{len(tasks)} notebooks, {len(tasks) - len(todo)} already graded, {len(todo)} to grade "
          f"({changed} changed since they were graded; executor {args.executor})\n{why}", flush=True)
    progress = Progress(len(tasks), len(tasks) - len(todo), every=args.progress_every)
    if todo and args.executor == "local":
        run_local(todo, out, limits, sandbox, args.workers, progress)
    elif todo:
        slurm = {"timeout_min": args.slurm_time_min, "slurm_partition": args.slurm_partition}
        run_submitit(todo, out, limits, sandbox, args.executor, args.shards,
                     {k: v for k, v in slurm.items() if v is not None}, progress)
    progress.close()

    results = load_results(out, jobs)
    write_csvs(results, out)
    write_feedback(results, out)
    write_summary(results, out, release_stubs(names))
    db = write_course(results, out, names, {(j.student, j.assignment): j.path for j in jobs})
    exported = export(results, out, canvas_columns)
    line, errors = run_summary(results)
    print(f"done in {time.perf_counter() - start:.1f} s; grades {out / 'grades.csv'}, feedback {out / 'feedback'}, "
          f"summary {out / 'summary.md'}, gradebook {db}\n{exported}\n{line}", flush=True)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
