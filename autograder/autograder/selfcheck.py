"""``course-selfcheck``: run a notebook's visible tests outside Jupyter and explain each result.

    course-selfcheck exercises/01_mdps/01_mdps.ipynb
    course-selfcheck alice_01_mdps.ipynb                      # a renamed copy: the chapter is read from the name
    course-selfcheck homework.ipynb --assignment 01_mdps      # or given

Your code runs in a separate process with the grader's limits (per cell, per call, per notebook); the visible
tests of the released notebook are run against it and each part prints PASS or FAIL with the check's message:
the property that failed, the smallest input that shows it, expected vs. got, and a hint. The hidden tests are
not available here.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from autograder.course import RELEASE_DIRECTORY, REPO_ROOT, Assignment
from autograder.grading import DEFAULT_LIMITS, PASSED, grade_submission


def released() -> list[str]:
    """The course's notebooks, by name (``exercises/NN_slug/NN_slug.ipynb``)."""
    folder = REPO_ROOT / RELEASE_DIRECTORY
    return sorted(p.name for p in folder.iterdir() if (p / f"{p.name}.ipynb").exists())


def which_assignment(notebook: Path, given: str | None) -> str:
    """The chapter a notebook answers: ``given``, else its file name, else the one chapter name inside its file
    name (``01_mdps-Copy1.ipynb``, ``alice_01_mdps.ipynb``). Raises ``ValueError`` with what to do."""
    known = released()
    if given:
        if given not in known:
            raise ValueError(f"--assignment {given} is not one of the course's notebooks: {', '.join(known)}")
        return given
    if notebook.stem in known:
        return notebook.stem
    inside = [name for name in known if name in notebook.stem]
    if len(inside) == 1:
        return inside[0]
    raise ValueError(f"{notebook.name} is not one of the course's notebooks and its name does not say which one; "
                     f"add --assignment NAME (one of {', '.join(known)})")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="course-selfcheck", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("notebook", type=Path)
    parser.add_argument("--assignment", help="the chapter (e.g. 01_mdps), when the file was renamed")
    args = parser.parse_args(argv)
    try:
        name = which_assignment(args.notebook, args.assignment)
    except ValueError as error:
        parser.error(str(error))
    if name != args.notebook.stem:
        print(f"{args.notebook.name}: checked as {name}")
    release = REPO_ROOT / RELEASE_DIRECTORY / name / f"{name}.ipynb"
    limits = DEFAULT_LIMITS  # the same per-cell, per-call and per-notebook limits as grading
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
