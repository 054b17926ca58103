"""Chapter 4: correct alternatives each check must accept, planted bugs it must reject."""

PARTS = {
    "reward_loss": {
        "check": "check_reward_loss",
        "alternatives": {
            "squeeze_then_mse": '''
import torch

def reward_loss(predicted_reward, reward):
    return torch.nn.functional.mse_loss(predicted_reward.squeeze(-1), reward)
''',
            "manual_with_view": '''
def reward_loss(predicted_reward, reward):
    return ((predicted_reward - reward.view(-1, 1)) ** 2).sum() / reward.shape[0]
''',
        },
        "bugs": {
            "broadcasts_B_by_B": '''
def reward_loss(predicted_reward, reward):
    return ((predicted_reward - reward) ** 2).mean()
''',
            "sum_instead_of_mean": '''
def reward_loss(predicted_reward, reward):
    return ((predicted_reward.squeeze(-1) - reward) ** 2).sum()
''',
            "prediction_detached": '''
def reward_loss(predicted_reward, reward):
    return ((predicted_reward.detach().squeeze(-1) - reward) ** 2).mean()
''',
            "half_squared_error": '''
def reward_loss(predicted_reward, reward):
    return 0.5 * ((predicted_reward.squeeze(-1) - reward) ** 2).mean()
''',
            "absolute_error": '''
def reward_loss(predicted_reward, reward):
    return (predicted_reward.squeeze(-1) - reward).abs().mean()
''',
            "root_mean_square": '''
def reward_loss(predicted_reward, reward):
    return ((predicted_reward.squeeze(-1) - reward) ** 2).mean().sqrt()
''',
        },
    },
    "transition_loss": {
        "check": "check_transition_loss",
        "alternatives": {
            "linalg_norm": '''
import torch

def transition_loss(predicted_next_latent, next_latent):
    return torch.linalg.norm(predicted_next_latent - next_latent.detach(), dim=1).mean()
''',
            "sqrt_of_squares_with_target_copy": '''
def transition_loss(predicted_next_latent, next_latent):
    target = next_latent.clone().detach()
    return ((predicted_next_latent - target) ** 2).sum(dim=-1).sqrt().mean()
''',
        },
        "bugs": {
            "target_not_detached": '''
def transition_loss(predicted_next_latent, next_latent):
    return ((predicted_next_latent - next_latent) ** 2).sum(dim=-1).sqrt().mean()
''',
            "squared_error_instead_of_w1": '''
def transition_loss(predicted_next_latent, next_latent):
    return ((predicted_next_latent - next_latent.detach()) ** 2).sum(dim=-1).mean()
''',
            "prediction_detached": '''
def transition_loss(predicted_next_latent, next_latent):
    return ((predicted_next_latent.detach() - next_latent.detach()) ** 2).sum(dim=-1).sqrt().mean()
''',
            "sum_over_the_batch": '''
def transition_loss(predicted_next_latent, next_latent):
    return ((predicted_next_latent - next_latent.detach()) ** 2).sum(dim=-1).sqrt().sum()
''',
            "elementwise_l1": '''
def transition_loss(predicted_next_latent, next_latent):
    return (predicted_next_latent - next_latent.detach()).abs().mean()
''',
            "norm_of_the_whole_batch": '''
def transition_loss(predicted_next_latent, next_latent):
    return (predicted_next_latent - next_latent.detach()).norm() / predicted_next_latent.shape[0]
''',
        },
    },
    "gaussian_nll": {
        "check": "check_gaussian_nll",
        "alternatives": {
            "torch_distributions": '''
import torch

def gaussian_nll(mu, sigma, next_latent):
    dist = torch.distributions.Normal(mu, sigma)
    return -dist.log_prob(next_latent.detach()).sum(dim=1).mean()
''',
            "manual_log_variance": '''
import math

def gaussian_nll(mu, sigma, next_latent):
    z = next_latent.detach()
    log_var = 2 * sigma.log()
    per_dim = 0.5 * (log_var + (z - mu) ** 2 / log_var.exp() + math.log(2 * math.pi))
    return per_dim.sum(dim=1).mean()
''',
        },
        "bugs": {
            "log_sigma_missing": '''
import math

def gaussian_nll(mu, sigma, next_latent):
    z = next_latent.detach()
    return ((z - mu) ** 2 / (2 * sigma ** 2) + 0.5 * math.log(2 * math.pi)).sum(dim=1).mean()
''',
            "target_not_detached": '''
import math

def gaussian_nll(mu, sigma, next_latent):
    per_dim = sigma.log() + (next_latent - mu) ** 2 / (2 * sigma ** 2) + 0.5 * math.log(2 * math.pi)
    return per_dim.sum(dim=1).mean()
''',
            "log_two_pi_term_missing": '''
def gaussian_nll(mu, sigma, next_latent):
    z = next_latent.detach()
    return (sigma.log() + (z - mu) ** 2 / (2 * sigma ** 2)).sum(dim=1).mean()
''',
            "sum_over_the_batch": '''
import math

def gaussian_nll(mu, sigma, next_latent):
    z = next_latent.detach()
    return (sigma.log() + (z - mu) ** 2 / (2 * sigma ** 2) + 0.5 * math.log(2 * math.pi)).sum()
''',
            "sigma_not_squared": '''
import math

def gaussian_nll(mu, sigma, next_latent):
    z = next_latent.detach()
    return (sigma.log() + (z - mu) ** 2 / (2 * sigma) + 0.5 * math.log(2 * math.pi)).sum(dim=1).mean()
''',
            "mean_over_dimensions": '''
import math

def gaussian_nll(mu, sigma, next_latent):
    z = next_latent.detach()
    return (sigma.log() + (z - mu) ** 2 / (2 * sigma ** 2) + 0.5 * math.log(2 * math.pi)).mean()
''',
        },
    },
    "gradient_penalty": {
        "check": "check_gradient_penalty",
        "alternatives": {
            "autograd_grad": '''
import torch

def mlp(weights, x):
    return torch.tanh(x @ weights["W1"] + weights["b1"]) @ weights["W2"] + weights["b2"]

def gradient_penalty(weights, x):
    x = x.detach().requires_grad_(True)
    (g,) = torch.autograd.grad(mlp(weights, x).sum(), x, create_graph=True)
    return ((g.norm(dim=1) - 1) ** 2).mean()
''',
            "per_sample_loop": '''
import torch

def mlp(weights, x):
    return torch.tanh(x @ weights["W1"] + weights["b1"]) @ weights["W2"] + weights["b2"]

def gradient_penalty(weights, x):
    terms = []
    for xi in x:
        xi = xi.detach().clone().requires_grad_(True)
        (g,) = torch.autograd.grad(mlp(weights, xi[None]).sum(), xi, create_graph=True)
        terms.append((torch.sqrt((g ** 2).sum()) - 1) ** 2)
    return torch.stack(terms).mean()
''',
        },
        "bugs": {
            "no_create_graph": '''
import torch

def mlp(weights, x):
    return torch.tanh(x @ weights["W1"] + weights["b1"]) @ weights["W2"] + weights["b2"]

def gradient_penalty(weights, x):
    x = x.detach().requires_grad_(True)
    (g,) = torch.autograd.grad(mlp(weights, x).sum(), x)
    return ((g.norm(dim=1) - 1) ** 2).mean()
''',
            "penalty_on_the_weights_not_the_inputs": '''
import torch

def mlp(weights, x):
    return torch.tanh(x @ weights["W1"] + weights["b1"]) @ weights["W2"] + weights["b2"]

def gradient_penalty(weights, x):
    (g,) = torch.autograd.grad(mlp(weights, x).sum(), weights["W1"], create_graph=True)
    return ((g.norm(dim=0) - 1) ** 2).mean()
''',
            "mean_norm_before_the_penalty": '''
import torch

def mlp(weights, x):
    return torch.tanh(x @ weights["W1"] + weights["b1"]) @ weights["W2"] + weights["b2"]

def gradient_penalty(weights, x):
    x = x.detach().requires_grad_(True)
    (g,) = torch.autograd.grad(mlp(weights, x).sum(), x, create_graph=True)
    return (g.norm(dim=1).mean() - 1) ** 2
''',
            "pushes_the_norm_to_zero": '''
import torch

def mlp(weights, x):
    return torch.tanh(x @ weights["W1"] + weights["b1"]) @ weights["W2"] + weights["b2"]

def gradient_penalty(weights, x):
    x = x.detach().requires_grad_(True)
    (g,) = torch.autograd.grad(mlp(weights, x).sum(), x, create_graph=True)
    return (g.norm(dim=1) ** 2).mean()
''',
            "squared_norm": '''
import torch

def mlp(weights, x):
    return torch.tanh(x @ weights["W1"] + weights["b1"]) @ weights["W2"] + weights["b2"]

def gradient_penalty(weights, x):
    x = x.detach().requires_grad_(True)
    (g,) = torch.autograd.grad(mlp(weights, x).sum(), x, create_graph=True)
    return (((g ** 2).sum(dim=1) - 1) ** 2).mean()
''',
            "norm_of_the_whole_batch": '''
import torch

def mlp(weights, x):
    return torch.tanh(x @ weights["W1"] + weights["b1"]) @ weights["W2"] + weights["b2"]

def gradient_penalty(weights, x):
    x = x.detach().requires_grad_(True)
    (g,) = torch.autograd.grad(mlp(weights, x).sum(), x, create_graph=True)
    return (g.norm() - 1) ** 2
''',
        },
    },
}
