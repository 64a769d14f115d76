"""Splits: 60/20/20, deterministic, and never splitting one source image's crops."""

from __future__ import annotations

import numpy as np

from jaxpaint.data.splits import SPLITS, assign_splits


def test_proportions_and_determinism():
    groups = [(f"img{i}", 1) for i in range(1000)]
    a = assign_splits(groups, seed=0)
    assert a == assign_splits(list(reversed(groups)), seed=0)  # listing order does not matter
    counts = {s: sum(v == s for v in a.values()) for s in SPLITS}
    assert counts == {"train": 600, "validation": 200, "test": 200}
    assert a != assign_splits(groups, seed=1)


def test_grouped_crops_never_straddle_splits_over_many_seeds():
    rng = np.random.default_rng(0)
    people = rng.integers(1, 6, 300)  # multi-person images
    crops = [(f"img{i}", p) for i, n in enumerate(people) for p in range(n)]
    for seed in range(200):
        split_of = assign_splits([(f"img{i}", n) for i, n in enumerate(people)], seed=seed)
        per_image = {}
        for image, _ in crops:
            per_image.setdefault(image, set()).add(split_of[image])
        assert all(len(s) == 1 for s in per_image.values())
        crop_counts = np.array([sum(n for i, n in enumerate(people) if split_of[f"img{i}"] == s) for s in SPLITS])
        share = crop_counts / people.sum()
        np.testing.assert_allclose(share, [0.6, 0.2, 0.2], atol=0.02)


def test_repeated_ids_add_their_weights():
    a = assign_splits([("x", 1), ("x", 1), ("y", 1)], seed=3)
    assert set(a) == {"x", "y"}
