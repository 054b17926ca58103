"""Serve MathJax 3 from the book itself, so math renders without a network connection.

Sphinx loads MathJax from a CDN by default. This extension copies the MathJax build shipped by the pinned
``django-static-mathjax`` package (only the parts a page loads: the TeX+MathML→CHTML component, its fonts
and the lazily loaded menu and extensions) into ``_static/mathjax`` and points ``mathjax_path`` there.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import mathjax

MATHJAX_ES5 = Path(mathjax.__file__).parent / "static" / "mathjax" / "es5"
ENTRY_POINT = "tex-mml-chtml.js"
NEEDED = (ENTRY_POINT, "output/chtml", "input/tex", "input/mml", "ui", "a11y", "adaptors")


def _copy_mathjax(app, exception) -> None:
    if exception is not None or app.builder.format != "html":
        return
    target = Path(app.outdir) / "_static" / "mathjax"
    for item in NEEDED:
        source = MATHJAX_ES5 / item
        if source.is_dir():
            shutil.copytree(source, target / item, dirs_exist_ok=True)
        else:
            target.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / item)


def setup(app):
    if not (MATHJAX_ES5 / ENTRY_POINT).exists():
        raise RuntimeError(f"MathJax not found at {MATHJAX_ES5}; install the pinned requirements.")
    app.config.mathjax_path = f"mathjax/{ENTRY_POINT}"
    app.connect("build-finished", _copy_mathjax)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
