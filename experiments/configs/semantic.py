"""Semantic Image Inpainting (Yeh et al. 2017; thesis §3.4, tuned values of §5.2): a DCGAN plus the latent search.

Train:   jaxpaint train --config semantic:VARIANT --workdir runs/sii_VARIANT --config.data.data_dir=DATA
Inpaint: jaxpaint inpaint --workdir runs/sii_VARIANT --data-dir DATA --split test --out OUT
Bench:   jaxpaint bench latent_search

Variants:
  paper  the thesis's tuned model: 128 px, latent size 2000, λ 0.2, 95 epochs of the
         competition's 28755 training images at batch 64 (449 steps an epoch); DCGAN
         widths (64: 512-256-128-64 channels, as the code the thesis trained).
  lspet  LSPET at 64 px (build it with `data build --size 64`), width 32, latent 100,
         batch 32: 4752 // 32 = 148 steps an epoch, 20 epochs. Sized from the tiny
         model's step cost scaled by FLOPs to stay within about 90 minutes on 2 CPU cores.
  tiny   tests only.
The search (`search.*`, jaxpaint.ops.latent_search): the "yeh" preset (Adam, weighted
L_c, Poisson blend) with the thesis's λ = 0.2; `search.iterations`, `search.restarts`
and the other SearchSettings fields can be overridden. Validation (at the last step, or every
`eval_every` steps) inpaints `eval_batches` validation batches with the search run for
`val_search_iterations` steps and logs their block DSSIM and MSE, the score of
`jaxpaint tune --sweep semantic:…`.
"""

from __future__ import annotations

import ml_collections

PAPER_TRAIN_IMAGES = 28755


def base_config() -> ml_collections.ConfigDict:
    c = ml_collections.ConfigDict()
    c.method = "semantic"
    c.seed = 0
    c.batch_size = 64
    steps_per_epoch = PAPER_TRAIN_IMAGES // 64
    c.num_steps = 95 * steps_per_epoch
    c.log_every = 50
    c.eval_every = 0
    c.checkpoint_every = steps_per_epoch
    c.preview_every = steps_per_epoch  # one latent-space sample grid an epoch (thesis Fig. 17)
    c.eval_batches = 1
    c.distributed = False

    c.data = ml_collections.ConfigDict()
    c.data.data_dir = "data"
    c.data.dataset = "merged_128_seed0"
    c.data.train_split = "train"
    c.data.val_split = "validation"
    c.data.image_size = 128

    c.model = ml_collections.ConfigDict()
    c.model.latent_dim = 2000
    c.model.width = 64
    c.model.disc_width = 64

    c.optim = ml_collections.ConfigDict()
    c.optim.learning_rate = 2e-4
    c.optim.b1 = 0.5
    c.optim.b2 = 0.999

    c.search = ml_collections.ConfigDict()
    c.search.preset = "yeh"
    c.search.prior_weight = 0.2
    c.search.iterations = 1500
    c.search.restarts = 1
    c.val_search_iterations = 1500
    return c


def get_config(variant: str = "lspet") -> ml_collections.ConfigDict:
    c = base_config()
    if variant == "paper":
        return c
    if variant == "lspet":
        c.data.dataset = "lspet_64_seed0"
        c.data.image_size = 64
        c.batch_size = 32
        c.model.latent_dim = 100
        c.model.width = 32
        c.model.disc_width = 32
        c.num_steps = 20 * (4752 // 32)
        c.checkpoint_every = 4752 // 32
        c.preview_every = 4752 // 32
        c.search.iterations = 1000
        c.val_search_iterations = 300  # a fraction of the search's 1000: validation stays a small share of the run
        return c
    if variant == "tiny":
        c.data.dataset = "synthetic_64_seed0"
        c.data.image_size = 64
        c.batch_size = 4
        c.model.latent_dim = 8
        c.model.width = 4
        c.model.disc_width = 4
        c.num_steps = 4
        c.log_every = 2
        c.checkpoint_every = 4
        c.preview_every = 4
        c.search.iterations = 3
        c.val_search_iterations = 2
        return c
    raise KeyError(f"unknown variant {variant!r}; choose paper, lspet or tiny")
