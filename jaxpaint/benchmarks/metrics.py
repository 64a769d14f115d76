"""Block-scoring speed: `block_scores` on a test-set-sized batch, next to a scikit-image loop.

The data are random 128 px images with masks drawn by jaxpaint.data.masks (so
block counts and sizes follow the dataset's rules) and a prediction that differs
from the target inside and outside the blocks. The timed span starts with the
uint8 arrays in host memory, so it includes the host-to-device transfer, and
ends with the scores back on the host. The first call (compilation) is timed
separately. The reference scores the same blocks with the usual per-block loop:
scikit-image `structural_similarity` (Gaussian window; blocks under 11 px,
which it refuses, with its 7 px uniform window) plus numpy MSE and PSNR; it is
timed on a subset and extrapolated linearly to all images.
"""

from __future__ import annotations

import time

import numpy as np

from jaxpaint.benchmarks import format_machine, machine_info


def add_arguments(parser) -> None:
    parser.add_argument("--num-images", type=int, default=6160, help="images scored (the thesis's test-set size)")
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--ssim", choices=("windows", "gaussian"), default="windows")
    parser.add_argument("--reference-images", type=int, default=100, help="images timed with the scikit-image loop")
    parser.add_argument("--repeats", type=int, default=3, help="timings of the jitted scorer (best and median reported)")
    parser.add_argument("--seed", type=int, default=0)


def make_data(num_images: int, size: int, seed: int):
    from jaxpaint.data.masks import sample_blocks

    rng = np.random.default_rng(seed)
    target = rng.integers(0, 256, (num_images, size, size, 3), dtype=np.uint8)
    noise = rng.integers(-40, 41, target.shape, dtype=np.int16)
    pred = np.clip(target + noise, 0, 255).astype(np.uint8)
    blocks = np.zeros((num_images, 10, 3), np.int32)
    num_blocks = np.zeros(num_images, np.int32)
    for i in range(num_images):
        drawn = sample_blocks(rng, size, size)
        blocks[i, : len(drawn)] = drawn
        num_blocks[i] = len(drawn)
    return pred, target, blocks, num_blocks


def reference_loop(pred, target, blocks, num_blocks) -> None:
    """The per-block scikit-image/numpy computation the jitted scorer replaces."""
    from skimage.metrics import peak_signal_noise_ratio, structural_similarity

    for i in range(len(pred)):
        for r, c, s in blocks[i, : num_blocks[i]]:
            p = pred[i, r : r + s, c : c + s] / 255.0
            t = target[i, r : r + s, c : c + s] / 255.0
            np.mean((p - t) ** 2)
            peak_signal_noise_ratio(t, p, data_range=1)
            if s >= 11:
                structural_similarity(p, t, gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=1, channel_axis=-1)
            else:
                structural_similarity(p, t, win_size=7, data_range=1, channel_axis=-1)


def run(args) -> dict:
    from jaxpaint.metrics.image import block_scores

    info = machine_info()
    pred, target, blocks, num_blocks = make_data(args.num_images, args.size, args.seed)
    print(f"{args.num_images} images at {args.size} px, {int(num_blocks.sum())} blocks; SSIM {args.ssim}")

    start = time.perf_counter()
    block_scores(pred, target, blocks, num_blocks, ssim=args.ssim)
    first = time.perf_counter() - start
    timings = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        block_scores(pred, target, blocks, num_blocks, ssim=args.ssim)
        timings.append(time.perf_counter() - start)

    n_ref = min(args.reference_images, args.num_images)
    start = time.perf_counter()
    reference_loop(pred[:n_ref], target[:n_ref], blocks[:n_ref], num_blocks[:n_ref])
    ref_seconds = (time.perf_counter() - start) * args.num_images / n_ref

    best, median = min(timings), float(np.median(timings))
    figures = {
        "benchmark": "metrics",
        "num_images": args.num_images,
        "size": args.size,
        "ssim": args.ssim,
        "num_blocks": int(num_blocks.sum()),
        "first_call_s": first,
        "jax_best_s": best,
        "jax_median_s": median,
        "jax_images_per_s": args.num_images / best,
        "reference": "scikit-image structural_similarity + numpy MSE/PSNR, per block",
        "reference_images_timed": n_ref,
        "reference_extrapolated_s": ref_seconds,
        "speedup": ref_seconds / best,
        "machine": info,
    }
    print(f"jaxpaint block_scores: best {best:.2f} s, median {median:.2f} s over {args.repeats} runs "
          f"({args.num_images / best:.0f} images/s); first call with compilation {first:.2f} s")
    print(f"scikit-image loop: {ref_seconds:.1f} s extrapolated from {n_ref} images; speed-up {ref_seconds / best:.0f}x")
    print(f"machine: {format_machine(info)}")
    return figures
