"""Wall time of one agent update: the course's agents vs a straightforward pytorch_sac_ae-style update.

    python benchmarks/agent_update_speed.py [--size public|cpu|both] [--updates N] [--threads T] [--device cpu|cuda]
        [--variants fp32,fp32_unfused,bf16]

Both implementations have the same architecture (encoder, actor, twin critic, decoder, transition and reward models,
same layer sizes) and the same update schedule; the baseline below is written the way the public SAC-AE code is:
every network call runs its own encoder pass (the actor update encodes the observation twice, once for the actor
and once for the critic), the DeepMDP target latent is computed with autograd on and detached afterwards, target
networks are averaged parameter by parameter in a Python loop, and convolutions use the default NCHW layout.

The course's agents (reference_impl.agents) run the shared convolutions once per actor update under ``no_grad``,
compute targets under ``no_grad``, average targets with one fused ``_foreach_lerp_``, and run convolutions in the
channels_last layout (oneDNN's fast path on CPU); each implementation gets the batch in the memory layout its own
replay buffer returns (the course's stores pixels channels-last, pytorch_sac_ae's NCHW: same values). Calls of the
two implementations are interleaved so that machine load affects both alike, and they share this process's memory
allocator (``keep_freed_memory``, as the training app sets it, unless ``--default-allocator``); the medians of wall
time and of process CPU time over the timed updates are reported, and the ratio of the fastest CPU times (the least
disturbed by other processes on a shared machine). Results go to benchmarks/results/agent_update_speed.csv.

Variants of the course's agent, timed in the same interleaved rounds: ``fp32`` (the default: fused Adam),
``fp32_unfused`` (Adam with ``foreach``, the previous default: the fused-Adam gain) and ``bf16`` (``precision=bf16``:
bfloat16 autocast in the update; passed benchmarks/bf16_learning_check.py, off by default). ``--loss-difference``
also reports, for one update from the same state and random numbers, the relative difference of every loss between
bf16 and fp32.
"""

from __future__ import annotations

import argparse
import math
import statistics
import time
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F
from omegaconf import OmegaConf

from reference_impl.agents import make_agent
from reference_impl.agents.sac import Batch
from reference_impl.allocator import keep_freed_memory

RESULTS = Path(__file__).resolve().parent / "results" / "agent_update_speed.csv"
SIZES = {
    "public": {"image_size": 84, "frame_stack": 3, "num_conv_layers": 4, "num_filters": 32, "feature_dim": 50,
               "hidden_dim": 1024, "transition_hidden_dim": 512, "batch_size": 128},
    "cpu": {"image_size": 32, "frame_stack": 3, "num_conv_layers": 2, "num_filters": 16, "feature_dim": 50,
            "hidden_dim": 256, "transition_hidden_dim": 256, "batch_size": 128},
}


# ---------------------------------------------------------------------------------------------------- baseline
class BaselineEncoder(nn.Module):
    def __init__(self, obs_shape, feature_dim, num_layers, num_filters):
        super().__init__()
        self.convs = nn.ModuleList([nn.Conv2d(obs_shape[0], num_filters, 3, stride=2)]
                                   + [nn.Conv2d(num_filters, num_filters, 3) for _ in range(num_layers - 1)])
        side = (obs_shape[1] - 3) // 2 + 1 - 2 * (num_layers - 1)
        self.fc = nn.Linear(num_filters * side * side, feature_dim)
        self.ln = nn.LayerNorm(feature_dim)

    def forward(self, obs, detach=False):
        h = obs / 255.0
        for conv in self.convs:
            h = torch.relu(conv(h))
        h = h.view(h.size(0), -1)
        if detach:
            h = h.detach()
        return torch.tanh(self.ln(self.fc(h)))

    def copy_conv_weights_from(self, source):
        for i in range(len(self.convs)):
            self.convs[i].weight = source.convs[i].weight
            self.convs[i].bias = source.convs[i].bias


class BaselineDecoder(nn.Module):
    def __init__(self, obs_shape, feature_dim, num_layers, num_filters):
        super().__init__()
        self.num_filters = num_filters
        self.side = (obs_shape[1] - 3) // 2 + 1 - 2 * (num_layers - 1)
        last = self.side + 2 * (num_layers - 1)
        self.fc = nn.Linear(feature_dim, num_filters * self.side * self.side)
        self.deconvs = nn.ModuleList([nn.ConvTranspose2d(num_filters, num_filters, 3) for _ in range(num_layers - 1)])
        self.deconvs.append(nn.ConvTranspose2d(num_filters, obs_shape[0], 3, stride=2,
                                               output_padding=obs_shape[1] - ((last - 1) * 2 + 3)))

    def forward(self, h):
        h = torch.relu(self.fc(h)).view(-1, self.num_filters, self.side, self.side)
        for deconv in self.deconvs[:-1]:
            h = torch.relu(deconv(h))
        return self.deconvs[-1](h)


def mlp(i, h, o):
    return nn.Sequential(nn.Linear(i, h), nn.ReLU(), nn.Linear(h, h), nn.ReLU(), nn.Linear(h, o))


class BaselineActor(nn.Module):
    def __init__(self, obs_shape, action_dim, size):
        super().__init__()
        self.encoder = BaselineEncoder(obs_shape, size["feature_dim"], size["num_conv_layers"], size["num_filters"])
        self.trunk = mlp(size["feature_dim"], size["hidden_dim"], 2 * action_dim)

    def forward(self, obs, detach_encoder=False):
        mu, log_std = self.trunk(self.encoder(obs, detach=detach_encoder)).chunk(2, dim=-1)
        log_std = -10 + 0.5 * 12 * (torch.tanh(log_std) + 1)
        noise = torch.randn_like(mu)
        pi = mu + noise * log_std.exp()
        log_pi = (-0.5 * noise.pow(2) - log_std).sum(-1, keepdim=True) - 0.5 * math.log(2 * math.pi) * mu.size(-1)
        mu, pi = torch.tanh(mu), torch.tanh(pi)
        log_pi -= torch.log(F.relu(1 - pi.pow(2)) + 1e-6).sum(-1, keepdim=True)
        return mu, pi, log_pi, log_std


class BaselineCritic(nn.Module):
    def __init__(self, obs_shape, action_dim, size):
        super().__init__()
        self.encoder = BaselineEncoder(obs_shape, size["feature_dim"], size["num_conv_layers"], size["num_filters"])
        self.Q1 = mlp(size["feature_dim"] + action_dim, size["hidden_dim"], 1)
        self.Q2 = mlp(size["feature_dim"] + action_dim, size["hidden_dim"], 1)

    def forward(self, obs, action, detach_encoder=False):
        h = torch.cat([self.encoder(obs, detach=detach_encoder), action], dim=1)
        return self.Q1(h), self.Q2(h)


def soft_update_params(net, target_net, tau):
    for param, target_param in zip(net.parameters(), target_net.parameters(), strict=True):
        target_param.data.copy_(tau * param.data + (1 - tau) * target_param.data)


class BaselineAgent:
    """SAC-AE / DeepMDP written plainly, as in the public SAC-AE and DeepMDP code."""

    def __init__(self, obs_shape, action_dim, size, deepmdp, device):
        self.deepmdp = deepmdp
        self.actor = BaselineActor(obs_shape, action_dim, size).to(device)
        self.critic = BaselineCritic(obs_shape, action_dim, size).to(device)
        self.critic_target = BaselineCritic(obs_shape, action_dim, size).to(device)
        self.critic_target.load_state_dict(self.critic.state_dict())
        self.actor.encoder.copy_conv_weights_from(self.critic.encoder)
        self.log_alpha = torch.tensor(math.log(0.1), device=device, requires_grad=True)
        self.target_entropy = -action_dim
        self.decoder = BaselineDecoder(obs_shape, size["feature_dim"], size["num_conv_layers"],
                                       size["num_filters"]).to(device)
        f, th = size["feature_dim"], size["transition_hidden_dim"]
        self.transition = nn.Sequential(nn.Linear(f + action_dim, th), nn.LayerNorm(th), nn.ReLU(),
                                        nn.Linear(th, f)).to(device)
        self.reward = nn.Sequential(nn.Linear(f, th), nn.LayerNorm(th), nn.ReLU(), nn.Linear(th, 1)).to(device)
        self.actor_optimizer = torch.optim.Adam(self.actor.parameters(), lr=1e-3)
        self.critic_optimizer = torch.optim.Adam(self.critic.parameters(), lr=1e-3)
        self.log_alpha_optimizer = torch.optim.Adam([self.log_alpha], lr=1e-4, betas=(0.5, 0.999))
        self.encoder_optimizer = torch.optim.Adam(self.critic.encoder.parameters(), lr=1e-3)
        self.decoder_optimizer = torch.optim.Adam(self.decoder.parameters(), lr=1e-3, weight_decay=1e-7)
        self.transition_optimizer = torch.optim.Adam(self.transition.parameters(), lr=1e-3)
        self.reward_optimizer = torch.optim.Adam(self.reward.parameters(), lr=1e-3)

    def update_critic(self, obs, action, reward, next_obs, not_done):
        with torch.no_grad():
            _, policy_action, log_pi, _ = self.actor(next_obs)
            target_q1, target_q2 = self.critic_target(next_obs, policy_action)
            target_v = torch.min(target_q1, target_q2) - self.log_alpha.exp().detach() * log_pi
            target_q = reward + not_done * 0.99 * target_v
        current_q1, current_q2 = self.critic(obs, action)
        critic_loss = F.mse_loss(current_q1, target_q) + F.mse_loss(current_q2, target_q)
        self.critic_optimizer.zero_grad()
        critic_loss.backward()
        self.critic_optimizer.step()

    def update_actor_and_alpha(self, obs):
        _, pi, log_pi, _ = self.actor(obs, detach_encoder=True)
        actor_q1, actor_q2 = self.critic(obs, pi, detach_encoder=True)
        actor_loss = (self.log_alpha.exp().detach() * log_pi - torch.min(actor_q1, actor_q2)).mean()
        self.actor_optimizer.zero_grad()
        actor_loss.backward()
        self.actor_optimizer.step()
        self.log_alpha_optimizer.zero_grad()
        alpha_loss = (self.log_alpha.exp() * (-log_pi - self.target_entropy).detach()).mean()
        alpha_loss.backward()
        self.log_alpha_optimizer.step()

    def update_transition_reward(self, obs, action, reward, next_obs):
        h = self.critic.encoder(obs)
        pred_next = self.transition(torch.cat([h, action], dim=1))
        next_h = self.critic.encoder(next_obs)
        loss = (pred_next - next_h.detach()).pow(2).sum(1).mean() + F.mse_loss(self.reward(pred_next), reward)
        self.encoder_optimizer.zero_grad()
        self.transition_optimizer.zero_grad()
        self.reward_optimizer.zero_grad()
        loss.backward()
        self.encoder_optimizer.step()
        self.transition_optimizer.step()
        self.reward_optimizer.step()

    def update_decoder(self, obs, action, next_obs):
        h = self.critic.encoder(obs)
        if self.deepmdp:
            h_dec, target = self.transition(torch.cat([h, action], dim=1)), next_obs / 255.0
        else:
            h_dec, target = h, obs / 255.0
        loss = F.mse_loss(self.decoder(h_dec), target) + 1e-6 * (0.5 * h.pow(2).sum(1)).mean()
        self.encoder_optimizer.zero_grad()
        self.decoder_optimizer.zero_grad()
        if self.deepmdp:
            self.transition_optimizer.zero_grad()
        loss.backward()
        self.encoder_optimizer.step()
        self.decoder_optimizer.step()
        if self.deepmdp:
            self.transition_optimizer.step()

    def update(self, batch, step):
        obs, action, reward, next_obs, not_done = batch.obs, batch.action, batch.reward, batch.next_obs, batch.not_done
        self.update_critic(obs, action, reward, next_obs, not_done)
        if step % 2 == 0:
            self.update_actor_and_alpha(obs)
            soft_update_params(self.critic.Q1, self.critic_target.Q1, 0.01)
            soft_update_params(self.critic.Q2, self.critic_target.Q2, 0.01)
            soft_update_params(self.critic.encoder, self.critic_target.encoder, 0.05)
        if self.deepmdp:
            self.update_transition_reward(obs, action, reward, next_obs)
        self.update_decoder(obs, action, next_obs)


# ---------------------------------------------------------------------------------------------------- benchmark
def course_agent(name, obs_shape, size, device):
    from hydra import compose, initialize_config_module

    overrides = [f"agent={name}"] + [f"size.{key}={value}" for key, value in size.items()]
    with initialize_config_module("reference_impl.conf", version_base="1.3"):
        cfg = compose("config", overrides=overrides)
    return make_agent(OmegaConf.create(OmegaConf.to_container(cfg.agent, resolve=True)), obs_shape, (6,),
                      (-1.0, 1.0), device)


def random_batch(obs_shape, batch_size, action_dim, device, seed=0):
    g = torch.Generator().manual_seed(seed)
    pixels = torch.randint(0, 256, (batch_size, *obs_shape), dtype=torch.uint8, generator=g)
    next_pixels = torch.randint(0, 256, (batch_size, *obs_shape), dtype=torch.uint8, generator=g)
    return Batch(pixels.to(device), (torch.rand(batch_size, action_dim, generator=g) * 2 - 1).to(device),
                 torch.rand(batch_size, 1, generator=g).to(device), next_pixels.to(device),
                 torch.ones(batch_size, 1, device=device))


def in_course_layout(batch):
    """The batch as the course's replay buffer returns it: the same pixels, channels-last in memory
    (``reference_impl.replay_buffer.pixel_storage``); pytorch_sac_ae's buffer returns them in NCHW memory."""
    return batch._replace(obs=batch.obs.contiguous(memory_format=torch.channels_last),
                          next_obs=batch.next_obs.contiguous(memory_format=torch.channels_last))


def synchronise(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def unfused(agent):
    """The same agent with every Adam rebuilt with ``foreach=True`` instead of ``fused=True`` (fresh states)."""
    for name, opt in agent._optimizers.items():
        group = opt.param_groups[0]
        agent._optimizers[name] = torch.optim.Adam(group["params"], lr=group["lr"], betas=group["betas"],
                                                   eps=group["eps"], weight_decay=group["weight_decay"], foreach=True)
    return agent


def course_variant(variant, agent_name, obs_shape, size, device):
    torch.manual_seed(0)
    agent = course_agent(agent_name, obs_shape, size, device)
    if variant == "fp32_unfused":
        return unfused(agent)
    agent.precision = "bf16" if variant == "bf16" else "fp32"
    return agent


def loss_difference(agent_name, obs_shape, size, batch, device):
    """Relative |loss_bf16 - loss_fp32| / |loss_fp32| of every metric of one update (same state, same samples)."""
    fp32 = course_variant("fp32", agent_name, obs_shape, size, device)
    bf16 = course_variant("bf16", agent_name, obs_shape, size, device)
    bf16.load_state_dict(fp32.state_dict())
    out = {}
    for agent in (fp32, bf16):
        torch.manual_seed(1)
        out[agent.precision] = agent.update(batch, 0)
    return {key: abs(out["bf16"][key] - value) / max(abs(value), 1e-12) for key, value in out["fp32"].items()}


def time_pair(agents, batches, updates, warmup, device):
    """Interleaved updates, each agent on ``batches[name]``; the median wall time and process CPU time (ms) of each
    over ``updates`` timed calls."""
    times = {(name, clock): [] for name in agents for clock in ("wall", "cpu")}
    for step in range(warmup + updates):
        for name, agent in agents.items():
            synchronise(device)
            wall, cpu = time.perf_counter(), time.process_time()
            agent.update(batches[name], step)
            synchronise(device)
            if step >= warmup:
                times[name, "wall"].append(1000 * (time.perf_counter() - wall))
                times[name, "cpu"].append(1000 * (time.process_time() - cpu))
    return {key: statistics.median(values) for key, values in times.items()} | {
        (name, "cpu_min"): min(times[name, "cpu"]) for name in agents}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", choices=["public", "cpu", "both"], default="both")
    parser.add_argument("--agents", default="sac_ae,deepmdp")
    parser.add_argument("--updates", type=int, default=6, help="timed updates per implementation (even: full cycles)")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--variants", default="fp32,fp32_unfused,bf16", help="of the course's agent (see above)")
    parser.add_argument("--loss-difference", action="store_true", help="bf16 vs fp32 losses of one update")
    parser.add_argument("--output", type=Path, default=RESULTS)
    parser.add_argument("--default-allocator", action="store_true",
                        help="leave glibc's malloc settings as they are (the training app keeps freed memory)")
    args = parser.parse_args()
    allocator = "default" if args.default_allocator or not keep_freed_memory() else "keep_freed_memory"
    print(f"allocator: {allocator} (the same for every implementation: they run in this one process)", flush=True)
    variants = args.variants.split(",")
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    rows = []
    for size_name in (["public", "cpu"] if args.size == "both" else [args.size]):
        size = SIZES[size_name]
        obs_shape = (3 * size["frame_stack"], size["image_size"], size["image_size"])
        batch = random_batch(obs_shape, size["batch_size"], 6, device)
        for agent_name in args.agents.split(","):
            agents = {variant: course_variant(variant, agent_name, obs_shape, size, device) for variant in variants}
            agents["baseline"] = BaselineAgent(obs_shape, 6, size, deepmdp=agent_name == "deepmdp", device=device)
            batches = {name: batch if name == "baseline" else in_course_layout(batch) for name in agents}
            t = time_pair(agents, batches, args.updates, args.warmup, device)
            row = {"size": size_name, "agent": agent_name, "device": device.type, "threads": args.threads,
                   "allocator": allocator,
                   "batch": size["batch_size"], "timed_updates": args.updates,
                   "baseline_wall_ms": round(t["baseline", "wall"], 1),
                   "baseline_cpu_ms": round(t["baseline", "cpu"], 1)}
            line = f"{size_name:6s} {agent_name:8s} baseline {t['baseline', 'wall']:7.1f} ms"
            for variant in variants:
                ratio = t["baseline", "wall"] / t[variant, "wall"]
                row |= {f"{variant}_wall_ms": round(t[variant, "wall"], 1), f"{variant}_speedup_wall": round(ratio, 2),
                        f"{variant}_cpu_ms": round(t[variant, "cpu"], 1),
                        f"{variant}_speedup_cpu": round(t["baseline", "cpu"] / t[variant, "cpu"], 2)}
                line += f" | {variant} {t[variant, 'wall']:7.1f} ms x{ratio:.2f}"
            if args.loss_difference:
                difference = loss_difference(agent_name, obs_shape, size, in_course_layout(batch), device)
                row |= {f"bf16_rel_diff_{key}": f"{value:.2g}" for key, value in difference.items()}
                line += " | bf16 loss differences " + ", ".join(f"{k} {v:.1%}" for k, v in difference.items())
            rows.append(row)
            print(line, flush=True)
    import pandas as pd

    args.output.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows).to_csv(args.output, index=False)
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
