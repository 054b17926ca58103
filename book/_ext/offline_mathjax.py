"""Serve MathJax 3 from the book itself, so math renders without a network connection.

Sphinx loads MathJax from a CDN by default. This extension copies the MathJax build shipped by the pinned
``django-static-mathjax`` package (only the parts a page loads: the TeX+MathML→CHTML component, its fonts
and the lazily loaded menu and extensions) into ``_static/mathjax`` and points ``mathjax_path`` there.

It also loads the TeX packages the book uses beyond MathJax's default set: ``mathtools`` (for ``psmallmatrix``).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import mathjax

MATHJAX_ES5 = Path(mathjax.__file__).parent / "static" / "mathjax" / "es5"
ENTRY_POINT = "tex-mml-chtml.js"
NEEDED = (ENTRY_POINT, "output/chtml", "input/tex", "input/mml", "ui", "a11y", "adaptors")
EXTRA_TEX_PACKAGES = ("mathtools",)


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


def _load_tex_packages(app) -> None:
    """Merge the extra packages into ``mathjax3_config`` (after MyST has added its own options)."""
    config = dict(app.config.mathjax3_config or {})
    loader = dict(config.get("loader", {}))
    loader["load"] = [*loader.get("load", []), *(f"[tex]/{name}" for name in EXTRA_TEX_PACKAGES)]
    tex = dict(config.get("tex", {}))
    packages = dict(tex.get("packages", {}))
    packages["[+]"] = [*packages.get("[+]", []), *EXTRA_TEX_PACKAGES]
    tex["packages"] = packages
    config.update(loader=loader, tex=tex)
    app.config.mathjax3_config = config
    extensions = MATHJAX_ES5 / "input" / "tex" / "extensions"
    missing = [name for name in EXTRA_TEX_PACKAGES if not (extensions / f"{name}.js").exists()]
    if missing:
        raise RuntimeError(f"MathJax TeX packages not shipped: {missing}")


def setup(app):
    if not (MATHJAX_ES5 / ENTRY_POINT).exists():
        raise RuntimeError(f"MathJax not found at {MATHJAX_ES5}; install the pinned requirements.")
    app.config.mathjax_path = f"mathjax/{ENTRY_POINT}"
    app.connect("builder-inited", _load_tex_packages, priority=900)
    app.connect("build-finished", _copy_mathjax)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
