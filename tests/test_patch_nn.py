"""The batched nearest-patch search against a brute-force NumPy search over explicit patch loops."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest

from jaxpaint.errors import JaxpaintError
from jaxpaint.ops import patch_nn

SIZE, STRIDE = 3, 2


def numpy_grid(length):
    """The reference grid, written out independently: every `STRIDE`-th offset and the last one."""
    last = length - SIZE
    positions = list(range(0, last + 1, STRIDE))
    return positions if positions[-1] == last else positions + [last]


def numpy_patches(features, cells):
    """Flattened (row, col, channel) patches and 'touches a hole cell' flags for one image, by loops."""
    rows, cols = numpy_grid(features.shape[0]), numpy_grid(features.shape[1])
    patches, touching, corners = [], [], []
    for r in rows:
        for c in cols:
            patches.append(features[r:r + SIZE, c:c + SIZE].reshape(-1))
            touching.append(cells[r:r + SIZE, c:c + SIZE].any())
            corners.append((r, c))
    return np.asarray(patches, np.float64), np.asarray(touching), corners


def brute_force(features, cells):
    """For each hole patch in grid order: (index of the best known patch, its cosine, score gap to the runner-up)."""
    patches, touching, _ = numpy_patches(features, cells)
    unit = patches / np.linalg.norm(patches, axis=1, keepdims=True)
    result = []
    for q in np.flatnonzero(touching):
        scores = np.array([unit[q] @ unit[k] if not touching[k] else -np.inf for k in range(len(patches))])
        order = np.argsort(-scores)
        result.append((order[0], scores[order[0]], scores[order[0]] - scores[order[1]]))
    return result


def random_case(seed, batch=3, height=12, width=11, channels=4):
    rng = np.random.default_rng(seed)
    features = rng.normal(size=(batch, height, width, channels)).astype(np.float32)
    cells = np.zeros((batch, height, width), bool)
    for b in range(batch):
        for _ in range(rng.integers(1, 3)):
            side = int(rng.integers(2, 5))
            r, c = rng.integers(0, height - side), rng.integers(0, width - side)
            cells[b, r:r + side, c:c + side] = True
    return features, cells


@pytest.mark.parametrize("tile", [None, 4])
def test_search_matches_brute_force_numpy(tile):
    for seed in range(3):
        features, cells = random_case(seed)
        keys, valid = patch_nn.known_patches(jnp.asarray(features), jnp.asarray(cells))
        capacity = patch_nn.query_capacity(cells, tile or 1)
        result = patch_nn.match(jnp.asarray(features), jnp.asarray(cells), keys, valid, capacity=capacity, tile=tile)
        for b in range(len(features)):
            expected = brute_force(features[b], cells[b])
            n = len(expected)
            assert n > 0 and bool(np.all(result.query_valid[b, :n])) and not np.any(result.query_valid[b, n:])
            got_index = np.asarray(result.indices[b, :n])
            want_index = np.array([e[0] for e in expected])
            # float32 vs float64 may only swap genuinely tied patches.
            differ = got_index != want_index
            assert all(expected[i][2] < 1e-5 for i in np.flatnonzero(differ)), (seed, b, np.flatnonzero(differ))
            assert differ.sum() <= max(1, n // 100)
            np.testing.assert_allclose(result.scores[b, :n], [e[1] for e in expected], atol=1e-5)


def test_matches_never_touch_the_hole_and_target_averages_them():
    features, cells = random_case(7, batch=2, height=10, width=10, channels=2)
    keys, valid = patch_nn.known_patches(jnp.asarray(features), jnp.asarray(cells))
    capacity = patch_nn.query_capacity(cells, 8)
    result = patch_nn.match(jnp.asarray(features), jnp.asarray(cells), keys, valid, capacity=capacity, tile=8)
    for b in range(2):
        patches, touching, corners = numpy_patches(features[b], cells[b])
        n = int(result.query_valid[b].sum())
        matched = np.asarray(result.indices[b, :n])
        assert not touching[matched].any()
        # The target map, rebuilt by hand: each hole patch gets its match; overlaps are averaged.
        total = np.zeros(features.shape[1:], np.float64)
        count = np.zeros(features.shape[1:3])
        for slot, q in enumerate(np.flatnonzero(touching)):
            r, c = corners[q]
            total[r:r + SIZE, c:c + SIZE] += patches[matched[slot]].reshape(SIZE, SIZE, -1)
            count[r:r + SIZE, c:c + SIZE] += 1
        np.testing.assert_array_equal(result.coverage[b], count)
        expected = np.where(count[..., None] > 0, total / np.maximum(count, 1)[..., None], 0.0)
        np.testing.assert_allclose(result.target[b], expected, atol=1e-5)


def test_keys_from_several_maps_index_the_concatenation():
    """A second key bank (as the rotated/scaled copies are) that holds an exact copy of a query wins."""
    features, cells = random_case(3, batch=1, height=9, width=9, channels=3)
    keys, valid = patch_nn.known_patches(jnp.asarray(features), jnp.asarray(cells))
    copy = features.copy()
    extra_keys, extra_valid = patch_nn.known_patches(jnp.asarray(copy), jnp.zeros_like(jnp.asarray(cells)))
    all_keys = jnp.concatenate([keys, extra_keys], axis=1)
    all_valid = jnp.concatenate([valid, extra_valid], axis=1)
    result = patch_nn.match(jnp.asarray(features), jnp.asarray(cells), all_keys, all_valid,
                            capacity=patch_nn.query_capacity(cells, 1))
    n = int(result.query_valid[0].sum())
    _, touching, _ = numpy_patches(features[0], cells[0])
    # each query's exact copy sits in the second bank at its own grid index
    np.testing.assert_array_equal(result.indices[0, :n], keys.shape[1] + np.flatnonzero(touching))
    np.testing.assert_allclose(result.scores[0, :n], 1.0, atol=1e-5)


def test_grid_covers_the_last_row_and_rejects_tiny_maps():
    np.testing.assert_array_equal(patch_nn.grid_positions(12), [0, 2, 4, 6, 8, 9])
    np.testing.assert_array_equal(patch_nn.grid_positions(11), [0, 2, 4, 6, 8])
    with pytest.raises(JaxpaintError, match="smaller than the patch size"):
        patch_nn.grid_positions(2)


def test_hole_cells_marks_any_hole_pixel():
    hole = np.zeros((1, 8, 8), bool)
    hole[0, 5, 2] = True
    cells = np.asarray(patch_nn.hole_cells(jnp.asarray(hole), 2, 2))
    np.testing.assert_array_equal(cells[0], [[False, False], [True, False]])
