"""Checks for chapter 5 (soft actor-critic from pixels). Each ``check_*`` is one call in a notebook test cell.

Student functions take torch tensors (``[B, 1]`` rewards, masks, Q-values and log-probabilities; float64 here)
and return tensors; the actor loss also takes the weights of the small functional networks of
:mod:`autograder.checks.given_networks`. Each check compares the value with
:mod:`reference_impl.agents.sac_losses` and backpropagates the student's result (in the student's process when
grading) to test what must and must not receive gradients: a target built without ``torch.no_grad``, an encoding
or a temperature that is not held fixed in the actor loss, or a ``log pi`` that is not detached in the temperature
loss all show up as gradients where none may flow.

Hidden input space (what the exercise text allows): batches of 1-6 (1-5 for the actor) with values of either sign;
``not_done`` mixed, all ones or all zeros; ``discount`` in {0, 0.5, 0.9, 0.99}; ``alpha`` = exp(2 N(0, 1)) (from
about 0.02 to 50); ``log_alpha`` of either sign; latent sizes 1-3, action sizes 1-2; target entropies -1..-6;
soft updates on 1-3 named parameters with ``tau`` in {0, 0.005, 0.01, 0.05, 0.3, 1}.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from hypothesis import strategies as st

from autograder.checks._core import as_array, call_student, call_with_grads, fail, passed, quiet, run_property
from autograder.checks.deepmdp import _tensor, _zero_or_none, check_grads
from autograder.checks.given_networks import policy, q_values, random_mlp_weights
from reference_impl.agents import sac_losses as ref


@st.composite
def batches(draw) -> tuple[np.random.Generator, int]:
    return np.random.default_rng(draw(st.integers(0, 10_000))), draw(st.integers(1, 6))


def _t(values) -> torch.Tensor:
    return torch.tensor(values, dtype=torch.float64)


def _column(rng, b):
    return _tensor(rng, b, 1)


def _compare(name: str, fn: Callable, reference: Callable, case: dict, wrt: list[str], no_grad: list[str],
             hint: str, no_grad_hints: dict[str, str] | None = None) -> None:
    value, grads = call_with_grads(name, fn, case, wrt + no_grad)
    expected, ref_grads = call_with_grads(name, reference, case, wrt)
    got = as_array(name, value, case, shape=tuple(expected.shape), what="the result")
    if not np.allclose(got, expected.numpy(), atol=1e-6, rtol=1e-6):
        fail(name, "the value differs from the reference", case, expected=expected.numpy(), got=got, hint=hint)
    for arg in no_grad:
        if not _zero_or_none(grads.get(arg)):
            fail(name, f"gradient flows into `{arg}`, which must be held fixed here", case,
                 hint=(no_grad_hints or {}).get(arg, f"build this quantity under torch.no_grad() or use "
                                                     f"{arg}.detach()."))
    check_grads(name, ref_grads, grads, wrt, case)


# Part 1: the critic target (eq. 5.2) -------------------------------------------------------------------------

def _target_case(fn: Callable, case: dict) -> None:
    _compare("critic_target", fn, ref.critic_target, case, [],
             ["target_q1", "target_q2", "next_log_pi", "alpha"],
             "y = r + discount * not_done * (min(Q1', Q2') - alpha * log_pi'), computed under torch.no_grad().")


def _target_inputs(rng, b) -> dict:
    mask = rng.choice(["mixed", "all_ones", "all_zeros"], p=[0.6, 0.2, 0.2])
    not_done = rng.random((b, 1)) < 0.7 if mask == "mixed" else np.full((b, 1), mask == "all_ones")
    return {"reward": _column(rng, b), "not_done": torch.tensor(not_done, dtype=torch.float64),
            "target_q1": _column(rng, b), "target_q2": _column(rng, b), "next_log_pi": _column(rng, b),
            "alpha": torch.tensor(float(np.exp(2 * rng.normal())), dtype=torch.float64),
            "discount": float(rng.choice([0.0, 0.5, 0.9, 0.99]))}


def check_critic_target(fn: Callable, hidden: bool = False) -> None:
    """y of eq. 5.2 with no gradient into any input. Hidden: 30 batches (module docstring: masks, discounts,
    temperatures)."""
    with quiet():
        if not hidden:
            case = {"reward": _t([[1.0], [0.0]]), "not_done": _t([[1.0], [0.0]]),
                    "target_q1": _t([[2.0], [3.0]]), "target_q2": _t([[4.0], [1.0]]),
                    "next_log_pi": _t([[-1.0], [0.5]]), "alpha": _t(0.1),
                    "discount": 0.9}
            _target_case(fn, case)
            passed("critic_target", "fixed batch of two")
            return
        run_property(lambda case: _target_case(fn, case), batches().map(lambda a: _target_inputs(*a)),
                     max_examples=30)
        passed("critic_target", "30 random batches")


# Part 2: the critic loss (eq. 5.3) ---------------------------------------------------------------------------

def _critic_loss_case(fn: Callable, case: dict) -> None:
    _compare("critic_loss", fn, ref.critic_loss, case, ["q1", "q2"], ["target_q"],
             "mean squared error of each Q head against the same detached target, summed over the two heads.")


def check_critic_loss(fn: Callable, hidden: bool = False) -> None:
    """Value and gradients of eq. 5.3, no gradient into the target. Hidden: 30 batches, B = 1-6."""
    with quiet():
        if not hidden:
            _critic_loss_case(fn, {"q1": _t([[1.0], [2.0]]), "q2": _t([[0.0], [2.0]]),
                                   "target_q": _t([[1.0], [1.0]])})
            passed("critic_loss", "fixed batch of two")
            return

        def make(rng, b):
            return {"q1": _column(rng, b), "q2": _column(rng, b), "target_q": _column(rng, b)}

        run_property(lambda case: _critic_loss_case(fn, case), batches().map(lambda a: make(*a)), max_examples=30)
        passed("critic_loss", "30 random batches")


# Part 3: the actor loss (eq. 5.5) on a detached encoding ---------------------------------------------------

def reference_actor_loss(latent, noise, actor_weights, critic_weights, alpha):
    """Eq. 5.5 with the given functional networks: the encoder output is detached before the policy and the critic
    see it (the actor must not shape the encoder), and ``alpha`` is held fixed."""
    latent = latent.detach()
    action, log_pi = policy(actor_weights, latent, noise)
    q1, q2 = q_values(critic_weights, latent, action)
    return ref.actor_loss(log_pi, q1, q2, alpha)


def _actor_case(fn: Callable, case: dict) -> None:
    # the critic's weights may receive gradients here (the actor's optimizer does not step them), so not checked
    _compare("actor_loss", fn, reference_actor_loss, case, ["actor_weights"], ["latent", "alpha"],
             "sample a, log_pi = policy(actor_weights, z, noise) on z = latent.detach(), evaluate both Q heads at "
             "(z, a), and average alpha * log_pi - min(Q1, Q2), with alpha detached.",
             no_grad_hints={
                 "latent": "the actor must not shape the encoder: use z = latent.detach() for BOTH the policy "
                           "and the critic (the critic's loss and the representation losses train the encoder).",
                 "alpha": "hold the temperature fixed with alpha.detach(): only the temperature loss trains it."})


def _actor_inputs(rng, b: int, k: int, a: int) -> dict:
    critic = {"Q1": random_mlp_weights(rng, k + a, 4, 1), "Q2": random_mlp_weights(rng, k + a, 4, 1)}
    return {"latent": _tensor(rng, b, k), "noise": _tensor(rng, b, a),
            "actor_weights": random_mlp_weights(rng, k, 4, 2 * a), "critic_weights": critic,
            "alpha": torch.tensor(float(np.exp(2 * rng.normal())), dtype=torch.float64)}


def check_actor_loss(fn: Callable, hidden: bool = False) -> None:
    """Value and actor gradients of eq. 5.5, no gradient into the encoding or alpha. Hidden: 30 batches and
    networks, B = 1-5, latent 1-3, action 1-2, alpha from about 0.02 to 50."""
    with quiet():
        if not hidden:
            _actor_case(fn, _actor_inputs(np.random.default_rng(0), 3, 2, 1))
            passed("actor_loss", "fixed batch of three")
            return
        strategy = st.builds(lambda seed, b, k, a: _actor_inputs(np.random.default_rng(seed), b, k, a),
                             st.integers(0, 10_000), st.integers(1, 5), st.integers(1, 3), st.integers(1, 2))
        run_property(lambda case: _actor_case(fn, case), strategy, max_examples=30)
        passed("actor_loss", "30 random batches and networks")


# Part 4: the temperature loss (eq. 5.6) ----------------------------------------------------------------------

def _alpha_case(fn: Callable, case: dict) -> None:
    _compare("alpha_loss", fn, ref.alpha_loss, case, ["log_alpha"], ["log_pi"],
             "mean of log_alpha * (-log_pi - target_entropy), with the bracket detached; optimise log alpha, "
             "not alpha.")


def check_alpha_loss(fn: Callable, hidden: bool = False) -> None:
    """Value and gradient of eq. 5.6 on log alpha, no gradient into log pi. Hidden: 30 batches, log alpha of
    either sign, target entropies -1..-6."""
    with quiet():
        if not hidden:
            _alpha_case(fn, {"log_alpha": _t(0.5), "log_pi": _t([[-1.0], [1.5]]),
                             "target_entropy": -2.0})
            passed("alpha_loss", "fixed batch of two")
            return

        def make(rng, b):
            return {"log_alpha": torch.tensor(float(2 * rng.normal()), dtype=torch.float64),
                    "log_pi": 3 * _column(rng, b), "target_entropy": -float(rng.integers(1, 7))}

        run_property(lambda case: _alpha_case(fn, case), batches().map(lambda a: make(*a)), max_examples=30)
        passed("alpha_loss", "30 random batches")


# Part 5: the soft target update (eq. 5.7) -------------------------------------------------------------------

def _soft_update_case(fn: Callable, case: dict) -> None:
    name = "soft_update"
    got = call_student(name, fn, case)
    expected = ref.soft_update(case["target"], case["online"], case["tau"])
    if not isinstance(got, dict) or set(got) != set(expected):
        fail(name, "must return a dict with the same parameter names as `target`", case,
             got=type(got).__name__ if not isinstance(got, dict) else sorted(got))
    for key, value in expected.items():
        array = as_array(name, got[key], case, shape=tuple(value.shape), what=f"the parameter {key!r}")
        if not np.allclose(array, value.numpy(), atol=1e-9):
            fail(name, f"parameter {key!r} differs from the reference", case, expected=value.numpy(), got=array,
                 hint="the target moves a fraction tau towards the online network: "
                      "tau * online + (1 - tau) * target.")


def check_soft_update(fn: Callable, hidden: bool = False) -> None:
    """Every parameter of eq. 5.7 to 1e-9. Hidden: 25 dicts of 1-3 parameters, tau in {0, 0.005, 0.01, 0.05,
    0.3, 1}."""
    with quiet():
        if not hidden:
            _soft_update_case(fn, {"target": {"w": _t([0.0, 1.0])},
                                   "online": {"w": _t([1.0, 1.0])}, "tau": 0.1})
            passed("soft_update", "fixed example")
            return

        def make(rng, b):
            names = ["weight", "bias", "scale"][: 1 + b % 3]
            return {"target": {k: _tensor(rng, b, 2) for k in names}, "online": {k: _tensor(rng, b, 2) for k in names},
                    "tau": float(rng.choice([0.0, 0.005, 0.01, 0.05, 0.3, 1.0]))}

        run_property(lambda case: _soft_update_case(fn, case), batches().map(lambda a: make(*a)), max_examples=25)
        passed("soft_update", "25 random parameter sets")
