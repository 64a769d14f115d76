"""Checkpoints (orbax) and the files that describe a run: config.json and batch_spec.json.

A run's workdir holds `config.json` (the full config, mean colour included),
`batch_spec.json` (shapes and dtypes of one device batch, so that a state can be
rebuilt for restoring without the dataset) and `checkpoints/<step>/`.

A released model's folder holds the same two files and, instead of checkpoints,
`weights.msgpack` (the step, parameters and model state of one checkpoint: what
inference needs) with its digest in `weights.sha256` (`sha256sum -c` format). It is
restored by the same `restore_state`, after the digest is checked.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import orbax.checkpoint as ocp

from jaxpaint.data.images import write_bytes_atomic
from jaxpaint.errors import JaxpaintError
from jaxpaint.errors import TrainingStopped
from jaxpaint.engine.state import TrainState

CONFIG_FILE = "config.json"
BATCH_SPEC_FILE = "batch_spec.json"
CHECKPOINT_DIR = "checkpoints"
WEIGHTS_FILE = "weights.msgpack"
DIGEST_FILE = "weights.sha256"


def save_config(config: ml_collections.ConfigDict, workdir: Path) -> None:
    if jax.process_index() == 0:
        _write_atomic(workdir / CONFIG_FILE, config.to_json_best_effort(indent=2, sort_keys=True) + "\n")


def load_config_json(workdir: Path) -> ml_collections.ConfigDict:
    path = Path(workdir) / CONFIG_FILE
    if not path.is_file():
        raise JaxpaintError(f"{path}: no such file; is {workdir} the workdir of a training run?")
    try:
        config = ml_collections.ConfigDict(json.loads(path.read_text()))
    except json.JSONDecodeError as err:
        raise JaxpaintError(f"{path}: not valid JSON ({err})") from None
    if "method" not in config or "seed" not in config:
        raise JaxpaintError(f"{path}: not a training config (expected the fields 'method' and 'seed')")
    return config


def save_batch_spec(batch: dict, workdir: Path) -> None:
    spec = {k: {"shape": list(v.shape), "dtype": str(v.dtype)} for k, v in batch.items()}
    if jax.process_index() == 0:
        _write_atomic(workdir / BATCH_SPEC_FILE, json.dumps(spec, indent=2, sort_keys=True) + "\n")


def load_batch_spec(workdir: Path) -> dict[str, jax.ShapeDtypeStruct]:
    path = Path(workdir) / BATCH_SPEC_FILE
    if not path.is_file():
        raise JaxpaintError(f"{path}: no such file; the run in {workdir} never started training")
    spec = json.loads(path.read_text())
    return {k: jax.ShapeDtypeStruct(tuple(v["shape"]), np.dtype(v["dtype"])) for k, v in spec.items()}


def make_manager(workdir: Path, *, max_to_keep: int = 3, async_save: bool = True) -> ocp.CheckpointManager:
    options = ocp.CheckpointManagerOptions(
        max_to_keep=max_to_keep, create=True, enable_async_checkpointing=async_save
    )
    return ocp.CheckpointManager((Path(workdir) / CHECKPOINT_DIR).absolute(), options=options)


def is_finite(state: TrainState) -> bool:
    """True when no float leaf of the state holds a NaN or Inf.

    Checked on the host, shard by shard: saving copies the state there anyway, and a jitted check would
    compile once per state structure (about a second for each small run)."""
    for leaf in jax.tree.leaves(state):
        if not jnp.issubdtype(leaf.dtype, jnp.inexact):
            continue  # counts, random keys
        shards = [s.data for s in leaf.addressable_shards] if isinstance(leaf, jax.Array) else [leaf]
        if not all(np.isfinite(np.asarray(shard)).all() for shard in shards):
            return False
    return True


def save_state(manager: ocp.CheckpointManager, state: TrainState) -> int:
    """Saves the state at its step; a state with NaN or Inf is never written."""
    step = int(state.step)
    if not is_finite(state):
        raise TrainingStopped(f"the state at step {step} holds NaN or Inf (training diverged); it was not saved")
    manager.save(step, args=ocp.args.StandardSave(state), force=True)
    return step


# Orbax writes this file last, in the step's temporary folder, before renaming it to checkpoints/<step>.
FINALIZED_MARKER = "_CHECKPOINT_METADATA"


def is_finished_checkpoint(step_dir: Path) -> bool:
    """Whether a step folder holds a whole checkpoint: orbax's temporary folders (`<step>.orbax-checkpoint-tmp-*`)
    are never listed as steps, but a step folder copied or written in part has no finalize marker."""
    return (Path(step_dir) / FINALIZED_MARKER).is_file()


def latest_finished_step(manager: ocp.CheckpointManager) -> int | None:
    """The newest step whose checkpoint is complete, so that a reader of a run that is training (or was killed
    while saving) never restores a half-written one."""
    manager.reload()  # the steps on disk now, not those listed when the manager was made
    finished = [s for s in manager.all_steps() if is_finished_checkpoint(Path(manager.directory) / str(s))]
    return max(finished, default=None)


def restore_latest(manager: ocp.CheckpointManager, target, sharding) -> TrainState | None:
    """The latest complete checkpoint, restored with `target`'s structure (arrays or shape structs) onto
    `sharding`; None when there is no checkpoint yet."""
    step = latest_finished_step(manager)
    if step is None:
        return None
    abstract = jax.tree.map(lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=sharding), target)
    try:
        return manager.restore(step, args=ocp.args.StandardRestore(abstract))
    except (ValueError, KeyError, TypeError) as err:
        first_line = str(err).strip().splitlines()[0][:300] if str(err).strip() else type(err).__name__
        raise JaxpaintError(f"checkpoint {manager.directory}/{step} does not fit the state this config builds "
                            f"(the run was made with another method or model shape): {first_line}") from None


def restore_state(workdir, init_state) -> tuple[ml_collections.ConfigDict, TrainState]:
    """The config and latest state of the training run in `workdir`, for inference.

    `init_state(config, key, batch)` is the run's method's: the state's structure
    comes from it traced on a batch of the recorded shapes, so nothing is computed
    twice. The state lives on the default device (replicated over all local
    devices when there are several).
    """
    workdir = Path(workdir)
    if not workdir.is_dir():
        raise JaxpaintError(f"{workdir}: no such workdir")
    config = load_config_json(workdir)
    if is_weights_folder(workdir):
        return config, restore_weights(workdir, abstract_state(workdir, config, init_state))
    ckpt_dir = workdir / CHECKPOINT_DIR
    if not ckpt_dir.is_dir():
        raise JaxpaintError(f"{ckpt_dir}: no checkpoints; train the run in {workdir} first")
    abstract = abstract_state(workdir, config, init_state)
    sharding = jax.sharding.NamedSharding(jax.sharding.Mesh(np.asarray(jax.local_devices()), ("data",)), jax.sharding.PartitionSpec())
    manager = make_manager(workdir, async_save=False)
    try:
        state = restore_latest(manager, abstract, sharding)
    finally:
        manager.close()
    if state is None:
        raise JaxpaintError(f"{ckpt_dir}: no finished checkpoint; train the run in {workdir} first")
    return config, state


def abstract_state(workdir: Path, config, init_state) -> TrainState:
    """The run's state as shapes and dtypes, traced from `init_state` on a batch of the recorded shapes."""
    spec = tuple(sorted((k, v.shape, str(v.dtype)) for k, v in load_batch_spec(workdir).items()))
    return _traced_abstract_state(init_state, config.to_json_best_effort(sort_keys=True), spec)


@functools.lru_cache(maxsize=64)
def _traced_abstract_state(init_state, config_json: str, spec: tuple) -> TrainState:
    # Tracing a network's init takes about a second; a process that restores the same kind of run again
    # (an evaluation of several methods, the frozen networks of a pose-aware run) traces it once. The
    # result holds only shapes and dtypes, so sharing it is safe.
    config = ml_collections.ConfigDict(json.loads(config_json))
    batch = {k: jnp.zeros(shape, dtype) for k, shape, dtype in spec}
    return jax.eval_shape(lambda k, b: init_state(config, k, b), jax.random.PRNGKey(config.seed), batch)


# --- weights of a released model -----------------------------------------------------------------


def is_weights_folder(folder: Path) -> bool:
    """A released model's folder (weights, or their digest), as opposed to a training run's."""
    return (Path(folder) / WEIGHTS_FILE).exists() or (Path(folder) / DIGEST_FILE).exists()


def weights_bytes(state: TrainState) -> bytes:
    """What inference needs of a state (step, parameters, model state) as msgpack: the same state gives
    the same bytes."""
    from flax import serialization

    tree = {"step": int(state.step), "params": jax.device_get(state.params),
            "model_state": jax.device_get(state.model_state)}
    return serialization.msgpack_serialize(serialization.to_state_dict(tree))


def sha256_line(data: bytes) -> str:
    import hashlib

    return f"{hashlib.sha256(data).hexdigest()}  {WEIGHTS_FILE}\n"


def save_weights(state: TrainState, folder: Path) -> str:
    """Writes weights.msgpack and weights.sha256 into `folder`; returns the sha256."""
    data = weights_bytes(state)
    digest = sha256_line(data)
    write_bytes_atomic(Path(folder) / WEIGHTS_FILE, data)
    _write_atomic(Path(folder) / DIGEST_FILE, digest)
    return digest.split()[0]


def checked_weights(folder: Path) -> bytes:
    """weights.msgpack's bytes once its sha256 equals weights.sha256's; any difference is an error that
    names the file, so a truncated or altered file never loads."""
    path, digest_path = Path(folder) / WEIGHTS_FILE, Path(folder) / DIGEST_FILE
    for needed in (path, digest_path):
        if not needed.is_file():
            raise JaxpaintError(f"{needed}: missing; the released model in {folder} is incomplete (reinstall jaxpaint "
                                "or rebuild the model with `jaxpaint models rebuild`)")
    data = path.read_bytes()
    expected = digest_path.read_text().split()[:1]
    actual = sha256_line(data).split()[0]
    if expected != [actual]:
        raise JaxpaintError(f"{path}: sha256 {actual} ({len(data)} bytes) differs from {digest_path} "
                            f"({expected[0] if expected else 'empty'}); the file is truncated or altered")
    return data


def restore_weights(folder: Path, abstract: TrainState) -> TrainState:
    """A state for inference from a released model's checked weights: parameters and model state of
    `abstract`'s shapes, no optimiser state."""
    from flax import serialization

    try:
        tree = serialization.msgpack_restore(checked_weights(folder))
    except (ValueError, TypeError) as err:  # a digest that matches a file that is no msgpack
        raise JaxpaintError(f"{Path(folder) / WEIGHTS_FILE}: not a weights file ({err})") from None
    shapes_of = lambda tree: jax.tree.map(lambda x: (tuple(x.shape), str(x.dtype)), tree)
    restored = {}
    for part in ("params", "model_state"):
        expected = getattr(abstract, part)
        try:
            values = serialization.from_state_dict(expected, tree.get(part, {}))
        except (ValueError, KeyError, TypeError):
            values = None
        if values is None or shapes_of(values) != shapes_of(expected):
            raise JaxpaintError(f"{Path(folder) / WEIGHTS_FILE}: its {part} do not fit the model that "
                                f"{Path(folder) / CONFIG_FILE} builds")
        restored[part] = jax.tree.map(jnp.asarray, values)
    return abstract.replace(step=jnp.asarray(tree["step"], jnp.int32), opt_state=None,
                            key=jax.random.PRNGKey(0), **restored)


def transplant(source: TrainState, target: TrainState) -> TrainState:
    """`target`'s structure holding `source`'s values, for a run that starts from another run's checkpoint.

    Leaves at the same path are copied (step, optimiser state and key included, so the schedule goes
    on). A kernel whose input axis (-2) grew, as when the generator gains input channels, keeps its
    old rows and gets zero rows for the new channels: the new inputs start with no effect, and the
    model computes what the source's did until training moves them. Any other difference is an error.
    """
    values = {jax.tree_util.keystr(path): leaf for path, leaf in jax.tree_util.tree_leaves_with_path(source)}

    def fill(path, like):
        name = jax.tree_util.keystr(path)
        if name not in values:
            raise JaxpaintError(f"warm start: the source run has no {name} (another method or model)")
        old = values[name]
        if old.shape == like.shape:
            return old if old.dtype == like.dtype else old.astype(like.dtype)
        grown = (old.ndim == like.ndim >= 2 and old.shape[:-2] == like.shape[:-2]
                 and old.shape[-1] == like.shape[-1] and old.shape[-2] < like.shape[-2])
        if not grown:
            raise JaxpaintError(f"warm start: {name} is {old.shape} in the source run and {like.shape} here; "
                                "only new input channels (a kernel's axis -2 growing) can be added")
        padding = [(0, 0)] * old.ndim
        padding[-2] = (0, like.shape[-2] - old.shape[-2])
        return jnp.pad(old, padding).astype(like.dtype)

    return jax.tree_util.tree_map_with_path(fill, target)


def _write_atomic(path: Path, text: str) -> None:
    write_bytes_atomic(path, text.encode())


def run_finished(workdir, num_steps: int) -> bool:
    """Whether the run in `workdir` holds its final checkpoint (step `num_steps`): a finished run that a
    suite or a sweep loads instead of training again."""
    return is_finished_checkpoint(Path(workdir) / CHECKPOINT_DIR / str(int(num_steps)))
