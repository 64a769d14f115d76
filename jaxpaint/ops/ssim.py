"""SSIM (Wang et al. 2004) over padded tiles, batched and jit-friendly.

Each function takes a batch of tiles, every tile holding one image region in
its top-left corner (`height` x `width` valid pixels, the rest is padding), and
returns one SSIM per tile. Static tile shapes let one compiled function score
regions of every size.

Two variants:
- `ssim_windows` (the thesis, §4.1, and jaxpaint's default): the region is cut
  into non-overlapping `window` x `window` windows starting at its top-left
  corner; at the right and bottom edges the last windows are smaller when the
  side is not a multiple of `window` (a region smaller than a window is one
  window). SSIM is computed per window and channel with population
  (1/n) moments, averaged over channels, then over windows weighted by their
  pixel count: the region's SSIM is the mean over its pixels of the SSIM of the
  window holding the pixel, so every pixel counts the same.
- `ssim_gaussian`: the usual sliding Gaussian window (sigma 1.5, radius 5),
  equal to scikit-image's `structural_similarity(gaussian_weights=True,
  sigma=1.5, use_sample_covariance=False, data_range=1, channel_axis=-1)`:
  the region is reflect-padded, and the SSIM map is averaged over the region
  less a `radius`-pixel border. A region with a side of at most 2*radius
  (which scikit-image refuses) is averaged without cropping.

Constants: K1 = 0.01, K2 = 0.03, data range 1 (pixels scaled to [0, 1]).
"""

from __future__ import annotations

import math

import jax.numpy as jnp
import numpy as np

K1 = 0.01
K2 = 0.03
DEFAULT_WINDOW = 8
GAUSSIAN_SIGMA = 1.5
GAUSSIAN_TRUNCATE = 3.5
# Window moments are exact int32 sums; n * sum(x*y) must stay below 2**31.
MAX_WINDOW = 12


def _axis_counts(extent: jnp.ndarray, num_windows: int, window: int) -> jnp.ndarray:
    """Valid pixels in each window along one axis: (N,) extents -> (N, num_windows)."""
    starts = jnp.arange(num_windows) * window
    return jnp.clip(extent[:, None] - starts[None, :], 0, window)


def window_moments(x: jnp.ndarray, y: jnp.ndarray, height: jnp.ndarray, width: jnp.ndarray, window: int) -> dict:
    """Exact integer moments of every non-overlapping window of each tile.

    x, y: integer (N, TH, TW, C) tiles of 0..255 values, TH and TW multiples of
    `window`; height, width: (N,) valid extent of each tile. Returns int32
    arrays (N, KH, KW, C): sx, sy, sxx, syy, sxy (sums over the window's valid
    pixels), and n (N, KH, KW, 1), the window's pixel count (0 for a window
    wholly in the padding).
    """
    if not 1 <= window <= MAX_WINDOW:
        raise ValueError(f"SSIM window {window} is outside 1..{MAX_WINDOW}")
    num_tiles, tile_h, tile_w, channels = x.shape
    if tile_h % window or tile_w % window:
        raise ValueError(f"tile {tile_h}x{tile_w} is not a multiple of the SSIM window {window}")
    kh, kw = tile_h // window, tile_w // window
    rows_ok = jnp.arange(tile_h)[None, :] < height[:, None]
    cols_ok = jnp.arange(tile_w)[None, :] < width[:, None]
    valid = (rows_ok[:, :, None] & cols_ok[:, None, :])[..., None].astype(jnp.int32)
    x = x.astype(jnp.int32) * valid
    y = y.astype(jnp.int32) * valid

    def window_sum(a):
        return a.reshape(num_tiles, kh, window, kw, window, channels).sum(axis=(2, 4))

    counts = _axis_counts(height, kh, window)[:, :, None] * _axis_counts(width, kw, window)[:, None, :]
    return {
        "sx": window_sum(x),
        "sy": window_sum(y),
        "sxx": window_sum(x * x),
        "syy": window_sum(y * y),
        "sxy": window_sum(x * y),
        "n": counts[..., None],
    }


def ssim_from_moments(m: dict) -> jnp.ndarray:
    """SSIM of each window and channel (N, KH, KW, C) from `window_moments`; 0 where n = 0.

    The formula is multiplied through by (n * 255)^4 so that the variance and
    covariance numerators (n*sxx - sx^2, ...) are exact integers before the
    one conversion to float: no cancellation error.
    """
    n = m["n"]
    cov = (n * m["sxy"] - m["sx"] * m["sy"]).astype(jnp.float32)
    var_sum = (n * m["sxx"] - m["sx"] * m["sx"] + n * m["syy"] - m["sy"] * m["sy"]).astype(jnp.float32)
    sx = m["sx"].astype(jnp.float32)
    sy = m["sy"].astype(jnp.float32)
    n2 = (n * n).astype(jnp.float32)
    c1 = (K1 * 255.0) ** 2 * n2
    c2 = (K2 * 255.0) ** 2 * n2
    numerator = (2.0 * sx * sy + c1) * (2.0 * cov + c2)
    denominator = (sx * sx + sy * sy + c1) * (var_sum + c2)
    present = n > 0
    return jnp.where(present, numerator / jnp.where(present, denominator, 1.0), 0.0)


def ssim_windows(x, y, height, width, window: int = DEFAULT_WINDOW) -> jnp.ndarray:
    """Non-overlapping-window SSIM of each tile's valid region: (N,), 0 for an empty region."""
    m = window_moments(x, y, height, width, window)
    per_window = ssim_from_moments(m).mean(axis=-1)  # channels count the same
    pixels = m["n"][..., 0].astype(jnp.float32)
    area = (height * width).astype(jnp.float32)
    total = (per_window * pixels).sum(axis=(1, 2))
    return jnp.where(area > 0, total / jnp.maximum(area, 1.0), 0.0)


def gaussian_radius(sigma: float = GAUSSIAN_SIGMA, truncate: float = GAUSSIAN_TRUNCATE) -> int:
    """Kernel radius as scipy.ndimage computes it."""
    return int(truncate * sigma + 0.5)


def gaussian_taps(sigma: float = GAUSSIAN_SIGMA, truncate: float = GAUSSIAN_TRUNCATE) -> np.ndarray:
    """The normalised 1-D Gaussian kernel of scipy.ndimage.gaussian_filter1d."""
    radius = gaussian_radius(sigma, truncate)
    offsets = np.arange(-radius, radius + 1, dtype=np.float64)
    taps = np.exp(-0.5 * (offsets / sigma) ** 2)
    return (taps / taps.sum()).astype(np.float32)


def reflect_index(position: jnp.ndarray, extent: jnp.ndarray) -> jnp.ndarray:
    """scipy.ndimage's 'reflect' boundary (d c b a | a b c d | d c b a) for any position, extent >= 1."""
    period = 2 * extent
    folded = jnp.mod(position, period)
    return jnp.where(folded < extent, folded, period - 1 - folded)


def _filter_valid(a: jnp.ndarray, taps: np.ndarray) -> jnp.ndarray:
    """Separable 'valid' filtering of (N, H, W, C) along H then W: shrinks each by 2 * radius."""
    k = len(taps)
    out_h = a.shape[1] - k + 1
    a = sum(float(t) * a[:, i : i + out_h] for i, t in enumerate(taps))
    out_w = a.shape[2] - k + 1
    return sum(float(t) * a[:, :, i : i + out_w] for i, t in enumerate(taps))


def ssim_gaussian(x_padded, y_padded, height, width, sigma: float = GAUSSIAN_SIGMA, truncate: float = GAUSSIAN_TRUNCATE):
    """Gaussian-window SSIM of each tile's valid region: (N,).

    x_padded, y_padded: float (N, TH + 2r, TW + 2r, C) in [0, 1], each tile's
    region reflect-padded by r = `gaussian_radius` on every side (so pixel
    (i, j) of the region sits at (i + r, j + r)); height, width: (N,) region
    extents.
    """
    taps = gaussian_taps(sigma, truncate)
    radius = (len(taps) - 1) // 2
    # Centring on 0.5 halves the magnitudes before E[x^2] - E[x]^2 cancels in float32.
    x = x_padded.astype(jnp.float32) - 0.5
    y = y_padded.astype(jnp.float32) - 0.5
    mu_x, mu_y = _filter_valid(x, taps), _filter_valid(y, taps)
    var_x = _filter_valid(x * x, taps) - mu_x * mu_x
    var_y = _filter_valid(y * y, taps) - mu_y * mu_y
    cov = _filter_valid(x * y, taps) - mu_x * mu_y
    mu_x, mu_y = mu_x + 0.5, mu_y + 0.5
    c1, c2 = K1**2, K2**2
    ssim_map = ((2 * mu_x * mu_y + c1) * (2 * cov + c2)) / ((mu_x**2 + mu_y**2 + c1) * (var_x + var_y + c2))

    def kept(extent, tile):
        # scikit-image drops a radius-wide border; a region too small for that keeps all of it.
        idx = jnp.arange(tile)[None, :]
        crop = jnp.where(extent > 2 * radius, radius, 0)[:, None]
        return (idx >= crop) & (idx < extent[:, None] - crop)

    mask = (kept(height, ssim_map.shape[1])[:, :, None] & kept(width, ssim_map.shape[2])[:, None, :]).astype(jnp.float32)
    count = mask.sum(axis=(1, 2)) * ssim_map.shape[3]
    total = (ssim_map * mask[..., None]).sum(axis=(1, 2, 3))
    return jnp.where(count > 0, total / jnp.maximum(count, 1.0), 0.0)


def tile_extent(max_extent: int, window: int = DEFAULT_WINDOW) -> int:
    """The smallest multiple of `window` that holds `max_extent` pixels (at least one window)."""
    return window * max(1, math.ceil(max_extent / window))
