"""The book's own style sheet and scripts, and a clean ``<head>``: each script once, a valid colour-mode default.

- ``_static/book.css``: wide display equations, code and outputs become visible scroll containers (edge shadows
  show that more content lies to the side), printed outputs wrap, long inline code breaks on narrow screens,
  figures use the column's width.
- ``_static/search_math.js``: search-result snippets show math as plain text instead of TeX source.
- Some bundled extensions register their inline scripts twice (``const THEBE_JS_URL`` twice is a
  ``SyntaxError`` on every page); identical script entries are dropped from each page's ``<head>``.
- The theme's colour mode defaults to ``auto`` (an empty default logs an error on a reader's first visit).
"""

from __future__ import annotations

from pathlib import Path

STATIC = Path(__file__).resolve().parent.parent / "_static"


def _asset_key(asset) -> tuple:
    """What makes two ``<script>``/``<link>`` entries the same tag (Sphinx may register an inline script both with
    ``filename=None`` and ``filename=''``)."""
    attributes = getattr(asset, "attributes", {}) or {}
    return getattr(asset, "filename", str(asset)) or "", tuple(sorted((k, str(v)) for k, v in attributes.items()))


def _each_asset_once(app, pagename, templatename, context, doctree) -> None:
    for key in ("script_files", "css_files"):
        assets = context.get(key)
        if not assets:
            continue
        seen, unique = set(), []
        for asset in assets:
            if _asset_key(asset) not in seen:
                seen.add(_asset_key(asset))
                unique.append(asset)
        assets[:] = unique


def _default_colour_mode(app, config) -> None:
    context = dict(config.html_context or {})
    if not context.get("default_mode"):
        context["default_mode"] = "auto"
    config.html_context = context


def setup(app):
    app.connect("config-inited", _default_colour_mode)
    app.connect("builder-inited", lambda app: app.config.html_static_path.append(str(STATIC)))
    app.add_css_file("book.css")
    app.add_js_file("search_math.js")
    app.connect("html-page-context", _each_asset_once, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
