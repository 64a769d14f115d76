"""The shared trainer: `train_and_evaluate(config, workdir)` runs any registered method.

One run is one workdir. It holds config.json, batch_spec.json, checkpoints/,
metrics.jsonl, writers.jsonl, curves.png and previews/. One process writes it at a time
(jaxpaint.locks: a second run of the same workdir is refused). Running again with the same workdir
continues from the latest checkpoint; since batch i and the step-i key are pure
functions of (seed, i), a resumed run gives the same bytes as an uninterrupted one.
"""

from __future__ import annotations

import collections
import importlib
import time
from pathlib import Path
from typing import Any, Callable

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from jaxpaint.data.loader import PRECOMPUTED_KEYS
from jaxpaint.errors import JaxpaintError
from jaxpaint.ops.pixels import to_model
from jaxpaint.engine import checkpoint as ckpt
from jaxpaint.engine import gan
from jaxpaint.engine import mesh as mesh_lib
from jaxpaint.train import preflight
from jaxpaint.train.guard import TrainingGuard, TrainingStopped
from jaxpaint.locks import writer_lock
from jaxpaint.train.metrics_log import MetricsLog, record_writer
from jaxpaint.engine.state import TrainState

# Defaults for the engine's optional config fields.
DEFAULTS = {
    "log_every": 50,
    "eval_every": 500,
    "checkpoint_every": 1000,
    "preview_every": 1000,
    "eval_batches": 10,
    "keep_checkpoints": 3,
    "async_checkpoint": True,
    "loader_threads": 2,
    "prefetch_batches": 8,
}


def setting(config: ml_collections.ConfigDict, name: str):
    return config.get(name, DEFAULTS[name])


def to_model_batch(batch: dict[str, jax.Array]) -> dict[str, jax.Array]:
    """The device batch a method sees: `image` as float32 in [-1, 1], other keys unchanged."""
    out = dict(batch)
    out["image"] = to_model(batch["image"])
    for key in PRECOMPUTED_KEYS:  # arrays computed once per example, kept in float16 on the host
        if key in out:
            out[key] = out[key].astype(jnp.float32)
    return out


def numeric_arrays(batch: dict[str, Any]) -> dict[str, np.ndarray]:
    """Drops non-numeric entries (strings such as image ids) that cannot go to a device."""
    arrays = {k: np.asarray(v) for k, v in batch.items()}
    return {k: v for k, v in arrays.items() if v.dtype.kind in "biuf"}


# ---------------------------------------------------------------- data


def process_shard() -> dict[str, int]:
    """This process's share of every global batch (all of it on a single process)."""
    return {"process_index": jax.process_index(), "process_count": jax.process_count()}


def global_example(local_batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """A host array with the global batch's shapes (this process's rows repeated), for shapes and init."""
    count = jax.process_count()
    return local_batch if count == 1 else {k: np.concatenate([v] * count) for k, v in local_batch.items()}


def open_sources(config) -> tuple[Any, Any]:
    """The train and validation sources: a built TFDS split, or `data.examples_fn` ("module:function",
    called with the split name) giving an in-memory sequence of examples."""
    from jaxpaint.data import loader

    data = config.data
    examples_fn = data.get("examples_fn", None)
    if examples_fn:
        module_name, _, fn_name = examples_fn.partition(":")
        fn = getattr(importlib.import_module(module_name), fn_name)
        return fn(data.train_split), fn(data.val_split)
    return (
        loader.open_split(data.data_dir, data.dataset, data.train_split),
        loader.open_split(data.data_dir, data.dataset, data.val_split),
    )


def fill_mean_rgb(config, train_source, workdir: Path) -> None:
    """Sets config.data.mean_rgb from the train split; a resumed run reuses the recorded value."""
    from jaxpaint.data.loader import mean_color

    saved = workdir / ckpt.CONFIG_FILE
    mean = None
    if saved.is_file():
        mean = ckpt.load_config_json(workdir).get("data", {}).get("mean_rgb", None)
    if mean is None:
        mean = [float(x) for x in mean_color(train_source)]
    with config.unlocked():
        config.data.mean_rgb = tuple(float(x) for x in mean)


def fill_schedule_steps(config, num_train_examples: int) -> None:
    """Sets schedule.g_only_steps from schedule.g_only_epochs (epochs of generator-only training) and the
    train split's size, so that the phase is a pure function of the step; an explicit step count wins."""
    schedule = config.get("schedule", None)
    if not schedule or schedule.get("g_only_steps", None) is not None:
        return
    epochs = float(schedule.get("g_only_epochs", 0) or 0)
    steps_per_epoch = max(num_train_examples // int(config.batch_size), 1)
    with config.unlocked():
        config.schedule.g_only_steps = int(round(epochs * steps_per_epoch))


# ---------------------------------------------------------------- compiled steps


def method_phase(method, config, step: int) -> str:
    """The phase of the update from `step` to `step + 1` ("train" for methods without phases)."""
    return method.phase(config, step) if hasattr(method, "phase") else "train"


def load_frozen(method, config, mesh):
    """The method's frozen pretrained networks, loaded once and replicated ({} when it has none)."""
    frozen = method.load_frozen(config) if hasattr(method, "load_frozen") else {}
    return jax.device_put(frozen, mesh_lib.replicated_sharding(mesh))


def compile_steps(method, config, mesh) -> dict[str, Callable]:
    """The method's steps jitted with explicit shardings: batch split on 'data', state and frozen networks
    replicated. `train` is a dict {phase: step}; a method that defines `phase` gets one program per phase,
    compiled on first use. Every step takes (state, batch, frozen)."""
    rep = mesh_lib.replicated_sharding(mesh)
    data = mesh_lib.batch_sharding(mesh)
    takes_frozen = hasattr(method, "load_frozen")
    extra = lambda frozen: {"frozen": frozen} if takes_frozen else {}

    def train_for(phase):
        def train(state, batch, frozen):
            kwargs = extra(frozen) | ({"phase": phase} if hasattr(method, "phase") else {})
            return method.train_step(config, state, to_model_batch(batch), **kwargs)

        return jax.jit(train, in_shardings=(rep, data, rep), out_shardings=(rep, rep), donate_argnums=0)

    phases = getattr(method, "PHASES", gan.PHASES) if hasattr(method, "phase") else ("train",)
    steps = {"train": {phase: train_for(phase) for phase in phases}}
    for name in ("eval", "preview"):
        fn = getattr(method, f"{name}_step" if name == "eval" else name, None)
        if fn is not None:
            steps[name] = jax.jit(
                lambda state, batch, frozen, fn=fn: fn(config, state, to_model_batch(batch), **extra(frozen)),
                in_shardings=(rep, data, rep),
                out_shardings=rep,
            )
    return steps


@jax.jit
def mean_metrics(stacked: list[dict[str, jax.Array]]) -> dict[str, jax.Array]:
    return jax.tree.map(lambda *xs: jnp.mean(jnp.stack([jnp.asarray(x, jnp.float32) for x in xs])), *stacked)


def to_floats(metrics: dict[str, jax.Array]) -> dict[str, float]:
    return {k: float(v) for k, v in jax.device_get(metrics).items()}


# ---------------------------------------------------------------- the run


def train_and_evaluate(config: ml_collections.ConfigDict, workdir, warm_start=None) -> TrainState:
    """Trains `config.method` for `config.num_steps` steps in `workdir`, resuming when it holds checkpoints.

    A new run with `warm_start` (another run's workdir, same method) starts from that run's latest
    checkpoint, step included (`ckpt.transplant`: input channels the model gained start at zero).
    """
    from jaxpaint.methods import get_method, is_trainable

    config = ml_collections.ConfigDict(config)
    workdir = Path(workdir)
    # Everything is checked before the first file is written; config.json is saved only after the restore.
    preflight.check_config_and_workdir(config, workdir)
    if warm_start is not None:
        preflight.check_warm_start(config, Path(warm_start))
    mesh_lib.initialize_distributed(config)
    method = get_method(config.method)
    if not is_trainable(method):
        raise JaxpaintError(f"method {config.method!r} has nothing to train (no init_state/train_step)")
    train_source, val_source = open_sources(config)
    preflight.check_data(config, train_source, val_source,
                         validates=hasattr(method, "eval_step") or hasattr(method, "preview"))
    mesh = mesh_lib.make_mesh()
    mesh_lib.check_batch_size(config.batch_size, mesh, "config")
    frozen = load_frozen(method, config, mesh)  # before the first file: a missing pretrained network stops here
    # One writer per workdir: a second run of the same workdir stops here, before it writes anything.
    with writer_lock(workdir, jax.process_index()) as writer:
        return train_locked(config, workdir, method, mesh, frozen, train_source, val_source, warm_start, writer)


def train_locked(config, workdir: Path, method, mesh, frozen, train_source, val_source, warm_start,
                 writer: dict) -> TrainState:
    """The run itself, once this process holds the workdir's writer lock; `writer` (lock.holder_record)
    names the session in writers.jsonl and in every metrics record."""
    from jaxpaint.data import loader

    fill_mean_rgb(config, train_source, workdir)
    fill_schedule_steps(config, len(train_source))
    if hasattr(method, "prepare_train_source"):  # per-example inputs solved once (e.g. the U-Net's fill)
        train_source = method.prepare_train_source(config, train_source)

    train_batches = loader.batch_dataset(train_source, config.batch_size, seed=config.seed, shuffle=True,
                                         **process_shard())
    first = global_example(numeric_arrays(train_batches[0]))
    ckpt.save_batch_spec(jax.eval_shape(to_model_batch, first), workdir)

    init = state_initializer(method, config, mesh)
    manager = ckpt.make_manager(
        workdir, max_to_keep=setting(config, "keep_checkpoints"), async_save=setting(config, "async_checkpoint")
    )
    try:
        key = jax.random.PRNGKey(config.seed)
        # A resumed run restores onto the state's shapes only; a new run computes the initial state.
        state = ckpt.restore_latest(manager, jax.eval_shape(init, key, first), mesh_lib.replicated_sharding(mesh))
        if state is None:
            state = init(key, first)
            if warm_start is not None:
                state = warm_started(method, state, Path(warm_start), mesh)
        ckpt.save_config(config, workdir)
        start = int(state.step)
        record_writer(workdir, writer, start)
        log = MetricsLog(workdir, truncate_after=start, run_id=writer["run_id"])
        steps = compile_steps(method, config, mesh)
        evaluator = Evaluator(config, val_source, steps, mesh, workdir, frozen)
        phase_of = lambda step: method_phase(method, config, step)
        try:
            state = run_steps(config, state, steps, frozen, phase_of, train_batches, mesh, manager, log, evaluator,
                              start)
        except TrainingStopped as err:
            manager.wait_until_finished()
            last = manager.latest_step()
            kept = f"step {last} in {manager.directory}" if last is not None else "none (no checkpoint was written)"
            log.plot()
            raise TrainingStopped(f"{workdir}: {err}. Last good checkpoint: {kept}") from None
    finally:
        manager.wait_until_finished()
        manager.close()
    return state


def warm_started(method, state: TrainState, source_workdir: Path, mesh) -> TrainState:
    """`state` filled from the latest checkpoint of the run in `source_workdir` (see `ckpt.transplant`)."""
    _, source = ckpt.restore_state(source_workdir, method.init_state)
    state = jax.device_put(ckpt.transplant(source, state), mesh_lib.replicated_sharding(mesh))
    if jax.process_index() == 0:
        print(f"warm start: step {int(state.step)} of {source_workdir}")
    return state


def state_initializer(method, config, mesh):
    """The method's `init_state` under jit (so it must be traceable), with the state replicated."""
    return jax.jit(
        lambda key, batch: method.init_state(config, key, to_model_batch(batch)),
        out_shardings=mesh_lib.replicated_sharding(mesh),
    )


def device_prefetch(host_batches, mesh, ahead: int = 2):
    """Yields device batches while the next `ahead` are already on their way (transfers are asynchronous),
    so that the host's copies overlap the device's step."""
    queue = collections.deque()
    for batch in host_batches:
        queue.append(mesh_lib.to_global_arrays(numeric_arrays(batch), mesh))
        if len(queue) > ahead:
            yield queue.popleft()
    while queue:
        yield queue.popleft()


def run_steps(config, state, steps, frozen, phase_of, train_batches, mesh, manager, log, evaluator,
              start: int) -> TrainState:
    """The step loop: train, log, guard, evaluate, preview, checkpoint. `phase_of(step)` picks the compiled
    step; metrics pending at a phase change are logged first, since the phases report different keys."""
    from tqdm import tqdm

    from jaxpaint.data import loader

    num_steps = int(config.num_steps)
    log_every = setting(config, "log_every")
    checkpoint_every = setting(config, "checkpoint_every")
    guard = TrainingGuard.from_config(config)
    batches = device_prefetch(loader.iterate(
        train_batches, start, num_threads=setting(config, "loader_threads"), prefetch=setting(config, "prefetch_batches")
    ), mesh)
    pending: list[dict[str, jax.Array]] = []
    interval_start = time.perf_counter()
    bar = tqdm(total=num_steps, initial=start, desc="train", unit="step", disable=jax.process_index() != 0)
    try:
        for step in range(start + 1, num_steps + 1):
            batch = next(batches)
            phase = phase_of(step - 1)
            state, metrics = steps["train"][phase](state, batch, frozen)
            pending.append(metrics)
            bar.update(1)
            if step % log_every == 0 or step == num_steps or phase_of(step) != phase:
                means = to_floats(mean_metrics(pending))
                elapsed = time.perf_counter() - interval_start
                images_per_sec = len(pending) * config.batch_size / max(elapsed, 1e-9)
                log.write(step, "train", means, images_per_sec=images_per_sec)  # logged first: the record shows why a run stopped
                guard.check(step, means)
                bar.set_postfix(loss=f"{means['loss']:.4g}", img_s=f"{images_per_sec:.1f}")
                pending, interval_start = [], time.perf_counter()
            plotted = False
            if evaluator.due(step) or step == num_steps:
                plotted = evaluator.run(state, step, log)
                interval_start = time.perf_counter()  # images/s counts training time only
            if step % checkpoint_every == 0 or step == num_steps:
                ckpt.save_state(manager, state)
                interval_start = time.perf_counter()
            if step == num_steps and not plotted:
                log.plot()
    finally:
        bar.close()
    return state


class Evaluator:
    """Validation metrics (eval_step averaged over `eval_batches`) and preview grids."""

    def __init__(self, config, val_source, steps, mesh, workdir: Path, frozen):
        from jaxpaint.data import loader

        self.frozen = frozen
        self.guard = TrainingGuard.from_config(config)
        self.config, self.steps, self.mesh, self.workdir = config, steps, mesh, workdir
        self.eval_every = setting(config, "eval_every")
        self.preview_every = setting(config, "preview_every")
        self.batches = None
        if "eval" in steps or "preview" in steps:
            self.batches = loader.batch_dataset(
                val_source, config.batch_size, seed=config.seed, shuffle=False, drop_remainder=True, **process_shard()
            )
            self.num_batches = min(len(self.batches), setting(config, "eval_batches"))

    def due(self, step: int) -> bool:
        return (self.eval_every and step % self.eval_every == 0) or (
            self.preview_every and step % self.preview_every == 0
        )

    def run(self, state, step: int, log) -> bool:
        """Validates and previews when due; True when it logged validation metrics and so redrew the curves."""
        if self.batches is None:
            return False
        final = step == int(self.config.num_steps)
        validated = False
        if "eval" in self.steps and (final or (self.eval_every and step % self.eval_every == 0)):
            results = [self.steps["eval"](state, self._batch(i), self.frozen) for i in range(self.num_batches)]
            means = to_floats(mean_metrics(results))
            log.write(step, "val", means)
            self.guard.check(step, means, split="val")
            log.plot(final=final)
            validated = True
        if "preview" in self.steps and (final or (self.preview_every and step % self.preview_every == 0)):
            self._preview(state, step)
        return validated

    def _batch(self, i: int):
        return mesh_lib.to_global_arrays(numeric_arrays(self.batches[i]), self.mesh)

    def _preview(self, state, step: int) -> None:
        from jaxpaint.report.grids import save_grid

        images = jax.device_get(self.steps["preview"](state, self._batch(0), self.frozen))
        if jax.process_index() == 0:
            path = self.workdir / "previews" / f"step_{step:07d}.png"
            path.parent.mkdir(parents=True, exist_ok=True)
            save_grid(path, {name: list(np.asarray(v, np.uint8)) for name, v in images.items()})
