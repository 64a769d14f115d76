"""`jaxpaint run`: the main job. Builds a dataset, trains the pose evaluator, a
Context Encoder and the dilated U-Net, evaluates them and the baselines on the test
split, and writes a report (results.md, report.html, PNG grids, loss curves) into
the workdir.

Every stage reuses the public pieces (builder, trainer, evaluation), so a rerun
with the same workdir resumes: built data and finished runs are reused. One job runs in a workdir at a
time (jaxpaint.locks); its trainings lock their own run folders.
"""

from __future__ import annotations

import time
from pathlib import Path

from jaxpaint.errors import JaxpaintError

BASELINES = ("holes", "diffusion")


def register(subparsers) -> None:
    p = subparsers.add_parser("run", help="the main job: dataset, training, evaluation and report")
    p.add_argument("--source", default="synthetic", help="dataset source (default: the built-in synthetic humans)")
    p.add_argument("--manual-dir", help="the source's files, for sources other than synthetic")
    p.add_argument("--workdir", help="where the report and runs go (default runs/main; with --suite, "
                                     "runs/SUITE_SOURCE)")
    p.add_argument("--data-dir", help="dataset directory (default WORKDIR/data)")
    p.add_argument("--size", type=int, default=64, help="crop size in px (default 64: the quick configs' size)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--num-examples", type=int, help="source images to use (synthetic default: 1500)")
    p.add_argument("--pose-config", default="hourglass:quick", help="config of the pose evaluator")
    p.add_argument("--inpaint-config", default="context_encoder:quick", help="config of the Context Encoder")
    p.add_argument("--unet-config", default="unet:quick", help="config of the dilated U-Net")
    p.add_argument("--eval-limit", type=int, help="evaluate only the first N test batches")
    suite = p.add_argument_group("suites (--suite NAME: every method of experiments/suites/NAME.py; see "
                                 "jaxpaint/commands/suite.py)")
    suite.add_argument("--suite", help="run a suite instead of the main job, e.g. table3")
    suite.add_argument("--dataset", help="the built dataset the suite reads from --data-dir (lspet preset)")
    suite.add_argument("--pose-model", help="a released pose evaluator's name (jaxpaint models) or a trained "
                                            "pose-evaluator run, for WNJD and PCK (default: the suite trains its own)")
    suite.add_argument("--entries", help="comma-separated names: run only these rows of the suite "
                                         "(e.g. diffusion,unet)")
    suite.add_argument("--max-test-images", type=int, help="score each method on at most the first N test images")
    suite.add_argument("--tune-dir", action="append", help="a folder holding `jaxpaint tune` outputs, for the "
                                                           "sweep plots (repeatable)")
    p.set_defaults(func=run)


def _stage(title: str) -> float:
    print(f"\n== {title} ==", flush=True)
    return time.perf_counter()


def run_config(spec: str, data_dir: Path, dataset: str, seed: int, size: int):
    """The config `spec` set to train on the job's dataset (loaded and range-checked)."""
    from jaxpaint.config import load_config

    return load_config(spec, [
        f"--config.data.data_dir={str(data_dir)!r}",
        f"--config.data.dataset={dataset!r}",
        f"--config.data.image_size={size}",
        f"--config.seed={seed}",
    ])


def check_arguments(args) -> None:
    """Numbers and paths, before anything is built or written."""
    from jaxpaint.data.images import check_output_path

    for flag, value, low in (("--size", args.size, 64), ("--seed", args.seed, 0),
                             ("--num-examples", args.num_examples, 1), ("--eval-limit", args.eval_limit, 1)):
        if value is not None and value < low:
            raise JaxpaintError(f"{flag} must be an integer >= {low}, got {value}")
    if args.source != "synthetic" and not args.manual_dir:
        raise JaxpaintError(f"--source {args.source} needs --manual-dir with the source's files")
    for flag, path in (("--workdir", args.workdir), ("--data-dir", args.data_dir)):
        if path is not None and Path(path).exists() and not Path(path).is_dir():
            raise JaxpaintError(f"{flag} {path} is a file, not a folder")
    if args.manual_dir is not None:
        if not Path(args.manual_dir).is_dir():
            raise JaxpaintError(f"--manual-dir {args.manual_dir} is not a folder")
        check_output_path(args.workdir, "--workdir", {"--manual-dir": args.manual_dir})


def run(args) -> int:
    if args.suite:
        from jaxpaint.commands.suite import run_suite

        args.workdir = args.workdir or f"runs/{Path(args.suite).stem}_{args.source}"
        return run_suite(args)
    from jaxpaint.data import builder
    from jaxpaint.locks import writer_lock
    from jaxpaint.train.preflight import check_config_and_workdir

    args.workdir = args.workdir or "runs/main"
    check_arguments(args)
    workdir = Path(args.workdir)
    data_dir = Path(args.data_dir) if args.data_dir else workdir / "data"
    num_examples = args.num_examples or (1500 if args.source == "synthetic" else None)
    dataset = builder.config_name(args.source, args.size, args.seed, num_examples)
    pose_dir, ce_dir, unet_dir = workdir / "pose", workdir / "context_encoder", workdir / "unet"
    configs = {}
    for name, spec, run_dir in (("pose", args.pose_config, pose_dir), ("inpaint", args.inpaint_config, ce_dir),
                                ("unet", args.unet_config, unet_dir)):
        configs[name] = run_config(spec, data_dir, dataset, args.seed, args.size)
        check_config_and_workdir(configs[name], run_dir)
    # One main job per WORKDIR: a second one stops here, before it writes anything.
    with writer_lock(workdir):
        return run_main_job(args, workdir, data_dir, num_examples, dataset, configs)


def run_main_job(args, workdir: Path, data_dir: Path, num_examples, dataset: str, configs: dict) -> int:
    """The five stages, once this process holds WORKDIR's writer lock."""
    from jaxpaint.commands.evaluate import evaluate_method
    from jaxpaint.data import builder
    from jaxpaint.data.images import write_bytes_atomic
    from jaxpaint.evaluation import reference_scores, table_row
    from jaxpaint.report.tables import REFERENCE
    from jaxpaint.report.tables import results_markdown
    from jaxpaint.report.html import write_report_html
    from jaxpaint.train.loop import train_and_evaluate

    pose_dir, ce_dir, unet_dir = workdir / "pose", workdir / "context_encoder", workdir / "unet"
    started = time.perf_counter()

    t = _stage(f"1/5 dataset: {args.source} at {args.size} px, seed {args.seed}")
    builder.build(args.source, data_dir, manual_dir=args.manual_dir, size=args.size, seed=args.seed,
                  num_examples=num_examples)
    print(f"dataset {dataset} in {data_dir} ({time.perf_counter() - t:.0f} s)")

    t = _stage(f"2/5 pose evaluator: {args.pose_config}")
    train_and_evaluate(configs["pose"], pose_dir)
    print(f"pose evaluator in {pose_dir} ({time.perf_counter() - t:.0f} s)")

    t = _stage(f"3/5 Context Encoder: {args.inpaint_config}")
    train_and_evaluate(configs["inpaint"], ce_dir)
    print(f"Context Encoder in {ce_dir} ({time.perf_counter() - t:.0f} s)")

    t = _stage(f"4/5 dilated U-Net: {args.unet_config}")
    train_and_evaluate(configs["unet"], unet_dir)
    print(f"U-Net in {unet_dir} ({time.perf_counter() - t:.0f} s)")

    t = _stage("5/5 evaluation on the test split")
    evaluations = [(name, workdir / name, (), name) for name in BASELINES] + [
        ("context_encoder", ce_dir, (), "context_encoder"),
        ("context_encoder", ce_dir, ("--config.inpaint.blend=poisson",), "context_encoder_poisson"),
        ("unet", unet_dir, (), "unet"),
    ]
    evaluated = [evaluate_method(method, str(method_dir), str(data_dir), dataset, "test", str(pose_dir),
                                 limit=args.eval_limit, out=str(workdir / "eval" / out_name), overrides=overrides)
                 for method, method_dir, overrides, out_name in evaluations]
    reference = next((r for r in evaluated if r["method"] == REFERENCE), None)
    rows = [evaluated[0]["original"]] + [
        table_row(r["method"], r["means"], r["per_image"], reference_scores(r, reference)) for r in evaluated]
    n = evaluated[-1]["num_images"]
    note = (f"{n} test images of `{dataset}`; DSSIM, MSE and PSNR per block, averaged per image, then over images. "
            "LPIPS (VGG-16, AlexNet) compares the whole composite with the original. WNJD and PCK@0.2 use the pose evaluator trained in `pose/`; WNJD vs orig. pose compares with the pose "
            f"predicted on the unmasked image. Seed {args.seed}.")
    report = workdir / "results.md"
    write_bytes_atomic(report, (results_markdown(rows, title=f"jaxpaint main job: {args.source}", note=note)
                                + _figures(workdir)).encode())
    page = write_report_html(workdir / "report.html", f"jaxpaint main job: {args.source}", rows, note,
                             [(str(path.relative_to(workdir)), path) for path in _figure_paths(workdir)])
    print(f"evaluation ({time.perf_counter() - t:.0f} s)\n")
    print(report.read_text())
    print(f"report: {report.resolve()}\n        {page.resolve()} (one self-contained page)"
          f"  (wall time {time.perf_counter() - started:.0f} s)")
    return 0


def _figure_paths(workdir: Path) -> list[Path]:
    """The pictures the run made: evaluation grids, the test images of highest WNJD, then each run's curves."""
    from jaxpaint.commands.evaluate import WORST_GRID

    return (sorted(workdir.glob("eval/*/grid.png")) + sorted(workdir.glob(f"eval/*/{WORST_GRID}"))
            + sorted(workdir.glob("*/*.png")))


def _figures(workdir: Path) -> str:
    """Links to the pictures the run made, relative to the report."""
    lines = ["", "## Figures", ""]
    for path in _figure_paths(workdir):
        lines.append(f"- [{path.relative_to(workdir)}]({path.relative_to(workdir)})")
    return "\n".join(lines) + "\n"
