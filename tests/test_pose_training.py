"""The hourglass as a trainer method and the PoseEvaluator that restores it."""

from __future__ import annotations

import json

import jax

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


def distilled_config(teacher):
    """tiny_config learning `teacher`'s heatmaps, without augmentation, in chunks of 3 (16 examples: the last
    chunk is padded)."""
    config = tiny_config()
    config.model.teacher = str(teacher)
    config.batch_size = 3
    config.augment.flip = False
    config.augment.rotate_degrees = 0.0
    config.augment.scale_range = (1.0, 1.0)
    return config


def test_a_distilled_network_learns_its_teachers_heatmaps_of_each_crop(trained_run):
    """About 15 s: the teacher's cache, the student's forward pass and two steps each compile once."""
    config = distilled_config(trained_run)
    source = pose_toy_data.examples("train")
    cached = pose_method.prepare_train_source(config, source)
    rows = [0, 1, 2, len(source) - 1]
    images = jnp.asarray(np.stack([source[i]["image"] for i in rows]), jnp.float32) / 127.5 - 1.0
    teacher_config, variables = pose_method.load_trained(trained_run)
    direct = np.asarray(pose_method.variables_heatmaps(teacher_config, variables, images))
    stored = np.stack([cached[i]["teacher_heatmaps"] for i in rows])
    assert stored.dtype == np.float16 and stored.shape == direct.shape == (4, 16, 16, 12)
    np.testing.assert_allclose(stored.astype(np.float32), direct, atol=2e-3)
    # The step's targets are the teacher's maps, every joint type counted, not Gaussians at the labels.
    batch = {"image": images, "joints_xy": jnp.asarray(np.stack([source[i]["joints"]["xy"] for i in rows])),
             "joints_present": jnp.asarray(np.stack([source[i]["joints"]["present"] for i in rows])),
             "teacher_heatmaps": jnp.asarray(stored)}
    state = pose_method.init_state(config, jax.random.PRNGKey(0), batch)
    variables = {"params": state.params[pose_method.PART], "batch_stats": state.model_state[pose_method.PART]}
    heatmaps, _ = jax.jit(lambda v, x: pose_method.network(config).apply(v, x, train=True, mutable=["batch_stats"]))(
        variables, images)
    expected = float(jnp.mean(jnp.sum(jnp.square(heatmaps - stored.astype(np.float32)), axis=0)))
    step_loss = jax.jit(lambda b: pose_method.train_step(config, state, b)[1]["loss"])
    loss = float(step_loss(batch))
    np.testing.assert_allclose(loss, expected, rtol=1e-4)
    labels_only = {k: v for k, v in batch.items() if k != "teacher_heatmaps"}
    assert abs(float(step_loss(labels_only)) - loss) > 1e-3


@pytest.mark.parametrize("seed", range(3))
def test_the_teachers_heatmaps_move_with_the_crop_and_its_joints(seed):
    # The teacher's map is a bump at the neck on the 16 × 16 heatmap grid of a 64 px crop: after the
    # augmentation (mirror, rotation, scale) its centre must be where the neck went.
    from test_pose_backbone import bump, centre_in_pixels

    config = tiny_config()
    rng = np.random.default_rng(seed)
    neck = slot("upper_neck")
    xy = np.zeros((6, NUM_SLOTS, 2), np.float32)
    present = np.zeros((6, NUM_SLOTS), bool)
    xy[:, neck], present[:, neck] = rng.uniform(26, 38, (6, 2)), True
    teacher = np.stack([np.repeat(bump(64, 4, *p), 12, -1) for p in xy[:, neck]])
    batch = {"image": jnp.zeros((6, 64, 64, 3)), "joints_xy": jnp.asarray(xy), "joints_present": jnp.asarray(present),
             "teacher_heatmaps": jnp.asarray(teacher, jnp.float16)}
    _, moved_xy, moved_present, moved = pose_method.train_inputs(config, batch, None, jax.random.PRNGKey(seed))
    assert moved.shape == teacher.shape and np.asarray(moved_present)[:, neck].all()
    np.testing.assert_allclose(centre_in_pixels(np.asarray(moved)[..., :1], 4), np.asarray(moved_xy)[:, neck], atol=1.0)
    assert np.abs(np.asarray(moved_xy)[:, neck] - xy[:, neck]).max() > 1.0  # the augmentation moved it


def test_a_missing_or_mismatched_teacher_is_one_clear_error(trained_run, tmp_path):
    config = distilled_config(tmp_path / "absent")
    with pytest.raises(JaxpaintError, match="model.teacher"):
        pose_method.load_frozen(config)
    # A trained network never needs its teacher again: a run whose teacher is gone still loads.
    import shutil

    student = tmp_path / "student"
    shutil.copytree(trained_run, student)
    saved = json.loads((student / "config.json").read_text())
    saved["model"]["teacher"] = str(tmp_path / "absent")
    (student / "config.json").write_text(json.dumps(saved))
    images = np.stack([e["image"] for e in pose_toy_data.examples("validation")[:2]])
    assert PoseEvaluator.load(student, chunk=4).predict(images)[0].shape == (2, NUM_SLOTS, 2)
    config = distilled_config(trained_run)
    config.model.input_size = 128  # 32-cell heatmaps against the teacher's 16
    with pytest.raises(JaxpaintError, match="same input size"):
        pose_method.prepare_train_source(config, pose_toy_data.examples("train"))
