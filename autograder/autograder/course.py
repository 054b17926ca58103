"""What the course is made of (chapters, notebooks, points) and the nbgrader settings every command shares."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import nbformat

REPO_ROOT = Path(__file__).resolve().parents[2]
SOURCE_DIRECTORY = "solutions"
RELEASE_DIRECTORY = "exercises"
CODE_STUB = "# YOUR CODE HERE\nraise NotImplementedError()"
CELL_TIMEOUT_S = 120


def configure(c, root: Path, db_url: str | None = None, source: Path | None = None) -> None:
    """Apply the course's nbgrader settings to a traitlets config object ``c``; ``source`` (default: the
    course folder's ``solutions/``) is where the source notebooks are."""
    c.CourseDirectory.root = str(root)
    c.CourseDirectory.source_directory = str(source) if source else SOURCE_DIRECTORY
    c.CourseDirectory.release_directory = RELEASE_DIRECTORY
    c.CourseDirectory.course_id = "bisim-deepmdp"
    c.CourseDirectory.db_url = db_url or f"sqlite:///{Path(root) / 'gradebook.db'}"
    c.CourseDirectory.ignore = [".ipynb_checkpoints", "*.pyc", "__pycache__", ".hypothesis"]
    c.ClearSolutions.code_stub = {"python": CODE_STUB}
    from autograder.nbgrader_checksums import SANITIZE_PREPROCESSORS

    c.Autograde.sanitize_preprocessors = SANITIZE_PREPROCESSORS
    c.Execute.timeout = CELL_TIMEOUT_S
    c.Execute.interrupt_on_timeout = True


def nbgrader_env() -> dict[str, str]:
    """The environment for an nbgrader subprocess: this interpreter's ``bin/`` first (nbgrader calls ``alembic``)."""
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env.setdefault("PYTHONHASHSEED", "0")
    return env


def config_file_text(root: Path, db_url: str | None = None) -> str:
    """The text of an ``nbgrader_config.py`` for a working course folder at ``root``."""
    return (
        "from pathlib import Path\n"
        "from autograder.course import configure\n"
        f"configure(get_config(), Path({str(root)!r}), {db_url!r})  # noqa: F821\n"
    )


def run_nbgrader(course: Path, *args: str, capture: bool = True) -> subprocess.CompletedProcess:
    """Run ``nbgrader ARGS`` in the course folder ``course`` (raises with nbgrader's output when it fails)."""
    result = subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=course, env=nbgrader_env(),
                            capture_output=capture, text=True)
    if result.returncode:
        raise RuntimeError(f"nbgrader {' '.join(args)} failed in {course}:\n{result.stdout}\n{result.stderr}")
    return result


def make_course(course: Path, names: list[str], *, db: bool = True, root: Path = REPO_ROOT) -> Path:
    """An nbgrader course folder at ``course`` holding the chapters ``names``: the config, a copy of their source
    notebooks and their release (``generate_assignment``, recorded in ``course/gradebook.db`` unless ``db`` is off).

    The one place where the course's commands and tests build a working nbgrader course outside the repository.
    """
    course = Path(course)
    course.mkdir(parents=True, exist_ok=True)
    (course / "nbgrader_config.py").write_text(config_file_text(course, f"sqlite:///{course / 'gradebook.db'}"))
    for name in names:
        target = course / SOURCE_DIRECTORY / name
        if target.exists():
            shutil.rmtree(target)
        shutil.copytree(root / SOURCE_DIRECTORY / name, target,
                        ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__", ".hypothesis"))
        run_nbgrader(course, "generate_assignment", name, "--force", "--log-level=ERROR",
                     *([] if db else ["--no-db"]))
    return course


@dataclass(frozen=True)
class GradedPart:
    grade_id: str
    points: float


@dataclass(frozen=True)
class Assignment:
    """One chapter's graded notebook, as found in ``solutions/``."""

    name: str
    source: Path

    @property
    def notebook_name(self) -> str:
        return self.source.name

    def graded_parts(self) -> list[GradedPart]:
        nb = nbformat.read(self.source, as_version=4)
        return [
            GradedPart(cell.metadata["nbgrader"]["grade_id"], float(cell.metadata["nbgrader"]["points"]))
            for cell in nb.cells
            if cell.metadata.get("nbgrader", {}).get("grade")
        ]

    @property
    def total_points(self) -> float:
        return sum(part.points for part in self.graded_parts())


def assignments(root: Path = REPO_ROOT) -> dict[str, Assignment]:
    """Every chapter notebook ``solutions/NN_slug/NN_slug.ipynb``, by name."""
    found = {}
    for folder in sorted((root / SOURCE_DIRECTORY).iterdir()):
        notebook = folder / f"{folder.name}.ipynb"
        if folder.is_dir() and notebook.exists():
            found[folder.name] = Assignment(folder.name, notebook)
    return found


def normalised_json(path: Path) -> str:
    """A notebook's JSON with stable formatting, for comparing generated files."""
    return json.dumps(json.loads(path.read_text()), indent=1, sort_keys=True, ensure_ascii=False)
