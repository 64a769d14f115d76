"""Data parallelism: one 'data' mesh axis over every device of every host.

The batch is split along its first axis; parameters and optimiser state are
replicated. The same code serves 1 CPU, several GPUs and several hosts.
"""

from __future__ import annotations

import os

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P

from jaxpaint.errors import JaxpaintError

DATA_AXIS = "data"


def initialize_distributed(config) -> None:
    """Joins the multi-process job when the config asks for it (`distributed=True`); a no-op otherwise.

    The coordinator address, process count and id come from JAX_COORDINATOR_ADDRESS,
    JAX_NUM_PROCESSES and JAX_PROCESS_ID when set (a job started by hand), else from the
    cluster environment (SLURM, Kubernetes, …) as `jax.distributed.initialize` finds them.
    On CPU the processes' collectives use gloo.
    """
    if not config.get("distributed", False) or jax.distributed.is_initialized():
        return
    env = lambda name: int(os.environ[name]) if os.environ.get(name) else None
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    jax.distributed.initialize(num_processes=env("JAX_NUM_PROCESSES"), process_id=env("JAX_PROCESS_ID"))


def make_mesh(devices=None) -> Mesh:
    """A 'data' mesh over `devices`: every device of every process by default; `jax.local_devices()`
    for work a process does on its own (inference on its shard of a folder)."""
    return Mesh(np.asarray(jax.devices() if devices is None else devices), (DATA_AXIS,))


def batch_sharding(mesh: Mesh) -> NamedSharding:
    return NamedSharding(mesh, P(DATA_AXIS))


def replicated_sharding(mesh: Mesh) -> NamedSharding:
    return NamedSharding(mesh, P())


def check_batch_size(batch_size: int, mesh: Mesh, where: str) -> None:
    """The global batch must split evenly over devices and over hosts."""
    devices = mesh.devices.size
    if batch_size % devices or batch_size % jax.process_count():
        raise JaxpaintError(
            f"{where}: batch_size {batch_size} does not divide evenly over {devices} devices "
            f"on {jax.process_count()} hosts; choose a multiple of {devices}"
        )


def global_shape(local_shape: tuple[int, ...]) -> tuple[int, ...]:
    """The global shape of an array of which every process holds an equal share of rows."""
    return (local_shape[0] * jax.process_count(),) + tuple(local_shape[1:])


def to_global_arrays(local_batch: dict[str, np.ndarray], mesh: Mesh) -> dict[str, jax.Array]:
    """Sends this process's rows of a batch to the devices, sharded along 'data' (the whole batch on one host)."""
    sharding = batch_sharding(mesh)
    return {k: jax.make_array_from_process_local_data(sharding, v, global_shape(v.shape)) for k, v in local_batch.items()}
