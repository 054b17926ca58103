"""Reference implementation of the course: finite MDPs, bisimulation, DeepMDP and the pixel agents.

Importing the package registers the course's Gymnasium environments (see :mod:`reference_impl.envs`).
"""

import os

# The reference code calls POT on numpy arrays only; skipping POT's torch backend halves its import time.
os.environ.setdefault("POT_BACKEND_DISABLE_PYTORCH", "1")

from reference_impl import envs as _envs  # noqa: E402, F401  (registers the Gymnasium ids)

__all__ = ["mdp", "envs"]
