"""Shared test set-up: make ``tests/`` importable (variants) and keep runs deterministic and quiet."""

import os
import sys
from pathlib import Path

TESTS = Path(__file__).resolve().parent
REPO = TESTS.parent
sys.path.insert(0, str(TESTS / "autograder"))
os.environ.setdefault("MPLBACKEND", "Agg")
