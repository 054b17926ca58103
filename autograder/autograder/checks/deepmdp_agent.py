"""Checks for chapter 6 (the DeepMDP agent's update). Each ``check_*`` is one call in a test cell.

The exercise uses the small *functional* networks of :mod:`autograder.checks.given_networks` (weights in dicts of
tensors, printed in the notebook too) so that the student's code can be run and differentiated in a separate
process and a whole agent's parameters compared entry by entry. Losses come from
:mod:`reference_impl.deepmdp.losses` (eqs. 6.1-6.3) and :mod:`reference_impl.agents.sac_losses` (eqs. 5.2-5.7).

Hidden input space (what the exercise text allows): batches of 1-6 (Part 1: 2-6, Part 3: 2-5, Part 4: 2-4) with
latent sizes 1-4 and action sizes 1-2, standard-normal weights and values, pixels 0..255 in [B, 1, 3, 3] images;
for the whole update, steps 0-5 with actor and decoder periods 1-2 and target period 1-3 (so every stage both runs
and waits), ``not_done`` with both kinds of transition, ``discount`` in {0, 0.9, 0.99}, ``lr`` in {0.01, 0.05},
``decoder_latent_lambda`` in {0, 0.1}.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from hypothesis import strategies as st

from autograder.checks._core import as_array, call_student, call_with_grads, fail, passed, quiet, run_property
from autograder.checks.deepmdp import _tensor, _zero_or_none, check_grads
from autograder.checks.given_networks import (
    decoder,
    encoder,
    policy,
    q_values,
    random_mlp_weights,
    reward_decoder,
    transition_model,
)
from reference_impl.agents import sac_losses as sac
from reference_impl.deepmdp import losses as ref


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


@st.composite
def latent_cases(draw) -> dict:
    rng = np.random.default_rng(draw(st.integers(0, 10_000)))
    b, k, a = draw(st.integers(2, 6)), draw(st.integers(1, 4)), draw(st.integers(1, 2))
    return {"latent": _tensor(rng, b, k), "action": _tensor(rng, b, a), "next_latent": _tensor(rng, b, k),
            "reward": _tensor(rng, b), "transition_weights": random_mlp_weights(rng, k + a, 5, k),
            "reward_weights": random_mlp_weights(rng, k, 5, 1)}


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
    """Value and gradients of eqs. 6.1-6.2, no gradient into the next latent. Hidden: 25 batches and
    networks, B = 2-6, latent 1-4, action 1-2."""
    with quiet():
        if not hidden:
            rng = np.random.default_rng(0)
            _latent_case(fn, {"latent": _tensor(rng, 3, 2), "action": _tensor(rng, 3, 1),
                              "next_latent": _tensor(rng, 3, 2), "reward": _tensor(rng, 3),
                              "transition_weights": random_mlp_weights(rng, 3, 5, 2),
                              "reward_weights": random_mlp_weights(rng, 2, 5, 1)})
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
    """Value and gradients of eq. 6.3's reconstruction term. Hidden: 25 batches, B = 1-5, latent 1-4."""
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
              "transition": random_mlp_weights(rng, k + 1, 5, k), "reward": random_mlp_weights(rng, k, 5, 1)}
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
    """Every parameter after one SGD step on eqs. 6.1-6.2. Hidden: 20 batches and networks, B = 2-5,
    latent 1-3."""
    with quiet():
        if not hidden:
            _update_case(fn, _update_inputs(np.random.default_rng(0), 3, 2))
            passed("latent_model_update", "fixed batch")
            return
        strategy = st.builds(lambda seed, b, k: _update_inputs(np.random.default_rng(seed), b, k),
                             st.integers(0, 10_000), st.integers(2, 5), st.integers(1, 3))
        run_property(lambda case: _update_case(fn, case), strategy, max_examples=20)
        passed("latent_model_update", "20 random batches and networks")


# Part 4: one whole agent update, compared parameter by parameter ---------------------------------------------

def _leaves(tree, path: tuple = ()):
    """``(path, tensor)`` for every tensor in a nested dict, in insertion order."""
    if isinstance(tree, dict):
        for key, value in tree.items():
            yield from _leaves(value, (*path, key))
    else:
        yield path, tree


def _map(tree, fn):
    return {k: _map(v, fn) for k, v in tree.items()} if isinstance(tree, dict) else fn(tree)


def _label(path: tuple) -> str:
    return "params" + "".join(f"[{key!r}]" for key in path)


def reference_agent_update(params: dict, batch: dict, step: int, hyper: dict) -> dict:
    """One update of the DeepMDP agent on the given functional networks, with plain gradient descent (``lr``).

    The stages and their schedule are those of :meth:`reference_impl.agents.deepmdp.Agent.update`: critic
    (eqs. 5.2-5.3) -> actor and temperature every ``actor_update_freq`` steps (eqs. 5.5-5.6, on a detached
    encoding) -> target networks every ``critic_target_update_freq`` steps (eq. 5.7) -> transition and reward
    (eqs. 6.1-6.2) -> next-observation decoder every ``decoder_update_freq`` steps (eq. 6.3). Each stage sees the
    parameters the previous stages left. The actor reads the critic's (online) encoder, as the agent's actor
    shares the critic's convolutions.
    """
    p = _map(params, lambda t: t.detach().clone().requires_grad_(True))
    obs, next_obs, action, reward = batch["obs"], batch["next_obs"], batch["action"], batch["reward"]

    def descend(loss: torch.Tensor, *groups) -> None:
        leaves = [t for group in groups for _, t in _leaves(group)]
        grads = torch.autograd.grad(loss, leaves, allow_unused=True)
        with torch.no_grad():
            for leaf, grad in zip(leaves, grads, strict=True):
                if grad is not None:
                    leaf.sub_(hyper["lr"] * grad)

    def alpha() -> torch.Tensor:
        return p["log_alpha"].detach().exp()

    with torch.no_grad():
        next_action, next_log_pi = policy(p["actor"], encoder(p["encoder"], next_obs), batch["next_noise"])
        target_latent = encoder(p["critic_target"]["encoder"], next_obs)
        target_q1, target_q2 = q_values(p["critic_target"], target_latent, next_action)
    target_q = sac.critic_target(reward, batch["not_done"], target_q1, target_q2, next_log_pi, alpha(),
                                 hyper["discount"])
    q1, q2 = q_values(p["critic"], encoder(p["encoder"], obs), action)
    descend(sac.critic_loss(q1, q2, target_q), p["encoder"], p["critic"])

    if step % hyper["actor_update_freq"] == 0:
        latent = encoder(p["encoder"], obs).detach()
        policy_action, log_pi = policy(p["actor"], latent, batch["noise"])
        q1, q2 = q_values(p["critic"], latent, policy_action)
        descend(sac.actor_loss(log_pi, q1, q2, alpha()), p["actor"])
        descend(sac.alpha_loss(p["log_alpha"], log_pi, hyper["target_entropy"]), {"log_alpha": p["log_alpha"]})

    if step % hyper["critic_target_update_freq"] == 0:
        target = p["critic_target"]
        for head in ("Q1", "Q2"):
            target[head] = sac.soft_update(target[head], p["critic"][head], hyper["critic_tau"])
        target["encoder"] = sac.soft_update(target["encoder"], p["encoder"], hyper["encoder_tau"])

    latent = encoder(p["encoder"], obs)
    with torch.no_grad():
        next_latent = encoder(p["encoder"], next_obs)
    descend(reference_latent_loss(latent, action, next_latent, reward.squeeze(-1), p["transition"], p["reward"]),
            p["encoder"], p["transition"], p["reward"])

    if step % hyper["decoder_update_freq"] == 0:
        latent = encoder(p["encoder"], obs)
        predicted_next_latent = transition_model(p["transition"], latent, action)
        loss = (reference_decoder_loss(p["decoder"], predicted_next_latent, obs, next_obs)
                + hyper["decoder_latent_lambda"] * 0.5 * latent.pow(2).sum(dim=1).mean())
        descend(loss, p["encoder"], p["transition"], p["decoder"])
    return _map(p, lambda t: t.detach())


# What moves each parameter group, in the order of the update: the feedback names the first group that differs.
GROUP_HINTS = {
    "encoder": "the encoder is stepped by the critic loss (1), the transition + reward loss (4) and the decoder "
               "loss (5): never by the actor loss (detach its input) nor through a target (next latent under "
               "no_grad); pixels are divided by 255 once, inside `encoder`.",
    "critic": "the Q heads are stepped by the critic loss only: y = reward + discount * not_done * (min of the "
              "TARGET Q heads - alpha * next_log_pi) under no_grad, with alpha = exp(log_alpha) and the next "
              "action from policy(actor, encoder(next_obs), next_noise); `encoder` itself divides the pixels by 255.",
    "actor": "every actor_update_freq steps, after the critic step: policy and Q heads on "
             "encoder(obs).detach() with the UPDATED encoder and critic, alpha = exp(log_alpha) held fixed.",
    "log_alpha": "every actor_update_freq steps, right after the actor: mean(log_alpha * (-log_pi - "
                 "target_entropy)) with log_pi detached, stepping log_alpha (not alpha).",
    "critic_target": "every critic_target_update_freq steps, after the actor: target <- tau * online + "
                     "(1 - tau) * target, critic_tau for Q1/Q2 and encoder_tau for the encoder; gradients never "
                     "step the targets.",
    "transition": "stepped by the transition + reward loss (4), then by the decoder loss (5): the decoder "
                  "reconstructs next_obs / 255 from transition_model(encoder(obs), action).",
    "reward": "stepped by the transition + reward loss (4) only: reward decoded from the PREDICTED next latent; "
              "batch['reward'] is [B, 1] while Part 1's loss takes [B].",
    "decoder": "every decoder_update_freq steps, last: reconstruct next_obs / 255 from the predicted next latent "
               "and add decoder_latent_lambda * mean(0.5 * ||z||^2) on z = encoder(obs).",
}


def _agent_inputs(rng, b: int, k: int, a: int, step: int, freqs: tuple[int, int, int]) -> dict:
    def encoder_weights():
        return {"W": 0.3 * _tensor(rng, 9, k), "b": _tensor(rng, k)}

    def critic():
        return {"Q1": random_mlp_weights(rng, k + a, 4, 1), "Q2": random_mlp_weights(rng, k + a, 4, 1)}

    params = {"encoder": encoder_weights(), "critic": critic(), "critic_target": {"encoder": encoder_weights()},
              "actor": random_mlp_weights(rng, k, 4, 2 * a),
              "log_alpha": torch.tensor(0.5 * rng.normal(), dtype=torch.float64),
              "transition": random_mlp_weights(rng, k + a, 5, k), "reward": random_mlp_weights(rng, k, 5, 1),
              "decoder": {"W": _tensor(rng, k, 9), "b": _tensor(rng, 9)}}
    params["critic_target"] |= critic()  # the targets trail the online networks: different values
    not_done = rng.random((b, 1)) < 0.7
    not_done[0, 0], not_done[-1, 0] = True, False  # always both kinds of transition
    batch = {"obs": _images(rng, b), "action": torch.tanh(_tensor(rng, b, a)), "reward": _tensor(rng, b, 1),
             "next_obs": _images(rng, b), "not_done": torch.tensor(not_done, dtype=torch.float64),
             "noise": _tensor(rng, b, a), "next_noise": _tensor(rng, b, a)}
    hyper = {"lr": float(rng.choice([0.01, 0.05])), "discount": float(rng.choice([0.0, 0.9, 0.99])),
             "critic_tau": 0.1, "encoder_tau": 0.3, "actor_update_freq": freqs[0],
             "critic_target_update_freq": freqs[1], "decoder_update_freq": freqs[2], "target_entropy": -float(a),
             "decoder_latent_lambda": float(rng.choice([0.0, 0.1]))}
    return {"params": params, "batch": batch, "step": step, "hyper": hyper}


def _agent_update_case(fn: Callable, case: dict) -> None:
    name = "agent_update"
    expected = reference_agent_update(case["params"], case["batch"], case["step"], case["hyper"])
    student_case = {key: _map(value, torch.Tensor.clone) if key in ("params", "batch") else value
                    for key, value in case.items()}
    got = call_student(name, fn, student_case)
    shown = {"step": case["step"], "hyper": case["hyper"], "batch size": len(case["batch"]["obs"]),
             "latent size": case["params"]["encoder"]["b"].shape[0], "action size": case["batch"]["action"].shape[1]}
    differing = []
    for path, value in _leaves(expected):
        node = got
        for key in path:
            node = node.get(key) if isinstance(node, dict) else None
        if node is None:
            fail(name, f"the returned parameters have no entry {_label(path)}", shown,
                 hint="return a new dict with exactly the structure of `params`, every weight after the update.")
        array = as_array(name, node, shown, shape=tuple(value.shape), what=_label(path))
        if not np.allclose(array, value.numpy(), atol=1e-7, rtol=1e-6):
            differing.append((path, value.numpy(), array))
    if differing:
        groups = list(dict.fromkeys(path[0] for path, _, _ in differing))
        first = _most_telling(groups)
        path, want, have = next(item for item in differing if item[0][0] == first)
        correct = [group for group in GROUP_HINTS if group not in groups]
        fail(name, f"after one update at step {case['step']}, {len(differing)} parameter(s) differ from the "
                   f"reference, in: {', '.join(groups)} (correct: {', '.join(correct) or 'none'}); first "
                   f"{_label(path)}", shown, expected=want, got=have, hint=GROUP_HINTS[first])


def _most_telling(groups: list[str]) -> str:
    """The group whose error explains the others best: the Q heads depend only on the critic step; a wrong encoder
    spreads to every later stage; then the actor, the temperature, the targets and the latent model."""
    return next(group for group in ("critic", "encoder", "actor", "log_alpha", "critic_target", "transition",
                                    "reward", "decoder") if group in groups)


def check_agent_update(fn: Callable, hidden: bool = False) -> None:
    """Every parameter after one whole update. Visible: steps 0 and 1 of a fixed batch. Hidden: 15 batches,
    networks, steps and schedules (module docstring)."""
    with quiet():
        if not hidden:
            for step in (0, 1):  # every stage runs at step 0; the actor and the targets wait at step 1
                _agent_update_case(fn, _agent_inputs(np.random.default_rng(step), 3, 2, 1, step, (2, 2, 1)))
            passed("agent_update", "steps 0 and 1 of a fixed batch")
            return
        strategy = st.builds(
            lambda seed, b, k, a, step, freqs: _agent_inputs(np.random.default_rng(seed), b, k, a, step, freqs),
            st.integers(0, 10_000), st.integers(2, 4), st.integers(1, 3), st.integers(1, 2), st.integers(0, 5),
            st.tuples(st.integers(1, 2), st.integers(1, 3), st.integers(1, 2)))
        run_property(lambda case: _agent_update_case(fn, case), strategy, max_examples=15)
        passed("agent_update", "15 random batches, networks, steps and schedules")
