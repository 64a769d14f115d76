"""Algorithm 1 for the dilated U-Net: its loss weights, one at a time, on validation block DSSIM.

Run:  jaxpaint tune --sweep unet:lspet --workdir runs/tune_unet --config.data.data_dir=DATA

Variants:
  lspet  the hole weight of the L1 term (the team's 6), the adversarial weight β (0.01) and the
         VGG-16 perceptual weight (see experiments/configs/unet.py), from the lspet config.
  tiny   tests only: two values of the hole weight and of β on the tiny config.
"""

from __future__ import annotations


def get_sweep(variant: str = "lspet") -> dict:
    if variant == "lspet":
        return {
            "config": "unet:lspet",
            "metric": "block_dssim",
            "parameters": [
                ["loss.hole_weight", [1.0, 3.0, 6.0, 10.0]],
                ["loss.adversarial_weight", [0.0, 0.001, 0.01, 0.1]],
                ["loss.perceptual_weight", [0.0, 1e-4, 1e-3, 1e-2]],
            ],
        }
    if variant == "tiny":
        return {
            "config": "unet:tiny",
            "metric": "block_dssim",
            "parameters": [["loss.hole_weight", [1.0, 6.0]], ["loss.adversarial_weight", [0.0, 0.01]]],
        }
    raise KeyError(f"unknown variant {variant!r}; choose lspet or tiny")
