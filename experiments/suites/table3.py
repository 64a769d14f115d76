"""The thesis's Table 3 as a suite for `jaxpaint run --suite table3 [--source synthetic|lspet]`.

`get_suite(source)` returns the suite: entries are data, so a new row is one more dict.
Entry keys (see jaxpaint/commands/suite.py):
  name             the row's label and its folder (SUITE/runs/NAME, SUITE/eval/NAME)
  method           an inpainting method (jaxpaint.methods)
  config           "file:variant" for a trained method; absent for methods without training
  release          a trained method's released model (jaxpaint/released, e.g. "unet-lspet-v1"), scored
                   instead of a run trained by the suite
  overrides        --config.key=value for training (trained) or for the inpainter (untrained)
  eval_overrides   --config.key=value for the trained run's inpainter only (e.g. inpaint.blend=poisson)
  dataset          the entry's own dataset (e.g. the 64 px LSPET build for the semantic method)
  content          for patch synthesis: entry names whose run gives the first guess, the first
                   present wins; none present -> the method's default guess (the diffusion fill)
  max_test_images  a cap on the test images this row is scored on (slow methods)
A pose-aware U-Net row, for instance, is {"name": "unet_pose", "method": "unet", "config": "unet:lspet",
"overrides": ["--config.loss.pose_weight=..."]}.
"""

# Synthetic preset: tiny models with 150 steps at 64 px (300 images, 60 in the test split), so that the whole
# suite runs in minutes on a CPU; the point is the pipeline, not the numbers. Measured: 1021 s on 2 CPU
# cores shared with other trainings (pose 193 s, Context Encoder 113 s, semantic 87 s, U-Net 148 s,
# the rest building the data and scoring, patch synthesis on 4 images).
_SYNTHETIC_STEPS = ["--config.num_steps=150", "--config.log_every=25", "--config.checkpoint_every=150",
                    "--config.preview_every=150"]
_SYNTHETIC_EVAL = ["--config.eval_every=50", "--config.eval_batches=2"]


def _synthetic() -> dict:
    return {
        "build": {"source": "synthetic", "size": 64, "num_examples": 300},
        "pose": {"config": "hourglass:tiny", "overrides": [*_SYNTHETIC_STEPS, *_SYNTHETIC_EVAL, "--config.batch_size=8"]},
        "entries": [
            {"name": "holes", "method": "holes"},
            {"name": "diffusion", "method": "diffusion"},
            {"name": "context_encoder", "method": "context_encoder", "config": "context_encoder:tiny",
             "overrides": [*_SYNTHETIC_STEPS, *_SYNTHETIC_EVAL, "--config.batch_size=8", "--config.loss.lambda_rec=1.0"]},
            {"name": "semantic", "method": "semantic", "config": "semantic:tiny",
             "overrides": [*_SYNTHETIC_STEPS, "--config.batch_size=8", "--config.search.iterations=20"]},
            {"name": "patch_synthesis", "method": "patch_synthesis", "content": ["content_network"],
             "overrides": ["--config.iterations=10", "--config.levels=2", "--config.progress=False"],
             "max_test_images": 4},
            {"name": "unet", "method": "unet", "config": "unet:tiny",
             "overrides": [*_SYNTHETIC_STEPS, *_SYNTHETIC_EVAL, "--config.batch_size=8"]},
        ],
    }


SCRATCH_POSE_NETWORK = "runs/hourglass_lspet"  # hourglass:lspet, 6000 steps (README), relative to the cwd
FULL_POSE_NETWORK = "hourglass-lspet-v1"  # the released thesis hourglass (hourglass:lspet, 3000 steps)
# hourglass:lspet_student (the thesis hourglass's network distilled from hourglass-vgg-lspet-v1), relative to the cwd
STUDENT_POSE_NETWORK = "runs/hourglass_student"
LATE_POSE_START = 2400  # S of the late_* rows: two thirds of the plain run's 3600 steps at the plain step's cost
LATE_POSE_WEIGHT = 0.5  # γ of the late_* rows: twice STUDENT_POSE_WEIGHT, over a third of the steps
STUDENT_POSE_WEIGHT = 0.25  # γ: the distilled network's L_pose starts at 0.03, 12 times the thesis hourglass's, so γ·L_pose starts at 6 % of L_rec (full_pose: 8 %)


def _lspet() -> dict:
    # The datasets are built beforehand (jaxpaint data build --source lspet ...): lspet_128_seed0 for every
    # method but the semantic one, whose DCGAN is 64 px and reads the 64 px build of the same split.
    return {
        "dataset": "lspet_128_seed0",
        "pose": {"config": "hourglass:lspet"},
        "entries": [
            {"name": "holes", "method": "holes"},
            {"name": "diffusion", "method": "diffusion"},
            {"name": "context_encoder", "method": "context_encoder", "config": "context_encoder:lspet"},
            # 10 of the config's 20 DCGAN epochs, and the 1000-iteration search on the first 64 test images:
            # what the README's LSPET figures afforded on 2 CPU cores.
            {"name": "semantic", "method": "semantic", "config": "semantic:lspet", "dataset": "lspet_64_seed0",
             "overrides": ["--config.num_steps=1480"], "max_test_images": 64},
            {"name": "content_network", "method": "context_encoder", "config": "content_network:lspet"},
            {"name": "patch_synthesis", "method": "patch_synthesis", "content": ["content_network"],
             "overrides": ["--config.progress=False"], "max_test_images": 16},
            # The settings `jaxpaint tune --sweep patch_synthesis:lspet` chose on 8 validation crops (README).
            {"name": "patch_synthesis_tuned", "method": "patch_synthesis", "content": ["content_network"],
             "overrides": ["--config.progress=False", "--config.texture_weight=1e-05", "--config.levels=2",
                           "--config.start_size=48", "--config.patch_size=4"], "max_test_images": 32},
            {"name": "unet", "method": "unet", "config": "unet:lspet"},
            # Beyond the sources (issue 19): the U-Net recipe and the content network on the harmonic fill.
            {"name": "unet_recipe", "method": "unet", "config": "unet:lspet_recipe"},
            {"name": "content_network_fill", "method": "context_encoder", "config": "content_network:lspet_fill"},
            {"name": "content_network_fill_ssim", "method": "context_encoder",
             "config": "content_network:lspet_fill_ssim"},
            {"name": "unet_recipe_w24", "method": "unet", "config": "unet:lspet_recipe_w24"},
            # `unet:lspet` as released (`jaxpaint models rebuild unet-lspet-v1` trains it again, bit for bit):
            # the suite scores it without the hour of training.
            {"name": "unet_released", "method": "unet", "release": "unet-lspet-v1"},
            # Beyond the source: the same texture optimisation on the U-Net's guess, which tells a weak
            # first guess apart from a texture term that does not pay on DSSIM.
            {"name": "patch_synthesis_unet", "method": "patch_synthesis", "content": ["unet"],
             "overrides": ["--config.progress=False"], "max_test_images": 16},
            # The pose-aware ablation from scratch (issue 18): γ ∈ {0, 4} × the hourglass's heatmaps as 12 more
            # generator inputs {off, on}, seed 0, each given the wall-clock of 800 plain steps: 800 / (the
            # setting's step / the plain step). Those ratios, 1.32, 1.10 and 1.40, are the medians of 9 rounds
            # that timed the four steps in turn on LSPET batches (three runs of experiments/pose_step_cost.py
            # on the shared 2-core CPU; single rounds ranged 1.18-1.58, 1.02-1.30 and 1.21-1.64). The pose
            # network is the from-scratch hourglass, not the suite's pose evaluator: the method is not trained
            # on its judge, and a gradient through the hourglass costs less than one through VGG-16. 800 steps
            # and the first 512 test crops: the four rows in under two hours of the shared 2-core CPU.
            {"name": "scratch_plain", "method": "unet", "config": "unet:lspet", "overrides": ["--config.num_steps=800"],
             "max_test_images": 512},
            *({"name": f"scratch_{name}", "method": "unet", "config": "unet:pose_lspet",
               "overrides": [f"--config.num_steps={steps}", f"--config.loss.pose_weight={gamma}",
                             f"--config.model.pose_condition={condition}",
                             f"--config.pose.workdir={SCRATCH_POSE_NETWORK}"], "max_test_images": 512}
              for name, gamma, condition, steps in (("pose", 4.0, False, 606), ("cond", 0.0, True, 729),
                                                    ("pose_cond", 4.0, True, 571))),
            # The same ablation at the plain run's whole budget, 3600 steps of `unet:lspet`, whose row is the
            # released `unet-lspet-v1` (`unet_released`: seed 0, 3600 steps, from scratch). Step counts are 3600 /
            # (the setting's step / the plain step): 1.29, 1.11 and 1.31, the medians of 3 rounds of
            # experiments/pose_step_cost.py on the AVX-512 host the runs trained on (0.41 s a plain step). The
            # pose network is the released thesis hourglass (`hourglass-lspet-v1`, PCK@0.2 0.37); rows are scored
            # on all 1584 test crops.
            *({"name": f"full_{name}", "method": "unet", "config": "unet:pose_lspet",
               "overrides": [f"--config.num_steps={steps}", f"--config.loss.pose_weight={gamma}",
                             f"--config.model.pose_condition={condition}",
                             f"--config.pose.workdir={FULL_POSE_NETWORK}"]}
              for name, gamma, condition, steps in (("pose", 4.0, False, 2801), ("cond", 0.0, True, 3240),
                                                    ("pose_cond", 4.0, True, 2755))),
            # The same rows with the pose network distilled from the evaluator (`hourglass:lspet_student`): the
            # thesis hourglass's shapes, so the same step costs and step counts.
            *({"name": f"student_{name}", "method": "unet", "config": "unet:pose_lspet",
               "overrides": [f"--config.num_steps={steps}", f"--config.loss.pose_weight={gamma}",
                             f"--config.model.pose_condition={condition}",
                             f"--config.pose.workdir={STUDENT_POSE_NETWORK}"]}
              for name, gamma, condition, steps in (("pose", STUDENT_POSE_WEIGHT, False, 2801), ("cond", 0.0, True, 3240),
                                                    ("pose_cond", STUDENT_POSE_WEIGHT, True, 2755))),
            # The distilled pose term from step LATE_POSE_START on, from scratch: the steps before it are the plain
            # (or the conditioned) program, so the budget is S plain steps (×1.11 conditioned) plus the rest at ×1.29
            # (×1.31): 2400 + 930 and 2400 + 714 steps, each worth 3600 plain steps.
            *({"name": f"late_{name}", "method": "unet", "config": "unet:pose_lspet",
               "overrides": [f"--config.num_steps={steps}", f"--config.loss.pose_weight={LATE_POSE_WEIGHT}",
                             f"--config.loss.pose_start_step={LATE_POSE_START}",
                             f"--config.model.pose_condition={condition}",
                             f"--config.pose.workdir={STUDENT_POSE_NETWORK}"]}
              for name, condition, steps in (("pose", False, 3330), ("pose_cond", True, 3114))),
        ],
    }


# Published figures (SPEC §3, thesis Table 3 and the 2nd place's slides): the competition's test set, not ours.
PUBLISHED = [
    {"method": "Context Encoders (ImageNet), thesis", "dssim": 0.2780, "mse": 0.0393, "wnjd": 0.2673},
    {"method": "Context Encoders, thesis", "dssim": 0.2756, "mse": 0.0412, "wnjd": 0.1489},
    {"method": "Semantic Image Inpainting, thesis", "dssim": 0.3575, "mse": 0.0472, "wnjd": 0.2427},
    {"method": "Multi-Scale Neural Patch Synthesis, thesis", "dssim": 0.2530, "mse": 0.0251, "wnjd": 0.1505},
    {"method": "2nd-place U-Net (slides)", "dssim": 0.2048, "mse": 0.0158, "psnr": 21.51, "wnjd": 0.1495},
]


def get_suite(source: str = "synthetic") -> dict:
    presets = {"synthetic": _synthetic, "lspet": _lspet}
    if source not in presets:
        raise KeyError(f"unknown source preset {source!r}; choose {' or '.join(presets)}")
    return {**presets[source](), "published": PUBLISHED}
