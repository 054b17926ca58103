"""Chapter 6: correct alternatives each check must accept, planted bugs it must reject.

Every source starts with the notebook's given functional networks (``NETWORKS``)."""

NETWORKS = '''
import torch
import torch.nn.functional as F

def _mlp(weights, x):
    h = F.layer_norm(x @ weights["W1"] + weights["b1"], (weights["b1"].shape[0],))
    return torch.relu(h) @ weights["W2"] + weights["b2"]

def transition_model(weights, latent, action):
    return _mlp(weights, torch.cat([latent, action], dim=1))

def reward_decoder(weights, latent):
    return _mlp(weights, latent)

def decoder(weights, latent, shape):
    return (latent @ weights["W"] + weights["b"]).reshape(-1, *shape)

def encoder(weights, obs):
    return torch.tanh((obs / 255.0).flatten(start_dim=1) @ weights["W"] + weights["b"])
'''

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
}
