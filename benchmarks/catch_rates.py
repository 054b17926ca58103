"""Catch rates of the checks: which planted bugs fail a VISIBLE test, and which fail the hidden tests.

    .venv/bin/python benchmarks/catch_rates.py [--chapter 01_mdps ...]

Runs every planted bug of every chapter (``tests/autograder/variants/``) in-process through its part's visible
check and its hidden check, and writes one row per bug to ``benchmarks/results/catch_rates.csv`` (outcome:
``failed`` = the check raised ``CheckFailure``, i.e. the bug was caught; ``passed``; or ``error: <type>`` when the
check itself broke) and prints the per-chapter table of the README. Goals: visible >= 80% per chapter (what
``course-selfcheck`` can tell a student), hidden 100% (what the grader catches).
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import importlib
import io
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "autograder"))

from variants import CHECKS, compile_functions, functions, graded_cells, parts  # noqa: E402

from autograder.checks import CheckFailure  # noqa: E402

OUT = REPO / "benchmarks" / "results" / "catch_rates.csv"


def outcome(checks, fns, hidden: bool) -> str:
    """``failed`` when one of the part's checks (one per graded cell) rejects the variant."""
    try:
        with contextlib.redirect_stdout(io.StringIO()):  # the checks' "passed" lines
            for check in checks:
                check(*fns, hidden=hidden)
    except CheckFailure:
        return "failed"
    except BaseException as error:  # noqa: BLE001 - a broken check is reported, not hidden
        if isinstance(error, KeyboardInterrupt):
            raise
        return f"error: {type(error).__name__}"
    return "passed"


def measure(chapters: list[str]) -> list[dict]:
    rows = []
    for chapter in chapters:
        module = importlib.import_module(CHECKS[chapter])
        for part, spec in parts(chapter).items():
            checks = [getattr(module, check) for check in graded_cells(part, spec).values()]
            for label, source in spec["bugs"].items():
                start = time.perf_counter()
                fns = compile_functions(source, functions(part, spec))
                visible, hidden = outcome(checks, fns, False), outcome(checks, fns, True)
                rows.append({"chapter": chapter, "part": part, "bug": label, "visible": visible, "hidden": hidden,
                             "seconds": round(time.perf_counter() - start, 2)})
                print(f"{chapter} {part} {label}: visible {visible}, hidden {hidden}", flush=True)
    return rows


def table(rows: list[dict]) -> str:
    lines = ["| chapter | planted bugs | fail a visible test | fail the hidden tests |", "|---|---|---|---|"]
    for chapter in dict.fromkeys(row["chapter"] for row in rows):
        mine = [row for row in rows if row["chapter"] == chapter]
        visible = sum(row["visible"] == "failed" for row in mine)
        hidden = sum(row["hidden"] == "failed" for row in mine)
        lines.append(f"| `{chapter}` | {len(mine)} | {visible} ({100 * visible / len(mine):.0f}%) | "
                     f"{hidden} ({100 * hidden / len(mine):.0f}%) |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chapter", action="append", choices=sorted(CHECKS), help="only these chapters")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    rows = measure(args.chapter or list(CHECKS))
    if args.chapter and args.out.exists():  # keep the other chapters' rows, in chapter order
        with args.out.open(newline="") as handle:
            kept = [row for row in csv.DictReader(handle) if row["chapter"] not in args.chapter]
        order = list(CHECKS)
        rows = sorted(kept + rows, key=lambda row: order.index(row["chapter"]) if row["chapter"] in order else 99)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with args.out.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    print(table(rows))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
