"""``course-selfcheck``: run a notebook's visible tests outside Jupyter and explain each result.

    course-selfcheck exercises/01_mdps/01_mdps.ipynb

Your code runs in a separate process (as when grading); the visible tests of the released notebook are run
against it and each part prints PASS or FAIL with the check's message: the property that failed, the smallest
input that shows it, expected vs. got, and a hint. The hidden tests are not available here.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from autograder.course import RELEASE_DIRECTORY, REPO_ROOT, Assignment
from autograder.grading import PASSED, grade_submission
from autograder.sandbox import Limits


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="course-selfcheck", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("notebook", type=Path)
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds per cell and per call")
    args = parser.parse_args(argv)
    name = args.notebook.stem
    release = REPO_ROOT / RELEASE_DIRECTORY / name / f"{name}.ipynb"
    if not release.exists():
        parser.error(f"{args.notebook.name} is not one of the course's notebooks (no {release.relative_to(REPO_ROOT)})")
    limits = Limits(cell_seconds=args.timeout, call_seconds=args.timeout)
    with tempfile.TemporaryDirectory(prefix="selfcheck-") as scratch:
        result = grade_submission("you", Assignment(name, release), args.notebook, Path(scratch) / "work",
                                  limits=limits, sandbox="process", release=release)
    if result.reason:
        print(f"{args.notebook}: {result.status}: {result.reason}")
    for note in result.cell_notes:
        print(f"note: {note}")
    for part in result.parts:
        mark = "PASS" if part.status == PASSED else "FAIL"
        print(f"\n[{mark}] {part.grade_id} ({part.max_points:g} points)")
        if part.message:
            print("    " + part.message.replace("\n", "\n    "))
    passed = sum(p.status == PASSED for p in result.parts)
    print(f"\n{passed}/{len(result.parts)} visible tests pass. The grader also runs hidden tests on many more inputs.")
    return 0 if passed == len(result.parts) else 1


if __name__ == "__main__":
    sys.exit(main())
