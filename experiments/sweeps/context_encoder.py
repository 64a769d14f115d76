"""Algorithm 1 for Context Encoders: the thesis's sweep (§5.1, Figs. 10–13).

Run:  jaxpaint tune --sweep context_encoder:lspet --workdir runs/tune_ce --config.data.data_dir=DATA

Variants:
  paper  λ_rec, overlap, bottleneck and epochs as the thesis swept them, from the paper config.
  lspet  the same parameters on LSPET, epochs scaled to its 74 steps an epoch.
  tiny   tests only: two values of λ_rec and of the overlap on the tiny config.
The score is the last validation block DSSIM of each trial (lower is better).
"""

from __future__ import annotations

STEPS_PER_EPOCH = {"paper": 28755 // 64, "lspet": 4752 // 64}


def get_sweep(variant: str = "lspet") -> dict:
    if variant in STEPS_PER_EPOCH:
        epochs = [60, 120, 180, 240]
        return {
            "config": f"context_encoder:{variant}",
            "metric": "block_dssim",
            "parameters": [
                ["loss.lambda_rec", [0.8, 0.9, 0.999, 1.0]],
                ["loss.overlap", [0, 2, 4, 6]],
                ["model.bottleneck", [2000, 3000, 4000, 5000]],
                ["num_steps", [e * STEPS_PER_EPOCH[variant] for e in epochs]],
            ],
        }
    if variant == "tiny":
        return {
            "config": "context_encoder:tiny",
            "metric": "block_dssim",
            "parameters": [["loss.lambda_rec", [0.999, 1.0]], ["loss.overlap", [0, 4]]],
        }
    raise KeyError(f"unknown variant {variant!r}; choose paper, lspet or tiny")
