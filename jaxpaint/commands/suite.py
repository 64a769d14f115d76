"""`jaxpaint run --suite NAME`: every method of a suite spec trained (or loaded) and scored on one test split.

A suite spec is experiments/suites/NAME.py (or a path) whose `get_suite(source)` returns
{"entries": [...], "published": [...], "pose": {"config", "overrides"}, and "build" (a dataset the
suite builds) or "dataset" (one built beforehand in --data-dir)}; experiments/suites/table3.py
documents the entry keys. Layout of the suite folder:

    data/               the built dataset (when the spec builds one and no --data-dir is given)
    pose/               the pose evaluator's run (unless --pose-model names one)
    runs/NAME/          each trained entry's run; a finished run is loaded, an unfinished one resumed
    eval/NAME/          each entry's results.json, grid.png, worst_wnjd.png, samples.npz, suite_eval.json
    figures/            loss curves, validation DSSIM, sweep plots, the side-by-side comparison
    results.md, results.json, report.html

An entry's evaluation is reused when its suite_eval.json matches what would be run again
(same entry, run step, pose model and image cap), so a second run neither trains nor scores again.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

import numpy as np

from jaxpaint.config import import_file
from jaxpaint import releases
from jaxpaint.errors import JaxpaintError

SUITE_DIR = Path(__file__).resolve().parents[2] / "experiments" / "suites"
ENTRY_KEYS = {"name", "method", "config", "release", "overrides", "eval_overrides", "dataset", "content",
              "max_test_images"}
GRID_IMAGES = 6  # test images in the side-by-side comparison (thesis Fig. 19)


def load_suite(spec: str, source: str) -> dict:
    """`name` (experiments/suites/<name>.py) or a path -> the checked suite for `source`."""
    path = Path(spec) if Path(spec).suffix else SUITE_DIR / f"{spec}.py"
    if not path.is_file():
        raise JaxpaintError(f"suite file {path} does not exist (from --suite {spec!r})")
    module = import_file(path, "suite", "get_suite")
    try:
        suite = module.get_suite(source)
    except KeyError as err:
        raise JaxpaintError(f"suite {path}: {err.args[0] if err.args else err}") from None
    return check_suite(suite, str(path))


def check_suite(suite: dict, where: str) -> dict:
    from jaxpaint.methods import get_inpainting_method, is_trainable

    entries = suite.get("entries") or []
    if not entries:
        raise JaxpaintError(f"suite {where}: no entries")
    if ("build" in suite) == ("dataset" in suite):
        raise JaxpaintError(f"suite {where}: give either 'build' (a dataset to build) or 'dataset' (a built one)")
    names = [e.get("name") for e in entries]
    for entry in entries:
        unknown = set(entry) - ENTRY_KEYS
        if unknown or not entry.get("name") or not entry.get("method"):
            raise JaxpaintError(f"suite {where}: entry {entry} needs 'name' and 'method'"
                                + (f"; unknown keys {sorted(unknown)}" if unknown else ""))
        module = get_inpainting_method(entry["method"])
        if entry.get("config") and entry.get("release"):
            raise JaxpaintError(f"suite {where}: entry {entry['name']!r}: give a 'config' to train or a 'release' "
                                "to load, not both")
        if is_trainable(module) != bool(entry.get("config") or entry.get("release")):
            need = ("needs a 'config' (file:variant) or a 'release'" if is_trainable(module)
                    else "trains nothing: drop 'config' and 'release'")
            raise JaxpaintError(f"suite {where}: entry {entry['name']!r}: method {entry['method']!r} {need}")
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise JaxpaintError(f"suite {where}: entry names must be unique; repeated: {', '.join(duplicates)}")
    suite.setdefault("published", [])
    return suite


def entry_config(entry: dict, data_dir: Path, dataset: str, seed: int, pose_dir: Path | None = None):
    """The trained entry's config, set to the suite's data (its own dataset when it names one) and seed.
    A config that reads a pose evaluator (`pose.workdir`, the pose-aware U-Net) gets the suite's."""
    from jaxpaint.config import load_config

    config = load_config(entry["config"])
    pose = [f"--config.pose.workdir={str(Path(pose_dir).resolve())!r}"] if (
        pose_dir is not None and "workdir" in config.get("pose", {})) else []
    return load_config(entry["config"], [
        f"--config.data.data_dir={str(data_dir)!r}",
        f"--config.data.dataset={entry.get('dataset', dataset)!r}",
        f"--config.seed={seed}",
        *pose,
        *entry.get("overrides", []),
    ])


def train_or_load(config, workdir: Path, label: str) -> str:
    """Trains (or resumes) the run unless its final checkpoint is there; says which."""
    from jaxpaint.engine.checkpoint import run_finished
    from jaxpaint.train.loop import train_and_evaluate

    if run_finished(workdir, config.num_steps):
        print(f"{label}: finished run in {workdir}, loaded", flush=True)
        return "loaded"
    started = time.perf_counter()
    train_and_evaluate(config, workdir)
    print(f"{label}: trained in {workdir} ({time.perf_counter() - started:.0f} s)", flush=True)
    return "trained"


def final_checkpoint_stamp(workdir: Path, num_steps: int) -> int:
    from jaxpaint.engine.checkpoint import CHECKPOINT_DIR

    return (Path(workdir) / CHECKPOINT_DIR / str(int(num_steps))).stat().st_mtime_ns


def content_overrides(entry: dict, trained_dirs: dict[str, Path], entries: dict[str, dict]) -> list[str]:
    """For a method that refines a first guess: the first present `content` entry's run as the guess."""
    for name in entry.get("content", []):
        if name in entries:
            overrides = [f"--config.content_method={entries[name]['method']!r}"]
            if name in trained_dirs:
                overrides.append(f"--config.content_workdir={str(trained_dirs[name])!r}")
            return overrides
    return []


def evaluate_entry(entry, workdir, out_dir, data_dir, dataset, pose_model, max_images, overrides, key) -> dict:
    """The entry's results (evaluated now, or read back when `key` matches the last evaluation's)."""
    from jaxpaint.commands.evaluate import evaluate_method

    stamp = out_dir / "suite_eval.json"
    if stamp.is_file() and json.loads(stamp.read_text()) == key and (out_dir / "results.json").is_file():
        print(f"{entry['name']}: evaluation in {out_dir} is current, loaded", flush=True)
        return json.loads((out_dir / "results.json").read_text())
    batch_size = min(64, max_images) if max_images else 64
    limit = math.ceil(max_images / batch_size) if max_images else None
    results, evaluation = evaluate_method(
        entry["method"], str(workdir), str(data_dir), dataset, "test", pose_model and str(pose_model),
        batch_size=batch_size, limit=limit, out=str(out_dir), overrides=overrides, with_evaluation=True)
    np.savez_compressed(out_dir / "samples.npz", **{k: np.stack(v) for k, v in evaluation.samples.items() if v})
    from jaxpaint.tuning import write_json_atomic

    write_json_atomic(stamp, key)
    return results


def suite_rows(evaluated: dict[str, dict], dataset: str) -> list[dict]:
    """The table's rows from each entry's results (evaluated now or read back from results.json, older
    files included): the unmasked originals first (from the first entry scored on the suite's dataset),
    then one row per entry with its image count, standard errors and paired differences from the
    diffusion entry where it scored the same dataset split."""
    from jaxpaint.commands.evaluate import ORIGINAL
    from jaxpaint.evaluation import reference_scores, table_row
    from jaxpaint.report.tables import REFERENCE

    reference = evaluated.get(REFERENCE)
    rows = [{**table_row(name, results["means"], results["per_image"], reference_scores(results, reference)),
             "images": results["num_images"]} for name, results in evaluated.items()]
    first = next((r for r in evaluated.values() if r.get("original") and r["dataset"] == dataset), None)
    if first is not None:
        rows.insert(0, {**table_row(ORIGINAL, first["original"], first["original_per_image"]),
                        "images": first["num_images"]})
    return rows


def comparison_grid(names: list[str], eval_dir: Path, out_path: Path) -> Path | None:
    """The same first test images inpainted by every entry, side by side (thesis Fig. 19)."""
    from jaxpaint.report.grids import save_grid

    samples = {n: np.load(eval_dir / n / "samples.npz") for n in names if (eval_dir / n / "samples.npz").is_file()}
    if not samples:
        return None
    count = min(GRID_IMAGES, *(len(s["output"]) for s in samples.values()))
    first = next(iter(samples.values()))
    columns = {"input": list(first["input"][:count])}
    columns.update({name: list(s["output"][:count]) for name, s in samples.items()})
    columns["ground truth"] = list(first["ground truth"][:count])
    save_grid(out_path, columns, scale=2)
    return out_path


def figures(suite_dir: Path, trained: dict[str, Path], tune_dirs: list[str]) -> list[tuple[str, Path]]:
    """Loss curves, validation DSSIM, sweep plots: (caption, path) pairs, all under SUITE/figures."""
    from jaxpaint import tuning
    from jaxpaint.report.curves import plot_curves, plot_validation
    from jaxpaint.train.metrics_log import METRICS_FILE, read_metrics

    out = suite_dir / "figures"
    made = []
    records = {name: read_metrics(workdir / METRICS_FILE) for name, workdir in trained.items()}
    for name, recs in records.items():
        path = plot_curves(recs, out / f"curves_{name}.png", title=f"{name}: loss curves")
        if path:
            made.append((f"loss curves: {name}", path))
    path = plot_validation(records, out / "validation_dssim.png")
    if path:
        made.append(("validation DSSIM against steps, every trained method", path))
    for k, tune_file in enumerate(sorted(p for d in tune_dirs for p in Path(d).rglob(tuning.RESULT_FILE))):
        result = json.loads(tune_file.read_text())
        if result.get("steps"):
            path = tuning.plot_sweep(result["steps"], out / f"sweep_{k}.png", result["metric"])
            made.append((f"Algorithm 1 sweep {result['sweep']}: validation {result['metric']} against each "
                         f"parameter's values ({tune_file.parent})", path))
    return made


def only_entries(suite: dict, names: str | None) -> dict:
    """The suite restricted to the comma-separated entry `names` and the entries whose runs give their first
    guess (all of it when None)."""
    if not names:
        return suite
    wanted = [n.strip() for n in names.split(",") if n.strip()]
    known = [e["name"] for e in suite["entries"]]
    unknown = [n for n in wanted if n not in known]
    if unknown or not wanted:
        raise JaxpaintError(f"--entries {names!r}: unknown entry {', '.join(unknown) or '(none given)'}; "
                            f"the suite has {', '.join(known)}")
    # An entry that refines another's first guess (`content`) brings that entry along: its run gives the guess.
    chosen = set(wanted).union(*(e.get("content", []) for e in suite["entries"] if e["name"] in wanted))
    return {**suite, "entries": [e for e in suite["entries"] if e["name"] in chosen]}


def run_suite(args, suite: dict | None = None) -> int:
    """Runs the suite `args.suite` (or the given `suite` dict: tests pass their own entries)."""
    from jaxpaint.commands.evaluate import WORST_GRID, _write_json_atomic, folder_version
    from jaxpaint.data import builder
    from jaxpaint.data.images import write_bytes_atomic
    from jaxpaint.locks import writer_lock
    from jaxpaint.report.html import write_report_html
    from jaxpaint.report.tables import results_markdown
    from jaxpaint.train.preflight import check_config_and_workdir

    started = time.perf_counter()
    suite = check_suite(suite, args.suite) if suite is not None else load_suite(args.suite, args.source)
    suite = only_entries(suite, getattr(args, "entries", None))
    suite_dir = Path(args.workdir)
    if suite_dir.exists() and not suite_dir.is_dir():
        raise JaxpaintError(f"--workdir {suite_dir} is a file, not a folder")
    if args.max_test_images is not None and args.max_test_images < 1:
        raise JaxpaintError(f"--max-test-images must be an integer >= 1, got {args.max_test_images}")
    args.pose_model = releases.resolve(args.pose_model, "--pose-model")
    for flag, path in (("--pose-model", args.pose_model), *(("--tune-dir", d) for d in args.tune_dir or [])):
        if path is not None and not Path(path).is_dir():
            raise JaxpaintError(f"{flag} {path} is not a folder")
    data_dir = Path(args.data_dir) if args.data_dir else suite_dir / "data"
    if "build" in suite:
        build = {**suite["build"], **({"num_examples": args.num_examples} if args.num_examples else {})}
        dataset = builder.config_name(build["source"], build["size"], args.seed, build.get("num_examples"))
    else:
        dataset = args.dataset or suite["dataset"]
        if not data_dir.is_dir():
            raise JaxpaintError(f"--data-dir {data_dir} is not a folder; build {dataset} there first")
    entries = {e["name"]: e for e in suite["entries"]}
    runs_dir, eval_dir = suite_dir / "runs", suite_dir / "eval"
    pose_dir, pose_config = (Path(args.pose_model) if args.pose_model else suite_dir / "pose"), None
    configs = {name: entry_config(e, data_dir, dataset, args.seed, pose_dir)
               for name, e in entries.items() if e.get("config")}
    released = {name: Path(releases.resolve(e["release"], f"suite entry {name!r}: release"))
                for name, e in entries.items() if e.get("release")}
    for name, config in configs.items():
        check_config_and_workdir(config, runs_dir / name)
    if not args.pose_model and suite.get("pose"):
        pose_config = entry_config({"name": "pose", **suite["pose"]}, data_dir, dataset, args.seed)
        check_config_and_workdir(pose_config, pose_dir)

    # One suite job per WORKDIR: a second one stops here, before it writes anything.
    with writer_lock(suite_dir):
        if "build" in suite:
            builder.build(build["source"], data_dir, size=build["size"], seed=args.seed,
                          num_examples=build.get("num_examples"))
        status = {}
        if pose_config is not None:
            status["pose"] = train_or_load(pose_config, pose_dir, "pose evaluator")
        pose_model = pose_dir if (args.pose_model or pose_config is not None) else None
        for name, config in configs.items():
            status[name] = train_or_load(config, runs_dir / name, name)
        trained = {name: runs_dir / name for name in configs}
        loaded = {**trained, **released}  # the runs that inpaint: trained here, or released models

        def run_stamp(name: str):
            if name in released:
                return list(folder_version(released[name]))
            return final_checkpoint_stamp(trained[name], configs[name].num_steps)

        evaluated = {}
        for name, entry in entries.items():
            cap = min(c for c in (args.max_test_images, entry.get("max_test_images")) if c) if (
                args.max_test_images or entry.get("max_test_images")) else None
            overrides = [*(entry.get("eval_overrides", []) if name in loaded else entry.get("overrides", [])),
                         *content_overrides(entry, loaded, entries)]
            workdir = loaded.get(name, runs_dir / name)
            # A run trained again (its final checkpoint rewritten) makes the entry's evaluation stale.
            runs = {n: run_stamp(n) for n, d in loaded.items() if n == name or str(d) in " ".join(overrides)}
            key = {"entry": entry, "overrides": overrides, "dataset": entry.get("dataset", dataset), "runs": runs,
                   "pose_model": str(pose_model) if pose_model else None, "max_test_images": cap}
            evaluated[name] = evaluate_entry(entry, workdir, eval_dir / name, data_dir, entry.get("dataset", dataset),
                                             pose_model, cap, overrides, key)
        rows = suite_rows(evaluated, dataset)
        used = {name: results["num_images"] for name, results in evaluated.items()}

        figs = figures(suite_dir, trained, args.tune_dir or [])
        grid = comparison_grid(list(entries), eval_dir, suite_dir / "figures" / "comparison.png")
        if grid:
            figs.insert(0, ("the same test images inpainted by every method (thesis Fig. 19); "
                            "joints: the pose evaluator's on the output, the labels on the ground truth", grid))
        worst = [(f"worst test images of {n} by WNJD", eval_dir / n / WORST_GRID) for n in entries
                 if (eval_dir / n / WORST_GRID).is_file()]
        figs += worst
        wall = time.perf_counter() - started
        per_entry = "; ".join(f"{n}: {entries[n].get('dataset', dataset)}, {used[n]} images" for n in entries)
        note = (f"Suite {args.suite} on `{dataset}` (source preset {args.source}), test split, seed {args.seed}. "
                f"'images' is how many test images each row was scored on (the first N of the split; --max-test-images "
                f"and the spec's caps bound slow methods): {per_entry}. DSSIM, MSE and PSNR per block, averaged per "
                f"image, then over images." + (f" WNJD and PCK@0.2 from the pose evaluator in {pose_model}." if pose_model
                                               else " No pose evaluator: no WNJD or PCK, no worst-WNJD figure.")
                + f" Wall time {wall:.0f} s ({', '.join(f'{k} {v}' for k, v in status.items()) or 'nothing trained'}).")
        published_heading = "Published figures: other data (the competition's test set), for reference only"
        published_note = ("Thesis Table 3 and the 2nd place's slides (SPEC §3). They were measured on the competition's "
                          "test set with the authors' models, not on this split: compare orders of magnitude, not digits.")
        title = f"jaxpaint suite {Path(args.suite).stem}: {args.source}"
        markdown = results_markdown(rows, title=title, note=note)
        if suite["published"]:
            markdown += f"\n## {published_heading}\n\n" + results_markdown(suite["published"], note=published_note)
        markdown += "\n## Figures\n\n" + "".join(f"- [{c}]({p.relative_to(suite_dir)})\n" for c, p in figs)
        if not pose_model:
            markdown += "- worst images by WNJD: skipped, no pose evaluator (give --pose-model or a 'pose' in the spec)\n"
        write_bytes_atomic(suite_dir / "results.md", markdown.encode())
        _write_json_atomic(suite_dir / "results.json", {
            "suite": args.suite, "source": args.source, "dataset": dataset, "seed": args.seed, "rows": rows,
            "published": suite["published"], "status": status, "wall_time_s": round(wall, 1),
            "entries": suite["entries"], "pose_model": str(pose_model) if pose_model else None})
        tables = [(published_heading, suite["published"], published_note)] if suite["published"] else []
        page = write_report_html(suite_dir / "report.html", title, rows, note, figs, tables)
        print((suite_dir / "results.md").read_text())
        print(f"report: {(suite_dir / 'results.md').resolve()}\n        {page.resolve()} (one self-contained page)"
              f"  (wall time {wall:.0f} s)")
        return 0
