"""The book builds with every chapter executed, has its figures, and renders math without a network."""

import json
import os
import re
import subprocess
import sys
from html import unescape as html_unescape
from pathlib import Path

import pytest
import yaml
from chromium_pages import DESKTOP, PHONE, BookBrowser, chromium_or_fail, problems, serve

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


def pages() -> list[str]:
    """Every page of the table of contents: the preface, the chapters and the bibliography."""
    toc = yaml.safe_load((BOOK / "_toc.yml").read_text())
    return [toc["root"]] + [entry["file"] for entry in toc["chapters"]]


@pytest.fixture(scope="module")
def book_browser(html):
    """Headless Chromium on the built book, served from 127.0.0.1; fails (never skips) without Chromium."""
    from playwright.sync_api import sync_playwright

    try:
        chromium_or_fail()
    except RuntimeError as missing:
        pytest.fail(str(missing))
    with serve(html) as base_url, sync_playwright() as playwright:
        browser = BookBrowser(playwright, base_url)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def screenshots(tmp_path_factory) -> Path:
    return tmp_path_factory.getbasetemp() / "book-screenshots"


@pytest.mark.slow
@pytest.mark.parametrize("page", pages())
def test_page_renders_cleanly_in_a_browser(book_browser, screenshots, page):
    """Typeset math without errors or raw TeX, loaded images with alt texts, nothing cut or sideways-scrolling,
    no console errors, at a desktop (1280 px) and a phone (390 px) width; no request leaves the machine."""
    found = []
    for width in (DESKTOP, PHONE):
        visit = book_browser.visit(f"{page}.html", width, screenshots)
        found += [f"{width} px: {problem}" for problem in problems(visit)]
        if visit.screenshot:
            print(f"screenshot of {page}.html at {width} px: {visit.screenshot}")
    assert not book_browser.blocked, f"requests left the machine: {book_browser.blocked}"
    assert not found, f"{page}.html (screenshots in {screenshots}):\n" + "\n".join(found)


@pytest.mark.slow
def test_search_snippets_show_no_raw_tex(book_browser):
    page = book_browser.open("search.html?q=bisimulation+metric", DESKTOP)
    try:
        page.wait_for_function("() => /found \\d+ page/i.test("
                               "document.querySelector('#search-results p.search-summary')?.textContent || '')")
        page.wait_for_function("() => [...document.querySelectorAll('#search-results p.context')].length > 0")
        snippets = page.eval_on_selector_all("#search-results p.context", "els => els.map(e => e.textContent)")
        errors = list(page.errors)
    finally:
        page.close()
    tex = [text for text in snippets
           if re.search(r"\\[()\[\]]|\$\$|\\(frac|math[a-z]+|sum|gamma|pi|le|ge|mid|lVert|begin|end)\b", text)]
    assert not tex, f"search snippets with raw TeX: {tex[:3]}"
    assert not errors, errors
    assert not book_browser.blocked, f"requests left the machine: {book_browser.blocked}"


@pytest.mark.slow
def test_each_chapter_links_its_exercise_notebook_self_check_and_visible_tests(html):
    """The chapter page offers the student notebook for download (the same file as in exercises/), the self-check
    command, and one list item per visible test cell of that notebook, read from the notebook at build time."""
    for chapter in chapters():
        notebook = REPO_ROOT / "exercises" / chapter / f"{chapter}.ipynb"
        page = (html / f"{chapter}.html").read_text()
        links = re.findall(rf'<a class="reference download internal" download="" href="([^"]*/{chapter}\.ipynb)"', page)
        assert len(links) == 1, f"{chapter}: expected one download link to {notebook.name}, found {links}"
        assert (html / links[0]).read_bytes() == notebook.read_bytes(), f"{chapter}: the downloaded notebook differs"
        text = " ".join(html_unescape(re.sub(r"<[^>]+>", "", page)).split())
        assert f".venv/bin/course-selfcheck exercises/{chapter}/{chapter}.ipynb" in text, f"{chapter}: no self-check"
        tests = [cell for cell in json.loads(notebook.read_text())["cells"]
                 if cell.get("metadata", {}).get("nbgrader", {}).get("grade")]
        box = page[page.index('class="exercise-links'):]
        box = box[:box.index("</ul>")]
        assert box.count("<li>") == len(tests) > 0, f"{chapter}: {box.count('<li>')} listed, {len(tests)} test cells"
        text = " ".join(html_unescape(re.sub(r"<[^>]+>", " ", box)).split())
        for cell in tests:
            code = " ".join("".join(cell["source"]).split())
            assert code in text, f"{chapter}: the visible test {code!r} is not listed"
