"""The sandboxed side of grading: run a student's cells, then answer calls with plain data.

Started by :mod:`autograder.sandbox.launcher` as ``python -S worker.py SITE_PACKAGES`` inside the sandbox, next
to a copy of :mod:`autograder.sandbox.protocol`. It reads requests from stdin and answers on stdout; the student's
own output goes to a capped buffer, never to the protocol stream. Requests:

* ``{"op": "exec", "source": str}`` runs one cell in the notebook namespace;
* ``{"op": "names"}`` lists the names the cells defined (callable or data);
* ``{"op": "call", "name": str, "args": [...], "kwargs": {...}}`` calls a student function (with ``"grad_wrt"``:
  and backpropagates its result), through :mod:`autograder.sandbox.student_call` exactly as the checks do in
  the notebook (same copies, same detection of inputs changed in place, same gradient rules);
* ``{"op": "get", "name": str}`` returns a plain-data variable.

The worker decides nothing: verdicts are computed by the trusted grader from the data it sends back.
Importing ``autograder`` here yields an inert module (the notebook's check imports keep working, the checks do
nothing); the reference implementation is not importable at all.
"""

from __future__ import annotations

import builtins
import importlib.abc
import importlib.machinery
import io
import os
import sys
import time
import traceback
import types

OUTPUT_LIMIT = 64 * 1024
BLOCKED = ("reference_impl",)
INERT = ("autograder",)


class CappedOutput(io.TextIOBase):
    """Keeps the first ``OUTPUT_LIMIT`` characters written and drops the rest."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.size = 0
        self.dropped = 0

    def writable(self) -> bool:
        return True

    def write(self, text) -> int:
        text = str(text)
        room = OUTPUT_LIMIT - self.size
        if room > 0:
            self.parts.append(text[:room])
            self.size += min(room, len(text))
        self.dropped += max(0, len(text) - max(room, 0))
        return len(text)

    def take(self) -> str:
        text = "".join(self.parts)
        if self.dropped:
            text += f"\n[... {self.dropped} more characters of output dropped]"
        self.parts, self.size, self.dropped = [], 0, 0
        return text


class _InertModule(types.ModuleType):
    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        return lambda *args, **kwargs: None


class CourseImportGate(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """``autograder`` imports become inert; ``reference_impl`` imports fail."""

    def find_spec(self, fullname, path=None, target=None):
        root = fullname.split(".")[0]
        if root in BLOCKED:
            raise ModuleNotFoundError(f"No module named {fullname!r} (not available while grading)")
        if root in INERT:
            return importlib.machinery.ModuleSpec(fullname, self, is_package=True)
        return None

    def create_module(self, spec):
        module = _InertModule(spec.name)
        module.__path__ = []
        return module

    def exec_module(self, module):
        return None


def strip_magics(source: str) -> str:
    """Comment out IPython magics and shell escapes, which plain Python cannot run."""
    lines = []
    for line in source.splitlines():
        stripped = line.lstrip()
        lines.append(("# " + line) if stripped.startswith(("%", "!")) else line)
    return "\n".join(lines)


def student_traceback(error: BaseException) -> str:
    frames = [f for f in traceback.extract_tb(error.__traceback__) if f.filename.startswith("<cell")]
    lines = traceback.format_list(frames) + traceback.format_exception_only(type(error), error)
    return "".join(lines)[-4000:]


def scratch_free() -> int:
    """Bytes still free in the scratch folder (HOME); under bubblewrap it is a size-limited tmpfs."""
    try:
        stats = os.statvfs(os.environ.get("HOME", "."))
    except OSError:
        return -1
    return stats.f_bavail * stats.f_frsize


def end_stray_processes() -> None:
    """Kill every other process of this sandbox's private uid (forks left running by the student's code)."""
    import signal

    try:
        os.kill(-1, signal.SIGKILL)  # every process this uid may signal, except this one
    except (ProcessLookupError, PermissionError):
        pass


def main() -> None:
    from protocol import ProtocolError, read_message, unsupported, write_message  # copied next to this file
    from student_call import call, call_with_grads

    requests = os.fdopen(os.dup(0), "rb")
    replies = os.fdopen(os.dup(1), "wb")
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    output = CappedOutput()
    sys.stdout = sys.stderr = output
    sys.meta_path.insert(0, CourseImportGate())
    namespace: dict = {"__name__": "__main__", "__builtins__": builtins}
    cell_count = 0
    main_pid = os.getpid()

    while True:
        try:
            request = read_message(requests, tensors=True)
        except EOFError:
            return
        op = request.get("op")
        reply: dict
        start = time.perf_counter()
        try:
            if op == "exec":
                cell_count += 1
                code = compile(strip_magics(request["source"]), f"<cell {cell_count}>", "exec")
                exec(code, namespace)
                reply = {"ok": True}
            elif op == "names":
                reply = {"ok": True, "names": {
                    name: ("callable" if callable(value) else "data")
                    for name, value in list(namespace.items()) if not name.startswith("__")
                    and not isinstance(value, types.ModuleType)
                }}
            elif op == "call":
                fn, kwargs, wrt = namespace[request["name"]], request.get("kwargs", {}), request.get("grad_wrt")
                if wrt:
                    value, grads = call_with_grads(fn, kwargs, wrt)
                    reply = {"ok": True, "value": value, "grads": grads}
                else:
                    reply = {"ok": True, "value": call(fn, kwargs, tuple(request.get("args", [])))}
            elif op == "get":
                reply = {"ok": True, "value": namespace[request["name"]]}
            else:
                reply = {"ok": False, "error": f"unknown request {op!r}", "type": "ProtocolError"}
        except BaseException as error:  # the student's code may raise anything, SystemExit included
            reply = {"ok": False, "type": type(error).__name__, "error": str(error)[:2000],
                     "traceback": student_traceback(error)}
        if os.getpid() != main_pid:
            os._exit(0)  # a process forked by student code never answers
        if os.environ.get("COURSE_WORKER_OWNS_UID") == "1":
            end_stray_processes()
        reply["id"] = request.get("id")
        reply["seconds"] = time.perf_counter() - start
        reply["scratch_free"] = scratch_free()
        reply["output"] = output.take()
        try:
            write_message(replies, reply)
        except ProtocolError as error:
            write_message(replies, {"ok": False, "type": "UnsupportedValue", "output": reply["output"],
                                    "id": reply["id"], "error": unsupported(reply.get("value"), error)})


if __name__ == "__main__":
    if len(sys.argv) > 1:
        sys.path.append(sys.argv[1])  # site-packages, without processing .pth files (python -S)
    main()
