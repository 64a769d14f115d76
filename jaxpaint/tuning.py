"""The thesis's Algorithm 1: tune one parameter at a time, keeping the best value of each.

Start from a method's default config. For each parameter in turn, train one trial per
value with every other parameter at its current choice, score each trial on the
validation split (lower is better: DSSIM), keep the best value, move on.

Each trial is its own training workdir, named after its overrides, so an interrupted
sweep started again resumes the unfinished trial (the trainer resumes by itself) and
never retrains a finished one. The same seed gives the same choices.

A method without training (patch synthesis) is tuned the same way: its trial inpaints the
first `eval_images` validation images of `data.dataset` in `data.data_dir` and writes their
block scores as the trial's one validation record (step 0); a method that refines a first
guess also records the guess's scores on the same images (`first_guess_block_dssim`, ...).

A sweep spec is a Python file in experiments/sweeps/ whose `get_sweep(variant)` returns
{"config": "context_encoder:lspet", "parameters": [["loss.lambda_rec", [0.8, ...]], ...],
 "metric": "block_dssim", "overrides": ["--config.num_steps=...", ...]}: the trial's score is
its last validation record of `metric` in metrics.jsonl (the methods log block DSSIM there).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Callable

from jaxpaint.config import import_file
from jaxpaint.errors import JaxpaintError

SWEEP_DIR = Path(__file__).resolve().parents[1] / "experiments" / "sweeps"
RESULT_FILE = "tune.json"


def load_sweep(spec: str) -> dict:
    """`file.py:variant` (a bare name means experiments/sweeps/<name>.py) -> the checked sweep dict."""
    path_part, _, variant = spec.partition(":")
    path = Path(path_part) if Path(path_part).suffix else SWEEP_DIR / f"{path_part}.py"
    if not path.is_file():
        raise JaxpaintError(f"sweep file {path} does not exist (from --sweep {spec!r})")
    module = import_file(path, "sweep", "get_sweep")
    try:
        sweep = module.get_sweep(variant) if variant else module.get_sweep()
    except KeyError as err:
        raise JaxpaintError(f"sweep {path}: unknown variant {variant!r} ({err})") from None
    for key in ("config", "parameters", "metric"):
        if key not in sweep:
            raise JaxpaintError(f"sweep {path}: get_sweep() must give {key!r}")
    for name, values in sweep["parameters"]:
        if not values:
            raise JaxpaintError(f"sweep {path}: parameter {name!r} has no values to try")
    sweep.setdefault("overrides", [])
    return sweep


def process_group() -> tuple[int, int]:
    """(this process's index, the number of processes) of the jax.distributed job the sweep runs in, from
    JAX_PROCESS_ID and JAX_NUM_PROCESSES (what `jax.distributed.initialize` reads); (0, 1) outside one."""
    import os

    count = int(os.environ.get("JAX_NUM_PROCESSES") or 1)
    index = int(os.environ.get("JAX_PROCESS_ID") or 0)
    if count < 1 or not 0 <= index < count:
        raise JaxpaintError(f"JAX_PROCESS_ID={index} is not a process of JAX_NUM_PROCESSES={count}")
    return index, count


def override(name: str, value) -> str:
    return f"--config.{name}={value!r}"


def trial_name(choices: dict) -> str:
    """A folder name that spells out the trial's parameter values, e.g. loss.lambda_rec=0.9,loss.overlap=4."""
    text = ",".join(f"{k}={v!r}" for k, v in choices.items())
    return re.sub(r"[^A-Za-z0-9_.,=+-]", "_", text) or "default"


def algorithm1(parameters: list, start: dict, score: Callable[[dict], float],
               on_step: Callable[[dict], None] = lambda record: None,
               score_many: Callable[[list[dict]], list[float]] | None = None) -> tuple[dict, list[dict]]:
    """Coordinate descent over `parameters` ([[name, values], ...]) from the `start` choices.

    `score(choices) -> float` trains and scores one trial (lower is better); ties keep the
    first value. The values of one parameter are independent trials: `score_many(list of
    choices) -> scores`, when given, scores them together (in parallel). Returns the final
    choices and one record per parameter: {"parameter", "values", "scores", "chosen"}.
    """
    score_many = score_many or (lambda trials: [score(c) for c in trials])
    choices, steps = dict(start), []
    for name, values in parameters:
        scores = list(score_many([{**choices, name: value} for value in values]))
        best = min(range(len(values)), key=lambda i: scores[i])
        choices[name] = values[best]
        record = {"parameter": name, "values": list(values), "scores": scores, "chosen": values[best]}
        steps.append(record)
        on_step(record)
    return choices, steps


INPAINT_STEP = 0  # the step of an inpainting trial's validation record
FIRST_GUESS = "first_guess_"  # prefix of the first guess's scores in a refining method's trial


def inpainting_trial(config, trial_dir: Path) -> dict[str, float]:
    """Scores a method without training on the first `config.eval_images` validation images and writes
    trial_dir/metrics.jsonl (written whole, once the images are done). Returns the record's metrics."""
    from jaxpaint.data import loader
    from jaxpaint.data.images import write_bytes_atomic
    from jaxpaint.evaluation import evaluate_batches
    from jaxpaint.inference import content_and_full_inpainters, load_inpainter
    from jaxpaint.methods import get_inpainting_method
    from jaxpaint.train.metrics_log import METRICS_FILE

    if not config.get("data") or not config.data.get("data_dir"):
        raise JaxpaintError(f"a {config.method} trial needs --config.data.data_dir (the built dataset's folder)")
    source = loader.open_split(config.data.data_dir, config.data.dataset, "validation")
    batch = loader.batch_dataset(source, int(config.eval_images), seed=0, shuffle=False, drop_remainder=False)[0]
    module = get_inpainting_method(config.method)
    if getattr(module, "NEEDS_CONTENT", False):  # the guess's inpainter is built once, for both
        inpainters = dict(zip((FIRST_GUESS, ""), content_and_full_inpainters(module, config)))
    else:
        inpainters = {"": load_inpainter(config.method, config=config)}
    metrics = {}
    for prefix, inpainter in inpainters.items():
        evaluation, _ = evaluate_batches(inpainter, [batch], desc=f"{trial_dir.name} {prefix or config.method}")
        metrics.update({f"{prefix}block_{k}": v for k, v in evaluation.means().items()})
    trial_dir.mkdir(parents=True, exist_ok=True)
    record = {"step": INPAINT_STEP, "split": "val", "metrics": metrics, "num_images": len(batch["image"])}
    write_bytes_atomic(trial_dir / METRICS_FILE, (json.dumps(record, sort_keys=True) + "\n").encode())
    return metrics


def first_guess_score(metrics_file: Path, metric: str) -> dict[str, float]:
    """{"first_guess": the first guess's `metric`} from an inpainting trial that recorded it, else {}."""
    from jaxpaint.train.metrics_log import read_metrics

    values = [r["metrics"][FIRST_GUESS + metric] for r in read_metrics(metrics_file)
              if r["split"] == "val" and FIRST_GUESS + metric in r["metrics"]]
    return {"first_guess": float(values[-1])} if values else {}


def plot_sweep(steps: list[dict], out_path: Path, metric: str, first_guess: float | None = None) -> Path:
    """One panel per parameter: the validation metric against its values, the chosen one marked (thesis Figs. 10–14);
    with `first_guess`, the first guess's score as a dashed line (a refining method should end below it)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(steps), figsize=(4 * len(steps), 3.2), squeeze=False)
    for ax, step in zip(axes[0], steps):
        positions = range(len(step["values"]))
        ax.plot(positions, step["scores"], marker="o")
        chosen = step["values"].index(step["chosen"])
        ax.plot([chosen], [step["scores"][chosen]], marker="*", markersize=14, color="tab:red", label="chosen")
        if first_guess is not None:
            ax.axhline(first_guess, color="tab:gray", linestyle="--", label="first guess")
        ax.set_xticks(list(positions), [str(v) for v in step["values"]])
        ax.set_xlabel(step["parameter"])
        ax.set_ylabel(f"validation {metric}")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    out_path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out_path, dpi=90)
    plt.close(fig)
    return out_path


def last_validation(metrics_file: Path, metric: str) -> float:
    """The last validation record's `metric` in a run's metrics.jsonl."""
    from jaxpaint.train.metrics_log import read_metrics

    values = [r["metrics"][metric] for r in read_metrics(metrics_file) if r["split"] == "val" and metric in r["metrics"]]
    if not values:
        raise JaxpaintError(f"{metrics_file}: no validation record of {metric!r}; does the method's eval_step give it?")
    return float(values[-1])


def write_json_atomic(path: Path, obj) -> None:
    from jaxpaint.data.images import write_bytes_atomic

    write_bytes_atomic(path, (json.dumps(obj, indent=1) + "\n").encode())
