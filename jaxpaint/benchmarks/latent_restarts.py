"""Restarts against quality: the latent search with R random starting points (R = 1, 4, 16) on a trained DCGAN.

    jaxpaint bench latent_restarts --workdir runs/sii_lspet --data-dir DATA --num-images 64

For each R, the run's semantic inpainter (its config, `search.restarts` = R) completes the
first --num-images images of a split, and `jaxpaint.evaluation.evaluate_batches` scores the
composites per block, as `jaxpaint evaluate` does. Prints one JSON object: per R the mean
block DSSIM, MSE and PSNR and the seconds taken (compilation included: one per R).
Image i starts from the same key for every R; its R starting points are drawn from it.
"""

from __future__ import annotations

import json
import math
import sys
import time


def add_arguments(parser) -> None:
    parser.add_argument("--workdir", required=True, help="a trained semantic (DCGAN) run")
    parser.add_argument("--data-dir", required=True, help="directory the dataset was built into")
    parser.add_argument("--dataset", help="dataset config name (default: the run's)")
    parser.add_argument("--split", default="test")
    parser.add_argument("--num-images", type=int, default=64, help="score the first N images of the split")
    parser.add_argument("--restarts", type=int, nargs="+", default=[1, 4, 16], help="values of R to compare")
    parser.add_argument("--iterations", type=int, help="search iterations (default: the run's search.iterations)")
    parser.add_argument("--batch-size", type=int, help="images per compiled search (default: the run's batch size)")


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def first_images(source, batch_size: int, count: int) -> list[dict]:
    """The split's first `count` examples as batches of `batch_size` (the last one shorter)."""
    from jaxpaint.data import loader

    batches = loader.batch_dataset(source, batch_size, seed=0, shuffle=False, drop_remainder=False)
    out = []
    for start in range(0, count, batch_size):
        batch = batches[start // batch_size]
        out.append({k: v[: count - start] for k, v in batch.items()})
    return out


def check(args) -> None:
    from pathlib import Path

    from jaxpaint.errors import JaxpaintError

    for flag, value in (("--num-images", args.num_images), ("--iterations", args.iterations),
                        ("--batch-size", args.batch_size), *(("--restarts", r) for r in args.restarts)):
        if value is not None and value <= 0:
            raise JaxpaintError(f"bench latent_restarts: {flag} must be a positive integer, got {value}")
    if not Path(args.data_dir).is_dir():
        raise JaxpaintError(f"bench latent_restarts: --data-dir {args.data_dir} is not a folder")


def run(args) -> dict:
    from jaxpaint.benchmarks import format_machine, machine_info
    from jaxpaint.commands.evaluate import resolve_dataset
    from jaxpaint.data import loader
    from jaxpaint.errors import JaxpaintError
    from jaxpaint.evaluation import evaluate_batches
    from jaxpaint.methods import semantic
    from jaxpaint.train.checkpoint import load_config_json, restore_run

    check(args)
    if load_config_json(args.workdir).get("method") != "semantic":
        raise JaxpaintError(f"bench latent_restarts: --workdir {args.workdir} is not a semantic (DCGAN) run")
    config, state = restore_run(args.workdir)
    dataset = resolve_dataset(args.data_dir, args.dataset, config)
    source = loader.open_split(args.data_dir, dataset, args.split)
    count = min(args.num_images, len(source))
    with config.unlocked():
        if args.batch_size:
            config.batch_size = args.batch_size
        if args.iterations:
            config.search.iterations = args.iterations
    batches = first_images(source, int(config.batch_size), count)
    settings = semantic.search_settings(config)
    info = machine_info()
    log(f"machine: {format_machine(info)}")
    log(f"{count} images of {dataset}/{args.split}, {settings.iterations} iterations, "
        f"λ {settings.prior_weight}, batch {config.batch_size}")

    rows = []
    for restarts in args.restarts:
        with config.unlocked():
            config.search.restarts = restarts
        start = time.perf_counter()
        evaluation, _ = evaluate_batches(semantic.make_inpainter(config, state), batches, total=len(batches),
                                         desc=f"R={restarts}")
        seconds = time.perf_counter() - start
        means = {k: (v if math.isfinite(v) else None) for k, v in evaluation.means().items()}  # JSON has no inf
        rows.append({"restarts": restarts, "block_dssim": means["dssim"], "block_mse": means["mse"],
                     "block_psnr": means["psnr"], "seconds_with_compile": seconds})
        log(f"  R={restarts:3d}: DSSIM {means['dssim']:.4f}  MSE {means['mse']:.5f}  ({seconds:.1f} s with compilation)")
    figures = {"workdir": str(args.workdir), "dataset": dataset, "split": args.split, "num_images": count,
               "iterations": settings.iterations, "prior_weight": settings.prior_weight,
               "batch_size": int(config.batch_size), "rows": rows, "machine": format_machine(info)}
    print(json.dumps(figures))
    return figures
