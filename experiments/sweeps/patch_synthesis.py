"""Algorithm 1 for Multi-Scale Neural Patch Synthesis: where the texture step improves on its first guess.

Run:  jaxpaint tune --sweep patch_synthesis:lspet --workdir runs/tune_patch_synthesis \
        --config.data.data_dir=DATA --config.content_workdir=CONTENT_RUN

Each trial inpaints the same 8 LSPET validation crops (no training) and is scored on block
DSSIM; tune.json also keeps the first guess's score on them (`first_guess`), the line a
setting must end below.

Variants:
  lspet  the texture weight (0: content and TV terms only; the reference's 1e-4), the patch
         side, the pyramid levels and the coarsest level's side (finest = start · 2^(levels−1):
         64 with 2 levels works at 128 px, the image's own side, as the reference does at its
         512 px; 128 with 2 levels synthesises at 256 px). 48, 64 and 128 suit every level
         count and patch side of the sweep (relu4 maps of at least 6 cells).
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
                ["patch_size", [3, 5]],
                ["levels", [1, 2, 3]],
                ["start_size", [48, 64, 128]],
            ],
        }
    if variant == "tiny":
        return {
            "config": "patch_synthesis:tiny",
            "metric": "block_dssim",
            "parameters": [["texture_weight", [0.0, 1e-4]], ["patch_size", [3, 1]]],
        }
    raise KeyError(f"unknown variant {variant!r}; choose lspet or tiny")
