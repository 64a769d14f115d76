"""Algorithm 1 for Multi-Scale Neural Patch Synthesis: where the texture step improves on its first guess.

Run:  jaxpaint tune --sweep patch_synthesis:lspet --workdir runs/tune_patch_synthesis \
        --config.data.data_dir=DATA --config.content_workdir=CONTENT_RUN

Each trial inpaints the same 8 LSPET validation crops (no training) and is scored on block
DSSIM; tune.json also keeps the first guess's score on them (`first_guess`), the line a
setting must end below.

Variants:
  lspet  the texture weight (0: content and TV terms only; the reference's 1e-4), the pyramid
         levels, the coarsest level's side (None: the image's halves, finest 128 px, as the
         reference pyramids its 512 px images; 48: the pyramid ends at 48 px · 2^(levels−1),
         192 px with 3 levels, at 2.25× the cost) and the patch side (2-4: every level of these
         pyramids gives relu4 maps of at least 4 cells). A trial takes about 5 minutes on a
         2-core CPU (8 images, 3 levels of 100 L-BFGS iterations at up to 128 px).
  tiny   tests only: two texture weights and two patch sides on the tiny config.
"""

from __future__ import annotations


def get_sweep(variant: str = "lspet") -> dict:
    if variant == "lspet":
        return {
            "config": "patch_synthesis:lspet",
            "metric": "block_dssim",
            "parameters": [
                ["texture_weight", [0.0, 1e-5, 1e-4, 1e-3]],
                ["levels", [1, 2, 3]],
                ["start_size", [None, 48]],
                ["patch_size", [2, 3, 4]],
            ],
        }
    if variant == "tiny":
        return {
            "config": "patch_synthesis:tiny",
            "metric": "block_dssim",
            "parameters": [["texture_weight", [0.0, 1e-4]], ["patch_size", [3, 1]]],
        }
    raise KeyError(f"unknown variant {variant!r}; choose lspet or tiny")
