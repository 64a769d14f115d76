"""The hourglass as a trainer method and the PoseEvaluator that restores it."""

from __future__ import annotations

import json

import jax.numpy as jnp
import numpy as np
import pytest

from jaxpaint.config import load_config
from jaxpaint.data.joints import NUM_SLOTS, slot
from jaxpaint.errors import JaxpaintError
from jaxpaint.methods import pose as pose_method
from jaxpaint.pose_evaluator import PoseEvaluator
import pose_toy_data  # tests/ is on sys.path under pytest (no package __init__)

pytestmark = pytest.mark.slow  # a minute or more in all: scheduled first (conftest.py)

TRAIN_STEPS = 30


def tiny_config():
    config = load_config("hourglass:tiny")
    config.data.examples_fn = "pose_toy_data:examples"
    config.num_steps = TRAIN_STEPS
    config.log_every = 5
    config.eval_every = TRAIN_STEPS
    config.checkpoint_every = TRAIN_STEPS
    config.preview_every = TRAIN_STEPS
    config.async_checkpoint = False
    return config


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    from jaxpaint.train.loop import train_and_evaluate

    workdir = tmp_path_factory.mktemp("pose_run")
    train_and_evaluate(tiny_config(), workdir)
    return workdir


def test_mirror_flips_pixels_and_x_and_swaps_left_and_right():
    image = np.zeros((1, 4, 5, 3), np.float32)
    image[0, 1, 0] = 1.0  # a marked pixel in column 0
    xy = np.zeros((1, NUM_SLOTS, 2), np.float32)
    present = np.zeros((1, NUM_SLOTS), bool)
    xy[0, slot("wrist", "left")] = (0.0, 1.0)
    present[0, slot("wrist", "left")] = True
    xy[0, slot("nose")] = (3.0, 2.0)
    present[0, slot("nose")] = True
    out_image, out_xy, out_present = pose_method.mirror(jnp.asarray(image), jnp.asarray(xy), jnp.asarray(present),
                                                        jnp.array([True]))
    assert float(out_image[0, 1, 4, 0]) == 1.0 and float(out_image[0, 1, 0, 0]) == 0.0
    np.testing.assert_allclose(out_xy[0, slot("wrist", "right")], [4.0, 1.0])
    assert bool(out_present[0, slot("wrist", "right")]) and not bool(out_present[0, slot("wrist", "left")])
    np.testing.assert_allclose(out_xy[0, slot("nose")], [1.0, 2.0])
    same = pose_method.mirror(jnp.asarray(image), jnp.asarray(xy), jnp.asarray(present), jnp.array([False]))
    np.testing.assert_array_equal(same[1], xy)


def test_rescale_xy_follows_pixel_centres():
    # Pixel k of a 4-px image covers [k - 0.5, k + 0.5]; in an 8-px image its centre lies at 2k + 0.5.
    out = pose_method.rescale_xy(jnp.array([[0.0, 3.0]]), (4, 4), (8, 8))
    np.testing.assert_allclose(out, [[0.5, 6.5]])
    back = pose_method.rescale_xy(out, (8, 8), (4, 4))
    np.testing.assert_allclose(back, [[0.0, 3.0]], atol=1e-6)


def test_training_lowers_the_heatmap_loss_and_logs_pck_and_wnjd(trained_run):
    records = [json.loads(line) for line in (trained_run / "metrics.jsonl").read_text().splitlines()]
    train = [r["metrics"]["loss"] for r in records if r["split"] == "train"]
    assert train[-1] < 0.75 * train[0]
    val = [r["metrics"] for r in records if r["split"] == "val"][-1]
    assert 0.0 <= val["pck"] <= 1.0 and 0.0 <= val["wnjd"] <= 1.0
    assert list((trained_run / "previews").glob("*.png"))


def test_evaluator_restores_the_run_and_predicts_in_the_callers_pixels(trained_run):
    evaluator = PoseEvaluator.load(trained_run, chunk=4)
    images = np.stack([e["image"] for e in pose_toy_data.examples("validation")[:5]])
    xy, present = evaluator.predict(images)  # 5 images: one full chunk and one padded
    assert xy.shape == (5, NUM_SLOTS, 2) and present.shape == (5, NUM_SLOTS) and present.dtype == bool
    assert np.all((xy >= 0) & (xy <= 63))
    assert np.all(xy[~present] == 0)
    # Padding a chunk does not change the answer: BatchNorm runs on its averages, image by image.
    singles = [evaluator.predict(image[None]) for image in images[:2]]
    np.testing.assert_array_equal(np.concatenate([p for _, p in singles]), present[:2])
    np.testing.assert_allclose(np.concatenate([x for x, _ in singles]), xy[:2], atol=1e-4)
    # A chunk seen before is answered from memory; a changed chunk is predicted again.
    calls = []
    predict = evaluator._predict
    evaluator._predict = lambda *args: calls.append(1) or predict(*args)
    again_xy, again_present = evaluator.predict(images)
    assert not calls
    np.testing.assert_array_equal(again_xy, xy) and np.testing.assert_array_equal(again_present, present)
    again_xy[:] = -1  # the caller's copy, not the remembered one
    changed = images.copy()
    changed[4, 0, 0] ^= 1
    evaluator.predict(changed)
    assert len(calls) == 1 and np.array_equal(evaluator.predict(images)[0], xy)
    # Larger images are resized for the network and the joints mapped back to their pixels.
    big = images.repeat(2, axis=1).repeat(2, axis=2)
    big_xy, big_present = evaluator.predict(big)
    direct = pose_method.predict_joints(evaluator.config, evaluator.variables["params"],
                                        evaluator.variables["batch_stats"], jnp.asarray(big, jnp.float32) / 127.5 - 1.0)
    np.testing.assert_array_equal(big_present, np.asarray(direct[1]))
    np.testing.assert_allclose(big_xy, np.asarray(direct[0]), atol=1e-4)
    assert np.all((big_xy >= 0) & (big_xy <= 127)) and big_xy[big_present].max() > 63


def test_evaluator_names_a_missing_or_foreign_workdir(tmp_path):
    with pytest.raises(JaxpaintError, match="no such pose-evaluator workdir"):
        PoseEvaluator.load(tmp_path / "absent")
    (tmp_path / "config.json").write_text(json.dumps({"method": "context_encoder", "seed": 0}))
    with pytest.raises(JaxpaintError, match="not a hourglass"):
        PoseEvaluator.load(tmp_path)


def test_evaluator_rejects_images_of_the_wrong_type(trained_run):
    evaluator = PoseEvaluator.load(trained_run, chunk=4)
    with pytest.raises(JaxpaintError, match=r"uint8 images of shape \(B, S, S, 3\)"):
        evaluator.predict(np.zeros((2, 64, 64, 3), np.float32))


def test_rotation_and_scale_move_pixels_and_joints_together():
    # A black image with one bright 3x3 dot per example at a joint: after the warp the dot's centre of mass
    # must sit where the joint went, for angles and scales across the augmentation's range.
    size = 64
    rng = np.random.default_rng(0)
    xy = rng.uniform(20, 44, (6, 1, 2)).astype(np.float32)
    images = np.full((6, size, size, 3), -1.0, np.float32)
    for b, (x, y) in enumerate(np.round(xy[:, 0]).astype(int)):
        images[b, y - 1:y + 2, x - 1:x + 2] = 1.0
    xy = np.round(xy)
    angle = jnp.deg2rad(jnp.asarray([-30.0, -10.0, 0.0, 5.0, 20.0, 30.0]))
    scale = jnp.asarray([0.75, 1.25, 1.0, 0.9, 1.1, 1.2])
    warped, moved, present = pose_method.rotate_scale(jnp.asarray(images), jnp.asarray(xy), jnp.ones((6, 1), bool),
                                                      angle, scale)
    weight = np.clip(np.asarray(warped)[..., 0] + 1.0, 0, None)
    rows, cols = np.mgrid[:size, :size]
    centre = np.stack([(weight * cols).sum((1, 2)), (weight * rows).sum((1, 2))], -1) / weight.sum((1, 2))[:, None]
    np.testing.assert_allclose(centre, np.asarray(moved)[:, 0], atol=0.35)
    assert np.asarray(present).all()
    # A joint pushed out of the frame is dropped.
    _, _, gone = pose_method.rotate_scale(jnp.asarray(images[:1]), jnp.asarray([[[1.0, 1.0]]]), jnp.ones((1, 1), bool),
                                          jnp.asarray([0.0]), jnp.asarray([1.25]))
    assert not bool(gone[0, 0])
