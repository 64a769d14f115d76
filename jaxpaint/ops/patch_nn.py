"""Nearest-patch search of Multi-Scale Neural Patch Synthesis (Yang et al. 2017).

Every 3×3 feature patch that touches the hole (a query) is matched to the known
patch (a key: touches no hole cell) with the highest normalised cross-correlation.
That is q·k / (|q| |k|), the cosine of the flattened patches, as the reference's
MRF layer scores it (no mean subtraction). Patches sit on the reference's grid:
stride 2 from the top-left corner, plus the last row/column so that the whole map
is covered (its `computegrid(..., flag_all=1)`).

The search is one batched matrix product and an argmax. Queries are compacted to a
static capacity, and then processed in tiles of `tile` queries, so the score
matrix held at once is (B, tile, N) and not (B, Q, N). Memory therefore stays
bounded at 512 px feature maps. Keys may come from several feature maps (the
reference's rotated and scaled copies of the known region): concatenate the
`known_patches` of each along N.

`match` returns the indices and the target feature map. Each matched patch is
placed at its query's position, and overlapping patches are averaged, as the
reference's gradient does. The texture loss is then Σ coverage·|F − target|².
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxpaint.errors import JaxpaintError

PATCH_SIZE = 3
PATCH_STRIDE = 2
EPS = 1e-8


def grid_positions(length: int, size: int = PATCH_SIZE, stride: int = PATCH_STRIDE) -> np.ndarray:
    """Top-left offsets of patches along one axis: 0, stride, ... plus the last one (length - size)."""
    if length < size:
        raise JaxpaintError(f"patch search: feature map side {length} is smaller than the patch size {size}")
    positions = list(range(0, length - size + 1, stride))
    if positions[-1] != length - size:
        positions.append(length - size)
    return np.asarray(positions, np.int32)


def _window_index(height: int, width: int, size: int, stride: int):
    """Static (rows, cols) index arrays of shape (Hp, Wp, size, size) into the feature map."""
    rows, cols = grid_positions(height, size, stride), grid_positions(width, size, stride)
    offsets = np.arange(size)
    r = rows[:, None, None, None] + offsets[None, None, :, None]
    c = cols[None, :, None, None] + offsets[None, None, None, :]
    shape = (len(rows), len(cols), size, size)
    return np.broadcast_to(r, shape), np.broadcast_to(c, shape)


def extract_patches(features, size: int = PATCH_SIZE, stride: int = PATCH_STRIDE):
    """(B, H, W, C) -> (B, Hp, Wp, size·size·C), each patch flattened in (row, col, channel) order."""
    b, h, w, c = features.shape
    rows, cols = _window_index(h, w, size, stride)
    patches = features[:, rows, cols, :]  # (B, Hp, Wp, size, size, C)
    return patches.reshape(b, rows.shape[0], rows.shape[1], size * size * c)


def touches(cells, size: int = PATCH_SIZE, stride: int = PATCH_STRIDE):
    """bool (B, H, W) -> bool (B, Hp, Wp): the patch window holds at least one True cell."""
    b, h, w = cells.shape
    rows, cols = _window_index(h, w, size, stride)
    return jnp.any(cells[:, rows, cols], axis=(-2, -1))


def hole_cells(hole, height: int, width: int):
    """Pixel hole bool (B, S, S) -> bool (B, height, width): a feature cell is a hole cell if any of its pixels is."""
    b, s_h, s_w = hole.shape
    if s_h % height or s_w % width:
        raise JaxpaintError(f"patch search: image {s_h}x{s_w} is not a multiple of the feature map {height}x{width}")
    fy, fx = s_h // height, s_w // width
    return jnp.any(hole.reshape(b, height, fy, width, fx), axis=(2, 4))


def known_patches(features, hole_cells_map, size: int = PATCH_SIZE, stride: int = PATCH_STRIDE):
    """Keys (B, N, D) and their validity (B, N): patches that touch no hole cell (and no out-of-frame cell)."""
    b = features.shape[0]
    keys = extract_patches(features, size, stride)
    valid = ~touches(hole_cells_map, size, stride)
    return keys.reshape(b, -1, keys.shape[-1]), valid.reshape(b, -1)


def nearest_patches(queries, keys, key_valid, tile: int | None = None):
    """Index (B, Q) int32 of the best valid key for each query, by normalised cross-correlation, and its score (B, Q).

    One (tile × D)·(D × N) product per tile of queries, then an argmax over N; Q must be a
    multiple of `tile` (None: all queries at once). A batch row with no valid key gets index 0, score -inf.
    """
    b, q, d = queries.shape
    key_unit = keys / jnp.maximum(jnp.linalg.norm(keys, axis=-1, keepdims=True), EPS)
    key_unit = jnp.swapaxes(key_unit, 1, 2)  # (B, D, N) once, so no tile transposes the keys again
    query_norm = jnp.maximum(jnp.linalg.norm(queries, axis=-1), EPS)

    def best(query_tile):  # (B, T, D) -> (B, T), (B, T)
        scores = jnp.einsum("btd,bdn->btn", query_tile, key_unit, preferred_element_type=jnp.float32)
        scores = jnp.where(key_valid[:, None, :], scores, -jnp.inf)
        return jnp.argmax(scores, axis=-1).astype(jnp.int32), jnp.max(scores, axis=-1)

    if tile is None or tile >= q:
        index, score = best(queries)
    else:
        if q % tile:
            raise JaxpaintError(f"patch search: {q} queries are not a multiple of the tile {tile}")
        tiles = jnp.moveaxis(queries.reshape(b, q // tile, tile, d), 1, 0)
        index, score = jax.lax.map(best, tiles)
        index = jnp.moveaxis(index, 0, 1).reshape(b, q)
        score = jnp.moveaxis(score, 0, 1).reshape(b, q)
    return index, score / query_norm


def fold_patches(patches, weight, height: int, width: int, size: int = PATCH_SIZE, stride: int = PATCH_STRIDE):
    """Inverse of `extract_patches` with averaging: (B, Hp, Wp, D) patches, weight (B, Hp, Wp) ->
    the weighted mean of the overlapping patches (B, H, W, C) and the total weight per cell (B, H, W)."""
    b, hp, wp, d = patches.shape
    c = d // (size * size)
    rows, cols = _window_index(height, width, size, stride)
    values = patches.reshape(b, hp, wp, size, size, c) * weight[:, :, :, None, None, None]
    counts = jnp.broadcast_to(weight[:, :, :, None, None], (b, hp, wp, size, size))
    total = jnp.zeros((b, height, width, c), patches.dtype).at[:, rows, cols, :].add(values)
    coverage = jnp.zeros((b, height, width), patches.dtype).at[:, rows, cols].add(counts)
    return total / jnp.maximum(coverage, EPS)[..., None], coverage


def query_capacity(hole_cells_map, tile: int, size: int = PATCH_SIZE, stride: int = PATCH_STRIDE) -> int:
    """Host-side: the batch's largest count of hole patches, rounded up to a multiple of `tile` (at least one tile).

    A static capacity keeps the search's shapes fixed; rounding to tiles bounds recompilations.
    """
    counts = np.asarray(touches(jnp.asarray(hole_cells_map), size, stride)).reshape(len(hole_cells_map), -1).sum(1)
    return max(1, int(np.ceil(counts.max() / tile))) * tile


class PatchMatch(NamedTuple):
    positions: jnp.ndarray  # (B, capacity) int32: flat patch-grid index of each query
    query_valid: jnp.ndarray  # (B, capacity) bool: False for padding
    indices: jnp.ndarray  # (B, capacity) int32: index of the matched key
    scores: jnp.ndarray  # (B, capacity): its normalised cross-correlation
    target: jnp.ndarray  # (B, H, W, C): matched patches averaged where they overlap
    coverage: jnp.ndarray  # (B, H, W): how many matched patches cover each cell (0: not in the texture term)


@functools.partial(jax.jit, static_argnames=("capacity", "tile", "size", "stride"))
def match(features, hole_cells_map, keys, key_valid, capacity: int, tile: int | None = None,
          size: int = PATCH_SIZE, stride: int = PATCH_STRIDE) -> PatchMatch:
    """Matches every patch of `features` (B, H, W, C) that touches a hole cell to its nearest valid key.

    `capacity` (see `query_capacity`) is the static number of query slots per image;
    `keys`/`key_valid` come from `known_patches` (of these features or of transformed copies).
    """
    b, h, w, c = features.shape
    grid = extract_patches(features, size, stride)
    hp, wp = grid.shape[1:3]
    flat = grid.reshape(b, hp * wp, -1)
    is_query = touches(hole_cells_map, size, stride).reshape(b, hp * wp)
    positions = jax.vmap(lambda m: jnp.nonzero(m, size=capacity, fill_value=0)[0])(is_query).astype(jnp.int32)
    query_valid = jnp.arange(capacity)[None, :] < jnp.sum(is_query, axis=1, keepdims=True)
    queries = jnp.take_along_axis(flat, positions[..., None], axis=1)
    indices, scores = nearest_patches(queries, keys, key_valid, tile)
    matched = jnp.take_along_axis(keys, indices[..., None], axis=1)
    weight = query_valid & jnp.isfinite(scores)
    placed = jnp.zeros_like(flat).at[jnp.arange(b)[:, None], positions].add(matched * weight[..., None])
    placed_weight = jnp.zeros((b, hp * wp), features.dtype).at[jnp.arange(b)[:, None], positions].add(
        weight.astype(features.dtype))
    target, coverage = fold_patches(placed.reshape(b, hp, wp, -1), placed_weight.reshape(b, hp, wp), h, w, size, stride)
    return PatchMatch(positions, query_valid, indices, scores, target, coverage)
