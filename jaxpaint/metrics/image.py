"""Reconstruction metrics of the thesis (§4.1): MSE, PSNR and DSSIM, per block and per image.

- MSE is on [0, 1] pixel values, over the region's pixels and channels.
- PSNR = 10 log10(1 / MSE), capped at PSNR_CAP_DB (a region reproduced exactly,
  MSE = 0, scores the cap; the smallest non-zero MSE of a 128 px image is
  about 95 dB, so the cap never changes a real error).
- DSSIM = (1 - SSIM) / 2; SSIM is `jaxpaint.ops.ssim.ssim_windows` (the
  thesis's non-overlapping 8x8 windows) by default, or `ssim_gaussian`.

Block scoring (`block_scores`): every metric is computed on each block
`img[r:r+s, c:c+s]`, averaged over the image's blocks (each block counts the
same whatever its size), giving one value per image; `summarize` then averages
over images. PSNR is thus the mean of the blocks' PSNRs, not the PSNR of the
mean MSE. Whole-image scoring (`image_scores`) treats the image as one region.

The work is one jitted function over fixed-shape chunks of images: every block
is cut into a tile of static size (enough for the largest block, a multiple of
the SSIM window) with its validity given by its extent.
"""

from __future__ import annotations

import functools
from typing import Iterable, Mapping

import jax
import jax.numpy as jnp
import numpy as np

from jaxpaint.errors import JaxpaintError
from jaxpaint.ops import ssim as ssim_ops

PSNR_CAP_DB = 100.0
SSIM_KINDS = ("windows", "gaussian")
METRICS = ("mse", "psnr", "dssim")
DEFAULT_CHUNK = 128


def psnr_from_mse(mse):
    """10 log10(1 / mse) in dB, PSNR_CAP_DB where mse is 0 (or the value would exceed the cap)."""
    safe = jnp.maximum(mse, 10.0 ** (-PSNR_CAP_DB / 10.0))
    return jnp.minimum(-10.0 * jnp.log10(safe), PSNR_CAP_DB)


def _cut_tiles(image, rows, cols, tile_h, tile_w):
    """(H, W, C) image, (M,) corners -> (M, tile_h, tile_w, C); the image is zero-padded so no slice is clamped."""
    padded = jnp.pad(image, ((0, tile_h), (0, tile_w), (0, 0)))
    cut = lambda r, c: jax.lax.dynamic_slice(padded, (r, c, 0), (tile_h, tile_w, image.shape[2]))
    return jax.vmap(cut)(rows, cols)


def _reflect_tiles(image, rows, cols, heights, widths, tile_h, tile_w, radius):
    """Each region reflect-padded by `radius`: (M, tile_h + 2 radius, tile_w + 2 radius, C)."""

    def one(r, c, h, w):
        ri = r + ssim_ops.reflect_index(jnp.arange(-radius, tile_h + radius), jnp.maximum(h, 1))
        ci = c + ssim_ops.reflect_index(jnp.arange(-radius, tile_w + radius), jnp.maximum(w, 1))
        return image[ri[:, None], ci[None, :]]

    return jax.vmap(one)(rows, cols, heights, widths)


@functools.partial(jax.jit, static_argnames=("tile_h", "tile_w", "kind", "window"))
def _region_metrics(pred, target, regions, count, *, tile_h, tile_w, kind, window):
    """Per-image mean MSE, PSNR and DSSIM over each image's first `count` regions.

    pred, target: uint8 (B, H, W, C); regions: int32 (B, M, 4) row, col, height,
    width (rows past `count` are ignored); count: int32 (B,).
    """
    batch, max_regions = regions.shape[:2]
    rows, cols, heights, widths = (regions[..., i] for i in range(4))
    in_use = jnp.arange(max_regions)[None, :] < count[:, None]
    heights = jnp.where(in_use, heights, 0)
    widths = jnp.where(in_use, widths, 0)

    cut = jax.vmap(_cut_tiles, in_axes=(0, 0, 0, None, None))
    flat = lambda a: a.reshape((batch * max_regions,) + a.shape[2:])
    pred_tiles = flat(cut(pred, rows, cols, tile_h, tile_w))
    target_tiles = flat(cut(target, rows, cols, tile_h, tile_w))
    h, w = flat(heights), flat(widths)

    moments = ssim_ops.window_moments(pred_tiles, target_tiles, h, w, window)
    squared_error = (moments["sxx"] + moments["syy"] - 2 * moments["sxy"]).sum(axis=-1)  # exact per window
    sse = squared_error.astype(jnp.float32).sum(axis=(1, 2))
    values = (h * w * pred.shape[-1]).astype(jnp.float32) * 255.0**2
    mse = jnp.where(values > 0, sse / jnp.maximum(values, 1.0), 0.0)

    if kind == "windows":
        per_window = ssim_ops.ssim_from_moments(moments).mean(axis=-1)
        area = (h * w).astype(jnp.float32)
        ssim = (per_window * moments["n"][..., 0]).sum(axis=(1, 2)) / jnp.maximum(area, 1.0)
    else:
        radius = ssim_ops.gaussian_radius()
        reflect = jax.vmap(_reflect_tiles, in_axes=(0, 0, 0, 0, 0, None, None, None))
        scale = lambda img: img.astype(jnp.float32) / 255.0
        pred_pad = flat(reflect(scale(pred), rows, cols, heights, widths, tile_h, tile_w, radius))
        target_pad = flat(reflect(scale(target), rows, cols, heights, widths, tile_h, tile_w, radius))
        ssim = ssim_ops.ssim_gaussian(pred_pad, target_pad, h, w)

    # SSIM is at most 1; rounding can overshoot it by ~1e-9, which would give a negative DSSIM.
    per_region = {"mse": mse, "psnr": psnr_from_mse(mse), "dssim": jnp.maximum((1.0 - ssim) / 2.0, 0.0)}
    weights = in_use.astype(jnp.float32)
    denominator = jnp.maximum(count, 1).astype(jnp.float32)
    return {k: (v.reshape(batch, max_regions) * weights).sum(axis=1) / denominator for k, v in per_region.items()}


def _check_images(pred, target) -> tuple[np.ndarray, np.ndarray]:
    pred, target = np.asarray(pred), np.asarray(target)
    if pred.ndim == 3 and target.ndim == 3:  # one pair
        pred, target = pred[None], target[None]
    for name, arr in (("prediction", pred), ("target", target)):
        if arr.dtype != np.uint8:
            raise JaxpaintError(f"metrics: {name} images are {arr.dtype}, expected uint8")
        if arr.ndim != 4 or arr.shape[-1] != 3:
            raise JaxpaintError(f"metrics: {name} images have shape {arr.shape}, expected (B, H, W, 3)")
    if pred.shape != target.shape:
        raise JaxpaintError(f"metrics: prediction shape {pred.shape} differs from target shape {target.shape}")
    return pred, target


def _check_blocks(blocks, num_blocks, batch: int, height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    blocks = np.asarray(blocks)
    num_blocks = np.asarray(num_blocks)
    if blocks.ndim != 3 or blocks.shape[0] != batch or blocks.shape[2] != 3:
        raise JaxpaintError(f"metrics: blocks have shape {blocks.shape}, expected ({batch}, M, 3)")
    if num_blocks.shape != (batch,):
        raise JaxpaintError(f"metrics: num_blocks has shape {num_blocks.shape}, expected ({batch},)")
    if np.any(num_blocks < 1) or np.any(num_blocks > blocks.shape[1]):
        bad = int(np.flatnonzero((num_blocks < 1) | (num_blocks > blocks.shape[1]))[0])
        raise JaxpaintError(f"metrics: image {bad} has {num_blocks[bad]} blocks, expected 1..{blocks.shape[1]}")
    used = np.arange(blocks.shape[1])[None, :] < num_blocks[:, None]
    r, c, s = blocks[..., 0], blocks[..., 1], blocks[..., 2]
    outside = used & ((s < 1) | (r < 0) | (c < 0) | (r + s > height) | (c + s > width))
    if outside.any():
        i, j = np.argwhere(outside)[0]
        raise JaxpaintError(f"metrics: block {j} of image {i}, {blocks[i, j].tolist()}, is not inside a {height}x{width} image")
    return blocks.astype(np.int32), num_blocks.astype(np.int32)


SPATIAL_BUCKET = 64


def _next_power_of_two(n: int) -> int:
    return 1 << max(int(n) - 1, 0).bit_length()


def _round_up(n: int, multiple: int) -> int:
    return -(-int(n) // multiple) * multiple


def _pad_axis(array: np.ndarray, axis: int, length: int) -> np.ndarray:
    """`array` zero-padded at the end of `axis` to `length`."""
    missing = length - array.shape[axis]
    if missing <= 0:
        return array
    widths = [(0, 0)] * array.ndim
    widths[axis] = (0, missing)
    return np.pad(array, widths)


def _score_regions(pred, target, regions, count, ssim: str, window: int, chunk: int) -> dict[str, np.ndarray]:
    """Runs `_region_metrics` over fixed-size chunks (the last one padded) and joins the results."""
    if ssim not in SSIM_KINDS:
        raise JaxpaintError(f"metrics: unknown SSIM kind {ssim!r}; expected one of {', '.join(SSIM_KINDS)}")
    batch = pred.shape[0]
    used = np.arange(regions.shape[1])[None, :] < count[:, None]
    # Shapes are bucketed so that evaluating many batches, or a folder of images of several sizes,
    # compiles a handful of programs rather than one per batch: tiles and region counts round up to
    # powers of two, images are zero-padded to a multiple of SPATIAL_BUCKET (regions never reach the
    # padding), and chunks to a power of two.
    tile_h = _next_power_of_two(ssim_ops.tile_extent(int(np.where(used, regions[..., 2], 0).max(initial=1)), window))
    tile_w = _next_power_of_two(ssim_ops.tile_extent(int(np.where(used, regions[..., 3], 0).max(initial=1)), window))
    regions = _pad_axis(regions, 1, _next_power_of_two(regions.shape[1]))
    pred, target = (_pad_axis(_pad_axis(a, 1, _round_up(a.shape[1], SPATIAL_BUCKET)), 2,
                              _round_up(a.shape[2], SPATIAL_BUCKET)) for a in (pred, target))
    step = min(chunk, _next_power_of_two(batch))
    pending = []
    for start in range(0, batch, step):
        part = slice(start, start + step)
        arrays = [_pad_axis(a[part], 0, step) for a in (pred, target, regions, count)]
        # Calls are dispatched asynchronously: the next chunk's transfer overlaps this one's work.
        pending.append(_region_metrics(*arrays, tile_h=tile_h, tile_w=tile_w, kind=ssim, window=window))
    joined = {k: np.concatenate([np.asarray(p[k]) for p in pending])[:batch].astype(np.float64) for k in METRICS}
    return joined


def block_scores(pred_u8, target_u8, blocks, num_blocks, ssim: str = "windows", *, window: int = ssim_ops.DEFAULT_WINDOW, chunk: int = DEFAULT_CHUNK) -> dict[str, np.ndarray]:
    """Per-image scores averaged over each image's blocks.

    pred_u8, target_u8: uint8 (B, H, W, 3); blocks: int (B, M, 3) rows of
    (row, col, size), rows past num_blocks ignored; num_blocks: int (B,).
    Returns {"mse", "psnr", "dssim"}: float64 arrays (B,).
    """
    pred, target = _check_images(pred_u8, target_u8)
    blocks, num_blocks = _check_blocks(blocks, num_blocks, *pred.shape[:3])
    regions = np.concatenate([blocks, blocks[..., 2:3]], axis=-1)  # (row, col, height, width)
    return _score_regions(pred, target, regions, num_blocks, ssim, window, chunk)


def image_scores(pred_u8, target_u8, ssim: str = "windows", *, window: int = ssim_ops.DEFAULT_WINDOW, chunk: int = DEFAULT_CHUNK) -> dict[str, np.ndarray]:
    """Whole-image scores: uint8 (B, H, W, 3) pairs (or one (H, W, 3) pair) -> {"mse", "psnr", "dssim"} (B,)."""
    pred, target = _check_images(pred_u8, target_u8)
    batch, height, width = pred.shape[:3]
    regions = np.tile(np.array([[[0, 0, height, width]]], np.int32), (batch, 1, 1))
    return _score_regions(pred, target, regions, np.ones(batch, np.int32), ssim, window, chunk)


def summarize(scores: Mapping[str, Iterable[float]] | Iterable[Mapping[str, float]]) -> dict[str, float]:
    """Means over images: from a dict of per-image arrays, or from a sequence of per-image dicts."""
    if isinstance(scores, Mapping):
        columns = {k: np.asarray(v, np.float64).reshape(-1) for k, v in scores.items()}
    else:
        rows = list(scores)
        if not rows:
            raise JaxpaintError("metrics: no scores to summarize")
        columns = {k: np.array([row[k] for row in rows], np.float64) for k in rows[0]}
    empty = [k for k, v in columns.items() if v.size == 0]
    if empty:
        raise JaxpaintError(f"metrics: no scores to summarize for {', '.join(empty)}")
    return {k: float(v.mean()) for k, v in columns.items()}
