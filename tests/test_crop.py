"""Human-centred crops: box geometry, joints mapped into the crop, padding, skip reasons."""

from __future__ import annotations

import collections

import numpy as np

from jaxpaint.data import crop
from jaxpaint.data.joints import Pose, slot


def pose_from_points(points) -> Pose:
    pose = Pose.empty()
    slots = [slot("ankle", "left"), slot("head_top"), slot("wrist", "right"), slot("knee", "left")]
    for s, (x, y) in zip(slots, points):
        pose.set(s, x, y)
    return pose


def gradient_image(h, w):
    """Pixel value encodes its coordinates, so crops can be checked against the source."""
    yy, xx = np.mgrid[0:h, 0:w]
    return np.stack([xx % 256, yy % 256, (xx // 256) * 16 + (yy // 256)], axis=-1).astype(np.uint8)


def test_box_is_square_enlarged_and_centred():
    pose = pose_from_points([(100, 300), (140, 100)])  # joint box 40 x 200
    left, top, right, bottom = crop.person_box(pose)
    assert right - left == bottom - top == int(np.ceil(1.4 * 200))
    assert abs((left + right) / 2 - 120) <= 0.5 and abs((top + bottom) / 2 - 200) <= 0.5


def test_joints_land_on_the_same_pixels_in_the_crop():
    image = gradient_image(400, 300)
    pose = pose_from_points([(100, 300), (140, 100), (120.5, 200.5)])
    [c] = crop.crop_people(image, [pose], size=140)  # side 280 -> scale exactly 0.5
    left, top, right, bottom = c.box
    assert right - left == 280
    for s in np.flatnonzero(pose.present):
        x, y = pose.xy[s]
        np.testing.assert_allclose(c.pose.xy[s], [(x - left) * 0.5, (y - top) * 0.5], atol=1e-4)
    # The crop's pixels come from the right place: sample the resized crop at the joints' positions.
    for s in np.flatnonzero(pose.present):
        cx, cy = c.pose.xy[s]
        sx, sy = pose.xy[s]
        got = c.image[int(cy), int(cx), :2].astype(float)
        np.testing.assert_allclose(got, [sx % 256, sy % 256], atol=3)
    assert c.image.shape == (140, 140, 3) and c.image.dtype == np.uint8


def test_crop_past_the_edge_is_black_not_stretched():
    image = np.full((200, 200, 3), 200, np.uint8)
    pose = pose_from_points([(5, 20), (5, 180)])  # person at the left edge: box reaches x < 0
    [c] = crop.crop_people(image, [pose], size=112)
    left = c.box[0]
    assert left < 0
    outside_cols = int(np.floor((0 - left) * 112 / (c.box[2] - left))) - 4  # Lanczos reaches ~3 px across the edge
    assert (c.image[:, :outside_cols] == 0).all()
    assert (c.image[20:-20, -10:] == 200).all()  # the box also passes the top and bottom edges


def test_whole_image_sources_pad_to_a_centred_square():
    image = np.full((100, 160, 3), 255, np.uint8)
    pose = pose_from_points([(20, 10), (140, 90)])
    [c] = crop.crop_people(image, [pose, pose], size=80, crop=False, skips=(skips := collections.Counter()))
    assert c.box == (0.0, -30.0, 160.0, 130.0)
    assert (c.image[:11] == 0).all() and (c.image[-11:] == 0).all() and (c.image[20:60] == 255).all()
    assert skips == {"extra_person_whole_image": 1}
    np.testing.assert_allclose(c.pose.xy[slot("ankle", "left")], [20 * 0.5, (10 + 30) * 0.5])


def test_skips_are_counted_by_reason():
    image = np.zeros((300, 300, 3), np.uint8)
    small = pose_from_points([(100, 100), (150, 160)])  # 50 x 60: under 64 px
    single = pose_from_points([(100, 100)])
    empty = Pose.empty()
    exactly = pose_from_points([(10, 10), (74, 20)])  # 64 px wide: kept
    skips = collections.Counter()
    crops = crop.crop_people(image, [small, single, empty, exactly], skips=skips)
    assert [c.person for c in crops] == [3]
    assert skips == {"too_small": 1, "too_few_joints": 2}
