"""Checks for chapter 6 (the DeepMDP agent's latent-model step). Each ``check_*`` is one call in a test cell.

The exercise uses small *functional* networks (weights in dicts of tensors) so that the student's code can be run
and differentiated in a separate process: ``transition_model``, ``reward_decoder``, ``decoder`` and ``encoder``
below are printed in the notebook too. Losses come from :mod:`reference_impl.deepmdp.losses` (eqs. 6.1–6.3).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from hypothesis import strategies as st

from autograder.checks._core import as_array, call_student, call_with_grads, fail, passed, quiet, run_property
from autograder.checks.deepmdp import _tensor, _zero_or_none, check_grads
from reference_impl.deepmdp import losses as ref


def _mlp(weights: dict, x: torch.Tensor) -> torch.Tensor:
    h = torch.nn.functional.layer_norm(x @ weights["W1"] + weights["b1"], (weights["b1"].shape[0],))
    return torch.relu(h) @ weights["W2"] + weights["b2"]


def transition_model(weights: dict, latent: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
    """Linear(|z| + |a| -> h) - LayerNorm - ReLU - Linear(-> |z|)."""
    return _mlp(weights, torch.cat([latent, action], dim=1))


def reward_decoder(weights: dict, latent: torch.Tensor) -> torch.Tensor:
    """Linear(|z| -> h) - LayerNorm - ReLU - Linear(-> 1)."""
    return _mlp(weights, latent)


def decoder(weights: dict, latent: torch.Tensor, shape: tuple[int, ...]) -> torch.Tensor:
    """Linear(|z| -> C*H*W), reshaped to images ``[B, *shape]`` (values compared with pixels / 255)."""
    return (latent @ weights["W"] + weights["b"]).reshape(-1, *shape)


def encoder(weights: dict, obs: torch.Tensor) -> torch.Tensor:
    """``tanh(flatten(obs / 255) W + b)``: pixels (0..255) to a latent vector."""
    return torch.tanh((obs / 255.0).flatten(start_dim=1) @ weights["W"] + weights["b"])


def reference_latent_loss(latent, action, next_latent, reward, transition_weights, reward_weights):
    """Eq. 6.1 (squared-error form) + eq. 6.2, the reward read off the predicted next latent."""
    predicted = transition_model(transition_weights, latent, action)
    return (ref.deterministic_transition_loss(predicted, next_latent, kind="mse")
            + ref.reward_loss(reward_decoder(reward_weights, predicted).squeeze(-1), reward))


def reference_decoder_loss(decoder_weights, predicted_next_latent, obs, next_obs):
    """Eq. 6.3 without the latent penalty: reconstruct the next observation, scaled to [0, 1]."""
    reconstruction = decoder(decoder_weights, predicted_next_latent, tuple(next_obs.shape[1:]))
    return torch.nn.functional.mse_loss(reconstruction, next_obs / 255.0)


def reference_update(params: dict, batch: dict, lr: float) -> dict:
    """One SGD step of encoder, transition model and reward decoder on eqs. 6.1-6.2 (next latent detached)."""
    leaves = {g: {k: v.detach().clone().requires_grad_(True) for k, v in group.items()} for g, group in params.items()}
    latent = encoder(leaves["encoder"], batch["obs"])
    with torch.no_grad():
        next_latent = encoder(leaves["encoder"], batch["next_obs"])
    loss = reference_latent_loss(latent, batch["action"], next_latent, batch["reward"], leaves["transition"],
                                 leaves["reward"])
    flat = [v for group in leaves.values() for v in group.values()]
    grads = dict(zip(map(id, flat), torch.autograd.grad(loss, flat, allow_unused=True), strict=True))
    return {g: {k: (v - lr * grads[id(v)]).detach() if grads[id(v)] is not None else v.detach()
                for k, v in group.items()} for g, group in leaves.items()}


def _head(rng, d_in: int, hidden: int, d_out: int) -> dict:
    return {"W1": _tensor(rng, d_in, hidden), "b1": _tensor(rng, hidden), "W2": _tensor(rng, hidden, d_out),
            "b2": _tensor(rng, d_out)}


@st.composite
def latent_cases(draw) -> dict:
    rng = np.random.default_rng(draw(st.integers(0, 10_000)))
    b, k, a = draw(st.integers(2, 6)), draw(st.integers(1, 4)), draw(st.integers(1, 2))
    return {"latent": _tensor(rng, b, k), "action": _tensor(rng, b, a), "next_latent": _tensor(rng, b, k),
            "reward": _tensor(rng, b), "transition_weights": _head(rng, k + a, 5, k),
            "reward_weights": _head(rng, k, 5, 1)}


def _images(rng, b: int, shape=(1, 3, 3)) -> torch.Tensor:
    return torch.tensor(rng.integers(0, 256, size=(b, *shape)), dtype=torch.float64)


# Part 1: transition + reward loss ---------------------------------------------------------------------------

def _latent_case(fn: Callable, case: dict) -> None:
    name = "latent_model_loss"
    wrt = ["latent", "transition_weights", "reward_weights"]
    value, grads = call_with_grads(name, fn, case, wrt + ["next_latent"])
    expected, ref_grads = call_with_grads(name, reference_latent_loss, case, wrt)
    got = as_array(name, value, case, shape=(), what="the loss")
    if not np.isclose(got, float(expected), atol=1e-6, rtol=1e-6):
        fail(name, "the loss value differs from the reference", case, expected=float(expected), got=float(got),
             hint="transition: sum over latent dimensions of the squared error, mean over the batch; reward: "
                  "predicted from the PREDICTED next latent, mean squared error over the batch.")
    if not _zero_or_none(grads.get("next_latent")):
        fail(name, "gradient flows into `next_latent`, the target of the transition model", case,
             hint="detach the next latent: the encoder must not be pulled towards the prediction.")
    check_grads(name, ref_grads, grads, wrt, case)


def check_latent_model_loss(fn: Callable, hidden: bool = False) -> None:
    with quiet():
        if not hidden:
            rng = np.random.default_rng(0)
            _latent_case(fn, {"latent": _tensor(rng, 3, 2), "action": _tensor(rng, 3, 1),
                              "next_latent": _tensor(rng, 3, 2), "reward": _tensor(rng, 3),
                              "transition_weights": _head(rng, 3, 5, 2), "reward_weights": _head(rng, 2, 5, 1)})
            passed("latent_model_loss", "fixed batch")
            return
        run_property(lambda case: _latent_case(fn, case), latent_cases(), max_examples=25)
        passed("latent_model_loss", "25 random batches and networks")


# Part 2: the next-observation decoder loss ------------------------------------------------------------------

def _decoder_case(fn: Callable, case: dict) -> None:
    name = "decoder_loss"
    wrt = ["decoder_weights", "predicted_next_latent"]
    value, grads = call_with_grads(name, fn, case, wrt)
    expected, ref_grads = call_with_grads(name, reference_decoder_loss, case, wrt)
    got = as_array(name, value, case, shape=(), what="the loss")
    if not np.isclose(got, float(expected), atol=1e-6, rtol=1e-6):
        fail(name, "the reconstruction loss differs from the reference", case, expected=float(expected),
             got=float(got), hint="DeepMDP reconstructs the NEXT observation, scaled once to [0, 1] (x' / 255), "
                                  "from the predicted next latent; mean squared error over all pixels.")
    check_grads(name, ref_grads, grads, wrt, case)


def _decoder_inputs(rng, b, k) -> dict:
    return {"decoder_weights": {"W": _tensor(rng, k, 9), "b": _tensor(rng, 9)},
            "predicted_next_latent": _tensor(rng, b, k), "obs": _images(rng, b), "next_obs": _images(rng, b)}


def check_decoder_loss(fn: Callable, hidden: bool = False) -> None:
    with quiet():
        if not hidden:
            _decoder_case(fn, _decoder_inputs(np.random.default_rng(0), 2, 3))
            passed("decoder_loss", "fixed batch")
            return
        strategy = st.builds(lambda seed, b, k: _decoder_inputs(np.random.default_rng(seed), b, k),
                             st.integers(0, 10_000), st.integers(1, 5), st.integers(1, 4))
        run_property(lambda case: _decoder_case(fn, case), strategy, max_examples=25)
        passed("decoder_loss", "25 random batches")


# Part 3: one full latent-model update, compared parameter by parameter ---------------------------------------

def _update_inputs(rng, b, k) -> dict:
    params = {"encoder": {"W": 0.3 * _tensor(rng, 9, k), "b": _tensor(rng, k)},
              "transition": _head(rng, k + 1, 5, k), "reward": _head(rng, k, 5, 1)}
    batch = {"obs": _images(rng, b), "next_obs": _images(rng, b), "action": _tensor(rng, b, 1),
             "reward": _tensor(rng, b)}
    return {"params": params, "batch": batch, "lr": 0.1}


def _update_case(fn: Callable, case: dict) -> None:
    name = "latent_model_update"
    got = call_student(name, fn, case)
    expected = reference_update(case["params"], case["batch"], case["lr"])
    if not isinstance(got, dict) or set(got) != set(expected):
        fail(name, "must return a dict with the groups 'encoder', 'transition' and 'reward'", case,
             got=sorted(got) if isinstance(got, dict) else type(got).__name__)
    for group, weights in expected.items():
        for key, value in weights.items():
            array = as_array(name, (got[group] or {}).get(key) if isinstance(got[group], dict) else None, case,
                             shape=tuple(value.shape), what=f"params[{group!r}][{key!r}]")
            if not np.allclose(array, value.numpy(), atol=1e-7, rtol=1e-6):
                fail(name, f"after one step, params[{group!r}][{key!r}] differs from the reference", case,
                     expected=value.numpy(), got=array,
                     hint="encode obs / 255 once; compute the next latent with the same encoder under no_grad; "
                          "take one gradient step on ALL three groups with the transition + reward loss.")


def check_latent_model_update(fn: Callable, hidden: bool = False) -> None:
    with quiet():
        if not hidden:
            _update_case(fn, _update_inputs(np.random.default_rng(0), 3, 2))
            passed("latent_model_update", "fixed batch")
            return
        strategy = st.builds(lambda seed, b, k: _update_inputs(np.random.default_rng(seed), b, k),
                             st.integers(0, 10_000), st.integers(2, 5), st.integers(1, 3))
        run_property(lambda case: _update_case(fn, case), strategy, max_examples=20)
        passed("latent_model_update", "20 random batches and networks")
