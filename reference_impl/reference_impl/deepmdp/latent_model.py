"""A small DeepMDP for DonutWorld and an autoencoder baseline, with their training loop (book chapter 4).

DeepMDP (eq. 4.6, eq. 4.8): an encoder ``phi`` maps the image to ``z``; a latent reward head ``R_bar(z, a)`` and a
deterministic residual latent transition ``T_bar(z, a) = z + f(z, a)`` are trained on

    L = mean_i (R_bar(phi(s_i), a_i) - r~_i)^2 + c_P mean_i ||T_bar(phi(s_i), a_i) - sg[phi(s'_i)]||_2^2,

where ``sg`` stops the gradient (the next latent is a target) and ``r~`` is the reward standardised with the data
set's mean and standard deviation (``DeepMDPModel.predict_reward`` undoes it).

Collapse. The transition term alone is minimised by a constant encoder. What rules that out is the reward term: the
DonutWorld reward depends on where the agent is (eq. 4.13), so a latent that forgets the position cannot predict it.
The balance matters. The encoder ends in a layer normalisation without learned scale (``||z||_2 ≈ sqrt(d)``), so
the latent cannot shrink its way to a small transition loss, and ``c_P = 0.1`` by default: with ``c_P = 1`` the
transition term wins on the four-track variant for some seeds, the encoder collapses before the reward head has
learnt anything and the reward loss stays at the variance of the reward. Nothing else (no reconstruction, no
contrastive term, no target network) is added.

Other metrics (eq. 4.17-4.20). ``transition_kind`` selects the transition loss: ``"mse"`` (the default above),
``"w1"`` (eq. 4.7), or a diagonal Gaussian transition ``N(mu(z, a), diag sigma(z, a)^2)`` trained with its negative
log-likelihood (``"gaussian_nll"``, eq. 4.9: the surrogate of total variation through Pinsker's inequality) or with the
energy score of ``n_energy_samples`` reparameterised draws (``"energy"``, eq. 4.20: the squared norm-MMD). The
Gaussian's ``sigma`` lies in ``[sigma_min, sigma_max]`` through a sigmoid, so the likelihood stays bounded.

The autoencoder baseline uses the same encoder and the same data, batch size, optimiser and number of updates, with
an MLP decoder trained on the pixel mean squared error.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import Tensor, nn

from reference_impl.deepmdp.losses import deterministic_transition_loss, gaussian_transition_nll, reward_loss
from reference_impl.deepmdp.probability_metrics import energy_score_loss, sample_diagonal_gaussian
from reference_impl.envs.donut_world import DonutWorld
from reference_impl.networks.mlp import mlp

METHODS = ("deepmdp", "autoencoder")
TRANSITION_KINDS = ("mse", "w1", "gaussian_nll", "energy")
GAUSSIAN_KINDS = ("gaussian_nll", "energy")


@dataclass(frozen=True)
class TransitionData:
    """Transitions ``(s, a, r, s')`` as images, with the true states for evaluation only."""

    observations: np.ndarray  # uint8 [N, 1, H, W]
    actions: np.ndarray  # float32 [N, 2]
    rewards: np.ndarray  # float32 [N]
    next_observations: np.ndarray  # uint8 [N, 1, H, W]
    states: np.ndarray  # float64 [N, 3]: x, y, angle of s (track coordinates)
    tracks: np.ndarray  # int [N]

    def __len__(self) -> int:
        return self.actions.shape[0]


def collect_random_transitions(
    env: DonutWorld, n_transitions: int, *, episode_length: int = 20, seed: int = 0
) -> TransitionData:
    """Uniform random actions in episodes of ``episode_length`` steps, each starting from ``env.reset``."""
    if n_transitions < 1 or episode_length < 1:
        raise ValueError(f"n_transitions and episode_length must be positive; got {n_transitions}, {episode_length}.")
    rng = np.random.default_rng(seed)
    shape = env.observation_space.shape
    observations = np.empty((n_transitions, *shape), dtype=np.uint8)
    next_observations = np.empty_like(observations)
    actions = rng.uniform(-1.0, 1.0, size=(n_transitions, 2)).astype(np.float32)
    rewards = np.empty(n_transitions, dtype=np.float32)
    states = np.empty((n_transitions, 3))
    tracks = np.empty(n_transitions, dtype=int)
    observation, info = env.reset(seed=int(rng.integers(2**31)))
    for i in range(n_transitions):
        if i > 0 and i % episode_length == 0:
            observation, info = env.reset()
        observations[i], states[i], tracks[i] = observation, info["state"], info["track"]
        observation, rewards[i], _, _, info = env.step(actions[i])
        next_observations[i] = observation
    return TransitionData(observations, actions, rewards, next_observations, states, tracks)


class ImageMLPEncoder(nn.Module):
    """``phi``: uint8 image ``[B, 1, H, W]`` -> latent ``[B, latent_dim]``: pixels scaled to [0, 1], an MLP, and
    (``normalise=True``) a layer normalisation without learned scale, so every latent has mean 0 and variance 1
    across its coordinates (``||z||_2 = sqrt(latent_dim)``)."""

    def __init__(
        self, observation_shape: tuple[int, ...], latent_dim: int, hidden_dim: int, *, normalise: bool = True
    ) -> None:
        super().__init__()
        self.observation_shape = tuple(observation_shape)
        self.net = mlp(int(np.prod(observation_shape)), hidden_dim, latent_dim, num_hidden_layers=2)
        self.norm = nn.LayerNorm(latent_dim, elementwise_affine=False) if normalise else nn.Identity()

    def forward(self, observations: Tensor) -> Tensor:
        if tuple(observations.shape[1:]) != self.observation_shape:
            raise ValueError(f"expected observations [B, {self.observation_shape}]; got {tuple(observations.shape)}.")
        return self.norm(self.net(observations.flatten(start_dim=1).float() / 255.0))


class LatentRewardModel(nn.Module):
    """``R_bar(z, a)``: returns ``[B]``."""

    def __init__(self, latent_dim: int, action_dim: int, hidden_dim: int) -> None:
        super().__init__()
        self.net = mlp(latent_dim + action_dim, hidden_dim, 1, num_hidden_layers=1)

    def forward(self, latent: Tensor, action: Tensor) -> Tensor:
        return self.net(torch.cat([latent, action], dim=1)).squeeze(1)


class LatentTransitionModel(nn.Module):
    """Deterministic residual ``T_bar(z, a) = z + f(z, a)``."""

    def __init__(self, latent_dim: int, action_dim: int, hidden_dim: int) -> None:
        super().__init__()
        self.net = mlp(latent_dim + action_dim, hidden_dim, latent_dim, num_hidden_layers=1)

    def forward(self, latent: Tensor, action: Tensor) -> Tensor:
        return latent + self.net(torch.cat([latent, action], dim=1))


class GaussianLatentTransitionModel(nn.Module):
    """``N(mu, diag sigma^2)`` with ``mu = z + f(z, a)`` and ``sigma = sigma_min + (sigma_max - sigma_min)
    sigmoid(g(z, a))``; returns ``(mu, sigma)``, both ``[B, latent_dim]``."""

    def __init__(
        self, latent_dim: int, action_dim: int, hidden_dim: int, sigma_min: float = 0.01, sigma_max: float = 1.0
    ) -> None:
        super().__init__()
        if not 0.0 < sigma_min < sigma_max:
            raise ValueError(f"need 0 < sigma_min < sigma_max; got {sigma_min}, {sigma_max}.")
        self.sigma_min, self.sigma_max = sigma_min, sigma_max
        self.net = mlp(latent_dim + action_dim, hidden_dim, 2 * latent_dim, num_hidden_layers=1)

    def forward(self, latent: Tensor, action: Tensor) -> tuple[Tensor, Tensor]:
        shift, scale = self.net(torch.cat([latent, action], dim=1)).chunk(2, dim=1)
        return latent + shift, self.sigma_min + (self.sigma_max - self.sigma_min) * torch.sigmoid(scale)


class DeepMDPModel(nn.Module):
    """Encoder, latent reward head and latent transition model (deterministic, or Gaussian when ``gaussian``)."""

    def __init__(
        self,
        observation_shape: tuple[int, ...],
        action_dim: int,
        latent_dim: int,
        hidden_dim: int,
        *,
        gaussian: bool = False,
        sigma_min: float = 0.01,
        sigma_max: float = 1.0,
    ) -> None:
        super().__init__()
        self.encoder = ImageMLPEncoder(observation_shape, latent_dim, hidden_dim)
        self.reward = LatentRewardModel(latent_dim, action_dim, hidden_dim)
        self.transition: nn.Module = (
            GaussianLatentTransitionModel(latent_dim, action_dim, hidden_dim, sigma_min, sigma_max)
            if gaussian
            else LatentTransitionModel(latent_dim, action_dim, hidden_dim)
        )
        # Rewards may be trained standardised; predict_reward undoes it: r = offset + scale * R_bar(z, a).
        self.register_buffer("reward_offset", torch.zeros(()))
        self.register_buffer("reward_scale", torch.ones(()))

    def predict_reward(self, latent: Tensor, action: Tensor) -> Tensor:
        """Reward in the environment's units."""
        return self.reward_offset + self.reward_scale * self.reward(latent, action)


class AutoencoderModel(nn.Module):
    """Encoder (same architecture as the DeepMDP's) and an MLP decoder back to pixels in [0, 1]."""

    def __init__(self, observation_shape: tuple[int, ...], latent_dim: int, hidden_dim: int) -> None:
        super().__init__()
        self.encoder = ImageMLPEncoder(observation_shape, latent_dim, hidden_dim)
        self.decoder = mlp(latent_dim, hidden_dim, int(np.prod(observation_shape)), num_hidden_layers=2)

    def reconstruct(self, latent: Tensor) -> Tensor:
        return torch.sigmoid(self.decoder(latent))


@dataclass(frozen=True)
class LatentModelConfig:
    """Hyper-parameters shared by both methods (same budget: ``n_updates`` Adam steps of ``batch_size``)."""

    method: str = "deepmdp"
    latent_dim: int = 8
    hidden_dim: int = 128
    n_updates: int = 2000
    batch_size: int = 128
    learning_rate: float = 1e-3
    transition_kind: str = "mse"
    transition_weight: float = 0.1
    standardise_rewards: bool = True
    n_energy_samples: int = 8
    sigma_min: float = 0.01
    sigma_max: float = 1.0

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ValueError(f"method must be one of {METHODS}; got {self.method!r}.")
        if self.transition_kind not in TRANSITION_KINDS:
            raise ValueError(f"transition_kind must be one of {TRANSITION_KINDS}; got {self.transition_kind!r}.")
        if self.n_energy_samples < 2:
            raise ValueError(f"n_energy_samples must be at least 2; got {self.n_energy_samples}.")
        if min(self.latent_dim, self.hidden_dim, self.n_updates, self.batch_size) < 1:
            raise ValueError("latent_dim, hidden_dim, n_updates and batch_size must be positive.")
        if self.transition_weight < 0:
            raise ValueError(f"transition_weight must be non-negative; got {self.transition_weight}.")


@dataclass
class TrainedLatentModel:
    """A trained model, its settings, per-update loss curves and the training wall-clock time in seconds."""

    model: DeepMDPModel | AutoencoderModel
    config: LatentModelConfig
    history: dict[str, list[float]] = field(default_factory=dict)
    seconds: float = 0.0

    @torch.no_grad()
    def encode(self, observations: np.ndarray, batch_size: int = 1024) -> np.ndarray:
        """Latents ``[N, latent_dim]`` of uint8 images ``[N, 1, H, W]``."""
        return encode(self.model.encoder, observations, batch_size)


@torch.no_grad()
def encode(encoder: nn.Module, observations: np.ndarray, batch_size: int = 1024) -> np.ndarray:
    """Apply ``encoder`` to uint8 images ``[N, 1, H, W]`` in batches; returns a float64 array."""
    encoder.eval()
    starts = range(0, len(observations), batch_size)
    chunks = [encoder(torch.from_numpy(observations[i : i + batch_size])) for i in starts]
    return torch.cat(chunks).double().numpy()


def _transition_loss(
    model: DeepMDPModel,
    latent: Tensor,
    action: Tensor,
    next_latent: Tensor,
    config: LatentModelConfig,
    noise: torch.Generator,
) -> Tensor:
    """The transition loss selected by ``config.transition_kind`` (the next latent is a constant target)."""
    if config.transition_kind not in GAUSSIAN_KINDS:
        return deterministic_transition_loss(model.transition(latent, action), next_latent, kind=config.transition_kind)
    mu, sigma = model.transition(latent, action)
    if config.transition_kind == "gaussian_nll":
        return gaussian_transition_nll(mu, sigma, next_latent)
    return energy_score_loss(sample_diagonal_gaussian(mu, sigma, config.n_energy_samples, noise), next_latent)


def train_latent_model(data: TransitionData, config: LatentModelConfig, *, seed: int = 0) -> TrainedLatentModel:
    """Train the model selected by ``config.method`` on ``data`` and return it with its loss history."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    observation_shape = data.observations.shape[1:]
    if config.method == "deepmdp":
        model: DeepMDPModel | AutoencoderModel = DeepMDPModel(
            observation_shape,
            data.actions.shape[1],
            config.latent_dim,
            config.hidden_dim,
            gaussian=config.transition_kind in GAUSSIAN_KINDS,
            sigma_min=config.sigma_min,
            sigma_max=config.sigma_max,
        )
    else:
        model = AutoencoderModel(observation_shape, config.latent_dim, config.hidden_dim)
    optimiser = torch.optim.Adam(model.parameters(), lr=config.learning_rate)
    observations = torch.from_numpy(data.observations)
    next_observations = torch.from_numpy(data.next_observations)
    actions = torch.from_numpy(data.actions)
    rewards = torch.from_numpy(data.rewards)
    if config.method == "deepmdp" and config.standardise_rewards:
        reward_mean, reward_std = rewards.mean(), rewards.std().clamp_min(1e-8)
        model.reward_offset.fill_(reward_mean.item())
        model.reward_scale.fill_(reward_std.item())
        rewards = (rewards - reward_mean) / reward_std
    noise = torch.Generator().manual_seed(seed)  # the energy score's reparameterisation noise
    history: dict[str, list[float]] = {"loss": [], "reward": [], "transition": [], "reconstruction": []}
    start = time.perf_counter()
    model.train()
    for _ in range(config.n_updates):
        index = torch.from_numpy(rng.integers(len(data), size=config.batch_size))
        latent = model.encoder(observations[index])
        if isinstance(model, DeepMDPModel):
            with torch.no_grad():
                next_latent = model.encoder(next_observations[index])
            loss_r = reward_loss(model.reward(latent, actions[index]), rewards[index])
            loss_p = _transition_loss(model, latent, actions[index], next_latent, config, noise)
            loss = loss_r + config.transition_weight * loss_p
            history["reward"].append(loss_r.item())
            history["transition"].append(loss_p.item())
        else:
            target = observations[index].flatten(start_dim=1).float() / 255.0
            loss = (model.reconstruct(latent) - target).pow(2).sum(dim=1).mean()
            history["reconstruction"].append(loss.item())
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
        history["loss"].append(loss.item())
    model.eval()
    history = {key: values for key, values in history.items() if values}
    return TrainedLatentModel(model, config, history, time.perf_counter() - start)
