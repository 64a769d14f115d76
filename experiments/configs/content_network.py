"""The content network of Multi-Scale Neural Patch Synthesis (Yang et al. 2017; SPEC §2C, thesis §3.3).

"A Context Encoder with ELUs and a plain fully connected bottleneck": the Context
Encoder method (jaxpaint.methods.context_encoder) with model.activation = "elu" and
model.bottleneck_layer = "fc", trained on the shared GAN engine. Its runs are
`context_encoder` runs, so `inpaint` and `evaluate` restore them like any Context
Encoder, and patch synthesis takes their workdir as its first guess.

Train:   jaxpaint train --config experiments/configs/content_network.py:VARIANT --workdir runs/content_VARIANT
Inpaint: jaxpaint inpaint --workdir runs/content_VARIANT --data-dir DATA --split test --out OUT
Patch synthesis on top of it:
         jaxpaint inpaint --method patch_synthesis --config.content_workdir=runs/content_VARIANT ...

Variants:
  paper  128 px input, ELU, a fully connected bottleneck of 4000. SPEC §2C names no other
         setting of the content network, so the rest is the thesis's tuned Context Encoder
         (λ_rec 0.999, overlap 4 px, Adam 2e-4 with β1 0.5 and the generator at 10×,
         180 epochs of the competition's 28755 train images at batch 64 = 80820 steps).
  lspet  LSPET at 128 px (lspet_128_seed0, 4752 train images), sized for a 2-core CPU:
         width 16 (channels 16-32-64-128, a 4·4·128 → 1000 dense bottleneck),
         batch 16, 1200 steps (4 epochs), λ_rec = 1 (generator alone, as the CE `quick`
         variant: in so few steps the adversarial term only adds noise). 3.5 GFLOP a
         step (XLA's count). On the 2-core AMD EPYC development machine, shared (load
         average 9-14), `jaxpaint bench train_throughput -- --variant content_network:lspet
         --batch-size 16 --steps 5` measured 0.57 / 0.89 / 1.16 s a step (median 0.89), so
         1200 steps take about 18 minutes (23 at the slowest round), far inside the
         90-minute limit; the paper model (width 64, batch 64, 297 GFLOP a step) would
         manage only a few hundred steps in 90 minutes. Train it with
           jaxpaint train --config experiments/configs/content_network.py:lspet \
             --workdir runs/content_lspet --config.data.data_dir=/path/to/data
  lspet_fill  `lspet` with the U-Net's harmonic input fill and residual head (beyond the
         papers): the network starts at the diffusion fill and learns a correction to it.
         The fill of each training example is solved once (model.fill_once).
  lspet_fill_ssim  `lspet_fill` with the hole DSSIM as a loss term (loss.ssim_weight = 1, the U-Net
         recipe's winning term). Under L2 alone the fill network learns almost no correction
         (DSSIM +0.0002 ± 0.0001 against the diffusion fill on LSPET's 1584 test crops); with the
         term it is −0.00045 ± 0.00012, past the floor, narrowly (README).
  tiny   tests only: 64 px, a few channels, a few steps.
"""

from __future__ import annotations

import ml_collections

from jaxpaint.config import load_config


def base_config() -> ml_collections.ConfigDict:
    c = load_config("context_encoder:paper")  # the same method and fields, so runs restore as Context Encoders
    c.model.activation = "elu"
    c.model.bottleneck_layer = "fc"
    return c


def get_config(variant: str = "lspet") -> ml_collections.ConfigDict:
    c = base_config()
    if variant == "paper":
        return c
    if variant == "lspet":
        c.data.dataset = "lspet_128_seed0"
        c.batch_size = 16
        c.model.width = 16
        c.model.disc_width = 16
        c.model.bottleneck = 1000
        c.loss.lambda_rec = 1.0
        c.num_steps = 1200
        c.log_every = 50
        c.eval_every = 400
        c.checkpoint_every = 400
        c.preview_every = 400
        c.eval_batches = 8
        return c
    if variant == "lspet_fill":
        c = get_config("lspet")
        c.model.input_fill, c.model.residual, c.model.fill_once = "harmonic", True, True
        return c
    if variant == "lspet_fill_ssim":
        c = get_config("lspet_fill")
        c.loss.ssim_weight = 1.0
        return c
    if variant == "tiny":
        c.data.dataset = "synthetic_64_seed0"
        c.data.image_size = 64
        c.batch_size = 4
        c.model.width = 4
        c.model.disc_width = 4
        c.model.bottleneck = 16
        c.num_steps = 4
        c.log_every = 2
        c.eval_every = 4
        c.checkpoint_every = 4
        c.preview_every = 4
        c.eval_batches = 1
        return c
    raise KeyError(f"unknown variant {variant!r}; choose paper, lspet, lspet_fill, lspet_fill_ssim or tiny")
