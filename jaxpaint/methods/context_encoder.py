"""Context Encoders (Pathak et al. 2016; thesis §3.1–3.3, §5.1) on the shared trainer.

The generator sees the image with every hole filled with the dataset's mean colour
(config.data.mean_rgb) and predicts the whole image. It is trained on
λ_rec·L_rec + (1 − λ_rec)·L_adv, where L_rec is the normalised L2 on the holes with
10× weight on a band of `loss.overlap` known pixels around them, and L_adv the
non-saturating loss against a discriminator that sees only whole images.

Config fields: model.{width, disc_width, bottleneck, feature_size}; loss.{lambda_rec,
overlap, overlap_weight}; optim.{learning_rate, b1, b2, generator_lr_scale};
data.mean_rgb (filled by the trainer). Batches follow docs/DESIGN.md with `image`
as float32 in [-1, 1].
"""

from __future__ import annotations

from functools import partial
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxpaint import losses
from jaxpaint.errors import JaxpaintError
from jaxpaint.ops import poisson
from jaxpaint.ops.pixels import to_model, to_uint8
from jaxpaint.models.context_encoder import ContextEncoder
from jaxpaint.models.discriminators import DCGANDiscriminator
from jaxpaint.train.state import TrainState, create_state


def generator(config) -> ContextEncoder:
    m = config.model
    return ContextEncoder(width=m.width, bottleneck=m.bottleneck, feature_size=m.feature_size)


def discriminator(config) -> DCGANDiscriminator:
    return DCGANDiscriminator(width=config.model.disc_width, feature_size=config.model.feature_size)


def optimizers(config) -> dict[str, optax.GradientTransformation]:
    """Adam for both nets; the generator's rate is scaled (the reference code uses 10× when 0 < λ_rec < 1)."""
    o = config.optim
    return {
        "generator": optax.adam(o.learning_rate * o.generator_lr_scale, b1=o.b1, b2=o.b2),
        "discriminator": optax.adam(o.learning_rate, b1=o.b1, b2=o.b2),
    }


def fill_holes(image: jax.Array, hole: jax.Array, colour) -> jax.Array:
    """float (B, H, W, 3) image with hole pixels replaced by `colour` (3 floats in [-1, 1])."""
    colour = jnp.asarray(colour, image.dtype).reshape(1, 1, 1, 3)
    return jnp.where(hole[..., None], colour, image)


def composite(prediction: jax.Array, image: jax.Array, hole: jax.Array) -> jax.Array:
    """The prediction inside the holes, the input everywhere else."""
    return jnp.where(hole[..., None], prediction, image)


def init_key(key: jax.Array) -> jax.Array:
    """An "rbg" key derived from `key` for drawing initial weights.

    XLA on CPU compiles threefry sampling for every weight tensor slowly (about 25 s
    for the tiny model here against 4 s with rbg); the draw stays a pure function of `key`.
    """
    return jax.random.wrap_key_data(jax.random.bits(key, (4,), jnp.uint32), impl="rbg")


def init_state(config, key: jax.Array, batch: dict) -> TrainState:
    g_key, d_key, state_key = jax.random.split(key, 3)
    image = batch["image"]
    g_vars = jax.jit(partial(generator(config).init, train=False))(init_key(g_key), image)
    d_vars = jax.jit(partial(discriminator(config).init, train=False))(init_key(d_key), image)
    params = {"generator": g_vars["params"], "discriminator": d_vars["params"]}
    model_state = {"generator": g_vars["batch_stats"], "discriminator": d_vars["batch_stats"]}
    opt_state = {name: tx.init(params[name]) for name, tx in optimizers(config).items()}
    return create_state(params, opt_state, state_key, model_state)


def _run_generator(config, params, batch_stats, batch, train: bool):
    """(prediction, new batch_stats) for a batch; new stats equal the old ones when not training."""
    inputs = fill_holes(batch["image"], batch["hole"], config.data.mean_rgb)
    variables = {"params": params, "batch_stats": batch_stats}
    if not train:
        return generator(config).apply(variables, inputs, train=False), batch_stats
    prediction, updates = generator(config).apply(variables, inputs, train=True, mutable=["batch_stats"])
    return prediction, updates["batch_stats"]


def _run_discriminator(config, params, batch_stats, images):
    logits, updates = discriminator(config).apply(
        {"params": params, "batch_stats": batch_stats}, images, train=True, mutable=["batch_stats"]
    )
    return logits, updates["batch_stats"]


def reconstruction_loss(config, prediction, batch) -> jax.Array:
    return losses.masked_reconstruction_loss(
        prediction, batch["image"], batch["hole"], config.loss.overlap, config.loss.overlap_weight
    )


def train_step(config, state: TrainState, batch: dict) -> tuple[TrainState, dict[str, jax.Array]]:
    """One simultaneous update of G and D from the same generated batch (as in the reference code)."""
    params, stats = state.params, state.model_state
    lambda_rec = config.loss.lambda_rec

    def generator_objective(g_params):
        prediction, g_stats = _run_generator(config, g_params, stats["generator"], batch, train=True)
        fake_logits, _ = _run_discriminator(config, params["discriminator"], stats["discriminator"], prediction)
        rec = reconstruction_loss(config, prediction, batch)
        adv = losses.generator_adversarial_loss(fake_logits)
        total = losses.joint_generator_loss(rec, adv, lambda_rec)
        return total, (prediction, g_stats, rec, adv)

    (gen_loss, (prediction, g_stats, rec, adv)), g_grads = jax.value_and_grad(generator_objective, has_aux=True)(
        params["generator"]
    )
    fake = jax.lax.stop_gradient(prediction)

    def discriminator_objective(d_params):
        # Real and fake go through D separately, each normalised by its own batch statistics.
        real_logits, d_stats = _run_discriminator(config, d_params, stats["discriminator"], batch["image"])
        fake_logits, d_stats = _run_discriminator(config, d_params, d_stats, fake)
        return losses.discriminator_loss(real_logits, fake_logits), (d_stats, real_logits, fake_logits)

    (disc_loss, (d_stats, real_logits, fake_logits)), d_grads = jax.value_and_grad(
        discriminator_objective, has_aux=True
    )(params["discriminator"])

    txs = optimizers(config)
    new_params, new_opt = {}, {}
    for name, grads in (("generator", g_grads), ("discriminator", d_grads)):
        updates, new_opt[name] = txs[name].update(grads, state.opt_state[name], params[name])
        new_params[name] = optax.apply_updates(params[name], updates)
    new_state = state.replace(
        step=state.step + 1,
        params=new_params,
        opt_state=new_opt,
        model_state={"generator": g_stats, "discriminator": d_stats},
    )
    metrics = {
        "loss": gen_loss,
        "gen_loss": gen_loss,
        "rec_loss": rec,
        "adv_loss": adv,
        "disc_loss": disc_loss,
        "d_real": jnp.mean(jax.nn.sigmoid(real_logits)),
        "d_fake": jnp.mean(jax.nn.sigmoid(fake_logits)),
    }
    return new_state, metrics


def predict(config, state: TrainState, batch: dict) -> jax.Array:
    """The generator's float prediction of the whole image, in inference mode (BN running averages)."""
    prediction, _ = _run_generator(config, state.params["generator"], state.model_state["generator"], batch, False)
    return prediction


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
        "input": to_uint8(fill_holes(batch["image"], batch["hole"], config.data.mean_rgb)),
        "output": to_uint8(composite(prediction, batch["image"], batch["hole"])),
        "target": to_uint8(batch["image"]),
    }


def make_inpainter(config, state: TrainState) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    """A batched inpainter: uint8 (B, S, S, 3) and bool (B, S, S) holes -> uint8 (B, S, S, 3).

    The network runs jitted on chunks of a fixed size (config.batch_size), the last
    one padded, so any B compiles once. Known pixels are copied back from the input
    bytes, so they come back exactly.
    """
    chunk = int(config.batch_size)
    size = int(config.data.image_size)
    params = state.params["generator"]
    batch_stats = state.model_state["generator"]
    model = generator(config)
    colour = jnp.asarray(config.data.mean_rgb, jnp.float32)
    blend = config.get("inpaint", {}).get("blend", "none")
    if blend not in ("none", "poisson"):
        raise JaxpaintError(f"context_encoder: inpaint.blend is {blend!r}, expected 'none' or 'poisson'")

    @jax.jit
    def predict_uint8(images_u8, holes):
        images = to_model(images_u8)
        inputs = fill_holes(images, holes, colour)
        prediction = model.apply({"params": params, "batch_stats": batch_stats}, inputs, train=False)
        if blend == "poisson":
            # Keep the prediction's gradients but match the known pixels at every hole border,
            # as Semantic Image Inpainting does with G(z).
            prediction = poisson.poisson_blend(images, prediction, holes)
        return to_uint8(prediction)

    def inpaint(images: np.ndarray, holes: np.ndarray) -> np.ndarray:
        images = np.asarray(images)
        holes = np.asarray(holes, dtype=bool)
        if images.dtype != np.uint8 or images.ndim != 4 or images.shape[1:] != (size, size, 3):
            raise JaxpaintError(
                f"context_encoder inpainter: images must be uint8 (B, {size}, {size}, 3), got {images.dtype} {images.shape}"
            )
        if holes.shape != images.shape[:3]:
            raise JaxpaintError(f"context_encoder inpainter: holes {holes.shape} do not match images {images.shape[:3]}")
        out = np.empty_like(images)
        for start in range(0, len(images), chunk):
            part, part_holes = images[start:start + chunk], holes[start:start + chunk]
            pad = chunk - len(part)
            if pad:
                part_padded = np.concatenate([part, np.zeros((pad,) + part.shape[1:], np.uint8)])
                holes_padded = np.concatenate([part_holes, np.zeros((pad,) + part_holes.shape[1:], bool)])
            else:
                part_padded, holes_padded = part, part_holes
            predicted = np.asarray(predict_uint8(part_padded, holes_padded))[: len(part)]
            out[start:start + len(part)] = np.where(part_holes[..., None], predicted, part)
        return out

    return inpaint
