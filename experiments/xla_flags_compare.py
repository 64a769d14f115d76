"""Does an XLA flag speed up the train steps? `jaxpaint bench train_throughput` run in fresh processes
with and without it (XLA reads its flags once per process), alternating, for each method.

Each run also times the method's PyTorch twin in the same process, so the JAX / PyTorch ratio of a run
cancels most of the shared VM's drift between runs; the table gives both JAX's images/s and that ratio,
as medians over the repeats.

    python experiments/xla_flags_compare.py --flag=--xla_cpu_use_fusion_emitters=false \\
        --methods unet hourglass --repeats 2 --out runs/xla_flags
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path


def run_bench(method: str, xla_flags: str, out: Path, bench_args: list[str]) -> dict:
    env = {**os.environ, "XLA_FLAGS": xla_flags}
    command = [sys.executable, "-m", "jaxpaint.cli", "bench", "train_throughput", "--out", str(out), "--",
               "--method", method, *bench_args]
    subprocess.run(command, env=env, check=True, stdout=subprocess.DEVNULL)
    return json.loads(out.read_text())


def summary_rows(results: dict[tuple[str, str], list[dict]], flag: str) -> list[str]:
    """Markdown rows: per method, the median images/s and JAX / PyTorch ratio without and with the flag."""
    rows = ["| method | config | JAX img/s without | with | JAX / PyTorch without | with | change in the ratio |",
            "|---|---|---|---|---|---|---|"]
    for method in dict.fromkeys(m for m, _ in results):
        base, flagged = results[(method, "")], results[(method, flag)]
        speed = [statistics.median(r["images_per_s"] for r in runs) for runs in (base, flagged)]
        ratio = [statistics.median(r.get("speedup_vs_torch", float("nan")) for r in runs) for runs in (base, flagged)]
        rows.append(f"| {method} | {base[0]['config']} | {speed[0]:.1f} | {speed[1]:.1f} | {ratio[0]:.2f} | "
                    f"{ratio[1]:.2f} | {100 * (ratio[1] / ratio[0] - 1):+.0f} % |")
    return rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--flag", required=True, help="the XLA flag to compare, as it goes in XLA_FLAGS")
    parser.add_argument("--methods", nargs="+", default=["context_encoder", "content_network", "unet", "dcgan",
                                                         "hourglass"])
    parser.add_argument("--repeats", type=int, default=2, help="runs with and without the flag, alternating")
    parser.add_argument("--out", type=Path, required=True, help="folder for each run's JSON and the table")
    parser.add_argument("bench_args", nargs=argparse.REMAINDER, help="after --: options for train_throughput")
    args = parser.parse_args(argv)
    bench_args = [a for a in args.bench_args if a != "--"]
    base_flags = os.environ.get("XLA_FLAGS", "")
    if args.flag.split("=")[0] in base_flags:
        parser.error(f"XLA_FLAGS already sets {args.flag.split('=')[0]}: unset it to compare")
    args.out.mkdir(parents=True, exist_ok=True)
    results: dict[tuple[str, str], list[dict]] = {}
    for method in args.methods:
        for repeat in range(args.repeats):
            for flag in ("", args.flag):
                name = f"{method}_{'with' if flag else 'without'}_{repeat}.json"
                figures = run_bench(method, f"{base_flags} {flag}".strip(), args.out / name, bench_args)
                results.setdefault((method, flag), []).append(figures)
                print(f"{method} {'with' if flag else 'without'} the flag, run {repeat + 1}: "
                      f"{figures['images_per_s']:.2f} images/s, JAX / PyTorch "
                      f"{figures.get('speedup_vs_torch', float('nan')):.2f}", flush=True)
    machine = next(iter(results.values()))[0]["machine"]
    text = "\n".join([f"`{args.flag}`, {args.repeats} runs each, alternating; machine: {machine}", "",
                      *summary_rows(results, args.flag)]) + "\n"
    (args.out / "table.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
