"""Open the built book in headless Chromium (Debian's package, driven by Playwright) and measure each page.

The book is served from a local HTTP server on 127.0.0.1 (Sphinx's search fetches pages, which a ``file://`` page
may not do); every request to any other host is aborted and recorded, so a test can assert that none happened.
No browser is ever downloaded: Playwright drives the system's ``/usr/bin/chromium``.
"""

from __future__ import annotations

import functools
import http.server
import shutil
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--no-sandbox",  # Chromium refuses to start as root with its own sandbox
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PAGE_CHECKS = (Path(__file__).with_name("page_checks.js")).read_text()
DESKTOP, PHONE = 1280, 390
# Figures are drawn at matplotlib's 100 dpi; on a desktop screen each must be shown at no less than this fraction of
# its drawn size, or its titles and labels become too small to read (wide figures were once shown at 56%).
MIN_FIGURE_SCALE = 0.65


def chromium_or_fail() -> str:
    """The Chromium executable, or a failure that says how to install it (the test is never skipped)."""
    found = CHROMIUM if CHROMIUM.exists() else shutil.which("chromium")
    if not found:
        raise RuntimeError(
            f"Chromium not found at {CHROMIUM}: the browser test needs Debian's chromium package. "
            "`make test` installs it when run as root; otherwise run `sudo apt-get install chromium`.")
    return str(found)


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - the base class's signature
        pass


@contextmanager
def serve(directory: Path):
    """Serve ``directory`` on 127.0.0.1 (a free port) for the duration of the block; yields the base URL."""
    handler = functools.partial(_QuietHandler, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


@dataclass
class Visit:
    """What one page load did: the page's measurements plus the browser's errors."""

    url: str
    width: int
    checks: dict
    console_errors: list[str] = field(default_factory=list)
    screenshot: Path | None = None


class BookBrowser:
    """A headless Chromium whose requests may only reach the local book server."""

    def __init__(self, playwright, base_url: str):
        self.base_url = base_url
        self.blocked: list[str] = []
        self.browser = playwright.chromium.launch(
            executable_path=chromium_or_fail(), headless=True, args=CHROMIUM_FLAGS,
            ignore_default_args=["--hide-scrollbars"])  # scroll bars must show, as for a reader
        self.context = self.browser.new_context(viewport={"width": DESKTOP, "height": 900}, service_workers="block")
        self.context.route("**/*", self._route)

    def _route(self, route):
        url = route.request.url
        if url.startswith(self.base_url) or url.startswith(("data:", "blob:", "file:")):
            route.continue_()
        else:
            self.blocked.append(url)
            route.abort()

    def close(self) -> None:
        self.context.close()
        self.browser.close()

    def open(self, path: str, width: int):
        """Load ``path`` at ``width`` px, wait until MathJax has typeset it and its fonts are in; return the page."""
        page = self.context.new_page()
        page.set_viewport_size({"width": width, "height": 900})
        errors: list[str] = []
        page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
        page.on("pageerror", lambda error: errors.append(f"uncaught: {error}"))
        page.goto(self.base_url + path, wait_until="load")
        page.evaluate("() => (window.MathJax && MathJax.startup ? MathJax.startup.promise : Promise.resolve())")
        page.evaluate("() => document.fonts.ready.then(() => true)")
        page.wait_for_function("() => [...document.images].every((img) => img.complete)")
        page.errors = errors
        return page

    def visit(self, path: str, width: int, screenshots: Path) -> Visit:
        """Measure the page; when it has problems, write a full-page screenshot to ``screenshots``."""
        page = self.open(path, width)
        try:
            visit = Visit(self.base_url + path, width, page.evaluate(PAGE_CHECKS), list(page.errors))
            if problems(visit):
                screenshots.mkdir(parents=True, exist_ok=True)
                visit.screenshot = screenshots / f"{Path(path).stem}-{width}px.png"
                page.screenshot(path=str(visit.screenshot), full_page=True)
            return visit
        finally:
            page.close()


def problems(visit: Visit) -> list[str]:
    """Everything a reader would see as broken on this page at this width, in words."""
    checks, found = visit.checks, []
    if checks["hasMath"] and not checks["mathjax"]:
        found.append("MathJax did not start")
    found += [f"MathJax error: {text}" for text in checks["mathErrors"]]
    found += [f"raw TeX in the text: {text}" for text in checks["rawTex"]]
    for image in checks["images"]:
        if not image["loaded"]:
            found.append(f"image did not load: {image['src']}")
        alt = image["alt"]
        if len(alt.split()) < 3 or "/" in alt or alt.lower().endswith((".png", ".svg", ".jpg", ".jpeg")):
            found.append(f"image {image['src']} has no descriptive alt text (alt={alt!r})")
        if visit.width == DESKTOP and image["loaded"] and image["scale"] < MIN_FIGURE_SCALE:
            found.append(f"image {image['src']} is shrunk to {image['scale']:.0%} of its size: its text is too small")
    found += [f"too wide: {text}" for text in checks["tooWide"]]
    if checks["pageWidth"] > checks["viewport"]:
        found.append(f"the page scrolls sideways: {checks['pageWidth']} px wide in a {checks['viewport']} px window")
    found += [f"console error: {text}" for text in visit.console_errors]
    return found
