"""nbgrader course configuration for plain nbgrader: ``solutions/`` of this repository is the source.

Run nbgrader from this folder (it reads this file); the course folder, where nbgrader writes the release,
``submitted/``, ``autograded/``, ``feedback/`` and ``gradebook.db``, is ``$COURSE_ROOT`` or, by default,
``~/grading/bisim-deepmdp`` — never the repository, so no student's grade is ever written into it:

    source .venv/bin/activate && cd autograder
    export COURSE_ROOT=~/grading/plain
    nbgrader generate_assignment 01_mdps
    nbgrader autograde 01_mdps

The course's own commands (``python -m autograder.release``, ``course-grade``) load the same settings from
:mod:`autograder.course` and build their own working folders.
"""

import os
from pathlib import Path

from autograder.course import REPO_ROOT, SOURCE_DIRECTORY, configure

root = Path(os.environ.get("COURSE_ROOT") or Path.home() / "grading" / "bisim-deepmdp").expanduser().resolve()
if root == REPO_ROOT or REPO_ROOT in root.parents:
    raise SystemExit(f"COURSE_ROOT={root} lies inside the course repository; choose a folder outside it")
root.mkdir(parents=True, exist_ok=True)
c = get_config()  # noqa: F821  (provided by traitlets when it loads this file)
configure(c, root, source=REPO_ROOT / SOURCE_DIRECTORY)
