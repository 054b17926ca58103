"""The trust boundary of the grader.

* :mod:`autograder.sandbox.launcher` (trusted side) starts one isolated worker per submission and talks to it with
  deadlines and resource limits;
* :mod:`autograder.sandbox.worker` (untrusted side) runs the student's cells inside the sandbox and answers calls;
* :mod:`autograder.sandbox.protocol` is the only thing both sides share: plain-data messages, never pickles.

``worker.py`` and ``protocol.py`` are copied into the sandbox and run there with ``python -S``: they import only
the standard library and numpy, never the rest of this package.
"""

from autograder.sandbox.launcher import (
    Limits,
    RemoteError,
    Worker,
    WorkerDied,
    WorkerError,
    WorkerTimeout,
    bubblewrap,
)

__all__ = ["Limits", "RemoteError", "Worker", "WorkerDied", "WorkerError", "WorkerTimeout", "bubblewrap"]
