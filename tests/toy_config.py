"""Config of the toy method in tests/toy_method.py: `jaxpaint train --config tests/toy_config.py:tiny`."""

from __future__ import annotations

import ml_collections


def get_config(variant: str = "tiny") -> ml_collections.ConfigDict:
    if variant != "tiny":
        raise ValueError(f"the toy config has only the 'tiny' variant, not {variant!r}")
    c = ml_collections.ConfigDict()
    c.method = "tests.toy_method"
    c.seed = 0
    c.batch_size = 4
    c.num_steps = 12
    c.log_every = 2
    c.eval_every = 6
    c.checkpoint_every = 4
    c.preview_every = 6
    c.eval_batches = 2
    c.async_checkpoint = False
    c.distributed = False
    c.data = ml_collections.ConfigDict({
        "data_dir": "", "dataset": "", "train_split": "train", "val_split": "validation",
        "mean_rgb": None, "examples_fn": "tests.toy_method:examples",
    })
    c.model = ml_collections.ConfigDict({"features": 8, "nan_at_step": -1, "step_delay_s": 0.0})
    c.loss = ml_collections.ConfigDict({"adv_weight": 0.1})
    c.optim = ml_collections.ConfigDict({"gen_lr": 1e-3, "disc_lr": 1e-3})
    c.guard = ml_collections.ConfigDict({"disc_loss_below": 1e-3, "adv_loss_above": 10.0, "patience": 3})
    return c
