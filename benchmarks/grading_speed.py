"""Grading throughput: plain serial ``nbgrader autograde`` vs ``course-grade --workers N`` on one class.

    .venv/bin/python benchmarks/grading_speed.py --students 100 --workers 2

Builds a class of chapter-1 submissions (a mix of correct, alternative-correct and buggy notebooks), grades it
both ways in scratch folders, checks that both give every student the same total, and writes
``benchmarks/results/grading_speed.json``.
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "autograder"))

from fixture_class import CHAPTER, notebook  # noqa: E402
from nbgrader.api import Gradebook  # noqa: E402
from variants.ch01_mdps import PARTS  # noqa: E402

from autograder.course import make_course, nbgrader_env  # noqa: E402


def make_class(n: int) -> dict[str, nbformat.NotebookNode]:
    kinds = []
    for part, spec in PARTS.items():
        kinds += [{part: code} for code in spec["alternatives"].values()]
        kinds += [{part: code} for code in spec["bugs"].values()]
    kinds.append({})
    return {f"student{i:03d}": notebook(kinds[i % len(kinds)]) for i in range(n)}


def plain_nbgrader(students: dict, root: Path) -> tuple[float, dict[str, float]]:
    make_course(root, [CHAPTER])
    env = nbgrader_env()
    for student, nb in students.items():
        (root / "submitted" / student / CHAPTER).mkdir(parents=True)
        nbformat.write(nb, root / "submitted" / student / CHAPTER / f"{CHAPTER}.ipynb")
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "nbgrader", "autograde", CHAPTER, "--log-level=ERROR"], cwd=root,
                   check=True, env=env)
    seconds = time.perf_counter() - start
    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gb:
        totals = {s.student_id: s.score for s in gb.assignment_submissions(CHAPTER)}
    return seconds, totals


def ours(students: dict, root: Path, workers: int) -> tuple[float, dict[str, float]]:
    for student, nb in students.items():
        (root / "class" / student).mkdir(parents=True)
        nbformat.write(nb, root / "class" / student / f"{CHAPTER}.ipynb")
    start = time.perf_counter()
    subprocess.run([str(Path(sys.executable).parent / "course-grade"), str(root / "class"), "--assignment",
                    CHAPTER, "--out", str(root / "out"), "--workers", str(workers)], check=True)
    seconds = time.perf_counter() - start
    totals = {}
    for path in (root / "out" / "results" / CHAPTER).glob("*.json"):
        data = json.loads(path.read_text())
        totals[data["student"]] = sum(p["points"] or 0 for p in data["parts"])
    return seconds, totals


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--students", type=int, default=100)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    students = make_class(args.students)
    with tempfile.TemporaryDirectory() as a, tempfile.TemporaryDirectory() as b:
        print(f"plain nbgrader autograde, serial, {args.students} students ...", flush=True)
        plain_s, plain_totals = plain_nbgrader(students, Path(a))
        print(f"course-grade --workers {args.workers} ...", flush=True)
        ours_s, ours_totals = ours(students, Path(b), args.workers)
    mismatches = sorted(s for s in students if abs(plain_totals.get(s, -1) - ours_totals.get(s, -2)) > 1e-9)
    result = {
        "students": args.students, "workers": args.workers, "cpus": __import__("os").cpu_count(),
        "machine": platform.platform(), "plain_nbgrader_serial_s": round(plain_s, 1),
        "course_grade_s": round(ours_s, 1), "speedup": round(plain_s / ours_s, 2),
        "seconds_per_student": round(ours_s / args.students, 2), "score_mismatches": mismatches,
    }
    out = REPO / "benchmarks" / "results" / "grading_speed.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1))
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
