"""Grid worlds as finite MDPs, and the same model as a Gymnasium environment (book chapter 1).

Layouts are lists of equal-length strings: ``#`` wall, ``.`` floor, ``S`` start (floor), ``G`` goal.
Goals are absorbing: entering one pays ``goal_reward``; staying pays nothing. Every other move pays
``step_reward``. Actions are 0 up, 1 right, 2 down, 3 left; with probability ``slip`` the move goes in one of
the two perpendicular directions instead (each with ``slip / 2``). Moving into a wall leaves the agent in place.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from reference_impl.mdp import FiniteMDP, MDPValidationError

ACTIONS = ("up", "right", "down", "left")
MOVES = np.array([[-1, 0], [0, 1], [1, 0], [0, -1]])

LAYOUTS: dict[str, tuple[str, ...]] = {
    "corridor": ("#######", "#S...G#", "#######"),
    "four_rooms": (
        "#############",
        "#S....#.....#",
        "#.....#.....#",
        "#...........#",
        "#.....#.....#",
        "#.....#.....#",
        "##.####.....#",
        "#.....###.###",
        "#.....#.....#",
        "#.....#.....#",
        "#...........#",
        "#.....#....G#",
        "#############",
    ),
    # Two identical rooms with no door between them: each cell is bisimilar to its twin (chapter 2).
    "twin_rooms": (
        "#############",
        "#S....#.....#",
        "#.....#.....#",
        "#..#..#..#..#",
        "#.....#.....#",
        "#....G#....G#",
        "#############",
    ),
}


@dataclass(frozen=True)
class GridWorld:
    """A grid layout and the finite MDP over its non-wall cells (states numbered row by row)."""

    layout: tuple[str, ...]
    mdp: FiniteMDP
    cells: np.ndarray
    start: int
    goals: tuple[int, ...]

    @property
    def shape(self) -> tuple[int, int]:
        return len(self.layout), len(self.layout[0])

    def state_at(self, row: int, col: int) -> int:
        matches = np.flatnonzero((self.cells[:, 0] == row) & (self.cells[:, 1] == col))
        if matches.size == 0:
            raise ValueError(f"cell ({row}, {col}) is a wall or outside the grid {self.shape}.")
        return int(matches[0])

    def to_grid(self, values: np.ndarray) -> np.ndarray:
        """Place one value per state on the grid; walls are NaN (for ``imshow``)."""
        values = np.asarray(values, dtype=float)
        if values.shape != (len(self.cells),):
            raise ValueError(f"expected one value per state, shape [{len(self.cells)}]; got {values.shape}.")
        grid = np.full(self.shape, np.nan)
        grid[self.cells[:, 0], self.cells[:, 1]] = values
        return grid


def _validate_layout(layout: Sequence[str]) -> tuple[str, ...]:
    layout = tuple(layout)
    if not layout or any(len(row) != len(layout[0]) for row in layout):
        raise MDPValidationError("a layout must be a non-empty list of strings of equal length.")
    unknown = set("".join(layout)) - set("#.SG")
    if unknown:
        raise MDPValidationError(f"unknown layout characters {sorted(unknown)}; use '#', '.', 'S', 'G'.")
    if "".join(layout).count("S") > 1:
        raise MDPValidationError("a layout has at most one start cell 'S'.")
    return layout


def make_gridworld(
    layout: Sequence[str] | str,
    *,
    slip: float = 0.0,
    gamma: float = 0.95,
    goal_reward: float = 1.0,
    step_reward: float = 0.0,
) -> GridWorld:
    """Build the finite MDP of a grid layout (a layout name from :data:`LAYOUTS` is accepted too)."""
    if isinstance(layout, str):
        if layout not in LAYOUTS:
            raise MDPValidationError(f"unknown layout {layout!r}; known: {sorted(LAYOUTS)}.")
        layout = LAYOUTS[layout]
    layout = _validate_layout(layout)
    if not 0.0 <= slip <= 1.0:
        raise MDPValidationError(f"slip must be a probability; got {slip}.")
    grid = np.array([list(row) for row in layout])
    cells = np.argwhere(grid != "#")
    index = {tuple(cell): i for i, cell in enumerate(cells)}
    n = len(cells)
    goals = tuple(i for i, (r, c) in enumerate(cells) if grid[r, c] == "G")
    starts = [i for i, (r, c) in enumerate(cells) if grid[r, c] == "S"]

    def land(i: int, move: np.ndarray) -> int:
        target = tuple(cells[i] + move)
        return index.get(target, i)

    P = np.zeros((4, n, n))
    R = np.zeros((n, 4))
    for i in range(n):
        if i in goals:
            P[:, i, i] = 1.0
            continue
        for a in range(4):
            outcomes = [(1.0 - slip, a), (slip / 2, (a + 1) % 4), (slip / 2, (a + 3) % 4)]
            for prob, direction in outcomes:
                j = land(i, MOVES[direction])
                P[a, i, j] += prob
                R[i, a] += prob * (goal_reward if j in goals else step_reward)
    mdp = FiniteMDP(P, R, gamma, state_names=tuple(f"({r},{c})" for r, c in cells))
    return GridWorld(layout, mdp, cells, starts[0] if starts else 0, goals)


class GridWorldEnv(gym.Env):
    """Gymnasium view of a :class:`GridWorld`: samples transitions from the same ``P``.

    Observations are state indices (``Discrete(S)``); an episode terminates on reaching a goal and the
    ``max_episode_steps`` limit of the registration truncates it. ``render_mode="rgb_array"`` draws the grid
    with numpy.
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": 4}

    def __init__(
        self,
        layout: Sequence[str] | str = "four_rooms",
        slip: float = 0.1,
        gamma: float = 0.95,
        goal_reward: float = 1.0,
        step_reward: float = 0.0,
        render_mode: str | None = None,
    ) -> None:
        self.world = make_gridworld(layout, slip=slip, gamma=gamma, goal_reward=goal_reward, step_reward=step_reward)
        self.observation_space = spaces.Discrete(self.world.mdp.n_states)
        self.action_space = spaces.Discrete(4)
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode must be None or 'rgb_array'; got {render_mode!r}.")
        self.render_mode = render_mode
        self._goal_reward = goal_reward
        self._step_reward = step_reward
        self._state = self.world.start

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        self._state = self.world.start
        return self._state, {"cell": tuple(int(x) for x in self.world.cells[self._state])}

    def step(self, action):
        if not self.action_space.contains(action):
            raise ValueError(f"action must be in {{0, 1, 2, 3}}; got {action!r}.")
        probs = self.world.mdp.P[int(action), self._state]
        next_state = int(self.np_random.choice(len(probs), p=probs))
        entered_goal = next_state in self.world.goals and self._state not in self.world.goals
        reward = self._goal_reward if entered_goal else (0.0 if self._state in self.world.goals else self._step_reward)
        self._state = next_state
        terminated = next_state in self.world.goals
        info = {"cell": tuple(int(x) for x in self.world.cells[next_state])}
        return next_state, float(reward), terminated, False, info

    def render(self):
        if self.render_mode != "rgb_array":
            return None
        h, w = self.world.shape
        scale = 8
        walls = np.array([[ch == "#" for ch in row] for row in self.world.layout])
        image = np.where(walls[..., None], 40, 230).astype(np.uint8).repeat(3, axis=-1)
        for g in self.world.goals:
            r, c = self.world.cells[g]
            image[r, c] = (80, 200, 80)
        r, c = self.world.cells[self._state]
        image[r, c] = (220, 60, 60)
        return image.repeat(scale, axis=0).repeat(scale, axis=1).reshape(h * scale, w * scale, 3)
