"""Multi-Scale Neural Patch Synthesis settings for `jaxpaint tune` (jaxpaint.methods.patch_synthesis).

The method has no training: a tune trial inpaints the first `eval_images` validation images
with the settings and scores their blocks (jaxpaint.tuning.inpainting_trial). `inpaint` and
`evaluate` take the same fields as --config overrides.

Variants:
  lspet  LSPET at 128 px (lspet_128_seed0); the reference's settings (jaxpaint.methods.
         patch_synthesis.default_config) on 8 validation images. The first guess is the run in
         `content_workdir` (give it: the content network), or the diffusion fill without one.
  tiny   tests only: 64 px synthetic humans, one 2-iteration level on 2 images, the diffusion fill's guess.
"""

from __future__ import annotations

import ml_collections

from jaxpaint.methods import patch_synthesis


def get_config(variant: str = "lspet") -> ml_collections.ConfigDict:
    c = patch_synthesis.default_config()
    c.progress = False  # a trial's images are one batch: the evaluation's bar is enough
    c.data = ml_collections.ConfigDict({"data_dir": "", "dataset": "lspet_128_seed0"})
    c.eval_images = 8
    if variant == "lspet":
        return c
    if variant == "tiny":
        c.data.dataset = "synthetic_64_seed0"
        c.levels, c.iterations, c.eval_images = 1, 2, 2
        return c
    raise KeyError(f"unknown variant {variant!r}; choose lspet or tiny")
