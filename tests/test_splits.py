"""Splits: 60/20/20, deterministic, and never splitting one source image's crops."""

from __future__ import annotations

import dataclasses

import numpy as np

from jaxpaint.data.splits import SPLITS, assign_splits


def test_proportions_and_determinism():
    groups = [(f"img{i}", 1) for i in range(1000)]
    a = assign_splits(groups, seed=0)
    assert a == assign_splits(list(reversed(groups)), seed=0)  # listing order does not matter
    counts = {s: sum(v == s for v in a.values()) for s in SPLITS}
    assert counts == {"train": 600, "validation": 200, "test": 200}
    assert a != assign_splits(groups, seed=1)


def test_split_shares_stay_close_to_60_20_20_with_multi_person_images():
    rng = np.random.default_rng(0)
    people = rng.integers(1, 6, 300)  # 1-5 people per image
    for seed in range(20):
        split_of = assign_splits([(f"img{i}", n) for i, n in enumerate(people)], seed=seed)
        crop_counts = np.array([sum(n for i, n in enumerate(people) if split_of[f"img{i}"] == s) for s in SPLITS])
        np.testing.assert_allclose(crop_counts / people.sum(), [0.6, 0.2, 0.2], atol=0.02)


def multi_person_items(num_images: int, size: int):
    """Synthetic scenes with 1-3 people each (copies of the drawn person, moved a few pixels)."""
    from jaxpaint.data.sources import synthetic

    items = list(synthetic.iter_images(num_examples=num_images, seed=0, size=size))
    for i, item in enumerate(items):
        pose = item.people[0]
        item.people = [dataclasses.replace(pose, xy=pose.xy + np.float32([2 * k, 0])) for k in range(1 + i % 3)]
    return items


def test_people_of_one_image_never_straddle_splits_in_a_built_dataset(tmp_path, monkeypatch):
    """Built end to end: every crop of one source image (one per person) lands in the same split."""
    from jaxpaint.data import builder, loader

    monkeypatch.setattr(builder, "list_source_images", lambda source, manual_dir, config: multi_person_items(30, 64))
    builder.build("synthetic", tmp_path, size=64, seed=3, num_examples=30)
    splits_of_image: dict[str, set] = {}
    crops_of_image: dict[str, int] = {}
    for split in SPLITS:
        source = loader.open_split(tmp_path, builder.config_name("synthetic", 64, 3, 30), split)
        for i in range(len(source)):
            image_id = source[i]["image_id"]
            image_id = image_id.decode() if isinstance(image_id, bytes) else str(image_id)
            splits_of_image.setdefault(image_id, set()).add(split)
            crops_of_image[image_id] = crops_of_image.get(image_id, 0) + 1
    assert sum(n > 1 for n in crops_of_image.values()) >= 10  # many images do give several crops
    straddling = {k: v for k, v in splits_of_image.items() if len(v) > 1}
    assert not straddling, f"people of one image in several splits: {straddling}"
    assert {split for v in splits_of_image.values() for split in v} == set(SPLITS)


def test_repeated_ids_add_their_weights():
    a = assign_splits([("x", 1), ("x", 1), ("y", 1)], seed=3)
    assert set(a) == {"x", "y"}
