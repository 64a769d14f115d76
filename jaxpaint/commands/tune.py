"""`jaxpaint tune --sweep experiments/sweeps/NAME.py:VARIANT --workdir DIR [--config.key=value ...]`.

Runs the thesis's Algorithm 1 (jaxpaint.tuning): one parameter at a time, one training
trial per value in DIR/trials/<values>/, the value with the lowest validation metric
kept. Writes DIR/tune.json (the choice at each step, every trial's score) after each
parameter and DIR/sweep.png (the metric against each parameter's values). Running the
same command again resumes: finished trials are read back, never retrained.

In parallel: start the same command in P processes of a jax.distributed job (JAX_NUM_PROCESSES=P,
JAX_PROCESS_ID=i, one process per device group, e.g. per GPU) sharing DIR. The values of one
parameter are independent trials: trial i of a step trains on process i mod P, as an ordinary
one-process run, and every process reads the others' scores from their trial workdirs once
finished, so the choice at each step, and the final one, are those of a sequential sweep.
Process 0 writes tune.json and sweep.png. A trial that fails leaves a FAILED file that stops
the processes waiting for it. A second `tune` of the same DIR is refused while one runs
(jaxpaint.locks).
"""

from __future__ import annotations

from pathlib import Path

from jaxpaint.errors import JaxpaintError


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "tune", help="Algorithm 1: tune a method's parameters one at a time on validation DSSIM",
        description="Tunes one parameter at a time. Extra --config.key=value arguments apply to every trial.",
    )
    parser.add_argument("--sweep", required=True, help="sweep file and variant, e.g. context_encoder:tiny")
    parser.add_argument("--workdir", required=True, help="folder for the trials, tune.json and sweep.png")
    parser.set_defaults(func=run, accepts_overrides=True)


def trial_finished(workdir: Path, num_steps: int) -> bool:
    from jaxpaint.train.metrics_log import METRICS_FILE, read_metrics

    return any(r["split"] == "val" and r["step"] == num_steps for r in read_metrics(workdir / METRICS_FILE))


FAILED_FILE = "FAILED"
POLL_SECONDS = 1.0


def wait_for_trial(trial_dir: Path, num_steps: int, owner: int) -> None:
    """Blocks until the process `owner` has finished the trial (its last validation record is there)."""
    import time

    print(f"trial {trial_dir.name}: waiting for process {owner}", flush=True)
    while not trial_finished(trial_dir, num_steps):
        if (trial_dir / FAILED_FILE).is_file():
            raise JaxpaintError(f"trial {trial_dir} failed on process {owner}: {(trial_dir / FAILED_FILE).read_text()}")
        time.sleep(POLL_SECONDS)


def tune(sweep_spec: str, workdir, overrides=()) -> dict:
    from jaxpaint import tuning
    from jaxpaint.config import load_config, lookup
    from jaxpaint.locks import writer_lock
    from jaxpaint.train.loop import train_and_evaluate
    from jaxpaint.methods import get_inpainting_method, is_trainable
    from jaxpaint.train.metrics_log import METRICS_FILE

    sweep = tuning.load_sweep(sweep_spec)
    workdir = Path(workdir)
    if workdir.exists() and not workdir.is_dir():
        raise JaxpaintError(f"--workdir {workdir} is a file, not a folder")
    base = [*sweep["overrides"], *overrides]
    base_config = load_config(sweep["config"], base)  # a bad config or override fails here, before any trial
    trains = is_trainable(get_inpainting_method(base_config.method))
    for name, values in sweep["parameters"]:
        for value in values:
            load_config(sweep["config"], [*base, tuning.override(name, value)])
    start = {name: lookup(base_config, name) for name, _ in sweep["parameters"]}
    process, processes = tuning.process_group()
    if processes > 1 and "distributed" in base_config:
        base.append("--config.distributed=False")  # each trial is a one-process run inside the job
    trials: dict[str, float] = {}
    guess: dict[str, float] = {}  # {"first_guess": score} for a method that refines a first guess

    def trial(choices: dict):
        config = load_config(sweep["config"], [*base, *(tuning.override(k, v) for k, v in choices.items())])
        return workdir / "trials" / tuning.trial_name(choices), config

    def last_step(config) -> int:
        return int(config.num_steps) if trains else tuning.INPAINT_STEP

    def train_trial(trial_dir: Path, config) -> None:
        status = "done" if trial_finished(trial_dir, last_step(config)) else "training" if trains else "inpainting"
        print(f"trial {trial_dir.name}: {status}" + (f" (process {process} of {processes})" if processes > 1 else ""),
              flush=True)
        if status != "done":
            (trial_dir / FAILED_FILE).unlink(missing_ok=True)
            try:
                train_and_evaluate(config, trial_dir) if trains else tuning.inpainting_trial(config, trial_dir)
            except BaseException as err:
                trial_dir.mkdir(parents=True, exist_ok=True)
                (trial_dir / FAILED_FILE).write_text(f"{type(err).__name__}: {err}")
                raise

    def read_score(trial_dir: Path) -> float:
        trials[trial_dir.name] = tuning.last_validation(trial_dir / METRICS_FILE, sweep["metric"])
        if not trains and "first_guess" not in guess:  # a refining method's guess: the same in every trial
            guess.update(tuning.first_guess_score(trial_dir / METRICS_FILE, sweep["metric"]))
        return trials[trial_dir.name]

    def score(choices: dict) -> float:
        trial_dir, config = trial(choices)
        train_trial(trial_dir, config)
        return read_score(trial_dir)

    def score_many(step_choices: list[dict]) -> list[float]:
        """Trial i on process i mod P; then every trial's score, read from its workdir."""
        planned = [trial(c) for c in step_choices]
        for i, (trial_dir, config) in enumerate(planned):
            if i % processes == process:
                train_trial(trial_dir, config)
        for i, (trial_dir, config) in enumerate(planned):
            if i % processes != process:
                wait_for_trial(trial_dir, last_step(config), i % processes)
        return [read_score(trial_dir) for trial_dir, _ in planned]

    steps: list[dict] = []

    def record(step: dict) -> None:
        steps.append(step)
        print(f"{step['parameter']}: " + ", ".join(f"{v!r} -> {s:.4f}" for v, s in zip(step["values"], step["scores"]))
              + f"; chosen {step['chosen']!r}")
        if process == 0:
            tuning.write_json_atomic(workdir / tuning.RESULT_FILE, {
            "sweep": sweep_spec, "config": sweep["config"], "metric": sweep["metric"], "overrides": base,
                "start": start, "steps": steps, "trials": trials, **guess,
            })

    # One sweep per DIR: a second `tune` of it stops here; the P processes of one job lock their own files.
    with writer_lock(workdir, process):
        choices, steps_done = tuning.algorithm1(sweep["parameters"], start, score, record,
                                                score_many if processes > 1 else None)
    result = {"sweep": sweep_spec, "config": sweep["config"], "metric": sweep["metric"], "overrides": base,
              "start": start, "steps": steps_done, "trials": trials, **guess, "chosen": choices}
    if process == 0:
        tuning.write_json_atomic(workdir / tuning.RESULT_FILE, result)
        tuning.plot_sweep(steps_done, workdir / "sweep.png", sweep["metric"], guess.get("first_guess"))
    return result


def run(args) -> int:
    result = tune(args.sweep, args.workdir, args.overrides)
    chosen = ", ".join(f"{k}={v!r}" for k, v in result["chosen"].items())
    print(f"chosen: {chosen}\nresults: {Path(args.workdir) / 'tune.json'}, plot: {Path(args.workdir) / 'sweep.png'}")
    return 0
