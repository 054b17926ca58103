"""nbgrader course configuration: ``solutions/`` is the source, ``exercises/`` the release.

Plain nbgrader works from this folder (``cd autograder && nbgrader generate_assignment 01_mdps --no-db``).
The course's own commands (``python -m autograder.release``, ``course-grade``) load the same settings from
:mod:`autograder.course` and run nbgrader in a working folder outside the repository, so grading never
writes into the repository. ``COURSE_ROOT`` points nbgrader at another course folder.
"""

import os
from pathlib import Path

from autograder.course import configure

c = get_config()  # noqa: F821  (provided by traitlets when it loads this file)
configure(c, Path(os.environ.get("COURSE_ROOT", Path(__file__).resolve().parent.parent)))
