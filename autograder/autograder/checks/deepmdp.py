"""Checks for chapter 4 (DeepMDP losses). Each ``check_*`` is one call in a notebook test cell.

Student functions take and return torch tensors (float64 here, for exact comparisons). Besides the value, each
check backpropagates the student's loss (in the student's process when grading) and compares the gradients with
the reference's: a target that should be detached must receive no gradient, a prediction must receive exactly
the reference's gradient. Reference: :mod:`reference_impl.deepmdp`.

Hidden input space (what the exercise text allows): batches B = 1-6 (B = 1 included, where ``[B, 1] - [B]``
happens to broadcast correctly) of latent size K = 1-4, standard-normal values of either sign, predictions and
rewards at scales 0.01, 1 or 30; ``sigma`` > 0 from about 0.001 to 150; networks with standard-normal weights and
3 hidden units. Predicted and target latents differ in every row (the Euclidean norm is not differentiable at 0).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from hypothesis import strategies as st

from autograder.checks._core import as_array, call_with_grads, fail, passed, quiet, run_property
from reference_impl.deepmdp import losses as ref
from reference_impl.deepmdp.lipschitz import gradient_penalty as ref_gradient_penalty

ATOL = 1e-6


def _tensor(rng: np.random.Generator, *shape: int, positive: bool = False) -> torch.Tensor:
    x = rng.normal(size=shape)
    return torch.tensor(np.exp(0.5 * x) if positive else x, dtype=torch.float64)


def _zero_or_none(g) -> bool:
    return g is None or float(torch.as_tensor(g).abs().max()) == 0.0


def _compare(name: str, fn: Callable, reference: Callable, case: dict, wrt: list[str], must_detach: list[str],
             hint: str) -> None:
    loss, grads = call_with_grads(name, fn, case, wrt + must_detach)
    value = as_array(name, loss, case, shape=(), what="the loss")
    ref_loss, ref_grads = call_with_grads(name, reference, case, wrt)
    if not np.isclose(value, float(ref_loss), atol=ATOL, rtol=1e-6):
        fail(name, "the loss value differs from the reference", case, expected=float(ref_loss), got=float(value),
             hint=hint)
    for arg in must_detach:
        if not _zero_or_none(grads.get(arg)):
            fail(name, f"gradient flows into `{arg}`, which is a target and must be detached", case,
                 hint=f"use {arg}.detach() inside the loss, so the encoder is not pulled towards the prediction.")
    check_grads(name, ref_grads, grads, wrt, case)


def check_grads(name: str, ref_grads: dict, grads: dict, wrt: list[str], case: dict) -> None:
    """Compare the student's gradients with the reference's for every input in ``wrt`` (dicts of weights too)."""
    for arg in wrt:
        expected, got = ref_grads[arg], grads.get(arg)
        if isinstance(expected, dict):
            for key in expected:
                _check_grad(name, f"{arg}[{key!r}]", expected[key], (got or {}).get(key), case)
        else:
            _check_grad(name, arg, expected, got, case)


def _check_grad(name: str, label: str, expected, got, case: dict) -> None:
    if expected is None:  # the loss does not depend on this input (e.g. an output bias under a gradient penalty)
        if not _zero_or_none(got):
            fail(name, f"`{label}` receives a gradient although the loss does not depend on it", case,
                 hint="compare your formula with the definition: this input should not enter the loss.")
        return
    if got is None:
        fail(name, f"no gradient reaches `{label}`", case,
             hint="the loss must be a differentiable function of it (no .detach(), .item() or numpy on that path; "
                  "for a gradient penalty use create_graph=True).")
    got = torch.as_tensor(got)
    if got.shape != expected.shape or not torch.allclose(got, expected, atol=1e-6, rtol=1e-5):
        fail(name, f"the gradient with respect to `{label}` differs from the reference", case,
             expected=expected.numpy(), got=got.numpy(),
             hint="check the reduction (mean over the batch, sum over latent dimensions) and the formula.")


@st.composite
def batches(draw) -> tuple[np.random.Generator, int, int]:
    """A random generator, a batch size and a latent (or input) dimension; sizes shrink to the smallest case."""
    return np.random.default_rng(draw(st.integers(0, 10_000))), draw(st.integers(1, 6)), draw(st.integers(1, 4))


def _scaled(tensor: torch.Tensor, rng: np.random.Generator) -> torch.Tensor:
    """The values at one of several scales (0.01, 1 or 30), so that no fixed constant hides in the tolerance."""
    return tensor * float(rng.choice([0.01, 1.0, 30.0]))


# Part 1: reward loss (eq. 4.6) ------------------------------------------------------------------------------

def _reward_reference(predicted_reward, reward):
    return ref.reward_loss(predicted_reward, reward.reshape(predicted_reward.shape), kind="mse")


def _reward_case(fn: Callable, case: dict) -> None:
    _compare("reward_loss", fn, _reward_reference, case, ["predicted_reward"], [],
             "mean over the batch of (predicted - reward)^2; predicted_reward is [B, 1] and reward is [B]: "
             "make the shapes equal before subtracting, or broadcasting builds a [B, B] matrix.")


def check_reward_loss(fn: Callable, hidden: bool = False) -> None:
    """Value and gradient of eq. 4.6. Hidden: 30 batches, B = 1-6, values at scales 0.01, 1 or 30."""
    with quiet():
        if not hidden:
            case = {"predicted_reward": torch.tensor([[1.0], [2.0]], dtype=torch.float64),
                    "reward": torch.tensor([0.0, 4.0], dtype=torch.float64)}
            _reward_case(fn, case)
            passed("reward_loss", "fixed batch of two")
            return

        def make(args):
            rng, b, _ = args
            return {"predicted_reward": _scaled(_tensor(rng, b, 1), rng), "reward": _scaled(_tensor(rng, b), rng)}

        run_property(lambda case: _reward_case(fn, case), batches().map(make), max_examples=30)
        passed("reward_loss", "30 random batches")


# Part 2: deterministic transition loss, W1 form (eq. 4.7) ---------------------------------------------------

def _transition_reference(predicted_next_latent, next_latent):
    return ref.deterministic_transition_loss(predicted_next_latent, next_latent, kind="w1")


def _transition_case(fn: Callable, case: dict) -> None:
    _compare("transition_loss", fn, _transition_reference, case, ["predicted_next_latent"], ["next_latent"],
             "W1 between Diracs is the Euclidean distance: mean over the batch of ||z_pred - phi(s')||_2, "
             "with phi(s') detached.")


def check_transition_loss(fn: Callable, hidden: bool = False) -> None:
    """Value and gradients of eq. 4.7, no gradient into the target. Hidden: 30 batches, B = 1-6, K = 1-4."""
    with quiet():
        if not hidden:
            case = {"predicted_next_latent": torch.tensor([[3.0, 4.0], [1.0, 1.0]], dtype=torch.float64),
                    "next_latent": torch.tensor([[0.0, 0.0], [1.0, 2.0]], dtype=torch.float64)}
            _transition_case(fn, case)
            passed("transition_loss", "fixed batch of two")
            return

        def make(args):
            rng, b, k = args
            return {"predicted_next_latent": _scaled(_tensor(rng, b, k), rng), "next_latent": _tensor(rng, b, k)}

        run_property(lambda case: _transition_case(fn, case), batches().map(make), max_examples=30)
        passed("transition_loss", "30 random batches")


# Part 3: Gaussian transition NLL (eq. 4.9) ----------------------------------------------------------------

def _nll_case(fn: Callable, case: dict) -> None:
    _compare("gaussian_nll", fn, ref.gaussian_transition_nll, case, ["mu", "sigma"], ["next_latent"],
             "sum over latent dimensions of log sigma + (z - mu)^2 / (2 sigma^2) + 0.5 log(2 pi), mean over the "
             "batch, with z = phi(s') detached.")


def check_gaussian_nll(fn: Callable, hidden: bool = False) -> None:
    """Value and gradients of eq. 4.9, no gradient into the target. Hidden: 30 batches, B = 1-6, K = 1-4,
    sigma from about 0.001 to 150."""
    with quiet():
        if not hidden:
            case = {"mu": torch.tensor([[0.0, 1.0], [2.0, -1.0]], dtype=torch.float64),
                    "sigma": torch.tensor([[1.0, 2.0], [0.5, 3.0]], dtype=torch.float64),
                    "next_latent": torch.tensor([[1.0, 1.0], [0.0, 2.0]], dtype=torch.float64)}
            _nll_case(fn, case)
            passed("gaussian_nll", "fixed batch of two")
            return

        def make(args):
            rng, b, k = args
            return {"mu": _tensor(rng, b, k), "sigma": _scaled(_tensor(rng, b, k, positive=True), rng) + 1e-3,
                    "next_latent": _tensor(rng, b, k)}

        run_property(lambda case: _nll_case(fn, case), batches().map(make), max_examples=30)
        passed("gaussian_nll", "30 random batches")


# Part 4: gradient penalty (eq. 4.11) ----------------------------------------------------------------------

def mlp(weights: dict, x: torch.Tensor) -> torch.Tensor:
    """The small network of the exercise: ``tanh(x W1 + b1) W2 + b2``, one output per sample."""
    return torch.tanh(x @ weights["W1"] + weights["b1"]) @ weights["W2"] + weights["b2"]


def _penalty_reference(weights, x):
    return ref_gradient_penalty(lambda inputs: mlp(weights, inputs), x, target_norm=1.0)


def _penalty_case(fn: Callable, case: dict) -> None:
    _compare("gradient_penalty", fn, _penalty_reference, case, ["weights"], [],
             "mean over samples of (||d f(x_i) / d x_i||_2 - 1)^2, with the gradient taken with respect to the "
             "INPUTS and create_graph=True so the penalty can train the weights.")


def _weights(rng: np.random.Generator, d: int, h: int) -> dict:
    return {"W1": _tensor(rng, d, h), "b1": _tensor(rng, h), "W2": _tensor(rng, h, 1), "b2": _tensor(rng, 1)}


def check_gradient_penalty(fn: Callable, hidden: bool = False) -> None:
    """Value of eq. 4.11 and its gradient with respect to every weight. Hidden: 25 networks and batches,
    B = 1-6, input size 1-4."""
    with quiet():
        if not hidden:
            rng = np.random.default_rng(0)
            _penalty_case(fn, {"weights": _weights(rng, 2, 3), "x": _tensor(rng, 4, 2)})
            passed("gradient_penalty", "fixed network and batch")
            return

        def make(args):
            rng, b, d = args
            return {"weights": _weights(rng, d, 3), "x": _tensor(rng, b, d)}

        run_property(lambda case: _penalty_case(fn, case), batches().map(make), max_examples=25)
        passed("gradient_penalty", "25 random networks and batches")
