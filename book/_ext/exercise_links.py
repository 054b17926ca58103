"""Put each chapter's exercise one click away: a download link, the self-check command and the visible tests.

For a chapter page ``NN_slug`` with a student notebook ``exercises/NN_slug/NN_slug.ipynb``, this extension adds to
the chapter's "Exercises" section (or to a new one at the end of the page):

- a download link to the student notebook (Sphinx copies it into the build, under ``_downloads/``);
- the command that runs the notebook's visible tests outside Jupyter (``course-selfcheck``);
- the list of the visible tests, read from the notebook when the book is built: one item per nbgrader test cell
  (``grade: true``), with the part it belongs to, the check it calls and its points.

The page is rebuilt when its notebook changes (the notebook is recorded as a dependency of the page).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from docutils import nodes
from sphinx import addnodes

SECTION_TITLE = "Exercises"
PART_HEADING = re.compile(r"^#+\s*(Part\b.*?)\s*(\(\s*[\d.]+\s*points?\s*\))?\s*$", re.MULTILINE)


@dataclass(frozen=True)
class VisibleTest:
    part: str  # the heading of the part the test belongs to, e.g. "Part 1 — The Bellman expectation backup"
    code: str  # the test cell's source, e.g. "check_value_iteration(value_iteration)"
    points: float


def visible_tests(notebook: Path) -> list[VisibleTest]:
    """The nbgrader test cells of a student notebook, each with the part heading above it."""
    cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
    tests, part = [], ""
    for cell in cells:
        source = "".join(cell["source"])
        grading = cell.get("metadata", {}).get("nbgrader", {})
        if cell["cell_type"] == "markdown":
            headings = PART_HEADING.findall(source)
            part = headings[-1][0] if headings else part
        elif grading.get("grade"):
            tests.append(VisibleTest(part, source.strip(), float(grading.get("points", 0))))
    return tests


def _text_with_math(text: str) -> list[nodes.Node]:
    """Plain text in which ``$...$`` spans become inline math (so MathJax typesets them)."""
    pieces = text.split("$")
    return [nodes.math(piece, piece) if odd else nodes.Text(piece) for odd, piece in
            ((i % 2 == 1, piece) for i, piece in enumerate(pieces)) if piece]


def _exercise_nodes(name: str, notebook: Path, srcdir: Path) -> list[nodes.Node]:
    download = addnodes.download_reference(
        "", "", nodes.literal(text=notebook.name), refdoc=name, refexplicit=True,
        reftarget="/" + Path("..", notebook.relative_to(srcdir.parent)).as_posix())
    link = nodes.paragraph("", "", nodes.strong(text="Download the exercise notebook: "), download,
                           nodes.Text(" (open it in JupyterLab from the course environment)."))
    command = f".venv/bin/course-selfcheck exercises/{name}/{notebook.name}"
    selfcheck = [nodes.paragraph("", "Before submitting, run its visible tests outside Jupyter, in a separate process "
                                     "as the grader does:"),
                 nodes.literal_block(command, command, language="bash")]
    tests = visible_tests(notebook)
    items = nodes.bullet_list()
    for test in tests:
        label = [*_text_with_math(test.part), nodes.Text(": ")] if test.part else []
        items += nodes.list_item("", nodes.paragraph("", "", *label, nodes.literal(text=test.code),
                                                     nodes.Text(f" ({test.points:g} points)")))
    total = sum(test.points for test in tests)
    heading = nodes.paragraph("", f"The visible tests of the notebook ({len(tests)} test cells, {total:g} points; "
                                  "the grader adds hidden tests on many more inputs):")
    return [link, *selfcheck, heading, items]


def _add_exercise(app, doctree) -> None:
    name = app.env.docname
    srcdir = Path(app.srcdir)
    notebook = srcdir.parent / "exercises" / name / f"{name}.ipynb"
    if not notebook.exists():
        return
    app.env.note_dependency(str(notebook))
    section = next((s for s in doctree.findall(nodes.section)
                    if s.children and s[0].astext().strip() == SECTION_TITLE), None)
    if section is None:
        section = nodes.section(ids=["exercises"], names=["exercises"])
        section += nodes.title(text=SECTION_TITLE)
        top = next(iter(doctree.findall(nodes.section)), doctree)
        top += section
    container = nodes.container(classes=["exercise-links"])
    container += _exercise_nodes(name, notebook, srcdir)
    section += container


def setup(app):
    # Before Sphinx's collectors (priority 500), so that the download link is registered and the notebook copied.
    app.connect("doctree-read", _add_exercise, priority=400)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
