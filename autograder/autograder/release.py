"""Generate the student notebooks in ``exercises/`` from ``solutions/`` with nbgrader.

    python -m autograder.release --all            # regenerate every chapter (also: make exercises)
    python -m autograder.release 01_mdps          # one chapter
    python -m autograder.release --all --out DIR  # generate into DIR (the sync test uses this)
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

from autograder.course import RELEASE_DIRECTORY, REPO_ROOT, assignments, make_course


def generate(names: list[str], out: Path, root: Path = REPO_ROOT) -> None:
    """Run ``nbgrader generate_assignment`` in a scratch course folder and copy the releases into ``out``."""
    with tempfile.TemporaryDirectory(prefix="course-release-") as scratch:
        course = make_course(Path(scratch), names, db=False, root=root)
        for name in names:
            target = out / name
            if target.exists():
                shutil.rmtree(target)
            shutil.copytree(course / RELEASE_DIRECTORY / name, target)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("names", nargs="*", help="chapters to release (e.g. 01_mdps)")
    parser.add_argument("--all", action="store_true", help="release every chapter in solutions/")
    parser.add_argument("--out", type=Path, default=REPO_ROOT / RELEASE_DIRECTORY)
    args = parser.parse_args(argv)
    known = assignments()
    names = sorted(known) if args.all else args.names
    unknown = [n for n in names if n not in known]
    if not names or unknown:
        parser.error(f"name chapters from {sorted(known)} or pass --all (unknown: {unknown}).")
    generate(names, args.out)
    print(f"released {', '.join(names)} into {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
