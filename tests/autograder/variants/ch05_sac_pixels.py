"""Chapter 5: correct alternatives each check must accept, planted bugs it must reject.

The actor-loss sources start with the notebook's given networks (its locked ``networks`` cell)."""

from variants.given_cells import IMPORTS, given_cell

NETWORKS = IMPORTS + given_cell("05_sac_pixels", "networks")

_ACTOR = NETWORKS + '''
def actor_loss(latent, noise, actor_weights, critic_weights, alpha):
    z = latent.detach()
    action, log_pi = policy(actor_weights, z, noise)
    q1, q2 = q_values(critic_weights, z, action)
    return (alpha.detach() * log_pi - torch.min(q1, q2)).mean()
'''

PARTS = {
    "critic_target": {
        "check": "check_critic_target",
        "alternatives": {
            "detach_each_input": '''
import torch

def critic_target(reward, not_done, target_q1, target_q2, next_log_pi, alpha, discount):
    v = torch.minimum(target_q1.detach(), target_q2.detach()) - alpha.detach() * next_log_pi.detach()
    return reward + discount * not_done * v
''',
            "no_grad_with_where": '''
import torch

def critic_target(reward, not_done, target_q1, target_q2, next_log_pi, alpha, discount):
    with torch.no_grad():
        q = torch.where(target_q1 < target_q2, target_q1, target_q2)
        return reward + not_done * (discount * q - discount * alpha * next_log_pi)
''',
        },
        "bugs": {
            "no_no_grad_on_target": '''
import torch

def critic_target(reward, not_done, target_q1, target_q2, next_log_pi, alpha, discount):
    return reward + discount * not_done * (torch.min(target_q1, target_q2) - alpha * next_log_pi)
''',
            "not_done_dropped": '''
import torch

def critic_target(reward, not_done, target_q1, target_q2, next_log_pi, alpha, discount):
    with torch.no_grad():
        return reward + discount * (torch.min(target_q1, target_q2) - alpha * next_log_pi)
''',
            "discount_hard_coded": '''
import torch

def critic_target(reward, not_done, target_q1, target_q2, next_log_pi, alpha, discount):
    with torch.no_grad():
        return reward + 0.99 * not_done * (torch.min(target_q1, target_q2) - alpha * next_log_pi)
''',
            "mask_inverted": '''
import torch

def critic_target(reward, not_done, target_q1, target_q2, next_log_pi, alpha, discount):
    with torch.no_grad():
        return reward + discount * (1 - not_done) * (torch.min(target_q1, target_q2) - alpha * next_log_pi)
''',
            "max_of_the_two_qs": '''
import torch

def critic_target(reward, not_done, target_q1, target_q2, next_log_pi, alpha, discount):
    with torch.no_grad():
        return reward + discount * not_done * (torch.max(target_q1, target_q2) - alpha * next_log_pi)
''',
            "entropy_bonus_sign": '''
import torch

def critic_target(reward, not_done, target_q1, target_q2, next_log_pi, alpha, discount):
    with torch.no_grad():
        return reward + discount * not_done * (torch.min(target_q1, target_q2) + alpha * next_log_pi)
''',
        },
    },
    "critic_loss": {
        "check": "check_critic_loss",
        "alternatives": {
            "functional_mse": '''
import torch.nn.functional as F

def critic_loss(q1, q2, target_q):
    y = target_q.detach()
    return F.mse_loss(q1, y) + F.mse_loss(q2, y)
''',
            "manual": '''
def critic_loss(q1, q2, target_q):
    y = target_q.detach()
    return ((q1 - y) ** 2 + (q2 - y) ** 2).mean()
''',
        },
        "bugs": {
            "target_not_detached": '''
def critic_loss(q1, q2, target_q):
    return ((q1 - target_q) ** 2).mean() + ((q2 - target_q) ** 2).mean()
''',
            "only_the_first_head": '''
def critic_loss(q1, q2, target_q):
    return ((q1 - target_q.detach()) ** 2).mean()
''',
            "half_squared_error": '''
def critic_loss(q1, q2, target_q):
    y = target_q.detach()
    return 0.5 * ((q1 - y) ** 2).mean() + 0.5 * ((q2 - y) ** 2).mean()
''',
            "mean_of_the_two_heads": '''
def critic_loss(q1, q2, target_q):
    y = target_q.detach()
    return (((q1 - y) ** 2).mean() + ((q2 - y) ** 2).mean()) / 2
''',
            "regress_the_min": '''
import torch

def critic_loss(q1, q2, target_q):
    return ((torch.min(q1, q2) - target_q.detach()) ** 2).mean()
''',
        },
    },
    "actor_loss": {
        "check": "check_actor_loss",
        "alternatives": {
            "detach_latent_and_alpha": NETWORKS + '''
def actor_loss(latent, noise, actor_weights, critic_weights, alpha):
    z = latent.detach()
    action, log_pi = policy(actor_weights, z, noise)
    q1, q2 = q_values(critic_weights, z, action)
    return (alpha.detach() * log_pi - torch.min(q1, q2)).mean()
''',
            "no_grad_copy_item_alpha_and_minimum": NETWORKS + '''
def actor_loss(latent, noise, actor_weights, critic_weights, alpha):
    with torch.no_grad():
        z = latent.clone()
    action, log_pi = policy(actor_weights, z, noise)
    q = torch.minimum(*q_values(critic_weights, z, action))
    return alpha.item() * log_pi.mean() - q.mean()
''',
        },
        "bugs": {
            "encoder_not_detached": _ACTOR.replace("z = latent.detach()", "z = latent"),
            "alpha_not_detached": _ACTOR.replace("alpha.detach() * log_pi", "alpha * log_pi"),
            "max_of_the_two_qs": _ACTOR.replace("torch.min(q1, q2)", "torch.max(q1, q2)"),
            "entropy_sign": _ACTOR.replace("alpha.detach() * log_pi", "-alpha.detach() * log_pi"),
            "mean_of_the_two_qs": _ACTOR.replace("torch.min(q1, q2)", "(q1 + q2) / 2"),
            "critic_sees_a_detached_action": _ACTOR.replace("q_values(critic_weights, z, action)",
                                                            "q_values(critic_weights, z, action.detach())"),
        },
    },
    "alpha_loss": {
        "check": "check_alpha_loss",
        "alternatives": {
            "detach_bracket": '''
def alpha_loss(log_alpha, log_pi, target_entropy):
    return (log_alpha * (-log_pi - target_entropy).detach()).mean()
''',
            "factor_out_log_alpha": '''
def alpha_loss(log_alpha, log_pi, target_entropy):
    return -log_alpha * (log_pi.detach() + target_entropy).mean()
''',
        },
        "bugs": {
            "alpha_instead_of_log_alpha": '''
def alpha_loss(log_alpha, log_pi, target_entropy):
    return (log_alpha.exp() * (-log_pi - target_entropy).detach()).mean()
''',
            "log_pi_not_detached": '''
def alpha_loss(log_alpha, log_pi, target_entropy):
    return (log_alpha * (-log_pi - target_entropy)).mean()
''',
            "sum_instead_of_mean": '''
def alpha_loss(log_alpha, log_pi, target_entropy):
    return (log_alpha * (-log_pi - target_entropy).detach()).sum()
''',
            "entropy_term_sign": '''
def alpha_loss(log_alpha, log_pi, target_entropy):
    return (log_alpha * (log_pi + target_entropy).detach()).mean()
''',
            "target_entropy_sign": '''
def alpha_loss(log_alpha, log_pi, target_entropy):
    return (log_alpha * (-log_pi + target_entropy).detach()).mean()
''',
        },
    },
    "soft_update": {
        "check": "check_soft_update",
        "alternatives": {
            "comprehension": '''
def soft_update(target, online, tau):
    return {k: tau * online[k] + (1 - tau) * target[k] for k in target}
''',
            "lerp_in_place_on_copies": '''
import torch

def soft_update(target, online, tau):
    out = {}
    for name, param in target.items():
        out[name] = param.clone()
        out[name].lerp_(online[name], tau)
    return out
''',
        },
        "bugs": {
            "direction_swapped": '''
def soft_update(target, online, tau):
    return {k: tau * target[k] + (1 - tau) * online[k] for k in target}
''',
            "target_not_decayed": '''
def soft_update(target, online, tau):
    return {k: target[k] + tau * online[k] for k in target}
''',
            "tau_hard_coded": '''
def soft_update(target, online, tau):
    return {k: 0.01 * online[k] + 0.99 * target[k] for k in target}
''',
            "hard_copy": '''
def soft_update(target, online, tau):
    return {k: online[k].clone() for k in target}
''',
        },
    },
}
