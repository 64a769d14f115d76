"""Initial training states for tests, computed under jit."""

from __future__ import annotations

import jax


def initial_state(init_state, config, key, batch):
    """`init_state(config, key, batch)` as one compiled program. Run eagerly, each op of the init compiles
    on its own: 11.5 s for the tiny pose-aware U-Net's state against 3.3 s under jit."""
    return jax.jit(lambda k, b: init_state(config, k, b))(key, batch)
