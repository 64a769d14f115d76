"""The training state every method returns from `init_state` and threads through `train_step`."""

from __future__ import annotations

from typing import Any

import flax
import jax
import jax.numpy as jnp


@flax.struct.dataclass
class TrainState:
    """All that a training run needs to continue, as one pytree.

    `params` and `opt_state` are dicts keyed by part name (e.g. "generator",
    "discriminator"); `model_state` holds mutable collections such as batch_stats.
    Per-step randomness is `jax.random.fold_in(key, step)`, so a resumed run draws
    the same numbers as an uninterrupted one.
    """

    step: jax.Array
    params: Any
    opt_state: Any
    model_state: Any
    key: jax.Array

    def step_key(self) -> jax.Array:
        """The PRNG key for the current step."""
        return jax.random.fold_in(self.key, self.step)


def create_state(params: dict, opt_state: dict, key: jax.Array, model_state: dict | None = None) -> TrainState:
    """A state at step 0."""
    return TrainState(
        step=jnp.zeros((), jnp.int32),
        params=params,
        opt_state=opt_state,
        model_state={} if model_state is None else model_state,
        key=key,
    )
