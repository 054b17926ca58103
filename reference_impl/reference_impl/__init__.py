"""Reference implementation of the course: finite MDPs, bisimulation, DeepMDP and the pixel agents.

Importing the package registers the course's Gymnasium environments (see :mod:`reference_impl.envs`).
"""

from reference_impl import envs as _envs  # noqa: F401  (registers the Gymnasium ids)

__all__ = ["mdp", "envs"]
