"""Training throughput of the Context Encoder: images/s of one jitted train step (G and D updates).

Figures: images/s after warm-up, the step's FLOPs from XLA's cost analysis, the
achieved FLOP/s, and, measured in the same run on the same device, the FLOP/s of a
dense float32 matmul as the ceiling to compare with. The batch is synthetic (random
pixels and block holes), so the data pipeline is not part of the figure.

    jaxpaint bench train_throughput [-- --variant paper --batch-size 64 --steps 3]
"""

from __future__ import annotations

import time

import numpy as np

from jaxpaint.benchmarks import format_machine, machine_info


def add_arguments(parser) -> None:
    parser.add_argument("--variant", default="paper", help="experiments/configs/context_encoder.py variant")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--steps", type=int, default=3, help="timed steps after one warm-up step")
    parser.add_argument("--matmul-size", type=int, default=2048, help="side of the square matmul for the ceiling")
    parser.add_argument("--seed", type=int, default=0)


def synthetic_batch(batch_size: int, size: int, seed: int) -> dict[str, np.ndarray]:
    """Random float32 images in [-1, 1] with 1–4 square holes each, as the train step sees them."""
    rng = np.random.default_rng(seed)
    image = rng.uniform(-1.0, 1.0, (batch_size, size, size, 3)).astype(np.float32)
    hole = np.zeros((batch_size, size, size), bool)
    for b in range(batch_size):
        for _ in range(rng.integers(1, 5)):
            side = int(rng.integers(size // 20 + 1, size // 3))
            row, col = rng.integers(0, size - side, 2)
            hole[b, row:row + side, col:col + side] = True
    return {"image": image, "hole": hole}


def step_flops(compiled) -> float:
    """FLOPs of one call from XLA's cost analysis (a dict, or a list of one dict in older jax)."""
    analysis = compiled.cost_analysis()
    if isinstance(analysis, (list, tuple)):
        analysis = analysis[0]
    return float(analysis.get("flops", float("nan")))


def time_calls(fn, args, repeats: int) -> float:
    """Seconds per call, blocking on the result of each."""
    import jax

    start = time.perf_counter()
    for _ in range(repeats):
        jax.block_until_ready(fn(*args))
    return (time.perf_counter() - start) / repeats


def matmul_ceiling(n: int, repeats: int = 5) -> dict:
    """FLOP/s of an n×n float32 matmul on the default device (2n³ FLOPs a call)."""
    import jax
    import jax.numpy as jnp

    a = jax.random.normal(jax.random.key(1), (n, n), jnp.float32)
    b = jax.random.normal(jax.random.key(2), (n, n), jnp.float32)
    matmul = jax.jit(jnp.matmul)
    jax.block_until_ready(matmul(a, b))
    seconds = time_calls(matmul, (a, b), repeats)
    return {"matmul_size": n, "matmul_seconds": seconds, "matmul_flops_per_s": 2.0 * n**3 / seconds}


def run(args) -> dict:
    import jax

    from jaxpaint.config import load_config
    from jaxpaint.methods import context_encoder as ce

    config = load_config(f"context_encoder:{args.variant}")
    config.batch_size = args.batch_size
    size = int(config.data.image_size)
    batch = jax.device_put(synthetic_batch(args.batch_size, size, args.seed))
    state = ce.init_state(config, jax.random.key(args.seed), batch)

    step = jax.jit(lambda s, b: ce.train_step(config, s, b), donate_argnums=0)
    compile_start = time.perf_counter()
    compiled = step.lower(state, batch).compile()
    compile_seconds = time.perf_counter() - compile_start
    flops = step_flops(compiled)

    state, metrics = compiled(state, batch)  # warm-up
    jax.block_until_ready(metrics)
    start = time.perf_counter()
    for _ in range(args.steps):
        state, metrics = compiled(state, batch)
    jax.block_until_ready(metrics)
    seconds = (time.perf_counter() - start) / args.steps

    ceiling = matmul_ceiling(args.matmul_size)
    info = machine_info()
    figures = {
        "benchmark": "train_throughput",
        "method": "context_encoder",
        "variant": args.variant,
        "image_size": size,
        "batch_size": args.batch_size,
        "timed_steps": args.steps,
        "compile_seconds": compile_seconds,
        "seconds_per_step": seconds,
        "images_per_s": args.batch_size / seconds,
        "flops_per_step": flops,
        "achieved_flops_per_s": flops / seconds,
        **ceiling,
        "fraction_of_matmul_ceiling": flops / seconds / ceiling["matmul_flops_per_s"],
        "machine": info,
    }
    print(f"machine: {format_machine(info)}")
    print(f"context_encoder:{args.variant} train step, batch {args.batch_size} at {size} px: "
          f"{figures['images_per_s']:.2f} images/s ({seconds:.2f} s/step over {args.steps} steps, compile {compile_seconds:.1f} s)")
    print(f"  {flops / 1e9:.1f} GFLOP/step (XLA cost analysis) -> {figures['achieved_flops_per_s'] / 1e9:.1f} GFLOP/s achieved")
    print(f"  ceiling: {args.matmul_size}x{args.matmul_size} float32 matmul at {ceiling['matmul_flops_per_s'] / 1e9:.1f} GFLOP/s "
          f"-> {100 * figures['fraction_of_matmul_ceiling']:.0f}% of it")
    return figures
