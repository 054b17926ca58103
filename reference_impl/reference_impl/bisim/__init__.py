"""Bisimulation relations (book chapter 2) and bisimulation metrics (book chapter 3) on finite MDPs."""

from reference_impl.bisim.deterministic import (
    deterministic_bisimulation_metric,
    deterministic_pi_bisimulation_metric,
    deterministic_pi_bisimulation_metric_from_dynamics,
    deterministic_successors,
    sampled_deterministic_metric,
)
from reference_impl.bisim.fixed_point import (
    KantorovichFixedPointResult,
    kantorovich_fixed_point,
    stopping_threshold,
)
from reference_impl.bisim.kantorovich import optimal_coupling, wasserstein1, wasserstein1_batch
from reference_impl.bisim.metrics import (
    bisimulation_metric,
    metric_weights,
    mrp_as_mdp,
    pi_bisimulation_metric,
    pi_bisimulation_metric_from_dynamics,
)
from reference_impl.bisim.mico import mico_distance, mico_distance_from_dynamics, reduced_mico
from reference_impl.bisim.partition import (
    bisimulation_partition,
    canonical_labels,
    is_bisimulation,
    is_pi_bisimulation,
    pi_bisimulation_partition,
    quotient_mdp,
    refine_once,
)

__all__ = [
    "KantorovichFixedPointResult",
    "bisimulation_metric",
    "bisimulation_partition",
    "canonical_labels",
    "deterministic_bisimulation_metric",
    "deterministic_pi_bisimulation_metric",
    "deterministic_pi_bisimulation_metric_from_dynamics",
    "deterministic_successors",
    "is_bisimulation",
    "is_pi_bisimulation",
    "kantorovich_fixed_point",
    "metric_weights",
    "mico_distance",
    "mico_distance_from_dynamics",
    "mrp_as_mdp",
    "optimal_coupling",
    "pi_bisimulation_metric",
    "pi_bisimulation_metric_from_dynamics",
    "pi_bisimulation_partition",
    "quotient_mdp",
    "reduced_mico",
    "refine_once",
    "sampled_deterministic_metric",
    "stopping_threshold",
    "wasserstein1",
    "wasserstein1_batch",
]
