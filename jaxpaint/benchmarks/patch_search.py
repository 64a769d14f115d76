"""Nearest-patch search of Neural Patch Synthesis: FLOP/s against the matmul ceiling measured in the same run.

Prints one JSON object:
- `flops_per_s`: {feature-map side: FLOP/s} of `patch_nn.match` on random features
  with C channels (256, as relu3_1) and a centred square hole over a quarter of the
  map. The FLOPs are the search's matrix products, 2·B·capacity·N·D (capacity:
  query slots, N: keys, D = 9·C). The argmax, gathers and fold come on top, and are
  not counted.
- `matmul_flops_per_s`: a dense float32 matmul, measured in the same run (the ceiling).
- `fraction`: their ratio at the largest side.
- `loop_speedup`: a per-patch NumPy loop (score one query against every key, then
  argmax) over the batched search, on the smallest case.
- `seconds_per_image`: {image side: s} of the whole patch-synthesis method, when
  `--method-sizes` is given (default 128 and 256; the content network is the diffusion fill).
  Each size runs the method twice (a compiling warm-up, then the timed run). On 2
  CPU cores the 128 px one takes about 40 s an image (the whole benchmark about 4
  minutes); pass `--method-sizes` with no value to skip it. Sides above `--method-exact-up-to` (128) run the same method
  with fewer optimiser steps a level, k and 2k (`--method-measured-iterations`, 10), and
  the time is extrapolated linearly to the full count: t(k) + (n − k)·(t(2k) − t(k))/k,
  since everything but the steps (content guess, key banks, searches) is the same in both.
  `iterations_measured` says which sides were measured how, `seconds_per_image_note` how
  the figure was made.

    jaxpaint bench patch_search [-- --sizes 64 128 256 --channels 256 --tile 256]
"""

from __future__ import annotations

import json
import time

import numpy as np

from jaxpaint.benchmarks import machine_info
from jaxpaint.benchmarks.train_throughput import matmul_ceiling, time_calls


def add_arguments(parser) -> None:
    parser.add_argument("--sizes", type=int, nargs="+", default=[64, 128, 256], help="feature-map sides")
    parser.add_argument("--channels", type=int, default=256)
    parser.add_argument("--batch-size", type=int, default=1)
    parser.add_argument("--tile", type=int, default=256, help="queries scored per matrix product")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--loop-size", type=int, default=64, help="feature-map side of the per-patch loop case")
    parser.add_argument("--matmul-size", type=int, default=2048)
    parser.add_argument("--method-sizes", type=int, nargs="*", default=[128, 256], help="image sides for seconds_per_image")
    parser.add_argument("--method-iterations", type=int, default=100, help="optimiser steps per pyramid level")
    parser.add_argument("--method-exact-up-to", type=int, default=128,
                        help="image sides up to this run all --method-iterations; larger ones are extrapolated")
    parser.add_argument("--method-measured-iterations", type=int, default=10,
                        help="k: larger sides are timed at k and 2k steps a level and extrapolated")
    parser.add_argument("--seed", type=int, default=0)


def search_case(size: int, channels: int, batch: int, seed: int):
    """Random features and a centred square hole covering a quarter of the map."""
    rng = np.random.default_rng(seed)
    features = rng.normal(size=(batch, size, size, channels)).astype(np.float32)
    cells = np.zeros((batch, size, size), bool)
    cells[:, size // 4: size // 4 + size // 2, size // 4: size // 4 + size // 2] = True
    return features, cells


def time_search(size: int, channels: int, batch: int, tile: int, repeats: int, seed: int) -> dict:
    import jax
    import jax.numpy as jnp

    from jaxpaint.ops import patch_nn

    features, cells = search_case(size, channels, batch, seed)
    features, cells_j = jnp.asarray(features), jnp.asarray(cells)
    keys, valid = jax.jit(patch_nn.known_patches)(features, cells_j)
    capacity = patch_nn.query_capacity(cells, tile)
    run = lambda: patch_nn.match(features, cells_j, keys, valid, capacity=capacity, tile=tile)
    jax.block_until_ready(run())  # compile
    seconds = time_calls(lambda *_: run(), (), repeats)
    flops = 2.0 * batch * capacity * keys.shape[1] * keys.shape[2]
    return {"seconds": seconds, "flops": flops, "queries": capacity, "keys": int(keys.shape[1]),
            "patch_dim": int(keys.shape[2]), "result": run()}


def loop_search(features, cells):
    """The naive search: one query patch at a time, scored against every known patch."""
    from jaxpaint.ops import patch_nn

    grid = np.asarray(patch_nn.extract_patches(features, 3, 2))[0]
    touching = np.asarray(patch_nn.touches(cells, 3, 2))[0].reshape(-1)
    patches = grid.reshape(-1, grid.shape[-1])
    known = patches[~touching]
    known_unit = known / np.linalg.norm(known, axis=1, keepdims=True)
    known_index = np.flatnonzero(~touching)
    return np.array([known_index[np.argmax(known_unit @ patches[q])] for q in np.flatnonzero(touching)])


def method_seconds(size: int, iterations: int, seed: int) -> float:
    """Seconds per image of patch synthesis at `size` px, after a warm-up call (compiles) on the same batch."""
    import ml_collections

    from jaxpaint.benchmarks.torch_twins import inpainting_batch
    from jaxpaint.methods import baselines, patch_synthesis
    from jaxpaint.models import vgg
    from jaxpaint.ops.pixels import to_uint8

    batch = inpainting_batch(1, size, seed)
    images = np.asarray(to_uint8(batch["image"]))
    config = patch_synthesis.default_config()
    config.iterations = iterations
    config.progress = False
    content = baselines.make_inpainter(ml_collections.ConfigDict({"method": "diffusion"}))
    inpaint = patch_synthesis.make_inpainter(config, content, vgg.load_vgg16())
    inpaint(images, batch["hole"])
    start = time.perf_counter()
    inpaint(images, batch["hole"])
    return time.perf_counter() - start


def extrapolated_seconds(size: int, iterations: int, measured: int, seed: int) -> tuple[float, dict]:
    """Seconds per image at `iterations` steps a level from timed runs at k = `measured` and 2k steps."""
    short, double = method_seconds(size, measured, seed), method_seconds(size, 2 * measured, seed)
    per_step = max(double - short, 0.0) / measured
    return short + (iterations - measured) * per_step, {
        "timed_iterations": [measured, 2 * measured], "timed_seconds": [short, double],
        "seconds_per_iteration_all_levels": per_step}


def method_figures(args) -> dict:
    """seconds_per_image, iterations_measured and seconds_per_image_note for the --method-sizes."""
    seconds, measured = {}, {}
    for size in args.method_sizes:
        if size <= args.method_exact_up_to or args.method_measured_iterations * 2 >= args.method_iterations:
            seconds[str(size)] = method_seconds(size, args.method_iterations, args.seed)
            measured[str(size)] = {"timed_iterations": [args.method_iterations], "extrapolated": False}
        else:
            seconds[str(size)], how = extrapolated_seconds(size, args.method_iterations, args.method_measured_iterations,
                                                           args.seed)
            measured[str(size)] = {**how, "extrapolated": True}
    note = (f"one image, {args.method_iterations} L-BFGS steps a pyramid level, diffusion fill as content; sides up to "
            f"{args.method_exact_up_to} px timed in full, larger ones timed at k and 2k steps a level "
            f"(k = {args.method_measured_iterations}) and extrapolated linearly to {args.method_iterations}")
    return {"seconds_per_image": seconds, "iterations_measured": measured, "seconds_per_image_note": note}


def run(args) -> dict:
    import jax

    cases = {size: time_search(size, args.channels, args.batch_size, args.tile, args.repeats, args.seed)
             for size in args.sizes}
    ceiling = matmul_ceiling(args.matmul_size)

    # Per-patch loop against the batched search on the same small case (same indices, checked).
    features, cells = search_case(args.loop_size, args.channels, 1, args.seed)
    small = time_search(args.loop_size, args.channels, 1, args.tile, args.repeats, args.seed)
    start = time.perf_counter()
    loop_index = loop_search(features, cells)
    loop_seconds = time.perf_counter() - start
    valid = np.asarray(small["result"].query_valid[0])
    same = float(np.mean(loop_index == np.asarray(small["result"].indices[0])[valid]))

    largest = max(args.sizes)
    flops_per_s = {str(size): case["flops"] / case["seconds"] for size, case in cases.items()}
    figures = {
        "flops_per_s": flops_per_s,
        "matmul_flops_per_s": ceiling["matmul_flops_per_s"],
        "fraction": flops_per_s[str(largest)] / ceiling["matmul_flops_per_s"],
        "loop_speedup": loop_seconds / small["seconds"],
    }
    if args.method_sizes:
        figures.update(method_figures(args))
    figures["details"] = {
        "machine": machine_info(),
        "channels": args.channels,
        "batch_size": args.batch_size,
        "tile": args.tile,
        "cases": {str(size): {k: v for k, v in case.items() if k != "result"} for size, case in cases.items()},
        "matmul_size": args.matmul_size,
        "loop_case": {"size": args.loop_size, "loop_seconds": loop_seconds, "search_seconds": small["seconds"],
                      "same_indices": same},
        "method_iterations_per_level": args.method_iterations,
        "devices": str(jax.devices()),
    }
    print(json.dumps(figures))
    return figures
