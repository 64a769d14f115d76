"""Algorithm 1 for Semantic Image Inpainting: the thesis's sweep (§5.2) of λ, the latent size and the epochs.

Run:  jaxpaint tune --sweep semantic:lspet --workdir runs/tune_sii --config.data.data_dir=DATA

Variants:
  paper  from the DCGAN's defaults (latent size 100, λ 0.1; the thesis ended at 2000 and 0.2):
         λ ∈ {0, 0.1, 0.2}, latent size ∈ {100, 2000, 4000}, then the epochs, on the paper config.
  lspet  the same parameters on LSPET at 64 px, epochs scaled to its 148 steps an epoch.
  tiny   tests only: two values of λ and of the latent size on the tiny config.
The score is each trial's last validation block DSSIM (lower is better): the semantic method
validates by inpainting `eval_batches` validation batches with the latent search run for
`val_search_iterations` steps (experiments/configs/semantic.py). λ (search.prior_weight) only
changes the search, so its trials train the same DCGAN (same seed) and differ in the search.
"""

from __future__ import annotations

STEPS_PER_EPOCH = {"paper": 28755 // 64, "lspet": 4752 // 32}
EPOCHS = {"paper": [30, 60, 95, 120], "lspet": [10, 20, 30]}
DEFAULTS = ["--config.model.latent_dim=100", "--config.search.prior_weight=0.1"]


def get_sweep(variant: str = "lspet") -> dict:
    if variant in STEPS_PER_EPOCH:
        return {
            "config": f"semantic:{variant}",
            "metric": "block_dssim",
            "overrides": list(DEFAULTS),
            "parameters": [
                ["search.prior_weight", [0.0, 0.1, 0.2]],
                ["model.latent_dim", [100, 2000, 4000]],
                ["num_steps", [e * STEPS_PER_EPOCH[variant] for e in EPOCHS[variant]]],
            ],
        }
    if variant == "tiny":
        return {
            "config": "semantic:tiny",
            "metric": "block_dssim",
            "parameters": [["search.prior_weight", [0.0, 0.2]], ["model.latent_dim", [8, 16]]],
        }
    raise KeyError(f"unknown variant {variant!r}; choose paper, lspet or tiny")
