"""A synthetic class of chapter-1 submissions: correct, alternative, buggy, every bad input and every cheat.

``build_class(folder, probes)`` writes one folder per student and returns what the grader must report for each:
the submission status, the points per question (or ``None`` where a question cannot be graded), and flags the
report must raise. ``probes`` holds paths the hostile submissions try to reach (they must not succeed).
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from variants.ch01_mdps import PARTS

from autograder.course import REPO_ROOT

CHAPTER = "01_mdps"
SOURCE = REPO_ROOT / "solutions" / CHAPTER / f"{CHAPTER}.ipynb"
RELEASE = REPO_ROOT / "exercises" / CHAPTER / f"{CHAPTER}.ipynb"
POINTS = {"bellman_expectation_backup": 2.0, "policy_evaluation": 2.0, "value_iteration": 3.0, "greedy_policy": 2.0}
FULL = dict(POINTS)
ZERO = dict.fromkeys(POINTS, 0.0)


@dataclass
class Expected:
    status: str
    points: dict[str, float | None]
    flags: list[str] = field(default_factory=list)


def solution_code() -> dict[str, str]:
    nb = nbformat.read(SOURCE, as_version=4)
    code = {}
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("solution"):
            code[meta["grade_id"]] = re.sub(r"\s*### (BEGIN|END) SOLUTION", "", cell.source)
    return code


def notebook(replace: dict[str, str] | None = None, extra_cells: list[str] = ()) -> nbformat.NotebookNode:
    """The release notebook answered with the solution, ``replace`` overriding some answers."""
    nb = nbformat.read(RELEASE, as_version=4)
    answers = {**solution_code(), **(replace or {})}
    for cell in nb.cells:
        gid = cell.metadata.get("nbgrader", {}).get("grade_id")
        if cell.metadata.get("nbgrader", {}).get("solution") and gid in answers:
            cell.source = answers[gid]
    for source in extra_cells:
        nb.cells.append(nbformat.v4.new_code_cell(source))
    return nb


def wrong(part: str) -> str:
    return list(PARTS[part]["bugs"].values())[0]


def build_class(folder: Path, probes: dict[str, Path]) -> dict[str, Expected]:
    expected: dict[str, Expected] = {}

    def submit(student: str, nb, exp: Expected, name: str = f"{CHAPTER}.ipynb") -> None:
        target = folder / student
        target.mkdir(parents=True, exist_ok=True)
        if isinstance(nb, str | bytes):
            (target / name).write_bytes(nb if isinstance(nb, bytes) else nb.encode())
        else:
            nbformat.write(nb, target / name)
        expected[student] = exp

    graded = "graded"
    # Correct and alternative-correct work.
    submit("correct", notebook(), Expected(graded, FULL))
    for i in range(2):
        alts = {p: list(spec["alternatives"].values())[i] for p, spec in PARTS.items()}
        submit(f"alternative{i}", notebook(alts), Expected(graded, FULL))
    submit("buggy", notebook({p: wrong(p) for p in PARTS}), Expected(graded, ZERO))
    submit("partly_buggy", notebook({"value_iteration": wrong("value_iteration")}),
           Expected(graded, {**FULL, "value_iteration": 0.0}))

    # Bad input: each is handled with a clear status and the batch goes on.
    loop = "def value_iteration(P, R, gamma, tol):\n    while True:\n        pass\n"
    submit("infinite_loop", notebook({"value_iteration": loop}), Expected(graded, {**FULL, "value_iteration": 0.0}))
    swallow = ("import time\nwhile True:\n    try:\n        time.sleep(100)\n    except BaseException:\n        pass\n"
               + solution_code()["greedy_policy"])
    submit("swallows_interrupt", notebook({"greedy_policy": swallow}),
           Expected(graded, {**FULL, "greedy_policy": 0.0}))
    bomb = "blocks = [bytearray(2**28) for _ in range(64)]\n" + solution_code()["policy_evaluation"]
    submit("memory_bomb", notebook({"policy_evaluation": bomb}),
           Expected(graded, {**FULL, "policy_evaluation": 0.0}))
    fork = "import os\nwhile True:\n    os.fork()\n"
    submit("fork_bomb", notebook({"greedy_policy": fork + solution_code()["greedy_policy"]}),
           Expected(graded, {**FULL, "greedy_policy": 0.0}))
    submit("os_exit", notebook(extra_cells=["import os\nos._exit(3)"]), Expected(graded, FULL))
    submit("kills_parent", notebook(extra_cells=["import os, signal\nos.kill(os.getppid(), signal.SIGKILL)"]),
           Expected(graded, FULL))
    submit("endless_thread", notebook(extra_cells=["import threading, time\n"
                                                   "threading.Thread(target=time.sleep, args=(10**6,)).start()"]),
           Expected(graded, FULL))
    submit("huge_output", notebook(extra_cells=["for _ in range(100):\n    print('x' * 10**6)"]),
           Expected(graded, FULL))
    submit("writes_outside", notebook(extra_cells=[f"open({str(probes['write'])!r}, 'w').write('pwned')"]),
           Expected(graded, FULL))
    reads = (f"stolen = open({str(probes['gradebook'])!r}, 'rb').read()\n"
             f"hidden = open({str(SOURCE)!r}).read()\n" + solution_code()["greedy_policy"])
    submit("reads_secrets", notebook({"greedy_policy": reads}), Expected(graded, {**FULL, "greedy_policy": 0.0}))
    net = (f"import socket\nsocket.create_connection(('127.0.0.1', {probes['port']}), timeout=2).sendall(b'x')\n"
           + solution_code()["greedy_policy"])
    submit("network", notebook({"greedy_policy": net}), Expected(graded, {**FULL, "greedy_policy": 0.0}))
    submit("invalid_json", '{"cells": [', Expected("could not be graded", dict.fromkeys(POINTS)))
    submit("empty_file", b"", Expected("could not be graded", dict.fromkeys(POINTS)))
    submit("not_a_notebook", b"%PDF-1.4 not a notebook", Expected("could not be graded", dict.fromkeys(POINTS)),
           name="homework.pdf")
    submit("misnamed", notebook(), Expected(graded, FULL, ["misnamed"]), name="my homework.ipynb")

    nb = notebook({"value_iteration": wrong("value_iteration")})
    nb.cells = [c for c in nb.cells if not c.metadata.get("nbgrader", {}).get("grade")]
    submit("deleted_tests", nb, Expected(graded, {**FULL, "value_iteration": 0.0}, ["deleted"]))
    nb = notebook({"value_iteration": wrong("value_iteration")})
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("grade"):
            cell.source = "pass"
    submit("edited_tests", nb, Expected(graded, {**FULL, "value_iteration": 0.0}, ["edited"]))
    nb = notebook()
    tests = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade")]
    others = [c for c in nb.cells if not c.metadata.get("nbgrader", {}).get("grade")]
    nb.cells = others + tests[::-1]
    submit("reordered_tests", nb, Expected(graded, FULL, ["reordered"]))
    nb = notebook()
    for cell in nb.cells:
        cell.metadata.pop("nbgrader", None)
    submit("stripped_metadata", nb, Expected(graded, FULL, ["deleted or its metadata stripped"]))
    nb = notebook()
    duplicate = copy.deepcopy([c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade")][0])
    duplicate["id"] = "duplicated-test-cell"
    nb.cells.append(duplicate)
    submit("duplicated_metadata", nb, Expected(graded, FULL, ["duplicated"]))
    nb = notebook({"greedy_policy": wrong("greedy_policy")})
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("grade"):
            cell.metadata["nbgrader"]["points"] = 100
    submit("changed_points", nb, Expected(graded, {**FULL, "greedy_policy": 0.0}, ["points"]))
    submit("empty_submission", nbformat.read(RELEASE, as_version=4), Expected(graded, ZERO, ["empty submission"]))

    # Cheats: each scores 0 for the part (and the report flags it for review).
    calls_reference = {
        "value_iteration": "def value_iteration(P, R, gamma, tol):\n"
                           "    from reference_impl.mdp import FiniteMDP, value_iteration as vi\n"
                           "    r = vi(FiniteMDP(P, R, gamma), tol=tol)\n    return r.V, r.n_iterations\n",
    }
    submit("calls_reference", notebook(calls_reference),
           Expected(graded, {**FULL, "value_iteration": 0.0}, ["reference implementation"]))
    patches = ("import numpy as np, numpy.testing\nimport autograder.checks.mdps as checks\n"
               "np.testing.assert_allclose = lambda *a, **k: None\nnp.allclose = lambda *a, **k: True\n"
               "checks.check_value_iteration = lambda *a, **k: None\n"
               "import torch\ntorch.allclose = lambda *a, **k: True\n")
    submit("monkeypatches", notebook({p: wrong(p) for p in PARTS}, extra_cells=[patches]),
           Expected(graded, ZERO, ["monkeypatch"]))
    always_equal = ("class Anything(float):\n    def __eq__(self, other):\n        return True\n"
                    "    def __array__(self, *a, **k):\n        import numpy\n"
                    "        return numpy.array([self], dtype=object)\n")
    cheat = {p: always_equal + f"def {p}(*args, **kwargs):\n    return Anything()\n" for p in PARTS}
    cheat["value_iteration"] = always_equal + "def value_iteration(*a, **k):\n    return Anything(), Anything()\n"
    submit("always_equal", notebook(cheat), Expected(graded, ZERO, ["__eq__"]))
    builtins_cheat = ("import builtins\nbuiltins.isinstance = lambda *a: True\nbuiltins.AssertionError = Warning\n"
                      "builtins.abs = lambda x: 0\n")
    submit("overrides_builtins", notebook({p: wrong(p) for p in PARTS}, extra_cells=[builtins_cheat]),
           Expected(graded, ZERO, ["builtins"]))
    hardcoded = {
        "bellman_expectation_backup": "import numpy as np\ndef bellman_expectation_backup(P, R, gamma, V, pi):\n"
                                      "    return np.array([1.35, 2.8])\n",
        "value_iteration": "import numpy as np\ndef value_iteration(P, R, gamma, tol):\n"
                           "    return np.array([9.0, 10.0]), 0\n",
    }
    submit("hardcodes_visible", notebook(hardcoded),
           Expected(graded, {**FULL, "bellman_expectation_backup": 0.0, "value_iteration": 0.0}))
    fake = (f"import json\nopen('gradebook.db', 'w').write('fake')\n"
            f"open({str(probes['result'])!r}, 'w').write(json.dumps({{'points': 9}}))\n")
    submit("fake_grade_file", notebook({p: wrong(p) for p in PARTS}, extra_cells=[fake]),
           Expected(graded, ZERO))
    return expected


def expected_json(expected: dict[str, Expected]) -> str:
    return json.dumps({k: v.__dict__ for k, v in expected.items()}, indent=1)
