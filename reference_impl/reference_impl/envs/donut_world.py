"""DonutWorld: a point agent on a ring track, observed as a small grayscale image (book chapter 4).

The true state of one track is a position ``p = (x, y)`` in track coordinates (the unit square ``[-1, 1]^2``, y up)
confined to the annulus ``inner_radius <= ||p|| <= outer_radius``. Actions are continuous displacements
``a in [-1, 1]^2`` scaled by ``max_step``; after the move the position is projected radially back onto the annulus
(the walls are the two circles). Dynamics are deterministic. The reward is the clockwise angular progress in
radians,

    r(p, a) = -wrap(theta(p') - theta(p)),   theta(p) = atan2(y, x),  wrap into (-pi, pi],   (eq. 4.13)

so running clockwise along the track pays and running anticlockwise costs. Continuous actions follow the DeepMDP
paper's donut and make the reward a smooth function of state and action. The environment never terminates; the
registered versions add a time limit.

Observations are channel-first uint8 images of shape ``(1, H, W)``: the annulus drawn at a dim constant intensity
and the agent as a bright anti-aliased disc, so a sub-pixel move changes the image.

The four-track variant draws four identical rings, one per image quadrant (track ``k`` in row ``k // 2`` and column
``k % 2``). The agent lives on one track for the whole episode; reset picks the track uniformly. Corresponding
positions on different tracks are bisimilar: rewards and dynamics do not depend on the track, only the pixels do.

``info["state"]`` is ``[x, y, angle]`` (track coordinates, ``angle = atan2(y, x)``) and ``info["track"]`` the track.
"""

from __future__ import annotations

import math

import gymnasium as gym
import numpy as np
from gymnasium import spaces

TRACK_INTENSITY = 64
AGENT_INTENSITY = 255
DONUT_WORLD_ID = "course/DonutWorld-v0"
FOUR_TRACK_DONUT_WORLD_ID = "course/FourTrackDonutWorld-v0"


def wrap_angle(angle: float) -> float:
    """Map an angle to (-pi, pi]."""
    wrapped = math.remainder(angle, 2.0 * math.pi)
    return math.pi if wrapped == -math.pi else wrapped


class DonutWorld(gym.Env):
    """Point agent on one or four ring tracks with image observations (see the module docstring)."""

    metadata = {"render_modes": ["rgb_array"], "render_fps": 30}

    def __init__(
        self,
        *,
        n_tracks: int = 1,
        image_size: int = 32,
        inner_radius: float = 0.45,
        outer_radius: float = 0.85,
        max_step: float = 0.1,
        agent_radius: float = 0.15,
        render_mode: str | None = None,
    ) -> None:
        if n_tracks not in (1, 4):
            raise ValueError(f"n_tracks must be 1 or 4; got {n_tracks}.")
        if image_size < 8 or image_size % 2:
            raise ValueError(f"image_size must be an even integer >= 8; got {image_size}.")
        if not 0.0 < inner_radius < outer_radius <= 1.0:
            raise ValueError(
                f"radii must satisfy 0 < inner_radius < outer_radius <= 1; got {inner_radius}, {outer_radius}."
            )
        if max_step <= 0.0 or agent_radius <= 0.0:
            raise ValueError(f"max_step and agent_radius must be positive; got {max_step}, {agent_radius}.")
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode must be None or one of {self.metadata['render_modes']}; got {render_mode}.")
        self.n_tracks = n_tracks
        self.image_size = image_size
        self.inner_radius = float(inner_radius)
        self.outer_radius = float(outer_radius)
        self.max_step = float(max_step)
        self.agent_radius = float(agent_radius)
        self.render_mode = render_mode

        self.observation_space = spaces.Box(0, 255, shape=(1, image_size, image_size), dtype=np.uint8)
        self.action_space = spaces.Box(-1.0, 1.0, shape=(2,), dtype=np.float32)

        # Pixels per world unit, and the pixel coordinates of each track's centre (row, column).
        tracks_per_side = 1 if n_tracks == 1 else 2
        half_cell = image_size / (2 * tracks_per_side)
        self._scale = half_cell
        self._centres = [
            ((2 * (k // tracks_per_side) + 1) * half_cell, (2 * (k % tracks_per_side) + 1) * half_cell)
            for k in range(n_tracks)
        ]
        self._agent_radius_px = self.agent_radius * self._scale
        self._background = self._draw_tracks()
        self._position = np.zeros(2)
        self._track = 0

    # ----------------------------------------------------------------------------------------------- rendering
    def _draw_tracks(self) -> np.ndarray:
        rows, cols = np.mgrid[0 : self.image_size, 0 : self.image_size] + 0.5
        image = np.zeros((self.image_size, self.image_size), dtype=np.uint8)
        for centre_row, centre_col in self._centres:
            radius = np.hypot(rows - centre_row, cols - centre_col) / self._scale
            on_ring = (radius >= self.inner_radius) & (radius <= self.outer_radius)
            image[on_ring] = TRACK_INTENSITY
        return image

    def render_observation(self, position: np.ndarray, track: int = 0) -> np.ndarray:
        """The ``(1, H, W)`` uint8 image of the agent at ``position`` (track coordinates) on ``track``."""
        if not 0 <= track < self.n_tracks:
            raise ValueError(f"track must lie in [0, {self.n_tracks}); got {track}.")
        x, y = float(position[0]), float(position[1])
        centre_row, centre_col = self._centres[track]
        agent_row = centre_row - y * self._scale
        agent_col = centre_col + x * self._scale
        reach = self._agent_radius_px + 1.0
        r0, r1 = max(int(agent_row - reach), 0), min(int(agent_row + reach) + 1, self.image_size)
        c0, c1 = max(int(agent_col - reach), 0), min(int(agent_col + reach) + 1, self.image_size)
        image = self._background.copy()
        if r0 < r1 and c0 < c1:
            rows = np.arange(r0, r1)[:, None] + 0.5
            cols = np.arange(c0, c1)[None, :] + 0.5
            distance = np.sqrt((rows - agent_row) ** 2 + (cols - agent_col) ** 2)
            # Anti-aliased disc: full intensity inside, linear fall-off over one pixel at the rim.
            coverage = np.clip(self._agent_radius_px + 0.5 - distance, 0.0, 1.0)
            blob = (AGENT_INTENSITY * coverage).astype(np.uint8)
            np.maximum(image[r0:r1, c0:c1], blob, out=image[r0:r1, c0:c1])
        return image[None]

    def render(self) -> np.ndarray | None:
        if self.render_mode != "rgb_array":
            return None
        return np.repeat(self.render_observation(self._position, self._track)[0][:, :, None], 3, axis=2)

    # ------------------------------------------------------------------------------------------------ dynamics
    def _info(self) -> dict:
        x, y = self._position
        return {"state": np.array([x, y, math.atan2(y, x)]), "track": self._track}

    def _project_onto_ring(self, x: float, y: float) -> tuple[float, float]:
        radius = math.hypot(x, y)
        if radius == 0.0:
            return self.inner_radius, 0.0
        clipped = min(max(radius, self.inner_radius), self.outer_radius)
        return x * clipped / radius, y * clipped / radius

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        """Uniform angle, uniform radius across the ring, uniform track.

        ``options`` may fix ``"track"`` and/or ``"position"`` (projected onto the ring).
        """
        super().reset(seed=seed)
        options = options or {}
        self._track = int(options["track"]) if "track" in options else int(self.np_random.integers(self.n_tracks))
        if not 0 <= self._track < self.n_tracks:
            raise ValueError(f"options['track'] must lie in [0, {self.n_tracks}); got {self._track}.")
        if "position" in options:
            x, y = (float(v) for v in options["position"])
        else:
            angle = self.np_random.uniform(-math.pi, math.pi)
            radius = self.np_random.uniform(self.inner_radius, self.outer_radius)
            x, y = radius * math.cos(angle), radius * math.sin(angle)
        self._position = np.array(self._project_onto_ring(x, y))
        return self.render_observation(self._position, self._track), self._info()

    def step(self, action):
        action = np.asarray(action, dtype=np.float64)
        if action.shape != (2,):
            raise ValueError(f"action must have shape (2,); got {action.shape}.")
        dx = self.max_step * min(max(action[0], -1.0), 1.0)
        dy = self.max_step * min(max(action[1], -1.0), 1.0)
        x, y = self._position
        new_x, new_y = self._project_onto_ring(x + dx, y + dy)
        reward = -wrap_angle(math.atan2(new_y, new_x) - math.atan2(y, x))
        self._position = np.array([new_x, new_y])
        observation = self.render_observation(self._position, self._track)
        return observation, float(reward), False, False, self._info()


def register_donut_world() -> None:
    """Register ``course/DonutWorld-v0`` (one track) and ``course/FourTrackDonutWorld-v0`` (200-step time limit)."""
    for env_id, n_tracks in ((DONUT_WORLD_ID, 1), (FOUR_TRACK_DONUT_WORLD_ID, 4)):
        if env_id not in gym.registry:
            gym.register(
                id=env_id,
                entry_point="reference_impl.envs.donut_world:DonutWorld",
                kwargs={"n_tracks": n_tracks},
                max_episode_steps=200,
            )
