"""The pixel point mass behind a moving, procedurally generated background: a task where the representation matters.

The MDP is exactly :class:`~reference_impl.envs.point_mass.PointMassEnv`'s (same state, dynamics, start and goal
distributions, reward, time limit); only the image changes. Behind the agent (red blob), the goal (green blob) and
the border (blue) drifts a **background** in the spirit of the natural-video backgrounds of DBC (Zhang et al.,
2021), generated with numpy instead of read from a video file:

* ``num_shapes`` coloured Gaussian blobs, some as small as the agent, whose centres ``c`` and velocities ``u``
  follow a damped random walk that bounces off the arena's edges,
  ``u' = ρ u + σ ξ``, ``c' = c + u'``, ``ξ ~ N(0, I)``;
* a coloured plaid texture ``(1 + sin(ω_x x + φ_x)) (1 + sin(ω_y y + φ_y)) / 4`` whose phases drift at constant
  random speeds.

Background and foreground are alpha-composited, ``o = α f + (1 - α) b`` with ``α = max_c f_c / 255`` per pixel, so
the agent and the goal stay on top but a red blob of the background looks like the agent.

**No information about the reward.** The background has its own random stream, seeded from the reset seed through
``SeedSequence([seed, BACKGROUND_STREAM])`` (or continued when ``reset`` gets no seed), and its state depends only on
that stream and the time step, never on the agent's state or actions. With ``distractors=False`` the environment is
the same MDP with the same observations as ``course/PointMass-v0`` (tested).

**Sparse variant** (``reward="sparse"``): ``r = 1[||p' - g||₂ < target_radius]`` and a goal blob whose width is the
target radius, a smaller target with no shaping: a harder control problem on the same dynamics.

Rendering is a few outer products and three small ``(S×K)·(K×S)`` matrix products per frame (``K`` shapes), so the
registered tasks run at ~28,000 steps per CPU second at 32×32 (the plain point mass: ~56,000; test floor 5,000).
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from scipy import signal

from reference_impl.envs.point_mass import MAX_EPISODE_STEPS, PointMassEnv

DISTRACTORS_ID = "course/PointMassDistractors-v0"
DISTRACTORS_SPARSE_ID = "course/PointMassDistractorsSparse-v0"
CLIP_FRAMES = MAX_EPISODE_STEPS + 1  # background frames rendered at once: one episode's
BACKGROUND_STREAM = 0xB6  # second entry of the background's SeedSequence; the MDP uses the plain reset seed

# Measured on the registered ids (100-step episodes; `tests/reference/test_distractors.py` checks them): uniform random
# actions, 100 episodes, and the state-based PD controller `point_mass.scripted_action`, 20 episodes.
DISTRACTORS_RANDOM_POLICY_RETURN = 22.5  # shaped reward, the same MDP as course/PointMass-v0 (scripted: 98.3)
DISTRACTORS_SOLVED_RETURN = 80.0
SPARSE_RANDOM_POLICY_RETURN = 1.5  # r = 1 within 0.15 of the goal (scripted: 96.7)
SPARSE_SOLVED_RETURN = 80.0


class DriftingBackground:
    """Time-correlated coloured blobs and a drifting plaid texture, played like a video: ``advance``, ``render``.

    The shapes' trajectories are computed a clip of :data:`CLIP_FRAMES` frames at a time (vectorised over time), and
    consecutive clips continue each other seamlessly; each frame is rendered when it is shown.
    """

    def __init__(self, image_size: int, num_shapes: int = 6, texture_strength: float = 0.35,
                 persistence: float = 0.95, jitter: float = 0.01, margin: float = 1.1):
        if num_shapes < 0 or not 0.0 <= texture_strength <= 1.0 or not 0.0 <= persistence < 1.0 or jitter < 0:
            raise ValueError("need num_shapes >= 0, 0 <= texture_strength <= 1, 0 <= persistence < 1, jitter >= 0; "
                             f"got {num_shapes}, {texture_strength}, {persistence}, {jitter}.")
        self.num_shapes = num_shapes
        self.texture_strength = texture_strength
        self.persistence = persistence
        self.jitter = jitter
        self.margin = margin
        self._x = -1.0 + (np.arange(image_size) + 0.5) * (2.0 / image_size)  # pixel centres, left to right
        self._y = self._x[::-1].copy()  # image row 0 is the top (y = +1)
        self.rng = np.random.default_rng()
        self.reset(None)

    def reset(self, seed: int | None) -> None:
        """Draw a new background: from ``SeedSequence([seed, BACKGROUND_STREAM])``, or continue the stream."""
        if seed is not None:
            self.rng = np.random.default_rng(np.random.SeedSequence([seed, BACKGROUND_STREAM]))
        rng, k = self.rng, self.num_shapes
        self.centres = rng.uniform(-1.0, 1.0, size=(k, 2))  # unfolded: reflected into [-margin, margin] to draw
        self.velocities = rng.normal(0.0, 0.03, size=(k, 2))
        self.inv_two_var = 1.0 / (2.0 * rng.uniform(0.06, 0.25, size=k) ** 2)
        self.colours = 255.0 * rng.uniform(0.3, 1.0, size=(k, 3)) * (rng.uniform(size=(k, 3)) < 0.6)
        self.frequencies = rng.uniform(2.0, 6.0, size=2)
        self.phases = rng.uniform(0.0, 2 * np.pi, size=2)
        self.phase_speeds = rng.uniform(-0.15, 0.15, size=2)
        self.texture_colour = 255.0 * self.texture_strength * rng.uniform(0.2, 1.0, size=3)
        self._next_clip(CLIP_FRAMES)

    def _fold(self, centres: np.ndarray) -> np.ndarray:
        """Reflect unfolded coordinates into ``[-m, m]`` (a bounce off the margin: a triangle wave of period 4m)."""
        m = self.margin
        return m - np.abs((centres + m) % (4 * m) - 2 * m)

    def _next_clip(self, num_frames: int) -> None:
        """Precompute the next ``num_frames`` frames' profiles (the first is the current state); advance the state.

        Shapes: ``u_{t+1} = ρ u_t + σ ξ_t`` (an AR(1) filter over time), ``c_{t+1} = c_t + u_{t+1}``; texture phases
        ``φ_{t+1} = φ_t + ω``. Shape ``k`` is drawn as ``colour_k · g_k(y) g_k(x)`` with Gaussian profiles ``g_k``;
        the texture is one more rank-one term with ``(1 + sin)/2`` profiles.
        """
        k, steps = self.num_shapes, num_frames
        noise = self.rng.normal(0.0, self.jitter, size=(steps, k, 2))
        velocities, _ = signal.lfilter([1.0], [1.0, -self.persistence], noise, axis=0,
                                       zi=(self.persistence * self.velocities)[None])
        path = self.centres + np.concatenate([np.zeros((1, k, 2)), np.cumsum(velocities, axis=0)])  # [T+1, K, 2]
        centres = self._fold(path[:-1])
        phases = self.phases + np.arange(steps)[:, None] * self.phase_speeds  # [T, 2]
        self.centres, self.velocities = path[-1], velocities[-1]
        self.phases = (self.phases + steps * self.phase_speeds) % (2 * np.pi)

        gamma = self.inv_two_var[None, :, None]
        self._along_x = np.empty((steps, k + 1, self._x.size), np.float32)
        self._along_y = np.empty((steps, k + 1, self._x.size), np.float32)
        self._along_x[:, :k] = np.exp(-((self._x - centres[:, :, :1]) ** 2) * gamma)
        self._along_y[:, :k] = np.exp(-((self._y - centres[:, :, 1:]) ** 2) * gamma)
        self._along_x[:, k] = 0.5 + 0.5 * np.sin(self.frequencies[0] * self._x + phases[:, :1])
        self._along_y[:, k] = 0.5 + 0.5 * np.sin(self.frequencies[1] * self._y + phases[:, 1:])
        self._colours = np.concatenate([self.colours, self.texture_colour[None, :]]).T[:, None, :].astype(np.float32)
        self._frame = 0

    def advance(self) -> None:
        """One time step (independent of the agent): the next frame of the clip, or a new clip after the last."""
        self._frame += 1
        if self._frame == len(self._along_x):
            self._next_clip(CLIP_FRAMES)

    def render(self) -> np.ndarray:
        """The current frame, ``float32 [3, S, S]``: ``b_c = min(255, Σ_k colour_kc g_k(y) g_k(x))`` as one
        ``(3S × (K+1)) · ((K+1) × S)`` matrix product."""
        size = self._x.size
        left = (self._colours * self._along_y[self._frame].T[None]).reshape(3 * size, -1)
        image = (left @ self._along_x[self._frame]).reshape(3, size, size)
        return np.minimum(image, 255.0, out=image)


class DistractingPointMassEnv(PointMassEnv):
    """:class:`PointMassEnv` seen in front of a :class:`DriftingBackground`; see the module docstring."""

    def __init__(
        self,
        image_size: int = 32,
        random_goal: bool = False,
        distractors: bool = True,
        num_shapes: int = 6,
        texture_strength: float = 0.35,
        reward: str = "shaped",
        target_radius: float = 0.15,
        damping: float = 0.7,
        force: float = 0.08,
        blob_width: float = 0.08,
        render_mode: str | None = None,
    ):
        if reward not in ("shaped", "sparse"):
            raise ValueError(f"reward must be 'shaped' or 'sparse'; got {reward!r}.")
        if target_radius <= 0:
            raise ValueError(f"target_radius must be positive; got {target_radius}.")
        super().__init__(image_size=image_size, random_goal=random_goal, damping=damping, force=force,
                         blob_width=blob_width, render_mode=render_mode)
        self.distractors = distractors
        self.reward_kind = reward
        self.target_radius = target_radius
        # The goal blob's width: the target radius for the sparse task (a smaller target), else the agent's.
        self._goal_inv_two_var = 1.0 / (2.0 * target_radius**2) if reward == "sparse" else self._inv_two_var
        self._goal_image = self._goal_blob(self.goal)
        self._set_static_layers()
        self._pixel_grid = np.stack([self._pixel_centres, self._pixel_centres[::-1]])
        self._minus_inv_two_var = -self._inv_two_var
        self.background = DriftingBackground(image_size, num_shapes, texture_strength) if distractors else None

    def _goal_blob(self, point: np.ndarray) -> np.ndarray:
        """The goal's blob, of width ``target_radius`` in the sparse task (else the agent's width), ``uint8 [S, S]``."""
        along_x = np.exp(-((self._pixel_centres - point[0]) ** 2) * self._goal_inv_two_var)
        along_y = np.exp(-((self._pixel_centres[::-1] - point[1]) ** 2) * self._goal_inv_two_var)
        return (255.0 * np.outer(along_y, along_x)).astype(np.uint8)

    def _set_static_layers(self) -> None:
        """The goal (green) and border (blue) layer, premultiplied by its opacity, and ``1 -`` that opacity."""
        front = np.stack([np.zeros_like(self._goal_image), self._goal_image, self._border]).astype(np.float32)
        alpha = front.max(axis=0) * np.float32(1.0 / 255.0)
        self._static_premultiplied, self._static_transparency = front * alpha, 1.0 - alpha

    def background_frame(self) -> np.ndarray:
        """The current background alone, ``uint8 [3, S, S]``."""
        if self.background is None:
            raise ValueError("this environment was made with distractors=False: it has no background.")
        return self.background.render().astype(np.uint8)

    def _observation(self) -> np.ndarray:
        if self.background is None:
            return super()._observation()
        # Layers, back to front ("over" compositing, opacity = intensity / 255): background, goal and border, agent.
        offsets = self._pixel_grid - self.position[:, None]  # [2, S]: x - p_x along columns, y - p_y along rows
        profiles = np.exp(offsets * offsets * self._minus_inv_two_var)
        agent = np.outer(profiles[1], profiles[0])  # the red channel / 255
        image = self.background.render()
        image *= self._static_transparency
        image += self._static_premultiplied
        image *= 1.0 - agent
        image[0] += 255.0 * agent
        return image.astype(np.uint8)

    # ------------------------------------------------------------------ the MDP: exactly PointMassEnv's
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        background, self.background = self.background, None  # the parent renders a plain frame, discarded here
        _, info = super().reset(seed=seed, options=options)
        self.background = background
        self._goal_image = self._goal_blob(self.goal)
        self._set_static_layers()
        if self.background is not None:
            self.background.reset(seed)
        return self._observation(), info

    def step(self, action):
        if self.background is not None:
            self.background.advance()
        obs, reward, terminated, truncated, info = super().step(action)
        if self.reward_kind == "sparse":
            reward = float(info["distance"] < self.target_radius)
        return obs, reward, terminated, truncated, info


def register_distractor_tasks() -> None:
    """Register ``course/PointMassDistractors-v0`` and ``course/PointMassDistractorsSparse-v0`` (idempotent)."""
    entry_point = "reference_impl.envs.distractors:DistractingPointMassEnv"
    if DISTRACTORS_ID not in gym.registry:
        gym.register(id=DISTRACTORS_ID, entry_point=entry_point, max_episode_steps=MAX_EPISODE_STEPS)
    if DISTRACTORS_SPARSE_ID not in gym.registry:
        gym.register(id=DISTRACTORS_SPARSE_ID, entry_point=entry_point, max_episode_steps=MAX_EPISODE_STEPS,
                     kwargs={"reward": "sparse"})
