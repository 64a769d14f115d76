"""A training run's folder written directly from a state, as the trainer leaves it: config.json,
batch_spec.json and one checkpoint (for tests that need a run without training one)."""

from __future__ import annotations

from jaxpaint.engine import checkpoint as ckpt


def write_run(workdir, config, batch, state):
    ckpt.save_config(config, workdir)
    ckpt.save_batch_spec(batch, workdir)
    manager = ckpt.make_manager(workdir, async_save=False)
    ckpt.save_state(manager, state)
    manager.wait_until_finished()
    manager.close()
    return workdir
