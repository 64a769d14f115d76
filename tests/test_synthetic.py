"""The built-in synthetic-human source: determinism, label correctness, sizes, variety."""

from __future__ import annotations

import numpy as np
import pytest

from jaxpaint.data.joints import NUM_SLOTS, SLOT_SIDE, SIDE_LEFT, SIDE_RIGHT, slot
from jaxpaint.data.sources import get_source, synthetic

BACKGROUND = np.array([1, 254, 3], np.uint8)  # a colour no person part is drawn in


def _flat_background(rng, size, horizon):
    return np.broadcast_to(BACKGROUND, (size, size, 3)).copy()


def _dilate(mask: np.ndarray) -> np.ndarray:
    """A 3x3 dilation of a boolean mask."""
    padded = np.pad(mask, 1)
    h, w = mask.shape
    return np.any([padded[r:r + h, c:c + w] for r in range(3) for c in range(3)], axis=0)


def test_protocol_and_source_images():
    source = get_source("synthetic")
    assert source is synthetic
    assert (synthetic.NAME, synthetic.CROP, synthetic.MANUAL_DOWNLOAD_INSTRUCTIONS) == ("synthetic", True, "")
    images = list(synthetic.iter_images(None, num_examples=3, seed=5, size=64))
    assert [im.image_id for im in images] == ["syn-000000", "syn-000001", "syn-000002"]
    scene = synthetic.scene_size(64)
    for index, im in enumerate(images):
        assert im.path == "" and len(im.people) == 1
        pixels = im.load()
        assert pixels.dtype == np.uint8 and pixels.shape == (scene, scene, 3)
        # image i is the same whether it comes from the iterator or from a pool worker
        expected_pixels, expected_pose = synthetic.render_scene(5, index, 64)
        np.testing.assert_array_equal(pixels, expected_pixels)
        np.testing.assert_array_equal(im.people[0].xy, expected_pose.xy)
        np.testing.assert_array_equal(im.people[0].visible, expected_pose.visible)


def test_same_seed_same_bytes_other_seed_other_images():
    for index in (0, 7):
        a_img, a_pose = synthetic.render_scene(11, index, 64)
        b_img, b_pose = synthetic.render_scene(11, index, 64)
        assert a_img.tobytes() == b_img.tobytes()
        assert a_pose.xy.tobytes() == b_pose.xy.tobytes()
        assert a_pose.visible.tobytes() == b_pose.visible.tobytes()
        c_img, c_pose = synthetic.render_scene(12, index, 64)
        assert a_img.tobytes() != c_img.tobytes()
        assert not np.allclose(a_pose.xy, c_pose.xy)
    assert synthetic.render_scene(11, 0, 64)[0].tobytes() != synthetic.render_scene(11, 1, 64)[0].tobytes()


def test_all_slots_labelled_inside_the_scene():
    scene = synthetic.scene_size(128)
    for index in range(40):
        pose = synthetic.scene_pose(3, index, 128)
        assert pose.xy.shape == (NUM_SLOTS, 2) and pose.xy.dtype == np.float32
        assert pose.present.all() and not pose.derived.any()
        assert np.isfinite(pose.xy).all()
        assert (pose.xy >= 0).all() and (pose.xy < scene).all()


@pytest.mark.parametrize("size", [64, 128, 256])
def test_main_person_is_big_enough(size):
    for index in range(30):
        x0, y0, x1, y1 = synthetic.scene_pose(4, index, size).bbox()
        longest = max(x1 - x0, y1 - y0)
        assert longest >= 64, (size, index, longest)
        # the crop around the joints (enlarged 1.4x) is at least `size`: no upsampling
        assert longest * 1.4 >= size * 0.99, (size, index, longest)


def test_joints_lie_on_the_drawn_person(monkeypatch):
    monkeypatch.setattr(synthetic.draw_lib, "background", _flat_background)
    monkeypatch.setattr(synthetic.draw_lib, "shadow", lambda *args: None)
    for index in range(40):
        rendered = synthetic.render_scene_layers(8, index, 128)
        drawn = (rendered.image != BACKGROUND).any(-1)
        assert (drawn | ~rendered.person_mask).all()  # every pixel of the person is painted
        cols = np.round(rendered.pose.xy[:, 0]).astype(int)
        rows = np.round(rendered.pose.xy[:, 1]).astype(int)
        # within one pixel: a joint on the rim of the head may round just outside the disc
        near_person = _dilate(rendered.person_mask)
        assert near_person[rows, cols].all(), (index, np.nonzero(~near_person[rows, cols]))
        assert _dilate(drawn)[rows, cols].all()
        inside = rendered.person_mask[rows, cols]
        assert inside.sum() >= NUM_SLOTS - 2, (index, np.nonzero(~inside))


def _standing_person(yaw: float):
    spec = synthetic._sample_person(np.random.default_rng(0))
    angles = dict(spec.angles, lean=0.0, side_bend=0.0, twist=0.0, head_yaw=0.0, head_pitch=0.0, head_roll=0.0)
    for s in ("l", "r"):
        angles.update({f"sh_flex_{s}": 0.0, f"sh_abd_{s}": 15.0, f"sh_twist_{s}": 0.0, f"elbow_{s}": 10.0,
                       f"hip_flex_{s}": 0.0, f"hip_abd_{s}": 5.0, f"hip_twist_{s}": 0.0, f"knee_{s}": 0.0})
    spec = synthetic._PersonSpec(spec.body, angles, "stand", yaw, 0.0, spec.outfit)
    figure = synthetic._figure(spec, 100.0, np.array([96.0, 96.0]))
    from PIL import Image, ImageDraw

    labels = Image.new("L", (192, 192), 0)
    synthetic._draw_labels(ImageDraw.Draw(labels), figure, 0)
    return synthetic._pose_with_visibility(figure, np.asarray(labels))


def test_left_right_is_the_persons_own():
    facing = _standing_person(yaw=0.0)
    back = _standing_person(yaw=180.0)
    for name in ("shoulder", "hip", "wrist", "eye"):
        left, right = slot(name, "left"), slot(name, "right")
        # facing the viewer, the person's left side is on the image's right (as in LSP)
        assert facing.xy[left, 0] > facing.xy[right, 0], name
        assert back.xy[left, 0] < back.xy[right, 0], name
    assert facing.visible.all()
    assert not back.visible[[slot("eye", "left"), slot("eye", "right"), slot("nose")]].any()


def test_side_view_hides_the_far_side():
    # turned +90 degrees the person faces image right and shows its right side
    pose = _standing_person(yaw=90.0)
    for name in ("shoulder", "eye", "hip"):
        assert not pose.visible[slot(name, "left")], name
        assert pose.visible[slot(name, "right")], name


def test_variety_of_poses_views_and_colours():
    limb_angles, raised, facing_sign, colours = [], 0, [], []
    for index in range(50):
        rendered = synthetic.render_scene_layers(21, index, 64)
        xy = rendered.pose.xy
        for joint, child in (("shoulder", "elbow"), ("elbow", "wrist"), ("hip", "knee"), ("knee", "ankle")):
            for side in ("left", "right"):
                d = xy[slot(child, side)] - xy[slot(joint, side)]
                limb_angles.append(np.degrees(np.arctan2(d[1], d[0])))
        raised += int(xy[slot("wrist", "left"), 1] < xy[slot("head_top"), 1])
        facing_sign.append(np.sign(xy[slot("shoulder", "left"), 0] - xy[slot("shoulder", "right"), 0]))
        colours.append(rendered.image[rendered.person_mask].mean(0))
    limb_angles = np.array(limb_angles)
    # limbs point every way, not only down (about 90 degrees in image coordinates)
    histogram, _ = np.histogram(limb_angles, bins=8, range=(-180, 180))
    assert (histogram > 0).sum() >= 7, histogram
    assert np.std(limb_angles) > 35
    assert 2 <= raised <= 35
    assert 5 <= sum(s > 0 for s in facing_sign) <= 45  # both front and back views
    assert np.array(colours).std(0).min() > 15
    side = SLOT_SIDE[[slot("eye", "left"), slot("eye", "right")]]
    assert list(side) == [SIDE_LEFT, SIDE_RIGHT]
