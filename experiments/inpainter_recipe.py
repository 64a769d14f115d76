#!/usr/bin/env python3
"""The U-Net recipe candidates on LSPET, trained for the same number of steps side by side, and their
validation DSSIM against the minutes each run took (the candidates differ in cost a step).

    python experiments/inpainter_recipe.py train --data-dir DATA --out runs/recipe --steps 600 \\
        [--parallel 3] [NAME ...]
    python experiments/inpainter_recipe.py plot --out docs/figures/unet_recipe_lspet.png runs/recipe/*

`train` runs `jaxpaint train --config unet:lspet` with each candidate's overrides (all of them when no
NAME is given), `--parallel` at a time; runs started together share the CPU, so compare only runs
trained in the same batch. `plot` draws every run's validation block DSSIM against the minutes since
it started (writers.jsonl) and prints each run's last validation.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

# name -> overrides of unet:lspet. "baseline" is unet:lspet itself.
CANDIDATES = {
    "baseline": [],
    "ssim": ["--config.loss.ssim_weight=1"],
    "ssim3": ["--config.loss.ssim_weight=3"],
    "ema_cosine": ["--config.optim.ema_decay=0.995", "--config.optim.decay=cosine"],
    "fourier": ["--config.model.fourier_blocks=2"],
    "ssim_fourier": ["--config.loss.ssim_weight=1", "--config.model.fourier_blocks=2"],
    "fill_once": ["--config.model.fill_once=True"],
    "width24": ["--config.model.width=24"],
}


def train_commands(names, data_dir: str, out: Path, steps: int) -> dict[str, list[str]]:
    every = max(steps // 4, 1)
    # The CLI of this interpreter's environment, found without relying on PATH.
    common = [sys.executable, "-m", "jaxpaint.cli", "train", "--config", "unet:lspet", f"--config.data.data_dir={data_dir}",
              f"--config.num_steps={steps}", f"--config.eval_every={every}",
              f"--config.checkpoint_every={2 * every}", f"--config.preview_every={steps}"]
    return {name: common + CANDIDATES[name] + ["--workdir", str(out / name)] for name in names}


def train(args) -> int:
    unknown = sorted(set(args.names) - set(CANDIDATES))
    if unknown:
        print(f"unknown candidates {unknown}; choose from {', '.join(CANDIDATES)}", file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    commands = list(train_commands(args.names or list(CANDIDATES), args.data_dir, args.out, args.steps).items())
    failed = []
    for start in range(0, len(commands), args.parallel):
        running = []
        for name, command in commands[start:start + args.parallel]:
            log = open(args.out / f"{name}.log", "w")
            print(f"{name}: {' '.join(command)}")
            running.append((name, subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT), log))
        for name, process, log in running:
            if process.wait():
                failed.append(name)
            log.close()
    if failed:
        print(f"failed: {', '.join(failed)} (see their .log files in {args.out})", file=sys.stderr)
    return 1 if failed else 0


def read_run(workdir: Path) -> tuple[list[dict], float]:
    """A run's metrics records and its first start (Unix time)."""
    records = [json.loads(line) for line in (workdir / "metrics.jsonl").read_text().splitlines() if line.strip()]
    writers = [json.loads(line) for line in (workdir / "writers.jsonl").read_text().splitlines() if line.strip()]
    return records, min(w["started"] for w in writers)


def plot(args) -> int:
    from jaxpaint.report.curves import plot_validation

    runs, started = {}, {}
    for workdir in args.runs:
        if not (workdir / "metrics.jsonl").is_file() or not (workdir / "writers.jsonl").is_file():
            print(f"{workdir}: not a training run (no metrics.jsonl or writers.jsonl)", file=sys.stderr)
            return 2
        runs[workdir.name], started[workdir.name] = read_run(workdir)
    plot_validation(runs, args.out, key_part="block_dssim", started=started)
    print(f"| run | steps | minutes | val block DSSIM | val block MSE |\n|---|---|---|---|---|")
    for name, records in runs.items():
        last = [r for r in records if r["split"] == "val"][-1]
        minutes = (last["time"] - started[name]) / 60
        print(f"| {name} | {last['step']} | {minutes:.1f} | {last['metrics']['block_dssim']:.4f} | "
              f"{last['metrics']['block_mse']:.4f} |")
    print(f"figure: {args.out}")
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    t = sub.add_parser("train", help="train candidates of unet:lspet")
    t.add_argument("--data-dir", required=True)
    t.add_argument("--out", type=Path, required=True)
    t.add_argument("--steps", type=int, default=600)
    t.add_argument("--parallel", type=int, default=1)
    t.add_argument("names", nargs="*")
    p = sub.add_parser("plot", help="validation DSSIM against minutes, one line a run")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("runs", type=Path, nargs="+")
    args = parser.parse_args(argv)
    return train(args) if args.command == "train" else plot(args)


if __name__ == "__main__":
    sys.exit(main())
