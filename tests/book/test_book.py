"""The book builds with every chapter executed, has its figures, and renders math without a network."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from autograder.course import REPO_ROOT

BOOK = REPO_ROOT / "book"


def chapters() -> list[str]:
    toc = yaml.safe_load((BOOK / "_toc.yml").read_text())
    return [entry["file"] for entry in toc["chapters"] if entry["file"][:2].isdigit()]


@pytest.fixture(scope="module")
def html(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("book")
    jupyter_book = Path(sys.executable).parent / "jupyter-book"
    env = {k: v for k, v in os.environ.items() if k != "MPLBACKEND"}  # the kernel must use the inline backend
    result = subprocess.run([str(jupyter_book), "build", "-W", "-n", "--keep-going", str(BOOK), "--path-output",
                             str(out)], capture_output=True, text=True, env=env)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    return out / "_build" / "html"


@pytest.mark.slow
def test_every_chapter_renders_with_figures_and_numbered_equations(html):
    assert (html / "index.html").exists() and (html / "intro.html").exists()
    for chapter in chapters():
        page = (html / f"{chapter}.html").read_text()
        number = int(chapter[:2])
        assert page.count("<img") >= 2, f"{chapter} has fewer than two figures"
        assert f'class="eqno">({number}.1)' in page, f"{chapter} has no numbered equations"
        assert "Traceback (most recent call last)" not in page, f"{chapter} shows a traceback"


@pytest.mark.slow
def test_math_is_served_locally(html):
    page = (html / f"{chapters()[0]}.html").read_text()
    assert 'src="_static/mathjax/tex-mml-chtml.js"' in page
    assert not re.search(r"https?://[^\"']*mathjax", page, flags=re.IGNORECASE)
    assert (html / "_static" / "mathjax" / "output" / "chtml" / "fonts" / "woff-v2").is_dir()
