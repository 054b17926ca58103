"""DeepMDP: latent models trained with reward and transition losses, their theory and a recovery experiment
(book chapter 4)."""

from reference_impl.deepmdp.dbc import bisimulation_loss
from reference_impl.deepmdp.lipschitz import gradient_penalty
from reference_impl.deepmdp.losses import (
    deterministic_transition_loss,
    gaussian_transition_nll,
    gaussian_w2,
    reward_loss,
)
from reference_impl.deepmdp.probability_metrics import (
    energy_distance,
    energy_score_loss,
    norm_mmd,
    total_variation,
)

__all__ = [
    "bisimulation_loss",
    "deterministic_transition_loss",
    "energy_distance",
    "energy_score_loss",
    "gaussian_transition_nll",
    "gaussian_w2",
    "gradient_penalty",
    "norm_mmd",
    "reward_loss",
    "total_variation",
]
