"""The given (locked) code cells of a solution notebook, so that variant sources start from the same code."""

from pathlib import Path

import nbformat

SOLUTIONS = Path(__file__).resolve().parents[3] / "solutions"
IMPORTS = "import torch\nimport torch.nn.functional as F\n\n"  # what the notebooks' set-up cells import


def given_cell(chapter: str, grade_id: str) -> str:
    """Source of the locked cell ``grade_id`` of ``solutions/<chapter>/<chapter>.ipynb``, with a trailing newline."""
    nb = nbformat.read(SOLUTIONS / chapter / f"{chapter}.ipynb", as_version=4)
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("grade_id") == grade_id:
            if not meta.get("locked") or meta.get("solution"):
                raise ValueError(f"{chapter}: cell {grade_id!r} is not a given (locked) cell")
            return cell.source.rstrip("\n") + "\n"
    raise KeyError(f"{chapter}: no cell {grade_id!r}")
