"""`jaxpaint evaluate`: score a method on a dataset split (thesis Table 3 columns plus PCK)."""

from __future__ import annotations

import functools
import json
import math
from pathlib import Path

from jaxpaint.data.loader import resolve_dataset
from jaxpaint import releases
from jaxpaint.errors import JaxpaintError


def register(subparsers) -> None:
    p = subparsers.add_parser("evaluate", help="score a method on a dataset split")
    p.add_argument("--method", required=True, help="method name, e.g. context_encoder, holes, diffusion")
    p.add_argument("--workdir", required=True, help="the method's training run (results go to WORKDIR/eval_SPLIT)")
    p.add_argument("--data-dir", required=True, help="directory the dataset was built into")
    p.add_argument("--dataset", help="dataset config name (default: the run's, or the only one in --data-dir)")
    p.add_argument("--split", default="test")
    p.add_argument("--pose-model", help="a released pose evaluator's name (jaxpaint models) or a trained pose-evaluator run, for WNJD and PCK")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--limit", type=int, help="score only the first N batches")
    p.add_argument("--out", help="output folder (default WORKDIR/eval_SPLIT)")
    # Extra `--config.key=value` arguments change the restored run's config for inference,
    # e.g. --config.inpaint.blend=poisson.
    p.set_defaults(func=run, accepts_overrides=True)


def method_setup(method: str, workdir: str, data_dir: str, dataset: str | None, overrides=()):
    """(inpainter, dataset name) for a method: restores a trained run, or configures a baseline."""
    import ml_collections

    from jaxpaint.config import apply_overrides
    from jaxpaint.data import loader
    from jaxpaint.inference import load_inpainter
    from jaxpaint.methods import get_inpainting_method, is_trainable

    module = get_inpainting_method(method)
    if is_trainable(module):
        from jaxpaint.config import check_config
        from jaxpaint.inference import restore_run, saved_config

        saved = saved_config(workdir)
        if saved.get("method") != method:
            raise JaxpaintError(f"--workdir {workdir} holds a {saved.get('method')!r} run, not {method!r}")
        check_config(apply_overrides(saved, overrides), f"{Path(workdir) / 'config.json'} with the overrides")
        run_config, state = restore_run(workdir)
        dataset = resolve_dataset(data_dir, dataset, run_config)
        return module.make_inpainter(apply_overrides(run_config, overrides), state), dataset
    dataset = resolve_dataset(data_dir, dataset)
    mean_rgb = loader.mean_color(loader.open_split(data_dir, dataset, "train"))
    # A method with settings of its own (patch synthesis) starts from them, so that overrides can change them.
    config = module.default_config() if hasattr(module, "default_config") else ml_collections.ConfigDict({"method": method})
    config.data = {"mean_rgb": [float(c) for c in mean_rgb]}
    return load_inpainter(method, config=apply_overrides(config, overrides)), dataset


# The pose evaluator is loaded once per process (as LPIPS is, by load_lpips): a job that evaluates
# several methods (the main job, a suite) compiles the pose network once, not once per method.
@functools.lru_cache(maxsize=4)
def loaded_pose_evaluator(folder: str, version: tuple):
    """The pose evaluator of `folder` at `version` (folder_version: a retrained run is loaded anew)."""
    from jaxpaint.pose_evaluator import PoseEvaluator

    return PoseEvaluator.load(folder)


def folder_version(folder) -> tuple:
    """What changes when a run folder gets a new checkpoint or a release gets new weights."""
    from jaxpaint.engine.checkpoint import CHECKPOINT_DIR, WEIGHTS_FILE

    stamps = []
    for path in (Path(folder) / CHECKPOINT_DIR, Path(folder) / WEIGHTS_FILE):
        stamps.append(path.stat().st_mtime_ns if path.exists() else None)
    return tuple(stamps)


WORST_GRID = "worst_wnjd.png"  # the test images of highest WNJD, with the pose found on the output
ORIGINAL = "original (unmasked)"  # the label of the unmasked originals' row


def evaluate_method(method, workdir, data_dir, dataset=None, split="test", pose_model=None,
                    batch_size=64, limit=None, out=None, overrides=(), with_evaluation=False, lpips=True):
    """Runs the evaluation and writes results.json, results.md and grid PNGs; returns the results
    (and the Evaluation, with its sample images, when `with_evaluation`). `lpips=False` leaves LPIPS out."""
    from jaxpaint.data import loader
    from jaxpaint.evaluation import SE_KEYS, evaluate_batches, table_row
    from jaxpaint.metrics.lpips import load_lpips
    from jaxpaint.report.grids import save_grid
    from jaxpaint.report.tables import results_markdown

    inpainter, dataset = method_setup(method, workdir, data_dir, dataset, overrides)
    label = " ".join([method, *(o.removeprefix("--config.") for o in overrides)])
    pose_evaluator = loaded_pose_evaluator(str(Path(pose_model).resolve()), folder_version(pose_model)) if pose_model else None
    source = loader.open_split(data_dir, dataset, split)
    ds = loader.batch_dataset(source, batch_size, seed=0, shuffle=False, drop_remainder=False)
    num_batches = len(ds) if limit is None else min(limit, len(ds))
    evaluation, originals = evaluate_batches(
        inpainter, (ds[i] for i in range(num_batches)), pose_evaluator, total=num_batches, desc=f"evaluate {label}",
        lpips=load_lpips() if lpips else None,
    )
    out_dir = Path(out or Path(workdir) / f"eval_{split}")
    out_dir.mkdir(parents=True, exist_ok=True)
    # Standard errors come from the rounded per-image scores that results.json keeps, so that a table
    # rebuilt from the file (a suite's reused evaluation) shows the same digits.
    per_image = _rounded(evaluation.per_image)
    original_per_image = _rounded(originals.per_image) if originals is not None else None
    row = table_row(label, evaluation.means(), per_image)
    results = {
        "method": label,
        "dataset": dataset,
        "split": split,
        "num_images": int(len(evaluation.per_image["mse"])),
        "pose_model": pose_model,
        "means": evaluation.means(),
        "standard_errors": {k: row[f"{k}_se"] for k in SE_KEYS if f"{k}_se" in row},
        "original": table_row(ORIGINAL, originals.means(), original_per_image) if originals is not None else None,
        "per_image": per_image,
        "original_per_image": original_per_image,
    }
    rows = [row] + ([results["original"]] if originals is not None else [])
    _write_json_atomic(out_dir / "results.json", results)
    note = (f"{results['num_images']} images of {dataset}/{split}; per-block scores averaged per image, then over images."
            + (" LPIPS on the whole composite." if "lpips_vgg" in evaluation.per_image else "")
            + (f" Pose model: {pose_model}." if pose_model else ""))
    _write_text_atomic(out_dir / "results.md", results_markdown(rows, title=f"{label} on {dataset} {split}", note=note))
    save_grid(out_dir / "grid.png", evaluation.samples)
    if evaluation.worst:
        save_grid(out_dir / WORST_GRID, evaluation.worst, scale=2)
    print(f"results: {out_dir / 'results.md'}")
    return (results, evaluation) if with_evaluation else results


def _rounded(per_image: dict) -> dict:
    return {k: [round(float(x), 6) for x in v] for k, v in per_image.items()}


def _write_text_atomic(path: Path, text: str) -> None:
    from jaxpaint.data.images import write_bytes_atomic

    write_bytes_atomic(path, text.encode())


def _write_json_atomic(path: Path, obj) -> None:
    _write_text_atomic(path, json.dumps(_finite(obj), indent=1, allow_nan=False) + "\n")


def _finite(obj):
    """JSON has no NaN or infinity: they become null."""
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_finite(v) for v in obj]
    return None if isinstance(obj, float) and not math.isfinite(obj) else obj


def check_arguments(args) -> None:
    """Numbers, the method and paths, before anything is read or written."""
    from jaxpaint.data.images import check_output_path
    from jaxpaint.methods import get_inpainting_method

    for flag, value in (("--batch-size", args.batch_size), ("--limit", args.limit)):
        if value is not None and value <= 0:
            raise JaxpaintError(f"{flag} must be a positive integer, got {value}")
    get_inpainting_method(args.method)
    workdir = Path(args.workdir)
    if workdir.exists() and not workdir.is_dir():
        raise JaxpaintError(f"--workdir {workdir} is a file, not a folder")
    from jaxpaint.engine.checkpoint import is_weights_folder

    if args.out is None and is_weights_folder(workdir):
        raise JaxpaintError(f"--workdir {workdir} is a released model's folder; give --out for the results")
    if not Path(args.data_dir).is_dir():
        raise JaxpaintError(f"--data-dir {args.data_dir} is not a folder; build a dataset with `jaxpaint data build`")
    args.pose_model = releases.resolve(args.pose_model, "--pose-model")
    out = Path(args.out or workdir / f"eval_{args.split}")
    if out.exists() and not out.is_dir():
        raise JaxpaintError(f"--out {out} is a file; give a folder")
    # The default output folder lies inside the run's workdir; anything that would cover an input is refused.
    check_output_path(out, "--out", {"--workdir": workdir, "--data-dir": args.data_dir, "--pose-model": args.pose_model},
                      allow_inside=("--workdir",))
    if out.resolve().is_relative_to((workdir / "checkpoints").resolve()):
        raise JaxpaintError(f"--out {out} lies inside the run's checkpoints; choose another --out")


def run(args) -> int:
    check_arguments(args)
    results = evaluate_method(args.method, args.workdir, args.data_dir, args.dataset, args.split,
                              args.pose_model, args.batch_size, args.limit, args.out, args.overrides)
    print(open(Path(args.out or Path(args.workdir) / f"eval_{args.split}") / "results.md").read())
    return 0 if results["num_images"] else 1
