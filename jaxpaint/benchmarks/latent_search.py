"""Throughput of Semantic Image Inpainting's latent search: the compiled batch kernel against a per-image loop.

For each image size and batch size, the kernel (`jaxpaint.ops.latent_search`: every
iteration, image and restart in one jitted program) searches a synthetic batch;
the baseline runs the same step jitted for one image at a time in a Python loop
over iterations and images. Both run `fraction` × `iterations` steps and their
rates are scaled to the full count (the kernel's rate also pays its one final
forward pass and restart choice, so the scaling slightly favours the loop). The loop's
per-image set-up (a fresh optimiser state) is timed apart and counted once per image.
Randomly initialised networks of the configured widths: only speed is measured,
not quality. The search is timed without the Poisson fill.

FLOPs of one image-iteration come from XLA's cost analysis of one batched step
(a loop's body is counted once by XLA, so the whole program's count is not used);
a first kernel call shorter than WARM_CALL_SECONDS is repeated and the second one timed;
the achieved FLOP/s are compared with a dense float32 matmul measured in the same
run (train_throughput's helpers).

Prints one JSON object on stdout (progress goes to stderr):
  images_per_s       {"iterations", "fraction", "iterations_run", "<S>px": {"<batch>": images/s}}
  loop_images_per_s  {"<S>px": images/s of the per-image loop, "images_timed"}
  speedup            {"batch", "<S>px": kernel / loop at that batch}
  speedup_at_ceiling {"<S>px": the speedup a kernel at the matmul ceiling would reach: the bound on this machine}
  flops_per_s        {"<S>px": {"flops_per_image_iteration", "achieved": {"<batch>": FLOP/s},
                      "fraction_of_ceiling": {...}}, "matmul_ceiling": FLOP/s, "matmul_size", "machine"}

    jaxpaint bench latent_search -- --fraction 0.005
"""

from __future__ import annotations

import json
import sys
import time

import numpy as np

from jaxpaint.benchmarks import format_machine, machine_info
from jaxpaint.benchmarks.torch_twins import inpainting_batch
from jaxpaint.benchmarks.train_throughput import matmul_ceiling, step_flops, time_calls


def add_arguments(parser) -> None:
    parser.add_argument("--sizes", type=int, nargs="+", default=[64, 128], help="image sizes (px)")
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 8, 64, 256], help="batch sizes of the kernel")
    parser.add_argument("--iterations", type=int, default=1000, help="search iterations the rates are scaled to")
    parser.add_argument("--fraction", type=float, default=1.0, help="share of the iterations actually run")
    parser.add_argument("--speedup-batch", type=int, default=64, help="batch whose kernel rate is compared with the loop")
    parser.add_argument("--loop-images", type=int, default=2, help="images the per-image loop runs (its rate is per image)")
    parser.add_argument("--latent-dim", type=int, default=100)
    parser.add_argument("--width", type=int, default=64, help="generator and discriminator width")
    parser.add_argument("--restarts", type=int, default=1)
    parser.add_argument("--preset", default="yeh")
    parser.add_argument("--matmul-size", type=int, default=2048, help="side of the square matmul for the ceiling")
    parser.add_argument("--seed", type=int, default=0)


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def networks(size: int, args):
    """Random-init G and D of the configured widths and their variables."""
    import jax
    import jax.numpy as jnp

    from jaxpaint.models.dcgan import DCGANGenerator
    from jaxpaint.models.discriminators import DCGANDiscriminator

    g = DCGANGenerator(latent_dim=args.latent_dim, image_size=size, width=args.width)
    d = DCGANDiscriminator(width=args.width)
    g_vars = jax.jit(lambda k: g.init(k, jnp.zeros((1, args.latent_dim)), train=False))(jax.random.key(args.seed))
    d_vars = jax.jit(lambda k: d.init(k, jnp.zeros((1, size, size, 3)), train=False))(jax.random.key(args.seed + 1))
    return g, d, g_vars, d_vars


WARM_CALL_SECONDS = 10.0  # a first call shorter than this is repeated: its ~0.4 s start-up cost would weigh


def kernel_rate(g, d, g_vars, d_vars, settings, batch: dict, seed: int) -> float:
    """Seconds of one call of the compiled kernel on the batch (compiled beforehand, not timed; a short
    first call is taken as the warm-up and a second one timed)."""
    import jax

    from jaxpaint.ops import latent_search as ls

    kernel = ls.make_search(g, d, settings, g.latent_dim)
    keys = ls.image_keys(jax.random.key(seed), 0, len(batch["image"]))
    args = (g_vars, d_vars, batch["image"], batch["hole"], keys)
    compiled = kernel.lower(*args).compile()
    seconds = time_calls(compiled, args, 1)
    return seconds if seconds >= WARM_CALL_SECONDS else time_calls(compiled, args, 1)


def loop_seconds(g, d, g_vars, d_vars, settings, batch: dict, seed: int) -> tuple[float, float]:
    """Seconds of the per-image loop: (per-image set-up, the steps), where each image gets a fresh
    optimiser state, then `settings.iterations` calls of the jitted one-image step. They are apart
    so that scaling a short run to the full count multiplies the steps only."""
    import jax

    from jaxpaint.ops import latent_search as ls

    step = jax.jit(ls.make_step(g, d, settings))
    weights = ls.context_weights(batch["hole"], settings)
    z0 = ls.initial_z(ls.image_keys(jax.random.key(seed), 0, len(batch["image"])), settings.restarts, g.latent_dim, settings)
    first = (g_vars, d_vars, z0[0], ls.init_optimizer(settings, z0[0]), batch["image"][0], weights[0])
    jax.block_until_ready(step(*first))  # compile
    setup = steps = 0.0
    for image, w, z in zip(batch["image"], weights, z0):
        start = time.perf_counter()
        opt_state = jax.block_until_ready(ls.init_optimizer(settings, z))
        middle = time.perf_counter()
        for _ in range(settings.iterations):
            z, opt_state = step(g_vars, d_vars, z, opt_state, image, w)
        jax.block_until_ready(z)
        setup, steps = setup + middle - start, steps + time.perf_counter() - middle
    return setup, steps


def flops_per_image_iteration(g, d, g_vars, d_vars, settings, batch: dict) -> float:
    """XLA's FLOP count of one step vmapped over a batch, per image."""
    import jax

    from jaxpaint.ops import latent_search as ls

    step = jax.vmap(ls.make_step(g, d, settings), in_axes=(None, None, 0, 0, 0, 0))
    weights = ls.context_weights(batch["hole"], settings)
    z = ls.initial_z(ls.image_keys(jax.random.key(0), 0, len(batch["image"])), settings.restarts, g.latent_dim, settings)
    compiled = jax.jit(step).lower(g_vars, d_vars, z, ls.init_optimizer(settings, z), batch["image"], weights).compile()
    return step_flops(compiled) / len(batch["image"])


def run(args) -> dict:
    from jaxpaint.errors import JaxpaintError
    from jaxpaint.ops import latent_search as ls

    if not 0 < args.fraction <= 1:
        raise JaxpaintError(f"bench latent_search: --fraction {args.fraction} must be in (0, 1]")
    run_iterations = max(1, round(args.fraction * args.iterations))
    scale = args.iterations / run_iterations  # seconds measured -> seconds for the full search
    settings = ls.make_settings(args.preset, iterations=run_iterations, restarts=args.restarts, blend=False)
    info = machine_info()
    log(f"machine: {format_machine(info)}")
    log(f"{args.preset} search, {run_iterations} of {args.iterations} iterations run (fraction {args.fraction}), "
        f"{args.restarts} restart(s), latent {args.latent_dim}, width {args.width}")

    images_per_s = {"iterations": args.iterations, "fraction": args.fraction, "iterations_run": run_iterations}
    loop_per_s = {"images_timed": args.loop_images}
    speedup = {"batch": args.speedup_batch}
    flops = {}
    for size in args.sizes:
        key = f"{size}px"
        g, d, g_vars, d_vars = networks(size, args)
        per_image = flops_per_image_iteration(g, d, g_vars, d_vars, settings, inpainting_batch(2, size, args.seed))
        rates, achieved = {}, {}
        for batch_size in args.batches:
            seconds = kernel_rate(g, d, g_vars, d_vars, settings, inpainting_batch(batch_size, size, args.seed), args.seed)
            rates[str(batch_size)] = batch_size / (seconds * scale)
            achieved[str(batch_size)] = per_image * batch_size * run_iterations / seconds
            log(f"  {key} batch {batch_size}: {rates[str(batch_size)]:.4f} images/s "
                f"({seconds:.2f} s for {run_iterations} iterations, {achieved[str(batch_size)] / 1e9:.1f} GFLOP/s)")
        setup, steps = loop_seconds(g, d, g_vars, d_vars, settings, inpainting_batch(args.loop_images, size, args.seed),
                                    args.seed)
        loop_per_s[key] = args.loop_images / (setup + steps * scale)
        log(f"  {key} per-image loop: {loop_per_s[key]:.4f} images/s ({steps:.2f} s of steps and {setup:.2f} s of "
            f"set-up for {args.loop_images} images; {1000 * steps / (args.loop_images * run_iterations):.1f} ms a step)")
        images_per_s[key] = rates
        if str(args.speedup_batch) in rates:
            speedup[key] = rates[str(args.speedup_batch)] / loop_per_s[key]
        flops[key] = {"flops_per_image_iteration": per_image, "achieved": achieved}

    ceiling = matmul_ceiling(args.matmul_size)
    speedup_at_ceiling = {}
    for key in args.sizes:
        entry = flops[f"{key}px"]
        entry["fraction_of_ceiling"] = {b: v / ceiling["matmul_flops_per_s"] for b, v in entry["achieved"].items()}
        # The most any batch can gain on this machine: the kernel at the matmul ceiling against the loop.
        at_ceiling = ceiling["matmul_flops_per_s"] / (entry["flops_per_image_iteration"] * args.iterations)
        speedup_at_ceiling[f"{key}px"] = at_ceiling / loop_per_s[f"{key}px"]
    flops.update({"matmul_ceiling": ceiling["matmul_flops_per_s"], "matmul_size": args.matmul_size,
                  "machine": format_machine(info)})
    log(f"  ceiling: {args.matmul_size}² float32 matmul at {ceiling['matmul_flops_per_s'] / 1e9:.1f} GFLOP/s")
    figures = {"images_per_s": images_per_s, "loop_images_per_s": loop_per_s, "speedup": speedup,
               "speedup_at_ceiling": speedup_at_ceiling, "flops_per_s": flops}
    print(json.dumps(figures))
    return figures
