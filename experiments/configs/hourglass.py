"""The Stacked Hourglass pose estimator behind WNJD (thesis §4.2–4.3).

Train:    jaxpaint train --config experiments/configs/hourglass.py:small --workdir DIR --config.data.data_dir=DATA
          (with --config.data.dataset=lspet_128_seed0 for LSPET; the default is synthetic_128_seed0)
Evaluate: jaxpaint.pose_evaluator.PoseEvaluator.load(DIR).predict(images)

Variants:
  full   the paper's network (Newell et al. 2016): 8 stacks × 256 features, depth 4,
         256 px input, RMSProp 2.5e-4, batch 16; for accelerators.
  small  2 stacks × 64 features at 128 px, Adam; CPU-trainable in about 10–15 minutes.
  lspet  the LSPET evaluator: small's network, 8000 steps, flip + rotation + scale.
  lspet_student  lspet's network trained on the heatmaps of the released VGG-16 evaluator
         (`hourglass-vgg-lspet-v1`, model.teacher) instead of the labels: the pose-aware U-Net's pose term.
  quick  the main job's evaluator (`make run`, synthetic 128 px humans): 1 stack ×
         32 features on images downsized to 64 px, about 2 minutes on a 2-core CPU.
  tiny   tests only: 1 stack, 8 features, depth 2, 64 px, a few steps.
  lspet_vgg  the LSPET evaluator on pretrained features (beyond the thesis): hourglass stacks on frozen
         ImageNet VGG-16 relu4_3 + relu5_3, computed once per training crop; flip averaging at test time.
  lspet_vgg2x  lspet_vgg with the crop enlarged to 256 px before VGG-16 (model.backbone_scale = 2):
         relu4_3 lands on the 32 × 32 heatmap grid. Its feature cache takes 16 minutes and 6.2 GB of
         memory (float16) on the 2-core CPU, its steps 0.2 s, so the hour holds 10000 of them. At 5000
         steps, as lspet_vgg, validation PCK@0.2 was 0.720 against 0.682 (README).
"""

from __future__ import annotations

import ml_collections

LSPET_STUDENT_STEPS = 4000
LSPET_VGG2X_STEPS = 10000  # lspet_vgg2x: what fits the hour after its 16-minute feature cache (README)

def base_config() -> ml_collections.ConfigDict:
    c = ml_collections.ConfigDict()
    c.method = "hourglass"
    c.seed = 0
    c.distributed = False  # True: join a multi-host job (README, "Several hosts")
    c.batch_size = 16
    c.num_steps = 40000
    c.log_every = 50
    c.eval_every = 1000
    c.checkpoint_every = 2000
    c.preview_every = 2000
    c.eval_batches = 20

    c.data = ml_collections.ConfigDict()
    c.data.data_dir = "data"
    c.data.dataset = "synthetic_128_seed0"
    c.data.train_split = "train"
    c.data.val_split = "validation"
    c.data.image_size = 128

    c.model = ml_collections.ConfigDict()
    c.model.num_stacks = 8
    c.model.features = 256
    c.model.depth = 4
    c.model.input_size = 256     # images are resized to this before the network
    c.model.sigma = 1.0          # target Gaussian, in heatmap cells (input / 4)
    # A weaker heatmap peak means "joint not found". Kept low: WNJD charges a labelled joint
    # with no prediction the whole image diagonal, and briefly trained nets have weak peaks.
    c.model.peak_threshold = 0.01
    c.model.backbone = "none"        # "vgg16": the stacks stand on frozen ImageNet VGG-16 features
    c.model.backbone_layers = ()     # its layers, e.g. ("relu4_3", "relu5_3")
    c.model.backbone_scale = 1       # the backbone sees the image enlarged this many times
    c.model.cache_features = False   # compute each training crop's features once, augment the feature maps
    c.model.flip_test = False        # average the heatmaps of the image and its mirror
    c.model.teacher = ""             # a pose network (run folder or released name) whose heatmaps are the targets

    c.optim = ml_collections.ConfigDict()
    c.optim.name = "rmsprop"
    c.optim.learning_rate = 2.5e-4
    c.optim.final_lr_fraction = 0.1

    c.augment = ml_collections.ConfigDict()
    c.augment.flip = True
    c.augment.rotate_degrees = 30.0       # Newell et al.: rotation within ±30°
    c.augment.scale_range = (0.75, 1.25)  # and scale within 0.75–1.25
    return c


def get_config(variant: str = "quick") -> ml_collections.ConfigDict:
    c = base_config()
    if variant == "full":
        return c
    c.optim.name = "adam"
    c.optim.learning_rate = 2e-3
    if variant == "small":
        c.model.num_stacks = 2
        c.model.features = 64
        c.model.depth = 3
        c.model.input_size = 128
        c.num_steps = 1000
        c.eval_every = 250
        c.checkpoint_every = 500
        c.preview_every = 500
        c.eval_batches = 16
        return c
    if variant == "lspet":
        # The LSPET evaluator: the small network trained 8× longer with the full augmentation.
        c.data.dataset = "lspet_128_seed0"
        c.model.num_stacks = 2
        c.model.features = 64
        c.model.depth = 3
        c.model.input_size = 128
        c.num_steps = 8000
        c.eval_every = 1000
        c.checkpoint_every = 500
        c.preview_every = 2000
        c.eval_batches = 16
        return c
    if variant == "lspet_vgg":
        c.data.dataset = "lspet_128_seed0"
        c.model.backbone = "vgg16"
        c.model.backbone_layers = ("relu4_3", "relu5_3")
        c.model.cache_features = True
        c.model.flip_test = True
        c.model.num_stacks = 2
        c.model.features = 64
        c.model.depth = 3
        c.model.input_size = 128
        c.optim.learning_rate = 1e-3
        c.num_steps = 5000
        c.eval_every = 500
        c.checkpoint_every = 500
        c.preview_every = 2000
        c.eval_batches = 8
        return c
    if variant == "lspet_vgg2x":
        # lspet_vgg with the crop enlarged to 256 px before VGG-16 (model.backbone_scale = 2): relu4_3 at
        # the 32 × 32 heatmap grid, relu5_3 at 16 × 16. Features cache: 6.2 GB of memory (float16).
        c = get_config("lspet_vgg")
        c.model.backbone_scale = 2
        c.num_steps = LSPET_VGG2X_STEPS
        c.eval_every = 2000  # a validation runs VGG-16 at 256 px on 128 crops, twice (flip): about a minute
        return c
    if variant == "lspet_student":
        # The lspet network distilled from the released VGG-16 evaluator: its targets are the teacher's heatmaps
        # of each training crop (computed once, moved by the same augmentation), not Gaussians at the labels.
        # A pose term for the pose-aware U-Net as sharp as the evaluator and as cheap as the thesis hourglass.
        c = get_config("lspet")
        c.model.teacher = "hourglass-vgg-lspet-v1"
        c.num_steps = LSPET_STUDENT_STEPS
        return c
    if variant == "quick":
        c.model.num_stacks = 1
        c.model.features = 32
        c.model.depth = 2
        c.model.input_size = 64
        c.augment.rotate_degrees = 0.0  # 1200 steps are too few to profit from rotation and scale
        c.augment.scale_range = (1.0, 1.0)
        c.num_steps = 1200
        c.log_every = 25
        c.eval_every = 200
        c.checkpoint_every = 200
        c.preview_every = 200
        c.eval_batches = 8
        return c
    if variant == "tiny":
        c.data.dataset = "synthetic_64_seed0"
        c.data.image_size = 64
        c.batch_size = 4
        c.model.num_stacks = 1
        c.model.features = 8
        c.model.depth = 2
        c.model.input_size = 64
        c.num_steps = 4
        c.log_every = 2
        c.eval_every = 4
        c.checkpoint_every = 4
        c.preview_every = 4
        c.eval_batches = 1
        return c
    raise KeyError(f"unknown variant {variant!r}; choose full, small, lspet, lspet_vgg, lspet_vgg2x, lspet_student, quick or tiny")
