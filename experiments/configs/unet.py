"""The 2nd-place ChaLearn 2018 dilated U-Net (Pandey & Patel; SPEC §2D).

Train:    jaxpaint train --config unet:VARIANT --workdir runs/unet_VARIANT [--config.key=value ...]
Inpaint:  jaxpaint inpaint --workdir runs/unet_VARIANT --data-dir DATA --split test --out OUT
Evaluate: jaxpaint evaluate --method unet --workdir runs/unet_VARIANT --data-dir DATA --dataset NAME --split test

Variants:
  paper  the team's setting: 128 px, width 64, Adam 1e-3, batch 12, 5 epochs of
         generator-only training then 15 of GAN on the competition's train split
         (28755 images: 2396 steps an epoch, 47920 steps), L1 6× in the holes,
         α = 1e-6 mask term, β = 0.01 adversarial, VGG-16 perceptual loss.
  lspet  the paper model on LSPET at 128 px (lspet_128_seed0, 4752 train images,
         396 steps an epoch), scaled to ≤ 90 minutes on a 2-core CPU: width 16
         (1/16 of the paper's conv FLOPs), discriminator width 16 with FC 256, no
         VGG term (to relu3_3 at 128 px it costs about 290 GFLOP a step, five times
         the U-Net's 46-58; the team's own weight, 1e-12, had it off too), 3600
         steps of 12 images = 9 epochs, all generator-only: no adversarial term
         (β = 0). Measured on LSPET with the paper's β = 0.01 after 2 generator-only
         epochs, the validation DSSIM rose from 0.2707 (step 800, the phase change)
         to 0.2943 (step 2200): at this width and length the discriminator pulls the
         fill away from the real image, which DSSIM and MSE punish. 0.91 CPU-seconds
         a step on the shared machine, about 55 CPU-minutes in all.
         The harmonic input fill and residual head as in `quick`.
  lspet_recipe  `lspet` plus what won at equal CPU time (issue 19;
         experiments/inpainter_recipe.py): the DSSIM of the holes as a loss term
         (loss.ssim_weight = 1), the learning rate decayed to 0 by a cosine
         (optim.decay), the generator's weights averaged for evaluation
         (optim.ema_decay = 0.998), the harmonic fill solved once per training
         example (model.fill_once), and 3400 steps so that the whole run, start
         included, stays within 60 minutes on the 2-core CPU. Candidates after 600
         steps, three trained side by side: see the README's recipe table. At
         inference the predictions for the image and its mirror are averaged
         (model.flip_test; on the width-24 run's 1584 LSPET test crops: DSSIM
         −0.0020 ± 0.0001, MSE −0.0004, LPIPS (VGG) +0.0004, for twice the
         inference cost).
  lspet_recipe_w24  `lspet_recipe` at width 24 (2.25× its conv FLOPs) for 3600 steps:
         the better use of the hour on a CPU with AVX-512, where its step takes
         0.82-0.86 s on 2 cores and the run 49.6 minutes, start included (test
         DSSIM 0.2356 against 0.2394 for `lspet_recipe`; README). On a 2-core CPU
         without AVX-512 it takes about twice as long: use `lspet_recipe` there.
  quick  the main job's model (`make run`, synthetic 64 px humans, 900 train
         images): width 8, 800 steps of 12 images at Adam 2e-3, L_rec and the mask
         term only (no discriminator, no VGG: neither pays off in a few hundred
         steps). Beyond the paper, the generator sees the harmonic (Laplace) fill of
         the holes instead of the mean colour and predicts a correction to it
         (`model.input_fill = "harmonic"`, `model.residual = True`), so it starts
         at the diffusion fill and improves on it: test DSSIM 0.2458, MSE 0.0186,
         PSNR 20.79 against 0.2599, 0.0191, 20.71 for the diffusion fill
         (validation DSSIM after 400 steps at width 16: 0.256 with these two
         options, 0.334 with the paper's mean-colour fill and tanh head).
         0.10 CPU-seconds (3.2 GFLOP) a step.
  pose_lspet  `lspet` (all its settings kept) plus the pose loss of a frozen Stacked
         Hourglass, γ = loss.pose_weight = 4, with pose.workdir = runs/hourglass_lspet
         (train it first: jaxpaint train --config hourglass:lspet --workdir
         runs/hourglass_lspet --config.data.data_dir=DATA). γ: at initialisation, on 4
         LSPET train batches of 12, the pose term (mean squared heatmap difference,
         composite against real image) was 0.034–0.068 of L_rec (mean 0.051; the
         hourglass was the lspet evaluator at step 500 of its 8000), so γ = 4 makes
         it about 0.2 of L_rec (0.13–0.27): enough to steer the fill towards the
         real pose, while L1, which DSSIM and MSE reward, still leads. A better-trained
         hourglass has sharper heatmaps; measure again with eval's pose_loss and
         rescale γ if the ratio leaves 0.1–0.3.
  tiny   tests only: 64 px, width 2, a few steps.
  tiny_pose  tests only: `tiny` with γ = 1 and conditioning on (pose.workdir given
         by the test).

Pose-aware ablation (issue 10: γ = 0 against two non-zero values, each with and
without conditioning), on top of `lspet` or `pose_lspet`:
  --config.loss.pose_weight=0|2|4|8      γ; 0 is the plain U-Net (no hourglass run)
  --config.model.pose_condition=True     G also sees the hourglass's heatmaps (12
         joint types) of its input, resized to 128 px; needs the hourglass at
         inference too (read from the run's pose.workdir)
  --config.pose.workdir=DIR              the trained hourglass run, or a released pose evaluator's
         name such as hourglass-lspet-v1 (needed by both)
  --config.loss.pose_start_step=S        the pose term from step S on; the steps before S
         run the plain (or conditioned) step's program at its cost

Perceptual weight. The team's code multiplies its perceptual loss by 1e-12, which
turns it off. Here it is `loss.perceptual_weight`, default 1e-3. Measured on 12
synthetic test images with ImageNet VGG-16 (torchvision normalisation), the four
layers' mean squared feature differences sum to 12.7 for a harmonic fill of the
holes (L_rec 0.098) and 18.2 for a mean-colour fill (L_rec 0.198): at 1e-3 the
perceptual term is a tenth to an eighth of L_rec, enough to pull the fill towards
the real image's edges and textures while L1, which DSSIM and MSE reward, still
leads; at 1e-2 it would outweigh L_rec.
"""

from __future__ import annotations

import ml_collections

PAPER_TRAIN_IMAGES = 28755
LSPET_TRAIN_IMAGES = 4752
PAPER_G_ONLY_EPOCHS = 5
PAPER_GAN_EPOCHS = 15
POSE_LSPET_WEIGHT = 4.0  # γ of pose_lspet; see the module docstring
# lspet_recipe; see the module docstring
RECIPE_SSIM_WEIGHT = 1.0
RECIPE_EMA_DECAY = 0.998
RECIPE_STEPS = 3400
RECIPE_W24_WIDTH = 24  # lspet_recipe_w24; see the module docstring
RECIPE_W24_STEPS = 3600


def base_config() -> ml_collections.ConfigDict:
    c = ml_collections.ConfigDict()
    c.method = "unet"
    c.seed = 0
    c.batch_size = 12
    c.num_steps = (PAPER_G_ONLY_EPOCHS + PAPER_GAN_EPOCHS) * (PAPER_TRAIN_IMAGES // 12)
    c.log_every = 50
    c.eval_every = 2000
    c.checkpoint_every = 2000
    c.preview_every = 2000
    c.eval_batches = 10

    c.data = ml_collections.ConfigDict()
    c.data.data_dir = "data"
    c.data.dataset = "merged_128_seed0"
    c.data.train_split = "train"
    c.data.val_split = "validation"
    c.data.image_size = 128
    c.data.mean_rgb = (0.0, 0.0, 0.0)  # replaced by the train split's mean before training

    c.model = ml_collections.ConfigDict()
    c.model.width = 64         # channels of the first conv; the others are 2× and 4× it
    c.model.disc_width = 64
    c.model.fc_width = 1024
    c.model.bn_momentum = 0.99  # the team's BN decay
    c.model.input_fill = "mean"  # what G sees in the holes: "mean" colour (the paper) or "harmonic" fill
    c.model.residual = False     # True: G predicts a correction to its input image (beyond the paper)
    c.model.pose_condition = False  # True: G also sees the hourglass's heatmaps of its input (12 channels)
    c.model.fourier_blocks = 0   # residual FFC blocks after the dilated convs (beyond the paper)
    c.model.fill_once = False    # True: the harmonic fill of each training example is solved once, not per step
    c.model.flip_test = False    # True: inference averages the image's and its mirror's predictions

    c.loss = ml_collections.ConfigDict()
    c.loss.hole_weight = 6.0
    c.loss.mask_weight = 1e-6            # α
    c.loss.perceptual_weight = 1e-3      # see the module docstring
    c.loss.perceptual_layers = ("relu2_2", "relu3_3", "relu4_3", "relu5_3")
    c.loss.adversarial_weight = 0.01     # β
    c.loss.pose_weight = 0.0             # γ: heatmap distance of the frozen hourglass (0: plain U-Net)
    c.loss.pose_start_step = 0           # S: the pose term is off (plain steps) before step S
    c.loss.ssim_weight = 0.0             # σ: DSSIM of the composite's holes (beyond the paper)

    c.pose = ml_collections.ConfigDict()
    c.pose.workdir = ""  # the trained hourglass's run, needed when pose_weight > 0 or pose_condition

    c.optim = ml_collections.ConfigDict()
    c.optim.learning_rate = 1e-3
    c.optim.b1 = 0.9
    c.optim.b2 = 0.999
    c.optim.decay = "constant"  # or "cosine": to 0 over num_steps (beyond the paper)
    c.optim.ema_decay = 0.0     # > 0: evaluate a moving average of G's weights (beyond the paper)

    c.schedule = ml_collections.ConfigDict()
    c.schedule.g_only_epochs = float(PAPER_G_ONLY_EPOCHS)
    return c


def get_config(variant: str = "quick") -> ml_collections.ConfigDict:
    c = base_config()
    if variant == "paper":
        return c
    if variant == "pose_lspet":
        c = get_config("lspet")
        c.loss.pose_weight = POSE_LSPET_WEIGHT
        c.pose.workdir = "runs/hourglass_lspet"
        return c
    if variant == "tiny_pose":
        c = get_config("tiny")
        c.loss.pose_weight = 1.0
        c.model.pose_condition = True
        c.pose.workdir = "runs/hourglass_tiny"  # tests point it at a tiny hourglass run
        return c
    if variant == "lspet":
        c.data.dataset = "lspet_128_seed0"
        c.model.width = 16
        c.model.disc_width = 16
        c.model.fc_width = 256
        c.model.input_fill = "harmonic"
        c.model.residual = True
        c.loss.perceptual_weight = 0.0
        c.loss.adversarial_weight = 0.0  # measured to hurt here; see the docstring
        c.num_steps = 3600
        c.schedule.g_only_epochs = 2.0
        c.eval_every = 400
        c.checkpoint_every = 400
        c.preview_every = 1200
        return c
    if variant == "lspet_recipe":
        c = get_config("lspet")
        c.loss.ssim_weight = RECIPE_SSIM_WEIGHT
        c.optim.decay = "cosine"
        c.optim.ema_decay = RECIPE_EMA_DECAY
        c.model.fill_once = True
        c.model.flip_test = True
        c.num_steps = RECIPE_STEPS
        return c
    if variant == "lspet_recipe_w24":
        c = get_config("lspet_recipe")
        c.model.width = RECIPE_W24_WIDTH
        c.num_steps = RECIPE_W24_STEPS
        return c
    if variant == "quick":
        c.data.dataset = "synthetic_64_seed0_n1500"
        c.data.image_size = 64
        c.model.width = 8
        c.model.disc_width = 8
        c.model.fc_width = 64
        c.model.bn_momentum = 0.9  # running averages must settle within a few hundred steps
        c.model.input_fill = "harmonic"
        c.model.residual = True
        c.loss.perceptual_weight = 0.0
        c.loss.adversarial_weight = 0.0
        c.schedule.g_only_epochs = 0.0
        c.optim.learning_rate = 2e-3
        c.num_steps = 800
        c.log_every = 50
        c.eval_every = 400
        c.checkpoint_every = 400
        c.preview_every = 800
        c.eval_batches = 4
        return c
    if variant == "tiny":
        c.data.dataset = "synthetic_64_seed0"
        c.data.image_size = 64
        c.batch_size = 4
        c.model.width = 2
        c.model.disc_width = 2
        c.model.fc_width = 8
        c.model.bn_momentum = 0.9
        c.loss.perceptual_weight = 0.0
        c.schedule.g_only_epochs = 0.0
        c.num_steps = 4
        c.log_every = 2
        c.eval_every = 4
        c.checkpoint_every = 4
        c.preview_every = 4
        c.eval_batches = 1
        return c
    raise KeyError(f"unknown variant {variant!r}; choose paper, lspet, lspet_recipe, pose_lspet, quick, tiny or tiny_pose")
