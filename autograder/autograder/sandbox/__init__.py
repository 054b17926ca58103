"""The trust boundary of the grader.

* :mod:`autograder.sandbox.launcher` (trusted side) starts one isolated worker per submission and talks to it with
  deadlines and resource limits;
* :mod:`autograder.sandbox.worker` (untrusted side) runs the student's cells inside the sandbox and answers calls;
* :mod:`autograder.sandbox.protocol`: plain-data messages between the two sides, never pickles;
* :mod:`autograder.sandbox.student_call`: how a student's function is called (input copies, in-place changes,
  gradients), shared by the worker and by the checks in the notebook so that both give the same verdict.

``worker.py``, ``protocol.py`` and ``student_call.py`` are copied into the sandbox and run there with
``python -S``: they import only the standard library and numpy, never the rest of this package.
"""

from autograder.sandbox.launcher import (
    BudgetExhausted,
    Limits,
    RemoteError,
    Worker,
    WorkerDied,
    WorkerError,
    WorkerTimeout,
    bubblewrap,
)

__all__ = ["BudgetExhausted", "Limits", "RemoteError", "Worker", "WorkerDied", "WorkerError", "WorkerTimeout",
           "bubblewrap"]
