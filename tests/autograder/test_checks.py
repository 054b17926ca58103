"""Every chapter's checks: every correct alternative passes (visible and hidden), every planted bug fails."""

import importlib

import numpy as np
import pytest

from autograder.checks import CheckFailure

CHAPTERS = {
    "01_mdps": ("variants.ch01_mdps", "autograder.checks.mdps"),
    "02_bisimulation": ("variants.ch02_bisimulation", "autograder.checks.bisimulation"),
    "03_bisim_metrics": ("variants.ch03_bisim_metrics", "autograder.checks.bisim_metrics"),
    "04_deepmdp": ("variants.ch04_deepmdp", "autograder.checks.deepmdp"),
    "05_sac_pixels": ("variants.ch05_sac_pixels", "autograder.checks.sac"),
    "06_deepmdp_agent": ("variants.ch06_deepmdp_agent", "autograder.checks.deepmdp_agent"),
}


def compile_function(source: str, name: str):
    namespace = {"np": np}
    exec(compile(source, f"<{name}>", "exec"), namespace)
    return namespace[name]


def cases(kind):
    for chapter, (variants, checks) in CHAPTERS.items():
        parts = importlib.import_module(variants).PARTS
        for part, spec in parts.items():
            for label in spec[kind]:
                yield pytest.param(checks, spec["check"], part, spec[kind][label], id=f"{chapter}-{part}-{label}")


@pytest.mark.parametrize(("checks", "check", "part", "source"), list(cases("alternatives")))
@pytest.mark.parametrize("hidden", [False, True], ids=["visible", "hidden"])
def test_correct_alternatives_pass(checks, check, part, source, hidden):
    getattr(importlib.import_module(checks), check)(compile_function(source, part), hidden=hidden)


@pytest.mark.parametrize(("checks", "check", "part", "source"), list(cases("bugs")))
def test_planted_bugs_fail_the_hidden_check(checks, check, part, source):
    with pytest.raises(CheckFailure) as failure:
        getattr(importlib.import_module(checks), check)(compile_function(source, part), hidden=True)
    assert str(failure.value).startswith(part) and "on the input" in str(failure.value)


@pytest.mark.parametrize("chapter", sorted(CHAPTERS))
def test_each_part_has_enough_alternatives_and_bugs(chapter):
    for spec in importlib.import_module(CHAPTERS[chapter][0]).PARTS.values():
        assert len(spec["alternatives"]) >= 2 and len(spec["bugs"]) >= 3
