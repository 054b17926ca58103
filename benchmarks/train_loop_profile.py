"""Where the training loop's time goes: environment, replay buffer, acting, update, evaluation, checkpoints.

Runs the real loop (:func:`reference_impl.train.run`) on the CPU default with timers wrapped around each part, and
reports each part's share of the wall time and the environment steps per second (overall and while updating).
1 torch thread. Run: ``python benchmarks/train_loop_profile.py [--agent deepmdp] [--steps 700] [--init-steps 200]``;
results in ``benchmarks/results/train_loop_profile.json``. ``--default-allocator --output FILE`` measures the loop
without the app's ``keep_freed_memory`` (``reference_impl/allocator.py``).
"""

from __future__ import annotations

import argparse
import collections
import functools
import json
import tempfile
import time
from pathlib import Path

from hydra import compose, initialize_config_module

from reference_impl import replay_buffer, train
from reference_impl.agents import deepmdp, sac, sac_ae
from reference_impl.wrappers import FrameStack

RESULTS = Path(__file__).resolve().parent / "results" / "train_loop_profile.json"


def timed_parts():
    """Wrap the loop's parts with timers (restored on exit); returns the accumulated seconds and call counts."""
    seconds, calls = collections.defaultdict(float), collections.defaultdict(int)
    inside_eval = [False]
    buffer = replay_buffer.ReplayBuffer
    targets = [(agent_class, "update", "update") for agent_class in (sac.Agent, sac_ae.Agent, deepmdp.Agent)]
    targets += [(sac.Agent, "act", "act"), (buffer, "sample", "buffer_sample"), (buffer, "add", "buffer_add"),
               (FrameStack, "step", "env_step"), (FrameStack, "reset", "env_reset"),
               (train, "evaluate", "evaluation"), (train, "save_checkpoint", "checkpoint"),
               (train.CsvLog, "_write", "csv_logs")]
    originals = []
    for owner, name, label in targets:
        original = getattr(owner, name)
        originals.append((owner, name, original))

        def wrapper(*args, _original=original, _label=label, **kwargs):
            if inside_eval[0] and _label != "evaluation":  # acting and stepping inside evaluation count as evaluation
                return _original(*args, **kwargs)
            if _label == "evaluation":
                inside_eval[0] = True
            start = time.perf_counter()
            try:
                return _original(*args, **kwargs)
            finally:
                seconds[_label] += time.perf_counter() - start
                calls[_label] += 1
                if _label == "evaluation":
                    inside_eval[0] = False

        setattr(owner, name, functools.wraps(original)(wrapper))
    return seconds, calls, originals


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agent", default="deepmdp")
    parser.add_argument("--steps", type=int, default=700)
    parser.add_argument("--init-steps", type=int, default=200)
    parser.add_argument("--overrides", nargs="*", default=[])
    parser.add_argument("--default-allocator", action="store_true",
                        help="skip the app's keep_freed_memory (glibc's malloc settings as they are), to measure it")
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args()
    if args.default_allocator:
        train.keep_freed_memory = lambda: False
    overrides = [f"agent={args.agent}", f"num_train_steps={args.steps}", f"init_steps={args.init_steps}",
                 "eval_freq=250", "checkpoint_freq=250", "num_threads=1", "device=cpu", "progress_bar=false",
                 *args.overrides]
    with initialize_config_module("reference_impl.conf", version_base="1.3"):
        cfg = compose("config", overrides=overrides)
    seconds, calls, originals = timed_parts()
    try:
        with tempfile.TemporaryDirectory() as folder:
            start = time.perf_counter()
            train.run(cfg, folder)
            total = time.perf_counter() - start
    finally:
        for owner, name, original in originals:
            setattr(owner, name, original)
    repeat = cfg.env.action_repeat
    updates = calls["update"]
    update_phase = seconds["update"] + seconds["act"] + seconds["buffer_sample"] + (
        seconds["env_step"] + seconds["buffer_add"]) * updates / max(calls["env_step"], 1)
    out = {
        "overrides": overrides, "allocator": "default" if args.default_allocator else "keep_freed_memory",
        "total_seconds": total, "seconds": dict(seconds), "calls": dict(calls),
        "share": {name: value / total for name, value in seconds.items()} | {
            "other": 1 - sum(seconds.values()) / total},
        "env_steps_per_s_overall": args.steps * repeat / total,
        "env_steps_per_s_while_updating": updates * repeat / update_phase,
        "update_ms_median_proxy": 1e3 * seconds["update"] / max(updates, 1),
    }
    print(json.dumps(out, indent=2))
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
