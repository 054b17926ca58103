"""Quiet checks: nothing a check or the student's code writes may reach stderr while a check runs.

nbgrader scores a test cell 0 when it shows any stderr output, so correct code that logs would lose its points in
the notebook while the sandboxed grader (which captures the student's output) gives them: the same code must get
the same verdict in both places.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import sys
import warnings
from collections.abc import Iterator

import numpy as np


class _Muted:
    """Swallows writes (used in place of a stream's ``write`` while a check runs)."""

    def __init__(self) -> None:
        self.sink = io.StringIO()

    def write(self, text: str) -> int:
        return self.sink.write(str(text))


@contextlib.contextmanager
def _stderr_muted() -> Iterator[None]:
    """Keep every route to stderr closed: ``sys.stderr``, streams saved earlier (a ``logging`` handler holds the
    stderr it saw when it was made; in a notebook that is the kernel's stream of the running cell) and file
    descriptor 2 (C extensions, ``os.write(2, ...)``)."""
    muted = _Muted()
    streams = {id(s): s for s in (sys.stderr, sys.__stderr__) if s is not None}
    for handler in _stream_handlers():
        streams.setdefault(id(handler.stream), handler.stream)
    patched = []
    for stream in streams.values():
        try:
            had_own = "write" in vars(stream)
            own = vars(stream).get("write")
            stream.write = muted.write
            patched.append((stream, had_own, own))
        except (AttributeError, TypeError):
            pass
    saved_fd = None
    try:
        saved_fd = os.dup(2)
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 2)
        os.close(devnull)
    except OSError:
        saved_fd = None
    try:
        with contextlib.redirect_stderr(io.StringIO()):
            yield
    finally:
        if saved_fd is not None:
            os.dup2(saved_fd, 2)
            os.close(saved_fd)
        for stream, had_own, own in patched:
            if had_own:
                stream.write = own
            else:
                with contextlib.suppress(AttributeError):
                    del stream.write


def _stream_handlers() -> list[logging.StreamHandler]:
    loggers = [logging.getLogger()] + [lg for lg in logging.Logger.manager.loggerDict.values()
                                       if isinstance(lg, logging.Logger)]
    return [h for lg in loggers for h in lg.handlers
            if isinstance(h, logging.StreamHandler) and getattr(h, "stream", None) is not None
            and h.stream is not sys.stdout]


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """Silence warnings and stderr while a check runs (nbgrader gives 0 for any stderr output, so what the
    student's code logs must not reach the test cell's stderr)."""
    with warnings.catch_warnings(), np.errstate(all="ignore"), _stderr_muted():
        warnings.simplefilter("ignore")
        yield
