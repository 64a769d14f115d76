"""The pose evaluator on frozen ImageNet VGG-16 features (model.backbone): augmentation of cached feature
maps, flip averaging at test time, the per-crop feature cache, and a trained run restored for prediction."""

from __future__ import annotations

import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxpaint.config import load_config
from jaxpaint.data.joints import NUM_SLOTS, slot
from jaxpaint.methods import pose as pose_method
from jaxpaint.pose_evaluator import PoseEvaluator
import pose_toy_data  # tests/ is on sys.path under pytest (no package __init__)

pytestmark = pytest.mark.slow  # half a minute or more in all: scheduled first (conftest.py)


def backbone_config():
    """hourglass:tiny on VGG-16 relu2_2 + relu3_3 (strides 2 and 4: 32 × 32 and 16 × 16 at 64 px; the
    shallowest layers at two strides keep the compiled VGG small)."""
    config = load_config("hourglass:tiny")
    config.data.examples_fn = "pose_toy_data:examples"
    config.model.backbone = "vgg16"
    config.model.backbone_layers = ("relu2_2", "relu3_3")
    config.model.cache_features = True
    config.async_checkpoint = False
    return config


def no_augmentation(config):
    config.augment.flip = False
    config.augment.rotate_degrees = 0.0
    config.augment.scale_range = (1.0, 1.0)
    return config


@pytest.fixture(scope="module")
def frozen():
    return pose_method.load_frozen(backbone_config())


@pytest.fixture(scope="module")
def toy_batch():
    examples = pose_toy_data.examples("train")[:4]
    return {
        "image": jnp.asarray(np.stack([e["image"] for e in examples]), jnp.float32) / 127.5 - 1.0,
        "joints_xy": jnp.asarray(np.stack([e["joints"]["xy"] for e in examples]), jnp.float32),
        "joints_present": jnp.asarray(np.stack([e["joints"]["present"] for e in examples]), bool),
    }


def bump(size: int, stride: int, x: float, y: float) -> np.ndarray:
    """A Gaussian on a stride-`stride` grid of a `size`-pixel image, centred on pixel (x, y)."""
    cells = size // stride
    gx, gy = (x + 0.5) / stride - 0.5, (y + 0.5) / stride - 0.5
    rows, cols = np.mgrid[:cells, :cells]
    return np.exp(-((cols - gx) ** 2 + (rows - gy) ** 2) / 2.0)[..., None].astype(np.float32)


def centre_in_pixels(maps: np.ndarray, stride: int) -> np.ndarray:
    """(B, 2) centre of mass of (B, h, w, 1) maps, in the image's pixels."""
    weight = maps[..., 0]
    rows, cols = np.mgrid[: weight.shape[1], : weight.shape[2]]
    grid = np.stack([(weight * cols).sum((1, 2)), (weight * rows).sum((1, 2))], -1) / weight.sum((1, 2))[:, None]
    return (grid + 0.5) * stride - 0.5


@pytest.mark.parametrize("seed", range(4))
def test_feature_maps_at_every_stride_move_with_the_joints(seed):
    # A bump at the neck on a stride-4 and a stride-8 grid: after mirror, rotation and scale, each bump's
    # centre must be where the neck went (the neck is its own mirror slot).
    size, batch = 64, 6
    config = load_config("hourglass:tiny")
    rng = np.random.default_rng(seed)
    xy = np.zeros((batch, NUM_SLOTS, 2), np.float32)
    present = np.zeros((batch, NUM_SLOTS), bool)
    neck = slot("upper_neck")
    xy[:, neck] = rng.uniform(26, 38, (batch, 2))
    present[:, neck] = True
    maps = tuple(np.stack([bump(size, stride, *p) for p in xy[:, neck]]) for stride in (4, 8))
    moved_maps, moved_xy, moved_present = pose_method.augment_maps(
        config, tuple(jnp.asarray(m) for m in maps), (0.0, 0.0), jnp.asarray(xy), jnp.asarray(present),
        jax.random.PRNGKey(seed), size)
    assert np.asarray(moved_present)[:, neck].all()
    for stride, moved in zip((4, 8), moved_maps):
        np.testing.assert_allclose(centre_in_pixels(np.asarray(moved), stride), np.asarray(moved_xy)[:, neck],
                                   atol=0.25 * stride)
    # The draw did move something: the augmentation is on in this config.
    assert np.abs(np.asarray(moved_xy)[:, neck] - xy[:, neck]).max() > 1.0


@pytest.mark.parametrize("scale", [1, 2])
def test_backbone_scale_enlarges_the_image_before_the_backbone_and_the_step_fits_its_features(frozen, toy_batch,
                                                                                            scale):
    """Shapes only (jax.eval_shape: nothing compiles). At 64 px, relu3_3 (stride 4) is 16 × 16, and 32 × 32
    at scale 2; the cache's shapes agree with the features, and a training step takes the cached maps."""
    config = backbone_config()
    config.model.backbone_scale = scale
    size = config.model.input_size
    features = jax.eval_shape(lambda x: pose_method.backbone_features(config, frozen["backbone"], x),
                              toy_batch["image"])
    shapes = pose_method.backbone_feature_shapes(config, size)
    assert [f.shape[1:] for f in features] == shapes
    assert shapes[1] == (size * scale // 4, size * scale // 4, 256)  # relu3_3
    state = pose_method.init_state(config, jax.random.PRNGKey(0), toy_batch)
    cached = dict(toy_batch, **{name: jnp.zeros((4,) + shape) for name, shape in zip(config.model.backbone_layers, shapes)})
    _, metrics = jax.eval_shape(lambda b: pose_method.train_step(config, state, b, frozen), cached)
    assert metrics["loss"].shape == ()


def test_flip_averaged_heatmaps_of_a_mirror_are_the_mirrored_heatmaps(frozen, toy_batch):
    config = backbone_config()
    config.model.flip_test = True
    state = pose_method.init_state(config, jax.random.PRNGKey(0), toy_batch)
    params, stats = state.params[pose_method.PART], state.model_state[pose_method.PART]
    images = toy_batch["image"]
    # The image and its mirror in one call: one compiled program.
    both = jax.jit(lambda x: pose_method.heatmaps_for(config, params, stats, x, frozen["backbone"]))(
        jnp.concatenate([images, images[:, :, ::-1]]))
    heat, heat_of_mirror = both[: len(images)], both[len(images):]
    np.testing.assert_allclose(np.asarray(heat_of_mirror), np.asarray(heat)[:, :, ::-1], atol=1e-5)
    # Averaging changed something: one image's own heatmaps are not mirror-symmetric.
    assert np.abs(np.asarray(heat) - np.asarray(heat)[:, :, ::-1]).max() > 1e-4


def test_the_feature_cache_holds_each_crops_features_and_trains_as_the_live_features_do(frozen, toy_batch):
    """Every call jitted: op by op, VGG and the stacks' gradient took over 40 s."""
    config = no_augmentation(backbone_config())
    config.batch_size = 3  # 16 examples: the last chunk is padded
    source = pose_toy_data.examples("train")
    cached = pose_method.prepare_train_source(config, source)
    assert len(cached) == len(source)
    rows = [0, 1, 2, len(source) - 1]  # the batch's examples (toy_batch holds the first four), and the last one
    images = jnp.asarray(np.stack([source[i]["image"] for i in rows]), jnp.float32) / 127.5 - 1.0
    live = jax.jit(lambda x: pose_method.backbone_features(config, frozen["backbone"], x))(images)
    for name, values in zip(config.model.backbone_layers, live):
        stored = np.stack([cached[i][name] for i in rows])
        assert stored.dtype == np.float16 and stored.shape == values.shape
        np.testing.assert_allclose(stored.astype(np.float32), np.asarray(values), rtol=2e-3, atol=2e-3)
    # Without augmentation, a step on cached features is the step on the features computed live.
    state = pose_method.init_state(config, jax.random.PRNGKey(1), toy_batch)
    with_cache = dict(toy_batch, **{name: jnp.asarray(np.stack([cached[i][name] for i in range(4)]), jnp.float32)
                                    for name in config.model.backbone_layers})
    step = jax.jit(lambda batch: pose_method.train_step(config, state, batch, frozen)[1]["loss"])
    np.testing.assert_allclose(float(step(with_cache)), float(step(toy_batch)), rtol=1e-3)


def test_a_trained_backbone_run_predicts_and_keeps_only_its_own_weights(tmp_path):
    """Over 20 s (about 30 s): the trainer's path end to end (feature cache, step, evaluation, preview,
    checkpoint), then the evaluator's predictor: four programs, three of them with VGG inside."""
    from jaxpaint.train.loop import train_and_evaluate

    config = backbone_config()
    config.model.flip_test = True
    train_and_evaluate(config, tmp_path)
    evaluator = PoseEvaluator.load(tmp_path, chunk=4)
    assert set(evaluator.variables) == {"params", "batch_stats", "backbone"}
    # The checkpoint holds the stacks only: no VGG layer is trained or saved.
    saved = [jax.tree_util.keystr(path) for path, _ in jax.tree_util.tree_leaves_with_path(evaluator.variables["params"])]
    assert saved and not any(re.search(r"conv\d_\d", name) for name in saved)
    images = np.stack([e["image"] for e in pose_toy_data.examples("validation")[:5]])
    xy, present = evaluator.predict(images)
    assert xy.shape == (5, NUM_SLOTS, 2) and present.shape == (5, NUM_SLOTS) and present.any()
    assert np.all((xy >= 0) & (xy <= 63)) and np.all(xy[~present] == 0)
