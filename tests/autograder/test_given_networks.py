"""The networks the chapter 5-6 notebooks print are the ones the checks grade against."""

import numpy as np
import pytest
import torch
from variants.given_cells import IMPORTS, given_cell

from autograder.checks import given_networks as given


def _inputs(rng):
    def t(*shape):
        return torch.tensor(rng.normal(size=shape), dtype=torch.float64)

    b, k, a = 4, 3, 2
    return {
        "mlp": (given.random_mlp_weights(rng, k, 5, 2), t(b, k)),
        "policy": (given.random_mlp_weights(rng, k, 5, 2 * a), t(b, k), t(b, a)),
        "q_values": ({"Q1": given.random_mlp_weights(rng, k + a, 5, 1),
                      "Q2": given.random_mlp_weights(rng, k + a, 5, 1)}, t(b, k), t(b, a)),
        "encoder": ({"W": t(9, k), "b": t(k)}, torch.tensor(rng.integers(0, 256, (b, 1, 3, 3)), dtype=torch.float64)),
        "transition_model": (given.random_mlp_weights(rng, k + a, 5, k), t(b, k), t(b, a)),
        "reward_decoder": (given.random_mlp_weights(rng, k, 5, 1), t(b, k)),
        "decoder": ({"W": t(k, 9), "b": t(9)}, t(b, k), (1, 3, 3)),
    }


@pytest.mark.parametrize(("chapter", "names"), [
    ("05_sac_pixels", ["mlp", "policy", "q_values"]),
    ("06_deepmdp_agent", ["mlp", "policy", "q_values", "encoder", "transition_model", "reward_decoder", "decoder"]),
])
def test_notebook_networks_equal_the_graded_ones(chapter, names):
    namespace = {}
    exec(IMPORTS + given_cell(chapter, "networks"), namespace)
    for seed in range(3):
        inputs = _inputs(np.random.default_rng(seed))
        for name in names:
            ours, theirs = getattr(given, name)(*inputs[name]), namespace[name](*inputs[name])
            pairs = zip(ours if isinstance(ours, tuple) else (ours,),
                        theirs if isinstance(theirs, tuple) else (theirs,), strict=True)
            for a, b in pairs:
                torch.testing.assert_close(a, b, rtol=0, atol=1e-12, msg=f"{chapter}: {name}")


def test_policy_log_prob_is_the_squashed_gaussian_density():
    """log pi from the closed form equals the change of variables computed by torch.distributions."""
    rng = np.random.default_rng(0)
    weights, latent, noise = _inputs(rng)["policy"]
    action, log_pi = given.policy(weights, latent, noise)
    mu, log_std = given.mlp(weights, latent).chunk(2, dim=-1)
    log_std = given.LOG_STD_MIN + 0.5 * (given.LOG_STD_MAX - given.LOG_STD_MIN) * (torch.tanh(log_std) + 1)
    base = torch.distributions.Normal(mu, log_std.exp())
    squashed = torch.distributions.TransformedDistribution(base, [torch.distributions.TanhTransform()])
    pre_tanh = mu + noise * log_std.exp()
    assert torch.allclose(action, torch.tanh(pre_tanh))
    expected = squashed.log_prob(torch.tanh(pre_tanh).clamp(-1 + 1e-12, 1 - 1e-12)).sum(-1, keepdim=True)
    assert torch.allclose(log_pi, expected, atol=1e-6)
