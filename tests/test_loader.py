"""The loader: batch layout, determinism by index, epochs, one-pass evaluation, built splits."""

from __future__ import annotations

import numpy as np
import pytest

from jaxpaint.data import loader
from jaxpaint.data.joints import NUM_SLOTS
from jaxpaint.errors import JaxpaintError

SIZE = 16


def fake_example(i: int) -> dict:
    """An in-memory example whose image and joints carry its index, in the nested data_source form."""
    rng = np.random.default_rng(i)
    image = rng.integers(0, 256, (SIZE, SIZE, 3), dtype=np.uint8)
    image[0, 0, 0] = i
    n = 1 + i % 3
    blocks = np.array([[1 + 5 * k, 2 + 4 * k, 3] for k in range(n)], np.int32)
    present = rng.random(NUM_SLOTS) < 0.5
    return {
        "image": image,
        "blocks": blocks,
        "joints": {
            "xy": np.full((NUM_SLOTS, 2), float(i), np.float32),
            "present": present,
            "visible": present & (rng.random(NUM_SLOTS) < 0.5),
            "derived": np.zeros(NUM_SLOTS, bool),
            "type": np.zeros(NUM_SLOTS, np.int32),
            "side": np.zeros(NUM_SLOTS, np.int32),
        },
        "source": b"fake",
        "image_id": f"img{i}".encode(),
        "crop_box": np.zeros(4, np.float32),
    }


@pytest.fixture(scope="module")
def examples():
    return [fake_example(i) for i in range(12)]


def batch_indices(batch) -> list[int]:
    return [int(v) for v in batch["image"][:, 0, 0, 0]]


def test_batch_layout_and_hole(examples):
    batch = loader.batch_dataset(examples, 4, seed=0, shuffle=False)[1]
    assert batch["image"].shape == (4, SIZE, SIZE, 3) and batch["image"].dtype == np.uint8
    assert batch["blocks"].shape == (4, 10, 3) and batch["blocks"].dtype == np.int32
    assert batch["num_blocks"].dtype == np.int32 and batch["hole"].dtype == bool
    assert batch["joints_xy"].shape == (4, NUM_SLOTS, 2) and batch["joints_xy"].dtype == np.float32
    for key in ("joints_present", "joints_visible", "joints_derived"):
        assert batch[key].shape == (4, NUM_SLOTS) and batch[key].dtype == bool
    for b, i in enumerate(batch_indices(batch)):
        ex = examples[i]
        n = len(ex["blocks"])
        assert batch["num_blocks"][b] == n
        np.testing.assert_array_equal(batch["blocks"][b, :n], ex["blocks"])
        assert not batch["blocks"][b, n:].any()
        expected = np.zeros((SIZE, SIZE), bool)  # painted by hand, block by block
        for row, col, size in ex["blocks"]:
            for r in range(row, row + size):
                for c in range(col, col + size):
                    expected[r, c] = True
        np.testing.assert_array_equal(batch["hole"][b], expected)
        np.testing.assert_array_equal(batch["joints_present"][b], ex["joints"]["present"])
        np.testing.assert_array_equal(batch["joints_visible"][b], ex["joints"]["visible"])


def test_batch_is_a_pure_function_of_seed_and_index(examples):
    first = loader.batch_dataset(examples, 4, seed=3)
    again = loader.batch_dataset(examples, 4, seed=3)
    other = loader.batch_dataset(examples, 4, seed=4)
    for i in (0, 5, 17, 1000):
        for key in first[i]:
            np.testing.assert_array_equal(first[i][key], again[i][key])
    orders = [tuple(batch_indices(first[i])) for i in range(9)]
    assert orders != [tuple(batch_indices(other[i])) for i in range(9)]


def test_every_epoch_is_a_fresh_permutation(examples):
    batches = loader.batch_dataset(examples, 4, seed=0)
    assert loader.batches_per_epoch(len(examples), 4) == 3
    epochs = [sum((batch_indices(batches[e * 3 + b]) for b in range(3)), []) for e in range(4)]
    for order in epochs:
        assert sorted(order) == list(range(12))
    assert len({tuple(order) for order in epochs}) == 4


def test_drop_remainder_drops_the_tail_within_each_epoch(examples):
    batches = loader.batch_dataset(examples, 5, seed=1)
    for epoch in range(3):
        seen = batch_indices(batches[2 * epoch]) + batch_indices(batches[2 * epoch + 1])
        assert len(set(seen)) == 10  # no example twice within an epoch


def test_evaluation_pass_covers_each_example_once_in_order(examples):
    batches = loader.batch_dataset(examples, 5, seed=0, shuffle=False, drop_remainder=False)
    assert len(batches) == 3
    seen = [i for b in range(len(batches)) for i in batch_indices(batches[b])]
    assert seen == list(range(12))
    assert batches[2]["image"].shape[0] == 2


def test_iterate_resumes_at_an_index(examples):
    batches = loader.batch_dataset(examples, 4, seed=2)
    it = loader.iterate(batches, start=7, num_threads=1, prefetch=2)
    for i in range(7, 10):
        np.testing.assert_array_equal(next(it)["image"], batches[i]["image"])


def test_too_few_examples_is_an_error(examples):
    with pytest.raises(JaxpaintError, match="cannot make batches of 20"):
        loader.batch_dataset(examples, 20, seed=0)


def test_mean_color_matches_a_direct_mean(examples):
    expected = np.stack([ex["image"] for ex in examples]).reshape(-1, 3).mean(axis=0) / 127.5 - 1
    np.testing.assert_allclose(loader.mean_color(examples), expected, atol=1e-6)
    first_only = examples[0]["image"].reshape(-1, 3).mean(axis=0) / 127.5 - 1
    np.testing.assert_allclose(loader.mean_color(examples, max_examples=1), first_only, atol=1e-6)


def test_open_split_names_the_build_command_when_missing(tmp_path):
    with pytest.raises(JaxpaintError, match=r"jaxpaint data build --source lspet"):
        loader.open_split(tmp_path, "lspet_128_seed0", "train")


def test_open_split_reads_a_built_dataset(tiny_dataset):
    data_dir, config = tiny_dataset
    train = loader.open_split(data_dir, config, "train")
    assert len(train) > 0
    batch = loader.batch_dataset(train, 8, seed=0)[0]
    assert batch["image"].shape == (8, 64, 64, 3)
    assert (batch["hole"].sum(axis=(1, 2)) == (batch["blocks"][:, :, 2] ** 2).sum(axis=1)).all()
    with pytest.raises(JaxpaintError, match="no split 'nope'"):
        loader.open_split(data_dir, config, "nope")


def test_precomputed_arrays_ride_along_with_their_examples(examples):
    fills = np.stack([np.full((SIZE, SIZE, 3), i, np.float16) for i in range(len(examples))])
    source = loader.WithArrays(examples, filled=fills)
    batch = loader.batch_dataset(source, 4, seed=3)[2]
    plain = loader.batch_dataset(examples, 4, seed=3)[2]
    assert set(batch) == set(plain) | {"filled"} and batch["filled"].dtype == np.float16
    np.testing.assert_array_equal(batch["filled"][:, 0, 0, 0], batch["image"][:, 0, 0, 0])  # each its own row
    with pytest.raises(ValueError, match="rows"):
        loader.WithArrays(examples, filled=fills[:-1])
    with pytest.raises(ValueError, match="not among"):
        loader.WithArrays(examples, heatmaps=fills)
