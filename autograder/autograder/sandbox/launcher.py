"""Start the worker for one submission in an isolated process tree, and talk to it with deadlines.

Isolation, strongest available first:

* ``bubblewrap`` (Debian package ``bubblewrap``): new PID, network, IPC and UTS namespaces; only the Python
  runtime (read-only) and one scratch folder (read-write) are visible, so the repository, ``solutions/``, other
  submissions and the gradebook do not exist inside; no network (loopback included). Run as root, the grader
  drops the worker to uid/gid 65534 (``nobody``) so the process limit applies; run as a normal user, bubblewrap
  maps the worker to ``nobody`` in a user namespace.
* without bubblewrap (documented fallback): a plain subprocess in its own session with the same resource limits,
  an emptied environment and ``python -S`` (the editable reference package is not importable); as root it also
  drops to ``nobody``. Files readable by that user stay readable, so install bubblewrap for real classes.

Resource limits (per worker, :class:`Limits`): CPU seconds, address space, processes, file size, open files,
no core dumps; the grader adds wall-clock deadlines per cell and per call, a wall-time budget for the whole
submission (shared by every worker restarted for it: restarts re-run earlier cells) and caps every message size.
The scratch folder (``HOME``, ``TMPDIR``) has a size quota: under bubblewrap (>= 0.5) it is a size-limited tmpfs,
so a write beyond the quota fails with "No space left on device"; without bubblewrap the folder is measured after
every request and a worker over the quota is stopped.
"""

from __future__ import annotations

import os
import re
import resource
import select
import shutil
import signal
import subprocess
import sys
import sysconfig
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from autograder.sandbox import protocol

NOBODY = 65534
UID_BASE = 61000  # as root, each worker gets its own unprivileged uid, so one fork bomb cannot starve another
SANDBOX_SITE = "/opt/site-packages"
HERE = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Limits:
    cpu_seconds: int = 600
    memory_bytes: int = 4 * 2**30
    processes: int = 256
    file_bytes: int = 16 * 2**20
    open_files: int = 256
    cell_seconds: float = 60.0
    call_seconds: float = 20.0
    submission_seconds: float = 300.0  # wall time for everything one submission runs, restarts included
    scratch_bytes: int = 256 * 2**20  # the scratch folder (and /tmp under bubblewrap)


class WorkerError(RuntimeError):
    """The worker did not answer: it timed out, crashed or broke the protocol."""


class WorkerTimeout(WorkerError):
    pass


class WorkerDied(WorkerError):
    pass


class BudgetExhausted(WorkerError):
    """The submission's wall-time budget ran out (nothing more of it is run)."""


class RemoteError(Exception):
    """The student's code raised; carries the exception type, message and the student's frames."""

    def __init__(self, type_name: str, message: str, student_traceback: str = ""):
        super().__init__(f"{type_name}: {message}")
        self.type_name, self.message, self.student_traceback = type_name, message, student_traceback


def bubblewrap() -> str | None:
    return shutil.which("bwrap")


def bubblewrap_version() -> tuple[int, ...]:
    try:
        text = subprocess.run([bubblewrap(), "--version"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError, TypeError):
        return ()
    found = re.search(r"(\d+)\.(\d+)(?:\.(\d+))?", text)
    return tuple(int(g) for g in found.groups() if g is not None) if found else ()


def sized_tmpfs_supported() -> bool:
    """``--size`` for ``--tmpfs`` (and ``--perms``) arrived in bubblewrap 0.5."""
    return bubblewrap_version() >= (0, 5)


def _python_paths() -> tuple[Path, Path]:
    """The interpreter's installation prefix and the active site-packages folder."""
    return Path(sys.base_prefix).resolve(), Path(sysconfig.get_paths()["purelib"]).resolve()


def sandbox_uid() -> int:
    """The unprivileged uid for this grading process's workers (distinct per concurrent grading process)."""
    return UID_BASE + os.getpid() % 2000


def _bwrap_command(scratch: Path, grader_dir: Path, as_root: bool, uid: int, quota: int | None) -> list[str]:
    """The bubblewrap command line; with ``quota``, HOME and /tmp are tmpfs of at most ``quota`` bytes each
    (otherwise HOME is the host's ``scratch`` folder, measured by the launcher)."""
    prefix, site = _python_paths()
    cmd = [bubblewrap(), "--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try",
           "--die-with-parent", "--new-session", "--clearenv"]
    if not as_root:
        cmd += ["--unshare-user", "--uid", str(NOBODY), "--gid", str(NOBODY)]
    made: set[str] = set()

    def parents(path: Path) -> list[str]:
        out = []
        for parent in reversed(path.parents):
            if str(parent) != "/" and str(parent) not in made:
                made.add(str(parent))
                out += ["--perms", "0755", "--dir", str(parent)]
        return out

    for system_dir in ("/usr", "/etc/alternatives"):
        if Path(system_dir).exists():
            cmd += ["--ro-bind", system_dir, system_dir]
    for link, target in (("/bin", "usr/bin"), ("/lib", "usr/lib"), ("/lib64", "usr/lib64"), ("/sbin", "usr/sbin")):
        if Path(link).is_symlink():
            cmd += ["--symlink", target, link]
        elif Path(link).is_dir():
            cmd += ["--ro-bind", link, link]
    if not str(prefix).startswith("/usr/"):
        cmd += parents(prefix) + ["--ro-bind", str(prefix), str(prefix)]
    # site-packages appears under a neutral path, so not even the repository's folder names exist inside.
    cmd += parents(Path(SANDBOX_SITE)) + ["--ro-bind", str(site), SANDBOX_SITE]
    for package in ("reference_impl", "autograder"):  # never visible inside, even when installed non-editable
        if (site / package).exists():
            cmd += ["--tmpfs", f"{SANDBOX_SITE}/{package}"]
    # /home must be traversable by the worker's uid, or the scratch folder (its HOME and TMPDIR) is unreachable
    cmd += parents(Path("/home/student"))
    cmd += ["--ro-bind", str(grader_dir), "/grader"]
    if quota:
        cmd += ["--perms", "0777", "--size", str(quota), "--tmpfs", "/home/student",
                "--perms", "1777", "--size", str(quota), "--tmpfs", "/tmp"]
    else:
        cmd += ["--bind", str(scratch), "/home/student", "--tmpfs", "/tmp"]
    cmd += ["--proc", "/proc", "--dev", "/dev", "--chdir", "/home/student"]
    for key, value in _worker_env("/home/student").items():
        cmd += ["--setenv", key, value]
    python = str(prefix / "bin" / f"python{sys.version_info.major}.{sys.version_info.minor}")
    if not Path(python).exists():
        python = str(Path(sys.executable).resolve())
    worker = ["/grader/worker.py", SANDBOX_SITE]
    if as_root:
        return cmd + ["--", "setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups",
                      "--inh-caps=-all", python, "-S", "-B", *worker]
    return cmd + ["--", python, "-S", "-B", *worker]


def folder_bytes(folder: Path) -> int:
    """Disk space used by the files under ``folder`` (allocated blocks, so sparse files count what they use)."""
    total = 0
    for root, _, files in os.walk(folder):
        for name in files:
            try:
                total += os.lstat(os.path.join(root, name)).st_blocks * 512
            except OSError:
                pass
    return total


def _world_accessible(path: Path) -> bool:
    """Whether an unprivileged user can reach ``path`` (every parent folder searchable by others)."""
    return all(parent.stat().st_mode & 0o001 for parent in path.resolve().parents)


def _worker_env(home: str) -> dict[str, str]:
    threads = "1"
    return {"HOME": home, "TMPDIR": home, "PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "PYTHONHASHSEED": "0",
            "OMP_NUM_THREADS": threads, "OPENBLAS_NUM_THREADS": threads, "MKL_NUM_THREADS": threads,
            "MPLBACKEND": "Agg", "PYTHONDONTWRITEBYTECODE": "1"}


def _set_limits(limits: Limits, drop_to_uid: int | None) -> None:
    """Runs in the child between fork and exec."""
    os.setsid()
    nproc = limits.processes
    if drop_to_uid is None and os.geteuid() != 0:
        # The process limit counts every process of this user: leave room for what the user already runs.
        nproc += sum(1 for p in Path("/proc").iterdir() if p.name.isdigit())
    for which, value in ((resource.RLIMIT_CPU, limits.cpu_seconds), (resource.RLIMIT_AS, limits.memory_bytes),
                         (resource.RLIMIT_NPROC, nproc), (resource.RLIMIT_FSIZE, limits.file_bytes),
                         (resource.RLIMIT_NOFILE, limits.open_files), (resource.RLIMIT_CORE, 0)):
        resource.setrlimit(which, (value, value))
    if drop_to_uid is not None:
        os.setgroups([])
        os.setgid(drop_to_uid)
        os.setuid(drop_to_uid)


class Worker:
    """One sandboxed worker process; every request has a deadline, after which the whole tree is killed."""

    def __init__(self, scratch: Path, limits: Limits | None = None, *, sandbox: str = "auto",
                 deadline: float | None = None):
        """``deadline``: a ``time.monotonic()`` instant after which no request is answered (the submission's
        wall-time budget); by default ``limits.submission_seconds`` from now."""
        limits = limits or Limits()
        self.scratch, self.limits = Path(scratch), limits
        self.deadline = time.monotonic() + limits.submission_seconds if deadline is None else deadline
        if self.deadline <= time.monotonic():
            raise BudgetExhausted(self.budget_message())
        self.quota_hit = False  # the scratch quota was reached (writes beyond it failed)
        self.tmpfs_quota = False
        self.scratch.mkdir(parents=True, exist_ok=True)
        grader_dir = self.scratch.parent / f".{self.scratch.name}-grader"
        grader_dir.mkdir(exist_ok=True)
        for name in ("worker.py", "protocol.py", "student_call.py"):
            shutil.copy2(HERE / name, grader_dir / name)
        as_root = os.geteuid() == 0
        self.uid = sandbox_uid()
        if as_root:
            os.chown(self.scratch, self.uid, self.uid)
            for p in (grader_dir, *grader_dir.iterdir()):
                p.chmod(0o755 if p.is_dir() else 0o644)
        if sandbox == "auto":
            sandbox = "bubblewrap" if bubblewrap() else "process"
        if sandbox == "bubblewrap":
            if not bubblewrap():
                raise RuntimeError("bubblewrap (bwrap) is not installed: apt-get install bubblewrap")
            self.tmpfs_quota = sized_tmpfs_supported()
            command = _bwrap_command(self.scratch, grader_dir, as_root, self.uid,
                                     limits.scratch_bytes if self.tmpfs_quota else None)
            if as_root:  # the uid is this worker's alone: it may end its own stray processes
                command[command.index("--clearenv") + 1:command.index("--clearenv") + 1] = [
                    "--setenv", "COURSE_WORKER_OWNS_UID", "1"]
            env, cwd, preexec = _worker_env(str(self.scratch)), None, (lambda: _set_limits(limits, None))
        elif sandbox == "process":
            _, site = _python_paths()
            command = [str(Path(sys.executable).resolve()), "-S", "-B", str(grader_dir / "worker.py"), str(site)]
            env, cwd = _worker_env(str(self.scratch)), str(self.scratch)
            drop = as_root and all(_world_accessible(Path(p)) for p in (command[0], *_python_paths()))
            uid = self.uid if drop else None
            if drop:
                env["COURSE_WORKER_OWNS_UID"] = "1"
            preexec = lambda: _set_limits(limits, uid)  # noqa: E731
        else:
            raise ValueError(f"sandbox must be 'auto', 'bubblewrap' or 'process'; got {sandbox!r}.")
        self.kind = sandbox
        self.process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        stderr=subprocess.DEVNULL, env=env, cwd=cwd, preexec_fn=preexec,
                                        close_fds=True)
        self.alive = True
        self.requests = 0

    # -- low level ------------------------------------------------------------------------------------------
    def _read_exactly(self, n: int, deadline: float) -> bytes:
        fd = self.process.stdout.fileno()
        chunks, remaining = [], n
        while remaining:
            timeout = deadline - time.monotonic()
            if timeout <= 0:
                raise WorkerTimeout("no answer before the deadline")
            ready, _, _ = select.select([fd], [], [], timeout)
            if not ready:
                continue
            chunk = os.read(fd, min(remaining, 1 << 20))
            if not chunk:
                raise WorkerDied(self._death_reason())
            chunks.append(chunk)
            remaining -= len(chunk)
        return b"".join(chunks)

    def _death_reason(self) -> str:
        try:
            code = self.process.wait(timeout=2)
        except subprocess.TimeoutExpired:
            return "the worker closed its output"
        if code < 0:
            name = signal.Signals(-code).name
            hint = {"SIGKILL": " (killed: memory or CPU limit?)", "SIGXCPU": " (CPU-time limit)",
                    "SIGXFSZ": " (file-size limit)"}.get(name, "")
            return f"the worker was killed by {name}{hint}"
        return f"the worker exited with code {code} (os._exit or sys.exit at top level?)"

    def budget_message(self) -> str:
        return (f"the submission's time budget of {self.limits.submission_seconds:.0f} s ran out "
                "(every cell and call of the notebook, worker restarts included)")

    def request(self, message: dict[str, Any], timeout: float, *, tensors: bool = False) -> dict[str, Any]:
        if not self.alive:
            raise WorkerDied("the worker is no longer running")
        budget_left = self.deadline - time.monotonic()
        if budget_left <= 0:
            self.kill()
            raise BudgetExhausted(self.budget_message())
        cut_by_budget = budget_left < timeout
        deadline = time.monotonic() + min(timeout, budget_left)
        self.requests += 1
        message = {**message, "id": self.requests}
        try:
            data = protocol.encode(message)
            self.process.stdin.write(len(data).to_bytes(8, "big") + data)
            self.process.stdin.flush()
            length = int.from_bytes(self._read_exactly(8, deadline), "big")
            if length > protocol.MAX_MESSAGE_BYTES:
                raise WorkerDied(f"the worker sent {length} bytes, over the message limit")
            reply = protocol.decode(self._read_exactly(length, deadline), tensors=tensors)
            if reply.get("id") != self.requests:
                raise protocol.ProtocolError("the worker's answer does not match the request")
            self._check_scratch(reply)
            return reply
        except WorkerTimeout:
            self.kill()
            if cut_by_budget:
                raise BudgetExhausted(self.budget_message()) from None
            raise WorkerTimeout(f"no answer within {timeout:.0f} s (infinite loop?)") from None
        except (BrokenPipeError, ConnectionResetError):
            self.kill()
            raise WorkerDied(self._death_reason()) from None
        except WorkerDied:
            self.kill()
            raise
        except protocol.ProtocolError as error:
            self.kill()
            raise WorkerDied(f"the worker broke the protocol ({error})") from None

    def _check_scratch(self, reply: dict[str, Any]) -> None:
        """Note a full tmpfs (bubblewrap: the kernel refuses the writes); measure and enforce otherwise."""
        quota = self.limits.scratch_bytes
        if self.tmpfs_quota:
            free = reply.get("scratch_free")
            if isinstance(free, int) and free < min(2**20, quota // 16):
                self.quota_hit = True
            return
        used = folder_bytes(self.scratch)
        if used > quota:
            self.quota_hit = True
            raise WorkerDied(f"the scratch folder holds {used >> 20} MiB, over its {quota >> 20} MiB quota")

    def kill(self) -> None:
        if self.alive:
            self.alive = False
            try:
                os.killpg(self.process.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            try:
                self.process.kill()
            except ProcessLookupError:
                pass
            self.process.wait()
            for stream in (self.process.stdin, self.process.stdout):
                try:
                    stream.close()
                except OSError:
                    pass

    def __enter__(self) -> Worker:
        return self

    def __exit__(self, *exc) -> None:
        self.kill()

    # -- operations -----------------------------------------------------------------------------------------
    def exec_cell(self, source: str) -> dict[str, Any]:
        return self.request({"op": "exec", "source": source}, self.limits.cell_seconds)

    def names(self) -> dict[str, str]:
        reply = self.request({"op": "names"}, self.limits.call_seconds)
        return reply.get("names", {}) if reply.get("ok") else {}

    def call(self, name: str, args: tuple, kwargs: dict, *, tensors: bool = False,
             grad_wrt: list[str] | None = None) -> Any:
        """Call a student function. With ``grad_wrt``, the named keyword inputs require gradients, the returned
        scalar is backpropagated in the worker, and the reply is ``(loss, {input: gradient or None})``."""
        request = {"op": "call", "name": name, "args": list(args), "kwargs": kwargs}
        if grad_wrt:
            request["grad_wrt"] = list(grad_wrt)
        reply = self.request(request, self.limits.call_seconds, tensors=tensors)
        if not reply.get("ok"):
            raise RemoteError(reply.get("type", "Error"), reply.get("error", ""), reply.get("traceback", ""))
        return (reply.get("value"), reply.get("grads")) if grad_wrt else reply.get("value")

