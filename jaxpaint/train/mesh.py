"""Data parallelism: one 'data' mesh axis over every device of every host.

The batch is split along its first axis; parameters and optimiser state are
replicated. The same code serves 1 CPU, several GPUs and several hosts.
"""

from __future__ import annotations

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P

from jaxpaint.errors import JaxpaintError

DATA_AXIS = "data"


def initialize_distributed(config) -> None:
    """Joins the multi-host job when the config asks for it (`distributed=True`); a no-op otherwise.

    The coordinator address, process count and id come from the cluster
    environment (SLURM, Kubernetes, …) as `jax.distributed.initialize` finds them.
    """
    if config.get("distributed", False) and not jax.distributed.is_initialized():
        jax.distributed.initialize()


def make_mesh() -> Mesh:
    return Mesh(np.asarray(jax.devices()), (DATA_AXIS,))


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


def host_slice(global_batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """This host's rows of a global batch (all of it on a single host)."""
    count, index = jax.process_count(), jax.process_index()
    if count == 1:
        return global_batch
    return {k: np.array_split(v, count)[index] for k, v in global_batch.items()}


def to_global_arrays(global_batch: dict[str, np.ndarray], mesh: Mesh) -> dict[str, jax.Array]:
    """Sends a host batch to the devices, sharded along 'data'; each host gives only its rows."""
    sharding = batch_sharding(mesh)
    local = host_slice(global_batch)
    return {
        k: jax.make_array_from_process_local_data(sharding, v, global_batch[k].shape) for k, v in local.items()
    }

