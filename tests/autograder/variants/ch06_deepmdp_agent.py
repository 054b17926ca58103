"""Chapter 6: correct alternatives each check must accept, planted bugs it must reject.

Every source starts with the notebook's given functional networks (``NETWORKS``, its locked ``networks`` cell);
the whole-update sources also with its given ``update_helpers`` cell. They define the losses of Parts 1-2 under
their own names, so that in a graded notebook they do not replace the student's Part 1-2 answers.
"""

from variants.given_cells import IMPORTS, given_cell

NETWORKS = IMPORTS + given_cell("06_deepmdp_agent", "networks")
HELPERS = given_cell("06_deepmdp_agent", "update_helpers")

_LOSS = NETWORKS + '''
def latent_model_loss(latent, action, next_latent, reward, transition_weights, reward_weights):
    predicted = transition_model(transition_weights, latent, action)
    transition = (predicted - next_latent.detach()).pow(2).sum(dim=1).mean()
    return transition + (reward_decoder(reward_weights, predicted).squeeze(-1) - reward).pow(2).mean()
'''

_UPDATE = _LOSS + '''
def latent_model_update(params, batch, lr):
    p = {g: {k: v.detach().clone().requires_grad_(True) for k, v in w.items()} for g, w in params.items()}
    latent = encoder(p["encoder"], batch["obs"])
    with torch.no_grad():
        next_latent = encoder(p["encoder"], batch["next_obs"])
    loss = latent_model_loss(latent, batch["action"], next_latent, batch["reward"], p["transition"], p["reward"])
    loss.backward()
    return {g: {k: (v - lr * v.grad).detach() for k, v in w.items()} for g, w in p.items()}
'''

_PART_LOSSES = NETWORKS + HELPERS + '''
def part1_loss(latent, action, next_latent, reward, transition_weights, reward_weights):
    predicted = transition_model(transition_weights, latent, action)
    transition = (predicted - next_latent.detach()).pow(2).sum(dim=1).mean()
    return transition + (reward_decoder(reward_weights, predicted).squeeze(-1) - reward).pow(2).mean()

def part2_loss(decoder_weights, predicted_next_latent, obs, next_obs):
    return F.mse_loss(decoder(decoder_weights, predicted_next_latent, next_obs.shape[1:]), next_obs / 255.0)
'''

_AGENT = _PART_LOSSES + '''
def agent_update(params, batch, step, hyper):
    p = trainable_copy(params)
    obs, action, reward, next_obs, not_done = (batch[key] for key in ("obs", "action", "reward", "next_obs",
                                                                      "not_done"))
    lr = hyper["lr"]
    alpha = p["log_alpha"].detach().exp()
    with torch.no_grad():
        next_action, next_log_pi = policy(p["actor"], encoder(p["encoder"], next_obs), batch["next_noise"])
        target_latent = encoder(p["critic_target"]["encoder"], next_obs)
        target_q1, target_q2 = q_values(p["critic_target"], target_latent, next_action)
        target_q = reward + hyper["discount"] * not_done * (torch.min(target_q1, target_q2) - alpha * next_log_pi)
    q1, q2 = q_values(p["critic"], encoder(p["encoder"], obs), action)
    gradient_step(F.mse_loss(q1, target_q) + F.mse_loss(q2, target_q), [p["encoder"], p["critic"]], lr)

    if step % hyper["actor_update_freq"] == 0:
        latent = encoder(p["encoder"], obs).detach()
        policy_action, log_pi = policy(p["actor"], latent, batch["noise"])
        q1, q2 = q_values(p["critic"], latent, policy_action)
        gradient_step((alpha * log_pi - torch.min(q1, q2)).mean(), [p["actor"]], lr)
        temperature_loss = (p["log_alpha"] * (-log_pi - hyper["target_entropy"]).detach()).mean()
        gradient_step(temperature_loss, [p["log_alpha"]], lr)

    if step % hyper["critic_target_update_freq"] == 0:
        pairs = [("Q1", p["critic"]["Q1"], hyper["critic_tau"]), ("Q2", p["critic"]["Q2"], hyper["critic_tau"]),
                 ("encoder", p["encoder"], hyper["encoder_tau"])]
        with torch.no_grad():
            for name, online, tau in pairs:
                target = p["critic_target"][name]
                p["critic_target"][name] = {key: tau * online[key] + (1 - tau) * target[key] for key in target}

    latent = encoder(p["encoder"], obs)
    with torch.no_grad():
        next_latent = encoder(p["encoder"], next_obs)
    loss = part1_loss(latent, action, next_latent, reward.squeeze(-1), p["transition"], p["reward"])
    gradient_step(loss, [p["encoder"], p["transition"], p["reward"]], lr)

    if step % hyper["decoder_update_freq"] == 0:
        latent = encoder(p["encoder"], obs)
        predicted_next_latent = transition_model(p["transition"], latent, action)
        penalty = 0.5 * latent.pow(2).sum(dim=1).mean()
        loss = part2_loss(p["decoder"], predicted_next_latent, obs, next_obs)
        gradient_step(loss + hyper["decoder_latent_lambda"] * penalty, [p["encoder"], p["transition"], p["decoder"]],
                      lr)
    return p
'''

# The agent's way: one torch optimizer per parameter group, zero_grad / backward / step around each loss.
_AGENT_WITH_OPTIMIZERS = _PART_LOSSES + '''
def agent_update(params, batch, step, hyper):
    p = trainable_copy(params)
    sgd = {name: torch.optim.SGD(leaves(p[name]), lr=hyper["lr"])
           for name in ("encoder", "critic", "actor", "log_alpha", "transition", "reward", "decoder")}

    def run(loss, *names):
        for name in names:
            sgd[name].zero_grad()
        loss.backward()
        for name in names:
            sgd[name].step()

    b = batch
    alpha = torch.exp(p["log_alpha"]).detach()
    with torch.no_grad():
        a_next, log_pi_next = policy(p["actor"], encoder(p["encoder"], b["next_obs"]), b["next_noise"])
        q_next = torch.minimum(*q_values(p["critic_target"], encoder(p["critic_target"]["encoder"], b["next_obs"]),
                                         a_next))
        y = b["reward"] + b["not_done"] * hyper["discount"] * (q_next - alpha * log_pi_next)
    q1, q2 = q_values(p["critic"], encoder(p["encoder"], b["obs"]), b["action"])
    run(((q1 - y) ** 2).mean() + ((q2 - y) ** 2).mean(), "encoder", "critic")

    if step % hyper["actor_update_freq"] == 0:
        with torch.no_grad():
            z = encoder(p["encoder"], b["obs"])
        a, log_pi = policy(p["actor"], z, b["noise"])
        run((alpha * log_pi).mean() - torch.minimum(*q_values(p["critic"], z, a)).mean(), "actor")
        run(-(p["log_alpha"] * (log_pi.detach() + hyper["target_entropy"])).mean(), "log_alpha")

    if step % hyper["critic_target_update_freq"] == 0:
        with torch.no_grad():
            for name, online, tau in (("Q1", p["critic"]["Q1"], hyper["critic_tau"]),
                                      ("Q2", p["critic"]["Q2"], hyper["critic_tau"]),
                                      ("encoder", p["encoder"], hyper["encoder_tau"])):
                for key, value in p["critic_target"][name].items():
                    value.lerp_(online[key], tau)

    z = encoder(p["encoder"], b["obs"])
    z_next = encoder(p["encoder"], b["next_obs"]).detach()
    run(part1_loss(z, b["action"], z_next, b["reward"][:, 0], p["transition"], p["reward"]),
        "encoder", "transition", "reward")

    if step % hyper["decoder_update_freq"] == 0:
        z = encoder(p["encoder"], b["obs"])
        reconstruction = decoder(p["decoder"], transition_model(p["transition"], z, b["action"]), b["obs"].shape[1:])
        loss = ((reconstruction - b["next_obs"] / 255) ** 2).mean()
        loss = loss + hyper["decoder_latent_lambda"] * (z ** 2).sum(dim=1).mean() / 2
        run(loss, "encoder", "transition", "decoder")
    return {name: value for name, value in p.items()}
'''

_TRANSITION_STAGE = '''    latent = encoder(p["encoder"], obs)
    with torch.no_grad():
        next_latent = encoder(p["encoder"], next_obs)
    loss = part1_loss(latent, action, next_latent, reward.squeeze(-1), p["transition"], p["reward"])
    gradient_step(loss, [p["encoder"], p["transition"], p["reward"]], lr)
'''
_DECODER_STAGE = _AGENT[_AGENT.index("    if step % hyper[\"decoder_update_freq\"]"):_AGENT.index("    return p")]

PARTS = {
    "latent_model_loss": {
        "check": "check_latent_model_loss",
        "alternatives": {
            "reference_style": _LOSS,
            "functional_mse": NETWORKS + '''
def latent_model_loss(latent, action, next_latent, reward, transition_weights, reward_weights):
    target = next_latent.detach()
    predicted = transition_model(transition_weights, latent, action)
    transition = F.mse_loss(predicted, target, reduction="sum") / latent.shape[0]
    predicted_reward = reward_decoder(reward_weights, predicted)
    return transition + F.mse_loss(predicted_reward, reward.unsqueeze(-1))
''',
        },
        "bugs": {
            "next_latent_not_detached": _LOSS.replace("next_latent.detach()", "next_latent"),
            "reward_from_the_current_latent": _LOSS.replace(
                "reward_decoder(reward_weights, predicted)", "reward_decoder(reward_weights, latent)"),
            "reward_from_the_true_next_latent": _LOSS.replace(
                "reward_decoder(reward_weights, predicted)", "reward_decoder(reward_weights, next_latent.detach())"),
            "reward_not_squeezed": _LOSS.replace("reward_decoder(reward_weights, predicted).squeeze(-1) - reward",
                                                 "reward_decoder(reward_weights, predicted) - reward"),
            "transition_mean_over_dimensions": _LOSS.replace(".pow(2).sum(dim=1).mean()", ".pow(2).mean()"),
        },
    },
    "decoder_loss": {
        "check": "check_decoder_loss",
        "alternatives": {
            "functional_mse": NETWORKS + '''
def decoder_loss(decoder_weights, predicted_next_latent, obs, next_obs):
    reconstruction = decoder(decoder_weights, predicted_next_latent, next_obs.shape[1:])
    return F.mse_loss(reconstruction, next_obs / 255.0)
''',
            "manual": NETWORKS + '''
def decoder_loss(decoder_weights, predicted_next_latent, obs, next_obs):
    target = next_obs.flatten(start_dim=1) / 255
    reconstruction = predicted_next_latent @ decoder_weights["W"] + decoder_weights["b"]
    return ((reconstruction - target) ** 2).mean()
''',
        },
        "bugs": {
            "reconstructs_the_current_observation": NETWORKS + '''
def decoder_loss(decoder_weights, predicted_next_latent, obs, next_obs):
    return F.mse_loss(decoder(decoder_weights, predicted_next_latent, obs.shape[1:]), obs / 255.0)
''',
            "missing_scaling": NETWORKS + '''
def decoder_loss(decoder_weights, predicted_next_latent, obs, next_obs):
    return F.mse_loss(decoder(decoder_weights, predicted_next_latent, next_obs.shape[1:]), next_obs)
''',
            "scaled_twice": NETWORKS + '''
def decoder_loss(decoder_weights, predicted_next_latent, obs, next_obs):
    target = next_obs / 255.0 / 255.0
    return F.mse_loss(decoder(decoder_weights, predicted_next_latent, next_obs.shape[1:]), target)
''',
        },
    },
    "latent_model_update": {
        "check": "check_latent_model_update",
        "alternatives": {
            "backward_then_step": _UPDATE,
            "autograd_grad_and_torch_no_grad_update": _LOSS + '''
def latent_model_update(params, batch, lr):
    flat = {(g, k): v.detach().clone().requires_grad_(True) for g, w in params.items() for k, v in w.items()}
    p = {g: {k: flat[(g, k)] for k in w} for g, w in params.items()}
    latent = encoder(p["encoder"], batch["obs"])
    next_latent = encoder(p["encoder"], batch["next_obs"]).detach()
    loss = latent_model_loss(latent, batch["action"], next_latent, batch["reward"], p["transition"], p["reward"])
    grads = torch.autograd.grad(loss, list(flat.values()))
    out = {g: {} for g in params}
    with torch.no_grad():
        for ((g, k), v), grad in zip(flat.items(), grads):
            out[g][k] = v - lr * grad
    return out
''',
        },
        "bugs": {
            "next_latent_with_gradient": _UPDATE.replace(
                "    with torch.no_grad():\n        next_latent = encoder(p[\"encoder\"], batch[\"next_obs\"])",
                "    next_latent = encoder(p[\"encoder\"], batch[\"next_obs\"])").replace(
                "next_latent.detach()", "next_latent"),
            "pixels_scaled_twice": _UPDATE.replace('encoder(p["encoder"], batch["obs"])',
                                                   'encoder(p["encoder"], batch["obs"] / 255.0)'),
            "encoder_not_updated": _UPDATE.replace(
                "for g, w in p.items()}\n'''", "for g, w in p.items()}\n'''").replace(
                "(v - lr * v.grad).detach() for k, v in w.items()}",
                "(v - lr * v.grad).detach() if g != 'encoder' else v.detach() for k, v in w.items()}"),
            "gradient_ascent": _UPDATE.replace("v - lr * v.grad", "v + lr * v.grad"),
        },
    },
    "agent_update": {
        "check": "check_agent_update",
        "alternatives": {
            "gradient_step_helper": _AGENT,
            "torch_optimizers_like_the_agent": _AGENT_WITH_OPTIMIZERS,
        },
        "bugs": {
            "target_built_with_gradient": _AGENT.replace(
                "    with torch.no_grad():\n        next_action", "    if True:\n        next_action"),
            "not_done_dropped": _AGENT.replace("hyper[\"discount\"] * not_done *", "hyper[\"discount\"] *"),
            "log_alpha_used_as_alpha": _AGENT.replace("alpha = p[\"log_alpha\"].detach().exp()",
                                                      "alpha = p[\"log_alpha\"].detach()"),
            "soft_update_reversed": _AGENT.replace("tau * online[key] + (1 - tau) * target[key]",
                                                   "tau * target[key] + (1 - tau) * online[key]"),
            "actor_loss_steps_the_encoder": _AGENT.replace(
                "latent = encoder(p[\"encoder\"], obs).detach()", "latent = encoder(p[\"encoder\"], obs)").replace(
                "min(q1, q2)).mean(), [p[\"actor\"]], lr)", "min(q1, q2)).mean(), [p[\"actor\"], p[\"encoder\"]], lr)"),
            "missing_zero_grad": _AGENT_WITH_OPTIMIZERS.replace(
                "        for name in names:\n            sgd[name].zero_grad()\n", ""),
            "decoder_before_transition": _AGENT.replace(_TRANSITION_STAGE + "\n" + _DECODER_STAGE,
                                                        _DECODER_STAGE + "\n" + _TRANSITION_STAGE),
            "next_latent_with_gradient": _AGENT.replace(
                "    with torch.no_grad():\n        next_latent = encoder(p[\"encoder\"], next_obs)",
                "    next_latent = encoder(p[\"encoder\"], next_obs)").replace(
                "transition = (predicted - next_latent.detach())", "transition = (predicted - next_latent)"),
            "temperature_uses_the_updated_actor": _AGENT.replace(
                "        temperature_loss = (p[\"log_alpha\"] * (-log_pi",
                "        _, log_pi = policy(p[\"actor\"], latent, batch[\"noise\"])\n"
                "        temperature_loss = (p[\"log_alpha\"] * (-log_pi"),
            "decoder_reconstructs_the_current_observation": _AGENT.replace(
                "loss = part2_loss(p[\"decoder\"], predicted_next_latent, obs, next_obs)",
                "loss = part2_loss(p[\"decoder\"], predicted_next_latent, obs, obs)"),
            "reward_not_squeezed": _AGENT.replace("next_latent, reward.squeeze(-1), p[", "next_latent, reward, p["),
            "pixels_scaled_twice": _AGENT.replace("encoder(p[\"encoder\"], obs)",
                                                  "encoder(p[\"encoder\"], obs / 255.0)"),
        },
    },
}
