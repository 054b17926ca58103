"""Every variant of every chapter gets the same verdict in the notebook (the check calls the function in its own
process) and through the grader (the check calls a proxy into a sandboxed worker): pass or fail, and the same
failed property. This is the cheap, unit-level form of the end-to-end comparison: one worker per chapter, no
nbgrader, no notebook files."""

from __future__ import annotations

import importlib

import pytest
from variants import CHECKS, VARIANTS, functions, graded_cells

from autograder.checks import CheckFailure
from autograder.grading import RemoteFunction
from autograder.sandbox import Limits, Worker

# Generous limits: importing torch in a fresh worker on a loaded machine can take a while.
LIMITS = Limits(cell_seconds=300, call_seconds=120)
TORCH_CHAPTERS = {"04_deepmdp", "05_sac_pixels", "06_deepmdp_agent"}
# Behaviours that once gave different verdicts in the two paths: chapter -> part -> kind -> label -> source.
EXTRA = {
    # a function returning (loss, extra) where the exercise asks for the loss
    "04_deepmdp": {"reward_loss": {"bugs": {"returns_loss_and_extra": '''
import torch

def reward_loss(predicted_reward, reward):
    loss = torch.nn.functional.mse_loss(predicted_reward.squeeze(-1), reward)
    return loss, loss.detach()
'''}}},
    # a function changing its input tensor in place
    "05_sac_pixels": {"critic_target": {"bugs": {"changes_its_input_in_place": '''
import torch

def critic_target(reward, not_done, target_q1, target_q2, next_log_pi, alpha, discount):
    with torch.no_grad():
        target_q1 -= alpha * next_log_pi
        target_q2 -= alpha * next_log_pi
        return reward + discount * not_done * torch.min(target_q1, target_q2)
'''}}},
    # a score table that changes its input frame in place, and one whose result cannot cross as plain parts
    "07_research_engineering": {"score_table": {"bugs": {"changes_its_input_frame": '''
import pandas as pd

def score_table(frame, reps, seed):
    frame["rank"] = frame.groupby("config")["score"].transform("mean").rank(method="min", ascending=False)
    return frame.groupby("config")[["rank"]].min().assign(iqm=0.0, low=0.0, high=0.0)
''', "multi_level_columns": '''
import pandas as pd

def score_table(frame, reps, seed):
    return frame.groupby("config").agg({"score": ["mean", "min", "max"]})
'''}}},
    # correct code that logs to stderr on every call
    "01_mdps": {"greedy_policy": {"alternatives": {"logs_to_stderr": '''
import logging, sys
import numpy as np
logging.basicConfig(level=logging.INFO)
_log, _err = logging.getLogger("student"), sys.stderr

def greedy_policy(P, R, gamma, V):
    _log.info("greedy policy on %d states", R.shape[0])
    print("debug", file=_err)
    return np.argmax(R + gamma * np.einsum("ast,t->sa", P, V), axis=1)
'''}}},
}


class _Session:
    """What :class:`RemoteFunction` needs of a grading session: a live worker."""

    def __init__(self, worker: Worker):
        self.worker = worker


def verdict(checks, fns) -> str:
    """``pass``, or the first line of the first failure among a part's checks (one per graded cell)."""
    for check in checks:
        try:
            check(*fns, hidden=True)
        except CheckFailure as failure:
            return "fail: " + str(failure).splitlines()[0]
    return "pass"


def local_functions(source: str, names: tuple[str, ...]):
    namespace: dict = {}
    exec(compile(source, f"<{'+'.join(names)}>", "exec"), namespace)
    return [namespace[name] for name in names]


def variants(chapter: str):
    parts = importlib.import_module(VARIANTS[chapter]).PARTS
    for part, spec in parts.items():
        for kind in ("alternatives", "bugs"):
            extra = EXTRA.get(chapter, {}).get(part, {}).get(kind, {})
            for label, source in {**spec[kind], **extra}.items():
                yield part, functions(part, spec), list(graded_cells(part, spec).values()), f"{kind}/{label}", source


# Chapter 6 (whole agent updates through the proxy) takes minutes: it runs in the full suite, not in `test-fast`.
@pytest.mark.parametrize("chapter", [pytest.param(c, marks=pytest.mark.slow) if c == "06_deepmdp_agent" else c
                                     for c in sorted(CHECKS)])
def test_every_variant_gets_the_same_verdict_in_the_notebook_and_through_the_grader(chapter, tmp_path, capfd):
    checks = importlib.import_module(CHECKS[chapter])
    tensors = chapter in TORCH_CHAPTERS
    worker = Worker(tmp_path / "scratch", LIMITS)
    differences, verdicts = [], {}
    try:
        assert worker.exec_cell("import numpy as np\n" + ("import torch\n" if tensors else ""))["ok"]
        for part, names, check_names, label, source in variants(chapter):
            part_checks = [getattr(checks, name) for name in check_names]
            local = verdict(part_checks, local_functions("import numpy as np\n" + source, names))
            reply = worker.exec_cell(source)
            assert reply["ok"], f"{label}: {reply}"
            remote = verdict(part_checks, [RemoteFunction(_Session(worker), name, tensors) for name in names])
            verdicts[label] = local
            if local != remote:
                differences.append(f"{part} {label}:\n  notebook: {local}\n  grader:   {remote}")
    finally:
        worker.kill()
    assert not differences, "\n".join(differences)
    assert capfd.readouterr().err == "", "a check let something reach stderr"
    for label, got in verdicts.items():  # and the verdict is the intended one
        if label.startswith("alternatives/"):
            assert got == "pass", (label, got)
        else:
            assert got.startswith("fail"), (label, got)
