"""`jaxpaint train --config FILE.py:variant --workdir DIR [--config.key=value ...]`: trains a method.

Running the same command again with the same workdir continues from the latest checkpoint.
"""

from __future__ import annotations

from pathlib import Path


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "train",
        help="train a method from a config; rerun with the same workdir to resume",
        description="Trains a method. Extra --config.key=value arguments override config fields.",
    )
    parser.add_argument("--config", required=True, help="config file and variant, e.g. experiments/configs/context_encoder.py:tiny")
    parser.add_argument("--workdir", required=True, help="run folder: config.json, checkpoints/, metrics.jsonl, curves.png, previews/")
    parser.add_argument("--warm-start", metavar="RUN", default=None,
                        help="start a new run from the latest checkpoint of RUN (a workdir of the same method), "
                             "step included; input channels the model gains (e.g. model.pose_condition) start "
                             "at zero. Ignored once the workdir has checkpoints of its own")
    parser.set_defaults(func=run, accepts_overrides=True)


def run(args) -> int:
    from jaxpaint.config import load_config
    from jaxpaint.train.loop import train_and_evaluate
    from jaxpaint.engine.checkpoint import CHECKPOINT_DIR, CONFIG_FILE
    from jaxpaint.train.metrics_log import CURVES_FILE, METRICS_FILE

    config = load_config(args.config, args.overrides)
    workdir = Path(args.workdir)
    state = train_and_evaluate(config, workdir, warm_start=args.warm_start)
    import jax

    where = f" (process {jax.process_index()} of {jax.process_count()})" if jax.process_count() > 1 else ""
    print(f"trained {config.method} to step {int(state.step)}{where}; outputs in {workdir}:")
    for name, what in (
        (CONFIG_FILE, "config"),
        (CHECKPOINT_DIR, "checkpoints"),
        (METRICS_FILE, "metrics"),
        (CURVES_FILE, "loss curves"),
        ("previews", "preview grids"),
    ):
        if (workdir / name).exists():
            print(f"  {what:13s} {workdir / name}")
    return 0
