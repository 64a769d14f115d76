"""Block masks (thesis §2.3.3): every rule over many seeds, the joint bias, determinism, the checker."""

from __future__ import annotations

import numpy as np
import pytest

from jaxpaint.data import masks
from jaxpaint.data.joints import NUM_SLOTS


def random_joints(rng, size):
    xy = rng.uniform(0, size, (NUM_SLOTS, 2)).astype(np.float32)
    present = rng.random(NUM_SLOTS) < 0.7
    return xy, present


def test_size_and_margin_at_the_documented_resolutions():
    assert masks.size_range(128, 128) == (7, 42)  # 6.4 < s < 42.67
    assert masks.size_range(64, 64) == (4, 21)  # 3.2 < s < 21.33
    assert masks.size_range(120, 120) == (7, 39)  # 6 < s < 40: both ends strict
    assert masks.edge_margin(128, 128) == 20
    assert masks.edge_margin(640, 480) == 75


@pytest.mark.parametrize("size,num_seeds", [(128, 1000), (64, 1000), (96, 300)])
def test_every_rule_holds_over_many_seeds(size, num_seeds):
    counts = np.zeros(11, int)
    for seed in range(num_seeds):
        rng = np.random.default_rng(seed)
        xy, present = random_joints(rng, size)
        blocks = masks.make_mask(seed, 7, size, size, xy, present)
        assert masks.check_mask_rules(blocks, size, size) == [], (seed, blocks)
        assert blocks.dtype == np.int32
        counts[len(blocks)] += 1
    assert counts[0] == 0
    assert (counts[1:6] > 0).all()  # the block count varies over 1..10
    assert counts[7:].sum() > 0


def test_non_square_images_keep_the_rules():
    for seed in range(200):
        blocks = masks.make_mask(seed, 1, 96, 160)
        assert masks.check_mask_rules(blocks, 96, 160) == []


def test_same_seed_and_key_give_the_same_mask_and_others_differ():
    xy, present = random_joints(np.random.default_rng(0), 128)
    a = masks.make_mask(3, masks.example_key("lspet", "im00001", 0), 128, 128, xy, present)
    b = masks.make_mask(3, masks.example_key("lspet", "im00001", 0), 128, 128, xy, present)
    np.testing.assert_array_equal(a, b)
    others = [masks.make_mask(s, masks.example_key("lspet", "im00001", 0), 128, 128, xy, present) for s in range(4, 14)]
    assert any(o.shape != a.shape or (o != a).any() for o in others)
    assert masks.example_key("lspet", "im00001", 0) != masks.example_key("lspet", "im00001", 1)


def test_example_key_is_stable_across_processes():
    # A fixed value: Python's salted hash() would change between runs.
    assert masks.example_key("lspet", "im00001", 0) == masks.example_key("lspet", "im00001", 0)
    assert masks.example_key("a", "b") == int.from_bytes(
        __import__("hashlib").blake2b(b"a\x1fb", digest_size=8).digest(), "little"
    ) >> 1


def test_bias_toward_joints_is_real():
    on_biased = on_uniform = total_biased = total_uniform = 0
    for seed in range(400):
        rng = np.random.default_rng(10_000 + seed)
        xy = rng.uniform(40, 88, (NUM_SLOTS, 2)).astype(np.float32)
        xy[:, 0] = rng.uniform(20, 50, NUM_SLOTS)  # joints bunched on the left of the image
        present = np.ones(NUM_SLOTS, bool)
        biased = masks.make_mask(seed, 0, 128, 128, xy, present)
        uniform = masks.make_mask(seed, 0, 128, 128, xy, present, p_joint=0.0)
        on_biased += masks.covers_joint(biased, xy, present).sum()
        on_uniform += masks.covers_joint(uniform, xy, present).sum()
        total_biased += len(biased)
        total_uniform += len(uniform)
    assert on_biased / total_biased > on_uniform / total_uniform + 0.15


def test_covers_joint_by_hand():
    blocks = np.array([[10, 20, 5], [40, 40, 10]])
    xy = np.array([[22.0, 14.9], [25.0, 12.0], [45.0, 45.0]])  # (x, y)
    present = np.array([True, True, False])
    # joint 0: row 14.9 in [10, 15), col 22 in [20, 25) -> inside block 0; joint 1 at x = 25 is just outside.
    np.testing.assert_array_equal(masks.covers_joint(blocks, xy, present), [True, False])
    np.testing.assert_array_equal(masks.covers_joint(blocks, xy, np.ones(3, bool)), [True, True])
    assert not masks.covers_joint(blocks, xy, np.zeros(3, bool)).any()


def test_checker_names_each_broken_rule():
    assert masks.check_mask_rules(np.zeros((0, 3), int), 128, 128) == ["0 blocks, expected 1..10"]
    assert any("size 6" in p for p in masks.check_mask_rules([[30, 30, 6]], 128, 128))
    assert any("size 43" in p for p in masks.check_mask_rules([[30, 30, 43]], 128, 128))
    assert any("within 20 px" in p for p in masks.check_mask_rules([[19, 30, 10]], 128, 128))
    assert any("within 20 px" in p for p in masks.check_mask_rules([[30, 99, 10]], 128, 128))
    assert masks.check_mask_rules([[30, 30, 10], [30, 40, 10]], 128, 128) == []  # touching is fine
    assert any("overlap on 10 pixels" in p for p in masks.check_mask_rules([[30, 30, 10], [30, 39, 10]], 128, 128))
    assert any("blocks, expected" in p for p in masks.check_mask_rules([[21 + 9 * (k % 9), 21 + 9 * (k // 9), 8] for k in range(11)], 128, 128))
    # The margin alone keeps masks under 47 %, so only a mask that also breaks the margin can pass 70 %.
    dense = [[1 + 6 * r, 1 + 6 * c, 6] for r in range(3) for c in range(3)]
    assert "81.0% of the image is masked, more than 70%" in masks.check_mask_rules(dense, 20, 20)
