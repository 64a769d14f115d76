"""Heatmap targets, decoding, WNJD and PCK on hand-computed cases."""

from __future__ import annotations

import numpy as np
import pytest

from jaxpaint.data.joints import NUM_SLOTS, NUM_TYPES, TYPE_INDEX, slot
from jaxpaint.metrics import pose


def _pose(points: dict) -> tuple[np.ndarray, np.ndarray]:
    """{(name, side): (x, y)} -> xy (1, 19, 2), present (1, 19)."""
    xy = np.zeros((1, NUM_SLOTS, 2), np.float32)
    present = np.zeros((1, NUM_SLOTS), bool)
    for (name, side), point in points.items():
        xy[0, slot(name, side)] = point
        present[0, slot(name, side)] = True
    return xy, present


def test_heatmap_targets_put_a_unit_peak_at_each_joint_and_share_channels_between_sides():
    # Input 64 px, heatmap 16 px: stride 4, cell j is centred at input 4j + 1.5.
    xy, present = _pose({("ankle", "left"): (4 * 3 + 1.5, 4 * 5 + 1.5), ("ankle", "right"): (4 * 10 + 1.5, 4 * 2 + 1.5),
                         ("nose", "none"): (4 * 7 + 1.5, 4 * 7 + 1.5)})
    targets = np.asarray(pose.heatmap_targets(xy, present, (64, 64), (16, 16), sigma=1.0))
    assert targets.shape == (1, 16, 16, NUM_TYPES)
    ankle = targets[0, :, :, TYPE_INDEX["ankle"]]
    assert ankle[5, 3] == pytest.approx(1.0) and ankle[2, 10] == pytest.approx(1.0)
    assert ankle[5, 4] == pytest.approx(np.exp(-0.5))  # one cell away, sigma 1
    assert targets[0, 7, 7, TYPE_INDEX["nose"]] == pytest.approx(1.0)
    # Types with no labelled joint stay empty.
    assert targets[0, :, :, TYPE_INDEX["knee"]].max() == 0.0
    assert pose.type_present(present)[0].sum() == 2


def test_decode_recovers_the_joints_of_rendered_targets_to_within_a_pixel():
    rng = np.random.default_rng(0)
    xy = rng.uniform(8, 120, size=(4, NUM_SLOTS, 2)).astype(np.float32)
    present = rng.random((4, NUM_SLOTS)) < 0.8
    targets = pose.heatmap_targets(xy, present, (128, 128), (32, 32), sigma=1.0)
    got_xy, got_present, _ = pose.decode_heatmaps(targets, (128, 128), threshold=0.5)
    got_xy, got_present = np.asarray(got_xy), np.asarray(got_present)
    # Joints of a pair may come back in either slot; matching without side restores them.
    dist = np.asarray(pose.matched_distances(got_xy, got_present, xy, present, 1e6))
    assert got_present.sum() == present.sum()
    assert dist[present].mean() < 1.0
    # Quarter-cell refinement: each axis is off by at most a quarter of the stride (4 px).
    assert dist[present].max() <= np.hypot(1.0, 1.0) + 1e-4


def test_decode_reports_weak_peaks_as_not_found():
    heatmaps = np.zeros((1, 16, 16, NUM_TYPES), np.float32)
    heatmaps[0, 4, 6, TYPE_INDEX["nose"]] = 0.9
    heatmaps[0, 10, 2, TYPE_INDEX["pelvis"]] = 0.05
    xy, present, score = pose.decode_heatmaps(heatmaps, (64, 64), threshold=0.1)
    assert bool(present[0, slot("nose")]) and not bool(present[0, slot("pelvis")])
    np.testing.assert_allclose(np.asarray(xy[0, slot("nose")]), [6 * 4 + 1.5, 4 * 4 + 1.5])
    assert float(score[0, slot("nose")]) == pytest.approx(0.9)


def test_decode_gives_a_plateau_one_peak_and_moves_a_quarter_cell_toward_the_higher_neighbour():
    heatmaps = np.zeros((1, 16, 16, NUM_TYPES), np.float32)
    channel = TYPE_INDEX["wrist"]
    heatmaps[0, 8, 8, channel] = heatmaps[0, 8, 9, channel] = 1.0  # a plateau: one joint between two cells
    heatmaps[0, 2, 3, channel] = 0.6
    heatmaps[0, 2, 4, channel] = 0.3  # right neighbour higher than the left (0)
    xy, present, _ = pose.decode_heatmaps(heatmaps, (64, 64), threshold=0.1)
    first, second = np.asarray(xy[0, slot("wrist", "left")]), np.asarray(xy[0, slot("wrist", "right")])
    assert bool(present[0, slot("wrist", "left")]) and bool(present[0, slot("wrist", "right")])
    assert first[1] == pytest.approx(8 * 4 + 1.5) and first[0] in (8 * 4 + 1.5 + 1, 9 * 4 + 1.5 - 1)
    np.testing.assert_allclose(second, [3.25 * 4 + 1.5, 2 * 4 + 1.5])


def test_wnjd_ignores_sides_and_scores_a_swapped_pair_zero():
    true_xy, true_present = _pose({("knee", "left"): (10, 20), ("knee", "right"): (50, 20), ("nose", "none"): (30, 5)})
    pred_xy, pred_present = _pose({("knee", "left"): (50, 20), ("knee", "right"): (10, 20), ("nose", "none"): (30, 5)})
    assert float(pose.wnjd(pred_xy, pred_present, true_xy, true_present, (64, 48))[0]) == 0.0
    assert float(pose.pck(pred_xy, pred_present, true_xy, true_present)[0]) == 1.0


def test_wnjd_of_a_known_offset():
    # Image 30 × 40 (h, w): diagonal 50. Two labelled joints, one off by (3, 4) = 5 px.
    true_xy, true_present = _pose({("hip", "left"): (10, 10), ("thorax", "none"): (20, 5)})
    pred_xy, pred_present = _pose({("hip", "right"): (13, 14), ("thorax", "none"): (20, 5)})
    value = pose.wnjd(pred_xy, pred_present, true_xy, true_present, (30, 40))
    assert float(value[0]) == pytest.approx(5 / (2 * 50))


def test_wnjd_charges_a_missing_prediction_the_image_diagonal_and_ignores_unlabelled_predictions():
    true_xy, true_present = _pose({("elbow", "left"): (10, 10), ("elbow", "right"): (30, 10)})
    pred_xy, pred_present = _pose({("elbow", "left"): (30, 10), ("head_top", "none"): (1, 1)})
    # The prediction matches the right elbow exactly; the left elbow costs 1 after normalisation.
    value = pose.wnjd(pred_xy, pred_present, true_xy, true_present, (60, 80))
    assert float(value[0]) == pytest.approx((0 + 1) / 2)
    nothing = np.zeros_like(true_present)
    assert np.isnan(float(pose.wnjd(pred_xy, pred_present, true_xy, nothing, (60, 80))[0]))


def test_pck_uses_alpha_times_the_joint_box_size():
    # Joint box 100 × 40 -> reference 0.2 · 100 = 20 px.
    true_xy, true_present = _pose({("ankle", "left"): (0, 0), ("ankle", "right"): (100, 40),
                                   ("pelvis", "none"): (50, 20), ("nose", "none"): (50, 0)})
    pred_xy, pred_present = _pose({("ankle", "left"): (100, 59), ("ankle", "right"): (0, 19.9),
                                   ("pelvis", "none"): (50, 41)})
    # Ankles match swapped at 19 and 19.9 px (correct), pelvis 21 px (wrong), nose missing (wrong).
    assert float(pose.pck(pred_xy, pred_present, true_xy, true_present)[0]) == pytest.approx(0.5)
    assert float(pose.pck(pred_xy, pred_present, true_xy, true_present, alpha=0.25)[0]) == pytest.approx(0.75)
    np.testing.assert_allclose(np.asarray(pose.joint_box_size(true_xy, true_present)), [100.0])


def test_the_worst_images_kept_while_scoring_are_those_of_highest_wnjd():
    """evaluate_batches keeps the highest-WNJD images batch by batch (no method runs twice): the same
    images as sorting all scores at the end, NaN (no labelled joint) never among them, ties to the earlier."""
    from jaxpaint.evaluation import _keep_worst

    rng = np.random.default_rng(0)
    values = rng.uniform(size=23)
    values[[3, 11]] = np.nan
    values[7] = values[5] = np.nanmax(values) + 1.0
    worst = []
    for start in range(0, 23, 5):
        n = min(5, 23 - start)
        images = (np.arange(start, start + n, dtype=np.uint8)[:, None, None, None] * np.ones((1, 2, 2, 3), np.uint8))
        joints = (np.zeros((n, 14, 2)), np.zeros((n, 14), bool))
        batch = {"image": images, "hole": np.zeros((n, 2, 2), bool), "joints_xy": joints[0], "joints_present": joints[1]}
        worst = _keep_worst(worst, batch, images, joints, values[start:start + n], start, 4)
    expected = [int(i) for i in np.argsort(-np.nan_to_num(values, nan=-np.inf), kind="stable")[:4]]
    assert expected[:2] == [5, 7]
    assert [index for _, index, _ in worst] == expected
    assert [int(item["output"][0, 0, 0]) for *_, item in worst] == expected
