"""Loss curves from a run's metrics.jsonl, one panel per metric, train and validation (thesis Fig. 9)."""

from __future__ import annotations

import math
from pathlib import Path


SPLIT_COLOURS = {"train": "tab:blue", "val": "tab:orange"}

# Readable panel titles for the names methods report; other metrics keep their own name.
TITLES = {
    "loss": "total (generator) loss",
    "rec_loss": "reconstruction loss",
    "adv_loss": "adversarial loss",
    "disc_loss": "discriminator loss",
}


def series(records: list[dict]) -> dict[str, dict[str, tuple[list[int], list[float]]]]:
    """{metric: {split: (steps, values)}} from metrics.jsonl records."""
    out: dict[str, dict[str, tuple[list[int], list[float]]]] = {}
    for record in records:
        for name, value in record.get("metrics", {}).items():
            steps, values = out.setdefault(name, {}).setdefault(record["split"], ([], []))
            steps.append(record["step"])
            values.append(value)
    return out


def panel_order(names) -> list[str]:
    known = [n for n in TITLES if n in names]
    return known + sorted(n for n in names if n not in TITLES)


def plot_curves(records: list[dict], out_path, *, title: str | None = None) -> Path | None:
    """Writes one PNG with a panel per metric; returns its path, or None when there is nothing to plot."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    data = series(records)
    if not data:
        return None
    names = panel_order(data)
    cols = min(3, len(names))
    rows = math.ceil(len(names) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.5 * cols, 3.2 * rows), squeeze=False)
    fit_margins(fig, rows, cols, top_inches=0.75 if title else 0.4)
    for ax, name in zip(axes.flat, names):
        for split, (steps, values) in sorted(data[name].items(), reverse=True):
            marker = "o" if len(steps) < 30 else None
            ax.plot(steps, values, marker=marker, markersize=3, label=split, color=SPLIT_COLOURS.get(split))
        ax.set_title(TITLES.get(name, name))
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    for ax in list(axes.flat)[len(names):]:
        ax.axis("off")
    if title:
        fig.suptitle(title)
    return save_figure(fig, out_path)


def fit_margins(fig, rows: int, cols: int, *, top_inches: float = 0.4) -> None:
    """Fixed margins, in inches, that leave room for each panel's title, tick labels and x label. Cheaper
    than `tight_layout`, which draws the figure once more only to measure its text (half of a plot's
    time, and training redraws its curves at every validation)."""
    width, height = fig.get_size_inches()
    fig.subplots_adjust(left=0.7 / width, right=1 - 0.2 / width, bottom=0.55 / height, top=1 - top_inches / height,
                        wspace=0.9 / (width / cols), hspace=0.95 / (height / rows))


def save_figure(fig, out_path) -> Path:
    """Writes the figure as PNG atomically (never half-written, never mixed with another writer's), then
    closes it."""
    import io

    import matplotlib.pyplot as plt

    from jaxpaint.data.images import write_bytes_atomic

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90)
    plt.close(fig)
    write_bytes_atomic(out_path, buffer.getvalue())
    return Path(out_path)


def plot_validation(runs: dict[str, list[dict]], out_path, *, key_part: str = "dssim",
                    started: dict[str, float] | None = None) -> Path | None:
    """One panel: each run's validation metric whose name contains `key_part` against the step (thesis
    Fig. 9's DSSIM against epochs, all methods together), or, given `started` (each run's start as a Unix
    time, writers.jsonl's "started"), against the minutes since its start, so that runs of different
    speeds compare at equal time. None when no run validates that metric."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    lines = {}
    for name, records in runs.items():
        val = [r for r in records if r.get("split") == "val"]
        for metric in {m for r in val for m in r.get("metrics", {}) if key_part in m}:
            points = [r for r in val if metric in r["metrics"]]
            xs = ([(r["time"] - started[name]) / 60.0 for r in points] if started is not None
                  else [r["step"] for r in points])
            lines[f"{name}: {metric}"] = (xs, [r["metrics"][metric] for r in points])
    if not lines:
        return None
    fig, ax = plt.subplots(figsize=(6, 3.6))
    fit_margins(fig, 1, 1)
    for label, (xs, values) in sorted(lines.items()):
        ax.plot(xs, values, marker="o", markersize=3, label=label)
    ax.set_xlabel("minutes since the run started" if started is not None else "step")
    ax.set_ylabel(f"validation {key_part}")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return save_figure(fig, out_path)
