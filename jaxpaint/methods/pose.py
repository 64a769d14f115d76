"""The Stacked Hourglass pose estimator (thesis §4.3) as a method of the shared trainer.

It is the evaluator behind WNJD, not an inpainting method: it trains on whole
(unmasked) images to predict one heatmap per joint type. The loss is the mean
squared error between every stack's heatmaps and Gaussian targets (intermediate
supervision), over the joint types the source labels in each image. Images are
resized to `model.input_size` when the dataset's resolution differs, and randomly
mirrored left-right during training when `augment.flip` is set, then rotated by up to
±`augment.rotate_degrees` and scaled within `augment.scale_range` about the centre
(Newell et al.'s augmentation: ±30°, 0.75–1.25).

Config fields: model.{num_stacks, features, depth, input_size, sigma, peak_threshold};
optim.{name (adam | rmsprop), learning_rate, final_lr_fraction}; augment.{flip, rotate_degrees,
scale_range}.
"""

from __future__ import annotations

from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxpaint.data.joints import SLOT_MIRROR
from jaxpaint.metrics import pose as pose_metrics
from jaxpaint.models.hourglass import STEM_STRIDE, StackedHourglass, from_config
from jaxpaint.ops.pixels import to_uint8
from jaxpaint.engine.state import TrainState, create_state
from jaxpaint.errors import JaxpaintError

PART = "hourglass"  # the key of the network in params / opt_state / model_state


def network(config) -> StackedHourglass:
    return from_config(config.model)


def learning_rate(config):
    """Cosine decay from optim.learning_rate to final_lr_fraction of it over the run."""
    o = config.optim
    return optax.cosine_decay_schedule(o.learning_rate, max(int(config.num_steps), 1), alpha=o.final_lr_fraction)


def optimizer(config) -> optax.GradientTransformation:
    name = config.optim.name
    if name == "adam":
        return optax.adam(learning_rate(config))
    if name == "rmsprop":  # the original implementation's choice
        return optax.rmsprop(learning_rate(config))
    raise ValueError(f"optim.name must be adam or rmsprop, not {name!r}")


def resize_images(images: jax.Array, size: int) -> jax.Array:
    """float (B, S, S, 3) -> (B, size, size, 3); a no-op when S == size."""
    if images.shape[1:3] == (size, size):
        return images
    return jax.image.resize(images, (images.shape[0], size, size, images.shape[3]), "linear", antialias=True)


def rescale_xy(xy: jax.Array, from_hw, to_hw) -> jax.Array:
    """Pixel coordinates (pixel k centred at k) from one image size to another, as resizing maps them."""
    scale = jnp.array([to_hw[1] / from_hw[1], to_hw[0] / from_hw[0]], jnp.float32)
    return (xy + 0.5) * scale - 0.5


def mirror(images: jax.Array, xy: jax.Array, present: jax.Array, flip: jax.Array):
    """Mirrors the examples where flip (B,) is True: pixels, x → W − 1 − x, and left/right slots swapped."""
    width = images.shape[2]
    images = jnp.where(flip[:, None, None, None], images[:, :, ::-1], images)
    flipped_xy = jnp.stack([width - 1 - xy[..., 0], xy[..., 1]], axis=-1)[:, SLOT_MIRROR]
    xy = jnp.where(flip[:, None, None], flipped_xy, xy)
    present = jnp.where(flip[:, None], present[:, SLOT_MIRROR], present)
    return images, xy, present


def random_affine(key: jax.Array, batch_size: int, max_degrees: float, scale_range) -> tuple[jax.Array, jax.Array]:
    """Per-example rotation angles (radians, uniform in ±max_degrees) and scales (uniform in scale_range)."""
    angle_key, scale_key = jax.random.split(key)
    angle = jnp.deg2rad(jax.random.uniform(angle_key, (batch_size,), minval=-max_degrees, maxval=max_degrees))
    scale = jax.random.uniform(scale_key, (batch_size,), minval=scale_range[0], maxval=scale_range[1])
    return angle, scale


def rotate_scale(images: jax.Array, xy: jax.Array, present: jax.Array, angle: jax.Array, scale: jax.Array):
    """Rotates each image by `angle` and scales it by `scale` about its centre (bilinear, black outside),
    moving the joints with it; joints that leave the image are no longer present."""
    batch, height, width, _ = images.shape
    centre = jnp.array([(width - 1) / 2, (height - 1) / 2], jnp.float32)
    cos, sin = jnp.cos(angle)[:, None, None], jnp.sin(angle)[:, None, None]
    rows, cols = jnp.meshgrid(jnp.arange(height, dtype=jnp.float32), jnp.arange(width, dtype=jnp.float32),
                              indexing="ij")
    dx, dy = cols - centre[0], rows - centre[1]
    # Output pixel p' samples the input at c + R(-angle)·(p' - c) / scale.
    src_x = centre[0] + (cos * dx + sin * dy) / scale[:, None, None]
    src_y = centre[1] + (-sin * dx + cos * dy) / scale[:, None, None]

    def warp_channel(channel, sy, sx):
        return jax.scipy.ndimage.map_coordinates(channel, [sy, sx], order=1, mode="constant", cval=-1.0)

    warp = jax.vmap(jax.vmap(warp_channel, in_axes=(2, None, None), out_axes=2), in_axes=(0, 0, 0))
    warped = warp(images, src_y, src_x)
    d = xy - centre
    cos, sin = jnp.cos(angle)[:, None], jnp.sin(angle)[:, None]
    moved = centre + scale[:, None, None] * jnp.stack([cos * d[..., 0] - sin * d[..., 1],
                                                       sin * d[..., 0] + cos * d[..., 1]], axis=-1)
    inside = (moved[..., 0] >= 0) & (moved[..., 0] <= width - 1) & (moved[..., 1] >= 0) & (moved[..., 1] <= height - 1)
    present = present & inside
    return warped, jnp.where(present[..., None], moved, 0.0), present


def augment(config, images, xy, present, key):
    """The training augmentation of config.augment: mirror (left/right slots swapped), then rotation and scale."""
    a = config.augment
    if a.flip:
        flip = jax.random.bernoulli(key, 0.5, (images.shape[0],))
        images, xy, present = mirror(images, xy, present, flip)
    max_degrees, scale_range = float(a.get("rotate_degrees", 0.0)), tuple(a.get("scale_range", (1.0, 1.0)))
    if max_degrees > 0 or scale_range != (1.0, 1.0):
        angle, scale = random_affine(jax.random.fold_in(key, 1), images.shape[0], max_degrees, scale_range)
        images, xy, present = rotate_scale(images, xy, present, angle, scale)
    return images, xy, present


def model_inputs(config, batch: dict) -> tuple[jax.Array, jax.Array, jax.Array]:
    """Images resized to the model's input size and the joints in its pixels."""
    size = int(config.model.input_size)
    images = batch["image"]
    xy = rescale_xy(batch["joints_xy"], images.shape[1:3], (size, size))
    return resize_images(images, size), xy, batch["joints_present"]


def heatmap_loss(heatmaps: jax.Array, targets: jax.Array, labelled: jax.Array) -> jax.Array:
    """MSE of every stack's heatmaps (S, B, h, w, C) against targets (B, h, w, C), summed over
    stacks; channels of types with no label in an image (labelled (B, C) False) do not count."""
    weight = labelled.astype(jnp.float32)[:, None, None, :]
    per_stack = jnp.sum(weight * jnp.square(heatmaps - targets[None]), axis=(1, 2, 3, 4))
    cells = jnp.maximum(jnp.sum(weight) * heatmaps.shape[2] * heatmaps.shape[3], 1.0)
    return jnp.sum(per_stack) / cells


def _targets(config, xy, present, input_size: int) -> jax.Array:
    heat = input_size // STEM_STRIDE
    return pose_metrics.heatmap_targets(xy, present, (input_size, input_size), (heat, heat), config.model.sigma)


def init_state(config, key: jax.Array, batch: dict) -> TrainState:
    init_key, state_key = jax.random.split(key)
    size = int(config.model.input_size)
    variables = network(config).init(init_key, jnp.zeros((1, size, size, 3), jnp.float32), train=False)
    params = {PART: variables["params"]}
    opt_state = {PART: optimizer(config).init(params[PART])}
    return create_state(params, opt_state, state_key, {PART: variables["batch_stats"]})


def train_step(config, state: TrainState, batch: dict) -> tuple[TrainState, dict[str, jax.Array]]:
    images, xy, present = augment(config, *model_inputs(config, batch), state.step_key())
    targets = _targets(config, xy, present, images.shape[1])
    labelled = pose_metrics.type_present(present)

    def objective(params):
        variables = {"params": params, "batch_stats": state.model_state[PART]}
        heatmaps, updates = network(config).apply(variables, images, train=True, mutable=["batch_stats"])
        return heatmap_loss(heatmaps, targets, labelled), (heatmaps, updates["batch_stats"])

    (loss, (heatmaps, batch_stats)), grads = jax.value_and_grad(objective, has_aux=True)(state.params[PART])
    updates, opt_state = optimizer(config).update(grads, state.opt_state[PART], state.params[PART])
    new_state = state.replace(
        step=state.step + 1,
        params={PART: optax.apply_updates(state.params[PART], updates)},
        opt_state={PART: opt_state},
        model_state={PART: batch_stats},
    )
    metrics = {
        "loss": loss,
        "last_stack_loss": heatmap_loss(heatmaps[-1:], targets, labelled),
        "grad_norm": optax.tree.norm(grads),
    }
    return new_state, metrics


def heatmaps_for(config, params, batch_stats, images: jax.Array) -> jax.Array:
    """The last stack's heatmaps (B, h, w, 12) for float images already at the model's input size."""
    heatmaps = network(config).apply({"params": params, "batch_stats": batch_stats}, images, train=False)
    return heatmaps[-1]


def predict_joints(config, params, batch_stats, images: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Float images (B, S, S, 3) in [-1, 1] -> xy (B, 19, 2) in their own pixels, present (B, 19)."""
    size = int(config.model.input_size)
    heatmaps = heatmaps_for(config, params, batch_stats, resize_images(images, size))
    xy, present, _ = pose_metrics.decode_heatmaps(heatmaps, (size, size), config.model.peak_threshold)
    xy = rescale_xy(xy, (size, size), images.shape[1:3])
    return jnp.where(present[..., None], xy, 0.0), present


def trained_config(workdir):
    """The config of the hourglass run in `workdir`, after checking that it is one; read from its
    config.json (cheap: the pose-aware U-Net reads it again wherever it builds the network in a trace)."""
    # The run format belongs to the trainer; read here, on the host, only when a trained hourglass is asked for.
    from jaxpaint.train.checkpoint import load_config_json

    workdir = Path(workdir)
    if not workdir.is_dir():
        raise JaxpaintError(
            f"{workdir}: no such pose-evaluator workdir (train one with `jaxpaint train --config hourglass:small`)"
        )
    config = load_config_json(workdir)
    if config.get("method") != "hourglass":
        raise JaxpaintError(f"{workdir}: a run of method {config.get('method')!r}, not a hourglass pose evaluator")
    return config


def load_trained(workdir):
    """(config, params, batch_stats) of the latest checkpoint of the hourglass run in `workdir`: the one
    loader of a trained pose network (the pose evaluator, and the pose-aware U-Net's frozen hourglass)."""
    from jaxpaint.train.checkpoint import restore_run

    trained_config(workdir)
    config, state = restore_run(workdir)
    return config, state.params[PART], state.model_state[PART]


def eval_step(config, state: TrainState, batch: dict) -> dict[str, jax.Array]:
    """Validation heatmap loss of the last stack, PCK@0.2 and WNJD against the labels (image pixels)."""
    params, batch_stats = state.params[PART], state.model_state[PART]
    images, xy, present = model_inputs(config, batch)
    heatmaps = heatmaps_for(config, params, batch_stats, images)
    loss = heatmap_loss(heatmaps[None], _targets(config, xy, present, images.shape[1]), pose_metrics.type_present(present))
    pred_xy, pred_present = predict_joints(config, params, batch_stats, batch["image"])
    true_xy, true_present = batch["joints_xy"], batch["joints_present"]
    return {
        "loss": loss,
        "pck": jnp.nanmean(pose_metrics.pck(pred_xy, pred_present, true_xy, true_present, alpha=0.2)),
        "wnjd": jnp.nanmean(pose_metrics.wnjd(pred_xy, pred_present, true_xy, true_present, batch["image"].shape[1:3])),
    }


def _draw_joints(images_u8: np.ndarray, xy: np.ndarray, present: np.ndarray) -> np.ndarray:
    from jaxpaint.report.grids import draw_example

    # Host copies first: running jax operations inside a callback can deadlock the runtime.
    images_u8, xy, present = np.asarray(images_u8), np.asarray(xy), np.asarray(present)
    return np.stack([draw_example(img, None, p, m) for img, p, m in zip(images_u8, xy, present)]).astype(np.uint8)


def draw_joints(images_u8: jax.Array, xy: jax.Array, present: jax.Array) -> jax.Array:
    """uint8 images with joints drawn on them; a host callback, so that it also runs inside jit."""
    return jax.pure_callback(
        _draw_joints, jax.ShapeDtypeStruct(images_u8.shape, jnp.uint8), images_u8, xy, present, vmap_method="sequential"
    )


def preview(config, state: TrainState, batch: dict) -> dict[str, jax.Array]:
    """The validation images with the predicted joints, and with the labelled ones."""
    images = to_uint8(batch["image"])
    pred_xy, pred_present = predict_joints(config, state.params[PART], state.model_state[PART], batch["image"])
    return {
        "predicted": draw_joints(images, pred_xy, pred_present),
        "labels": draw_joints(images, batch["joints_xy"], batch["joints_present"]),
    }
