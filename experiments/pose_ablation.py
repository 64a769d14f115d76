#!/usr/bin/env python3
"""The from-scratch pose-aware ablation's table, read from a Table 3 suite folder: each row's DSSIM, MSE,
LPIPS, WNJD and PCK, their paired differences from the plain row on the same test crops (mean ± standard
error of the per-crop difference), its steps and its training minutes.

    python experiments/pose_ablation.py runs/table3_vgg [--rows scratch_plain,scratch_pose,...] \\
        [--reference scratch_plain]
    python experiments/pose_ablation.py runs/table3_full --rows unet_released,full_pose,full_cond,full_pose_cond \\
        --reference unet_released [--plot docs/figures/pose_ablation_full.png]

The suite's entries scratch_plain, scratch_pose, scratch_cond and scratch_pose_cond (experiments/suites/
table3.py) train γ ∈ {0, 4} × heatmap inputs {off, on} from scratch at equal wall-clock; run them with
`jaxpaint run --suite table3 --source lspet --pose-model POSE_RUN --entries scratch_plain,...` first. The
entries full_pose, full_cond and full_pose_cond do the same at the plain run's whole budget, against the
released `unet:lspet` (the entry unet_released), which a row may name as its reference.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from jaxpaint import releases
from jaxpaint.evaluation import mean_se, paired_difference
from jaxpaint.train.metrics_log import METRICS_FILE, WRITERS_FILE, read_metrics

ROWS = "scratch_plain,scratch_pose,scratch_cond,scratch_pose_cond"
PAIRED = ("dssim", "wnjd")


def training(run: Path) -> tuple[int, float]:
    """(last step, minutes from the first start to the last logged record) of a run folder."""
    records, writers = read_metrics(run / METRICS_FILE), read_metrics(run / WRITERS_FILE)
    return max(r["step"] for r in records), (max(r["time"] for r in records) - min(w["started"] for w in writers)) / 60.0


def trained_row(suite: Path, name: str) -> tuple[dict, int, float | None]:
    """(config, steps, training minutes) of a row: its run in the suite folder, or, for an entry that scores a
    released model (`release`), the release's config and steps (its card keeps no training time: None)."""
    run = suite / "runs" / name
    if run.is_dir():
        return json.loads((run / "config.json").read_text()), *training(run)
    entries = json.loads((suite / "results.json").read_text())["entries"]
    release = next((e["release"] for e in entries if e["name"] == name and e.get("release")), None)
    if release is None:
        raise SystemExit(f"{suite}: {name} is neither a run in runs/ nor a released model among the suite's entries")
    folder = releases.folder(release)
    return json.loads((folder / "config.json").read_text()), releases.read_card(folder)["steps"], None


def pose_network(config: dict) -> str:
    """The last part of pose.workdir (a released name or a run folder) when a pose option is on, else "–"."""
    used = config["loss"].get("pose_weight", 0.0) or config["model"].get("pose_condition", False)
    workdir = (config.get("pose") or {}).get("workdir", "")
    return Path(workdir).name if used and workdir else "–"


def pose_from_step(config: dict) -> str:
    """The step the pose term starts at (loss.pose_start_step; 0 for runs before the field), or "–" at γ = 0."""
    if not config["loss"].get("pose_weight", 0.0):
        return "–"
    return str(int(config["loss"].get("pose_start_step", 0) or 0))


def rows(suite: Path, names: list[str], reference: str) -> list[dict]:
    results = {name: json.loads((suite / "eval" / name / "results.json").read_text()) for name in names}
    base = results[reference]["per_image"]
    out = []
    for name in names:
        config, steps, minutes = trained_row(suite, name)
        per_image = results[name]["per_image"]
        row = {"name": name, "pose_weight": config["loss"].get("pose_weight", 0.0),
               "pose_condition": config["model"].get("pose_condition", False),
               "pose_network": pose_network(config), "pose_from_step": pose_from_step(config),
               "images": results[name]["num_images"], **results[name]["means"]}
        row["wnjd_se"], row["pck_se"] = mean_se(per_image["wnjd"])[1], mean_se(per_image["pck"])[1]
        for key in PAIRED:
            row[f"{key}_vs_plain"], row[f"{key}_vs_plain_se"] = paired_difference(per_image[key], base[key])
        row["steps"], row["minutes"] = steps, minutes
        out.append(row)
    return out


def markdown(table: list[dict], reference: str) -> str:
    lines = ["| pose network | γ | γ from step | heatmap inputs | steps | minutes | DSSIM ↓ | ΔDSSIM | MSE ↓ "
             "| LPIPS (VGG) ↓ | WNJD ↓ | ΔWNJD | PCK@0.2 ↑ |", "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in table:
        delta = (lambda k: "–") if r["name"] == reference else (
            lambda k: f"{r[f'{k}_vs_plain']:+.4f} ± {r[f'{k}_vs_plain_se']:.4f}")
        minutes = "–" if r["minutes"] is None else f"{r['minutes']:.1f}"
        inputs = "yes" if r["pose_condition"] else "–"
        lines.append(f"| {r['pose_network']} | {r['pose_weight']:g} | {r['pose_from_step']} | {inputs} | {r['steps']} | "
                     f"{minutes} | {r['dssim']:.4f} | {delta('dssim')} | {r['mse']:.4f} | {r['lpips_vgg']:.4f} | "
                     f"{r['wnjd']:.4f} ± {r['wnjd_se']:.4f} | {delta('wnjd')} | {r['pck']:.3f} ± {r['pck_se']:.3f} |")
    return "\n".join(lines)


def row_label(row: dict) -> str:
    """The figure's label of a row: its pose network, γ, a late start when there is one, and heatmap inputs."""
    delayed = row["pose_from_step"] not in ("0", "–")
    return (f"{row['pose_network']}\nγ={row['pose_weight']:g}" + (f" from step {row['pose_from_step']}" if delayed else "")
            + (" + heatmaps" if row["pose_condition"] else ""))


def plot(table: list[dict], reference: str, path: Path) -> None:
    """ΔDSSIM and ΔWNJD of each row against the reference, with ±2 paired standard errors (the target's
    bar), one panel each; a bar whose interval clears zero is a resolved difference."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    others = [r for r in table if r["name"] != reference]
    labels = [row_label(r) for r in others]
    fig, axes = plt.subplots(1, len(PAIRED), figsize=(4.2 * len(PAIRED), 0.5 + 0.6 * len(others) + 0.8))
    for ax, key in zip(axes, PAIRED):
        values = [r[f"{key}_vs_plain"] for r in others]
        errors = [2 * r[f"{key}_vs_plain_se"] for r in others]
        ax.errorbar(values, range(len(others)), xerr=errors, fmt="o", capsize=4)
        ax.axvline(0.0, color="grey", lw=0.8)
        ax.set_yticks(range(len(others)), labels)
        ax.set_xlabel(f"Δ{key.upper()} vs {reference}\n(± 2 paired SE; lower is better)")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("suite", type=Path, help="the suite folder (its eval/ and runs/)")
    parser.add_argument("--rows", default=ROWS, help="entry names, the reference among them")
    parser.add_argument("--reference", default="scratch_plain", help="the row the others are paired with")
    parser.add_argument("--plot", type=Path, help="also draw the paired differences into this PNG")
    args = parser.parse_args(argv)
    names = [n.strip() for n in args.rows.split(",") if n.strip()]
    missing = [n for n in names if not (args.suite / "eval" / n / "results.json").is_file()]
    if missing or args.reference not in names:
        parser.error(f"{args.suite}: no evaluation of {', '.join(missing)}" if missing
                     else f"--reference {args.reference} is not among --rows")
    table = rows(args.suite, names, args.reference)
    print(markdown(table, args.reference))
    if args.plot:
        plot(table, args.reference, args.plot)
        print(f"figure: {args.plot}")


if __name__ == "__main__":
    main()
