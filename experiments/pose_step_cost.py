#!/usr/bin/env python3
"""The pose-aware U-Net's train step against the plain one, timed in turn in one process (issue 18's
"at most 2× the plain step"), and the step counts that give each setting the plain run's wall-clock budget.

    python experiments/pose_step_cost.py --pose-workdir runs/hourglass_lspet [--data-dir runs/data] \\
        [--plain-steps 3600] [--steps 10] [--rounds 3] [--out runs/pose_step_cost.json]

The settings are unet:lspet with γ = 0 or 4 (loss.pose_weight) and the hourglass's heatmaps as inputs off
or on (model.pose_condition), on one batch of the config's size (LSPET's first training batch with
--data-dir, noise without), each step jitted as the trainer jits it, the harmonic fill inside it.
Prints the seconds a step (median of the rounds), the ratio to the plain step (median over the rounds of
the ratio within each round: on a shared machine the load drifts between rounds), and round(plain_steps / ratio): the from-scratch ablation's num_steps for each setting.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

SETTINGS = {  # name -> (γ, heatmap inputs)
    "plain": (0.0, False),
    "pose": (4.0, False),
    "cond": (0.0, True),
    "pose_cond": (4.0, True),
}


def first_batch(config, data_dir: str | None, seed: int) -> dict:
    """{"image", "hole"} of the config's batch size: the first training examples of the dataset in
    data_dir, or synthetic noise images without one. The step's harmonic fill needs more iterations on
    noise than on photographs, so noise understates the pose options' share of the step."""
    import numpy as np

    from jaxpaint.benchmarks import torch_twins as twins
    from jaxpaint.data import loader
    from jaxpaint.train.loop import to_model_batch

    size = int(config.batch_size)
    if data_dir is None:
        host = twins.inpainting_batch(size, int(config.data.image_size), seed)
        return {k: host[k] for k in ("image", "hole")}
    source = loader.open_split(data_dir, config.data.dataset, config.data.train_split)
    elements = [loader.to_batch_element(source[i]) for i in range(size)]
    stacked = {k: np.stack([e[k] for e in elements]) for k in ("image", "hole")}
    return to_model_batch(stacked)


def compiled_step(name: str, pose_workdir: str, data_dir: str | None, seed: int):
    """(step(n) running n steps, config) for one setting, compiled and warmed up."""
    import jax

    from jaxpaint.benchmarks.train_throughput import jax_step
    from jaxpaint.config import load_config
    from jaxpaint.methods import unet

    weight, condition = SETTINGS[name]
    config = load_config("unet:lspet", [f"--config.loss.pose_weight={weight}",
                                        f"--config.model.pose_condition={condition}",
                                        f"--config.pose.workdir={pose_workdir if weight or condition else ''}"])
    batch = jax.device_put(first_batch(config, data_dir, seed))  # the fill is computed in the step
    state = unet.init_state(config, jax.random.key(seed), batch)
    compiled = jax_step(unet, config, "g_only").lower(state, batch).compile()
    state, metrics = compiled(state, batch)
    jax.block_until_ready(metrics)

    def steps(n: int) -> None:
        nonlocal state, metrics
        for _ in range(n):
            state, metrics = compiled(state, batch)
        jax.block_until_ready(metrics)

    return steps, config


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pose-workdir", required=True, help="the trained hourglass run the pose options read")
    parser.add_argument("--data-dir", help="time on the first LSPET training batch of this data folder "
                        "(lspet_128_seed0) rather than on noise")
    parser.add_argument("--plain-steps", type=int, default=3600, help="the plain run's num_steps (unet:lspet)")
    parser.add_argument("--steps", type=int, default=10, help="timed steps a round")
    parser.add_argument("--rounds", type=int, default=3, help="rounds, the settings in turn")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, help="also write the figures here as JSON")
    args = parser.parse_args(argv)

    from jaxpaint.benchmarks import format_machine, machine_info

    steps = {name: compiled_step(name, args.pose_workdir, args.data_dir, args.seed)[0] for name in SETTINGS}
    rounds = {name: [] for name in SETTINGS}
    for _ in range(args.rounds):
        for name, run in steps.items():
            start = time.perf_counter()
            run(args.steps)
            rounds[name].append((time.perf_counter() - start) / args.steps)
    seconds = {name: statistics.median(r) for name, r in rounds.items()}
    # Each round times the settings back to back, so its ratios share the machine's load of the moment.
    ratios = {name: statistics.median(a / b for a, b in zip(r, rounds["plain"])) for name, r in rounds.items()}
    figures = {"settings": {name: {"pose_weight": SETTINGS[name][0], "pose_condition": SETTINGS[name][1],
                                   "seconds_per_step": seconds[name], "seconds_per_step_rounds": rounds[name],
                                   "ratio_to_plain": ratios[name],
                                   "equal_time_steps": round(args.plain_steps / ratios[name])}
                            for name in SETTINGS},
               "pose_workdir": args.pose_workdir, "data_dir": args.data_dir, "plain_steps": args.plain_steps, "timed_steps": args.steps,
               "rounds": args.rounds, "machine": machine_info()}
    print(format_machine(figures["machine"]))
    print(f"{'setting':<10} {'γ':>4} {'heatmaps':>8} {'s/step':>8} {'× plain':>8} {'steps at equal time':>20}")
    for name, row in figures["settings"].items():
        print(f"{name:<10} {row['pose_weight']:>4g} {str(row['pose_condition']):>8} {row['seconds_per_step']:>8.3f} "
              f"{row['ratio_to_plain']:>8.2f} {row['equal_time_steps']:>20}")
    if args.out:
        args.out.write_text(json.dumps(figures, indent=2) + "\n")
    return figures


if __name__ == "__main__":
    main()
