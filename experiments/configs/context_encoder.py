"""Context Encoders (thesis §3.1, tuned values of §5.1).

Train:   jaxpaint train --config context_encoder:VARIANT --workdir runs/ce_VARIANT [--config.key=value ...]
Inpaint: jaxpaint inpaint --workdir runs/ce_VARIANT --data-dir DATA --split test --out OUT

Variants:
  paper  the thesis's tuned model: 128 px, bottleneck 4000, overlap 4, λ_rec 0.999,
         180 epochs of the competition's train split (28755 images, the thesis's
         release): 28755 // 64 = 449 steps an epoch, 180 × 449 = 80820 steps at batch 64.
         Adam 2e-4, β1 0.5; the generator's rate is 10× the discriminator's, as in
         the reference implementation the thesis used whenever 0 < λ_rec < 1.
  lspet  the paper model on LSPET at 128 px (lspet_128_seed0: 4752 train images,
         4752 // 64 = 74 steps an epoch), the thesis's 180 epochs = 13320 steps. To
         fit 30 minutes on one GPU it needs 7.4 steps/s (475 images/s, 2.2 TFLOP/s
         at the 297 GFLOP a step that XLA counts), a small share of an H100.
  quick  the main job's model (`make run`, synthetic 128 px humans): a narrow network
         (width 8, bottleneck 256) trained on L_rec alone for 500 steps of 16 images,
         about 3 minutes on a 2-core CPU.
  tiny   tests only: 64 px, a few channels, a few steps.
"""

from __future__ import annotations

import ml_collections

# Mean colour of the reference implementation (ImageNet, in [-1, 1]); the trainer
# replaces it with the train split's mean before training.
REFERENCE_MEAN_RGB = (2 * 117.0 / 255.0 - 1.0, 2 * 104.0 / 255.0 - 1.0, 2 * 123.0 / 255.0 - 1.0)

PAPER_TRAIN_IMAGES = 28755
PAPER_EPOCHS = 180
LSPET_TRAIN_IMAGES = 4752


def base_config() -> ml_collections.ConfigDict:
    c = ml_collections.ConfigDict()
    c.method = "context_encoder"
    c.seed = 0
    c.distributed = False  # True: join a multi-host job (README, "Several hosts")
    c.batch_size = 64
    c.num_steps = PAPER_EPOCHS * (PAPER_TRAIN_IMAGES // 64)
    c.log_every = 50
    c.eval_every = 1000
    c.checkpoint_every = 2000
    c.preview_every = 2000
    c.eval_batches = 10

    c.data = ml_collections.ConfigDict()
    c.data.data_dir = "data"
    c.data.dataset = "merged_128_seed0"  # all five sources, as in the thesis
    c.data.train_split = "train"
    c.data.val_split = "validation"
    c.data.image_size = 128
    c.data.mean_rgb = REFERENCE_MEAN_RGB

    c.model = ml_collections.ConfigDict()
    c.model.width = 64          # nef = ngf of the reference code
    c.model.disc_width = 64     # ndf
    c.model.bottleneck = 4000   # nBottleneck: length of the context vector
    c.model.feature_size = 4    # n: the encoder's output is n × n × (8·width)
    # Pathak et al.'s layers; content_network.py sets "elu" and "fc" (Yang et al.'s content network).
    c.model.activation = "leaky_relu"
    c.model.bottleneck_layer = "channelwise"
    c.model.input_fill = "mean"  # what G sees in the holes: "mean" colour (the paper) or "harmonic" fill
    c.model.residual = False     # True: G predicts a correction to its input image (beyond the paper)
    c.model.fill_once = False    # True: the harmonic fill of each training example is solved once

    c.loss = ml_collections.ConfigDict()
    c.loss.lambda_rec = 0.999
    c.loss.overlap = 4
    c.loss.overlap_weight = 10.0
    c.loss.ssim_weight = 0.0  # σ: + σ·(hole DSSIM of the composite), beyond the paper

    c.optim = ml_collections.ConfigDict()
    c.optim.learning_rate = 2e-4
    c.optim.b1 = 0.5
    c.optim.b2 = 0.999
    c.optim.generator_lr_scale = 10.0

    # At inference: "none" pastes the prediction into the holes (the paper); "poisson"
    # Poisson-blends it so that its borders match the known pixels.
    c.inpaint = ml_collections.ConfigDict()
    c.inpaint.blend = "none"
    return c


def get_config(variant: str = "quick") -> ml_collections.ConfigDict:
    c = base_config()
    if variant == "paper":
        return c
    if variant == "lspet":
        c.data.dataset = "lspet_128_seed0"
        c.num_steps = PAPER_EPOCHS * (LSPET_TRAIN_IMAGES // 64)
        c.eval_every = 740
        c.checkpoint_every = 740
        c.preview_every = 740
        return c
    if variant == "quick":
        c.data.dataset = "synthetic_128_seed0_n1500"
        c.batch_size = 16
        c.model.width = 8
        c.model.disc_width = 8
        c.model.bottleneck = 256
        # λ_rec = 1 (a value of the thesis's sweep): in a few hundred steps the adversarial
        # term only adds texture noise. Validation block DSSIM at step 400 on synthetic
        # 128 px (64 images): 0.352 with λ_rec = 1; 0.372-0.376 with λ_rec = 0.999 whether
        # the generator's rate is 1× or 10×, the overlap 0 or 4, its weight 1 or 10.
        c.loss.lambda_rec = 1.0
        c.num_steps = 500
        c.log_every = 25
        c.eval_every = 200
        c.checkpoint_every = 200
        c.preview_every = 200
        c.eval_batches = 4
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
    raise KeyError(f"unknown variant {variant!r}; choose paper, lspet, quick or tiny")
