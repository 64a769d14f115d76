"""Context Encoders (Pathak et al. 2016; thesis §3.1–3.3, §5.1) on the shared trainer.

The generator sees the image with every hole filled with the dataset's mean colour
(config.data.mean_rgb) and predicts the whole image. It is trained on
λ_rec·L_rec + (1 − λ_rec)·L_adv, where L_rec is the normalised L2 on the holes with
10× weight on a band of `loss.overlap` known pixels around them, and L_adv the
non-saturating loss against a discriminator that sees the whole composite image
(known pixels plus the predicted holes), not the context it was completed from.
Training runs on the shared GAN engine (jaxpaint.engine.gan); at λ_rec = 1 the
discriminator is neither run nor updated.

With model.activation = "elu" and model.bottleneck_layer = "fc" it is the content
network of Multi-Scale Neural Patch Synthesis (experiments/configs/content_network.py).

Beyond the papers, as the U-Net's `lspet` variant: `model.input_fill = "harmonic"` gives the
generator the Laplace fill of the holes instead of the mean colour, `model.residual` makes it
predict a correction to that input (its last layer starts at 0), and `model.fill_once` solves each
training example's fill once (jaxpaint.methods.input_fill).

Config fields: model.{width, disc_width, bottleneck, feature_size, activation,
bottleneck_layer, input_fill, residual, fill_once}; loss.{lambda_rec,
overlap, overlap_weight, ssim_weight (σ, beyond the paper: 0 in it)}; optim.{learning_rate, b1, b2, generator_lr_scale};
data.mean_rgb (filled by the trainer). Batches follow docs/DESIGN.md with `image`
as float32 in [-1, 1].
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
from jaxpaint.errors import JaxpaintError
from jaxpaint.models.context_encoder import ACTIVATIONS, BOTTLENECK_LAYERS, ContextEncoder
from jaxpaint.models.discriminators import DCGANDiscriminator
from jaxpaint.ops import poisson
from jaxpaint.ops.holes import composite
from jaxpaint.ops.pixels import to_model, to_uint8
from jaxpaint.methods import input_fill


def generator(config) -> ContextEncoder:
    m = config.model
    # Runs saved before the content network's options existed have neither key: Pathak et al.'s layers.
    activation, layer = m.get("activation", "leaky_relu"), m.get("bottleneck_layer", "channelwise")
    if activation not in ACTIVATIONS:
        raise JaxpaintError(f"context_encoder: model.activation is {activation!r}, expected one of {', '.join(ACTIVATIONS)}")
    if layer not in BOTTLENECK_LAYERS:
        raise JaxpaintError(f"context_encoder: model.bottleneck_layer is {layer!r}, "
                            f"expected one of {', '.join(BOTTLENECK_LAYERS)}")
    return ContextEncoder(width=m.width, bottleneck=m.bottleneck, feature_size=m.feature_size, activation=activation,
                          bottleneck_layer=layer, residual=bool(m.get("residual", False)))


def discriminator(config) -> DCGANDiscriminator:
    return DCGANDiscriminator(width=config.model.disc_width, feature_size=config.model.feature_size)


def optimizers(config) -> dict[str, optax.GradientTransformation]:
    """Adam for both nets; the generator's rate is scaled (the reference code uses 10× when 0 < λ_rec < 1)."""
    o = config.optim
    return {
        "generator": optax.adam(o.learning_rate * o.generator_lr_scale, b1=o.b1, b2=o.b2),
        "discriminator": optax.adam(o.learning_rate, b1=o.b1, b2=o.b2),
    }


def generator_input(config, batch: dict, key=None) -> jax.Array:
    """The image with its holes filled: the dataset's mean colour (the paper), or with model.input_fill =
    "harmonic" the Laplace fill (jaxpaint.methods.input_fill)."""
    del key
    return input_fill.batch_fill(config, batch)


prepare_train_source = input_fill.prepare_train_source  # model.fill_once: the harmonic fill solved once


def reconstruction_loss(config, prediction, batch) -> jax.Array:
    return losses.masked_reconstruction_loss(
        prediction, batch["image"], batch["hole"], config.loss.overlap, config.loss.overlap_weight
    )


def terms(config, fake, shown, batch, frozen) -> dict[str, jax.Array]:
    del frozen
    out = {"rec": reconstruction_loss(config, fake, batch)}
    if losses.ssim_weight(config):
        out["ssim"] = losses.hole_dssim(shown, batch["image"], batch["hole"])
    return out


def weights(config, step) -> dict[str, float]:
    """λ_rec·L_rec + (1 − λ_rec)·L_adv (thesis §3.1.1, λ_rec + λ_adv = 1); λ_rec = 1 trains G alone.
    Beyond the paper, + σ·L_ssim: the hole DSSIM of the composite (losses.hole_dssim), σ = loss.ssim_weight."""
    del step
    lambda_rec = float(config.loss.lambda_rec)
    return {"rec": lambda_rec, "adv": 1.0 - lambda_rec, "ssim": losses.ssim_weight(config)}


SPEC = gan.GanSpec(generator=generator, discriminator=discriminator, generator_input=generator_input,
                   terms=terms, weights=weights, optimizers=optimizers)
_METHOD = gan.make_method(SPEC)
init_state, train_step, phase = _METHOD.init_state, _METHOD.train_step, _METHOD.phase


def predict(config, state: TrainState, batch: dict) -> jax.Array:
    """The generator's float prediction of the whole image, in inference mode (BN running averages)."""
    return gan.generate(SPEC, config, state, batch, None)


def block_metrics(result_u8: jax.Array, target_u8: jax.Array, blocks: jax.Array, num_blocks: jax.Array) -> dict:
    """Batch means of the thesis's per-block MSE and DSSIM (jaxpaint.metrics.image), traceable inside jit."""
    from jaxpaint.metrics import image as image_metrics
    from jaxpaint.ops.ssim import DEFAULT_WINDOW, tile_extent

    regions = jnp.concatenate([blocks, blocks[..., 2:3]], axis=-1).astype(jnp.int32)  # (row, col, height, width)
    tile = tile_extent(result_u8.shape[1], DEFAULT_WINDOW)  # static: a block never exceeds the image
    scores = image_metrics._region_metrics(
        result_u8, target_u8, regions, num_blocks.astype(jnp.int32), tile_h=tile, tile_w=tile, kind="windows",
        window=DEFAULT_WINDOW,
    )
    return {"block_mse": jnp.mean(scores["mse"]), "block_dssim": jnp.mean(scores["dssim"])}


def eval_step(config, state: TrainState, batch: dict) -> dict[str, jax.Array]:
    """Validation L_rec, the hole MSE of the composite on [0, 1] pixels (uint8-rounded, as scored),
    and, when the batch has its blocks, the per-block MSE and DSSIM of the evaluation."""
    prediction = predict(config, state, batch)
    result_u8 = to_uint8(composite(prediction, batch["image"], batch["hole"]))
    target_u8 = to_uint8(batch["image"])
    hole = batch["hole"].astype(jnp.float32)
    hole_pixels = jnp.maximum(jnp.sum(hole) * 3.0, 1.0)
    squared = jnp.square(result_u8.astype(jnp.float32) / 255.0 - target_u8.astype(jnp.float32) / 255.0)
    metrics = {
        "rec_loss": reconstruction_loss(config, prediction, batch),
        "hole_mse": jnp.sum(hole[..., None] * squared) / hole_pixels,
    }
    if "blocks" in batch and "num_blocks" in batch:
        metrics.update(block_metrics(result_u8, target_u8, batch["blocks"], batch["num_blocks"]))
    return metrics


def preview(config, state: TrainState, batch: dict) -> dict[str, jax.Array]:
    """uint8 images for the preview grid: the generator's input, the completed image, the target."""
    prediction = predict(config, state, batch)
    return {
        "input": to_uint8(input_fill.filled_image(config, batch["image"], batch["hole"])),
        "output": to_uint8(composite(prediction, batch["image"], batch["hole"])),
        "target": to_uint8(batch["image"]),
    }


def make_inpainter(config, state: TrainState) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    """A batched inpainter: uint8 (B, S, S, 3) and bool (B, S, S) holes -> uint8 (B, S, S, 3).

    The generator runs jitted on chunks of config.batch_size images (jaxpaint.engine.inpaint);
    `inpaint.blend = "poisson"` Poisson-blends the prediction into the known pixels.
    """
    blend = config.get("inpaint", {}).get("blend", "none")
    if blend not in ("none", "poisson"):
        raise JaxpaintError(f"context_encoder: inpaint.blend is {blend!r}, expected 'none' or 'poisson'")

    @jax.jit
    def predict_uint8(state, images_u8, holes):
        images = to_model(images_u8)
        prediction = predict(config, state, {"image": images, "hole": holes})
        if blend == "poisson":
            # Keep the prediction's gradients but match the known pixels at every hole border,
            # as Semantic Image Inpainting does with G(z).
            prediction = poisson.poisson_blend(images, prediction, holes)
        return to_uint8(prediction)

    return chunked_inpainter(lambda images, holes: predict_uint8(state, images, holes), chunk=int(config.batch_size),
                             name="context_encoder", size=int(config.data.image_size))
