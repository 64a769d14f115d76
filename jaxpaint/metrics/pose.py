"""Pose heatmaps and the side-agnostic pose metrics WNJD (thesis §4.2) and PCK.

Heatmaps have one channel per joint TYPE (`JOINT_TYPES`); a paired type's left
and right joints are two peaks in the same channel. Decoding returns the slot
layout of `jaxpaint.data.joints` with the two peaks of a pair in its two slots
in no particular order; the metrics therefore match each ground-truth pair to
the predicted pair without regard to side, as the thesis does.

Coordinates are pixels with x = column, y = row, pixel k centred at k. A
heatmap cell j (stride s) is centred at input coordinate j·s + (s − 1)/2.

All functions are written in jax.numpy so that training and evaluation steps can
jit them; they accept numpy arrays as well.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from jaxpaint.data.joints import NUM_SLOTS, NUM_TYPES, SLOT_MIRROR, SLOT_TYPE

# Slots of each type, and each slot's rank among the slots of its type (left or
# unpaired = 0, right = 1): decoding gives a type's k-th strongest peak to the slot of rank k.
TYPE_SLOTS = tuple(tuple(int(s) for s in np.flatnonzero(SLOT_TYPE == t)) for t in range(NUM_TYPES))
SLOT_RANK = np.array([TYPE_SLOTS[SLOT_TYPE[s]].index(s) for s in range(NUM_SLOTS)], np.int32)
MAX_SLOTS_PER_TYPE = max(len(slots) for slots in TYPE_SLOTS)

# A cost for "no prediction" used only to choose side assignments in PCK; finite so that sums compare.
_UNMATCHED = 1e9


def _stride(input_hw, heatmap_hw) -> jnp.ndarray:
    """(x, y) input pixels per heatmap cell."""
    return jnp.array([input_hw[1] / heatmap_hw[1], input_hw[0] / heatmap_hw[0]], jnp.float32)


def to_heatmap_coords(xy, input_hw, heatmap_hw) -> jax.Array:
    """Input-pixel (x, y) -> heatmap-cell (x, y)."""
    stride = _stride(input_hw, heatmap_hw)
    return (jnp.asarray(xy, jnp.float32) - (stride - 1) / 2) / stride


def from_heatmap_coords(uv, input_hw, heatmap_hw) -> jax.Array:
    """Heatmap-cell (x, y) -> input-pixel (x, y); the inverse of `to_heatmap_coords`."""
    stride = _stride(input_hw, heatmap_hw)
    return jnp.asarray(uv, jnp.float32) * stride + (stride - 1) / 2


def heatmap_targets(xy, present, input_hw, heatmap_hw, sigma: float = 1.0) -> jax.Array:
    """Gaussian targets: xy (B, 19, 2) input pixels, present (B, 19) -> (B, h, w, 12).

    Each present joint draws an unnormalised Gaussian (peak 1, `sigma` in heatmap
    cells) into the channel of its type; the two joints of a pair combine by max.
    """
    h, w = heatmap_hw
    uv = to_heatmap_coords(xy, input_hw, heatmap_hw)  # (B, 19, 2)
    cols = jnp.arange(w, dtype=jnp.float32)
    rows = jnp.arange(h, dtype=jnp.float32)
    gx = jnp.exp(-((cols[None, None, :] - uv[..., 0:1]) ** 2) / (2 * sigma**2))  # (B, 19, w)
    gy = jnp.exp(-((rows[None, None, :] - uv[..., 1:2]) ** 2) / (2 * sigma**2))  # (B, 19, h)
    per_slot = gy[..., :, None] * gx[..., None, :] * jnp.asarray(present, jnp.float32)[..., None, None]
    per_type = [per_slot[:, list(slots)].max(axis=1) for slots in TYPE_SLOTS]
    return jnp.stack(per_type, axis=-1)


def type_present(present) -> jax.Array:
    """(B, 19) slot flags -> (B, 12): True where the source labels some joint of that type."""
    present = jnp.asarray(present, bool)
    return jnp.stack([present[:, list(slots)].any(axis=1) for slots in TYPE_SLOTS], axis=-1)


def _local_maxima(heatmaps: jax.Array) -> jax.Array:
    """True where a cell is the maximum of its 3×3 neighbourhood."""
    pooled = jax.lax.reduce_window(
        heatmaps, -jnp.inf, jax.lax.max, (1, 3, 3, 1), (1, 1, 1, 1), ((0, 0), (1, 1), (1, 1), (0, 0))
    )
    return heatmaps >= pooled


def _top_peaks(heatmaps: jax.Array) -> tuple[jax.Array, jax.Array, jax.Array]:
    """The two strongest local maxima per channel, greedily suppressing the 3×3
    window around the first (so a plateau of equal cells gives one peak).

    Returns rows, cols (B, 12, 2) int32 and scores (B, 12, 2); a missing peak scores -inf.
    """
    b, h, w, c = heatmaps.shape
    candidates = jnp.where(_local_maxima(heatmaps), heatmaps, -jnp.inf)
    flat = candidates.transpose(0, 3, 1, 2).reshape(b, c, h * w)
    first = jnp.argmax(flat, axis=-1)
    first_score = jnp.take_along_axis(flat, first[..., None], axis=-1)[..., 0]
    r1, c1 = first // w, first % w
    grid_r = (jnp.arange(h * w) // w)[None, None, :]
    grid_c = (jnp.arange(h * w) % w)[None, None, :]
    near_first = (jnp.abs(grid_r - r1[..., None]) <= 1) & (jnp.abs(grid_c - c1[..., None]) <= 1)
    second_flat = jnp.where(near_first, -jnp.inf, flat)
    second = jnp.argmax(second_flat, axis=-1)
    second_score = jnp.take_along_axis(second_flat, second[..., None], axis=-1)[..., 0]
    rows = jnp.stack([r1, second // w], axis=-1)
    cols = jnp.stack([c1, second % w], axis=-1)
    return rows, cols, jnp.stack([first_score, second_score], axis=-1)


def _quarter_offset(heatmaps: jax.Array, rows: jax.Array, cols: jax.Array) -> jax.Array:
    """±0.25 cell per axis toward the higher neighbour (0 at the border or on a tie).

    heatmaps (B, h, w, C); rows, cols (B, C, K) -> (B, C, K, 2) offsets in (x, y).
    """
    _, h, w, _ = heatmaps.shape
    per_channel = heatmaps.transpose(0, 3, 1, 2)  # (B, C, h, w)

    def value(r, c):
        r_in = jnp.clip(r, 0, h - 1)
        c_in = jnp.clip(c, 0, w - 1)
        flat = per_channel.reshape(per_channel.shape[0], per_channel.shape[1], h * w)
        return jnp.take_along_axis(flat, r_in * w + c_in, axis=-1)

    inside_x = (cols > 0) & (cols < w - 1)
    inside_y = (rows > 0) & (rows < h - 1)
    dx = jnp.where(inside_x, jnp.sign(value(rows, cols + 1) - value(rows, cols - 1)), 0.0)
    dy = jnp.where(inside_y, jnp.sign(value(rows + 1, cols) - value(rows - 1, cols)), 0.0)
    return 0.25 * jnp.stack([dx, dy], axis=-1)


def decode_heatmaps(heatmaps, input_hw, threshold: float = 0.01) -> tuple[jax.Array, jax.Array, jax.Array]:
    """Heatmaps (B, h, w, 12) -> xy (B, 19, 2) input pixels, present (B, 19), score (B, 19).

    Per channel, the k strongest local maxima (k = slots of that type, after
    non-maximum suppression), each moved a quarter cell toward its higher
    neighbour. A peak scoring below `threshold` counts as not found (present
    False, xy 0). A pair's peaks land in its two slots strongest first, not by side.
    """
    heatmaps = jnp.asarray(heatmaps, jnp.float32)
    rows, cols, scores = _top_peaks(heatmaps)
    uv = jnp.stack([cols, rows], axis=-1).astype(jnp.float32) + _quarter_offset(heatmaps, rows, cols)
    slot_uv = uv[:, SLOT_TYPE, SLOT_RANK]  # (B, 19, 2)
    slot_score = scores[:, SLOT_TYPE, SLOT_RANK]
    xy = from_heatmap_coords(slot_uv, input_hw, heatmaps.shape[1:3])
    present = slot_score >= threshold
    return jnp.where(present[..., None], xy, 0.0), present, slot_score


def matched_distances(pred_xy, pred_present, true_xy, true_present, missing_cost) -> jax.Array:
    """Distance from each labelled joint to its matched prediction, (B, 19), 0 where unlabelled.

    Each paired type is matched as a whole: straight (left-left, right-right) or
    swapped, whichever has the smaller total; a labelled joint whose matched
    prediction is absent costs `missing_cost` (a scalar or (B,)).
    """
    pred_xy = jnp.asarray(pred_xy, jnp.float32)
    true_xy = jnp.asarray(true_xy, jnp.float32)
    pred_present = jnp.asarray(pred_present, bool)
    true_present = jnp.asarray(true_present, bool)
    missing = jnp.broadcast_to(jnp.asarray(missing_cost, jnp.float32).reshape(-1, 1), true_present.shape)

    def cost(pred_slots):
        dist = jnp.linalg.norm(true_xy - pred_xy[:, pred_slots], axis=-1)
        dist = jnp.where(pred_present[:, pred_slots], dist, missing)
        return jnp.where(true_present, dist, 0.0)

    straight = cost(np.arange(NUM_SLOTS))
    swapped = cost(SLOT_MIRROR)
    use_swap = (swapped + swapped[:, SLOT_MIRROR]) < (straight + straight[:, SLOT_MIRROR])
    return jnp.where(use_swap, swapped, straight)


def image_diagonal(image_hw) -> float:
    """‖(w, h)‖ of an image of size (h, w)."""
    h, w = image_hw
    return float(np.hypot(w, h))


def wnjd(pred_xy, pred_present, true_xy, true_present, image_hw) -> jax.Array:
    """Weakly Normalised Joint Distance (thesis §4.2), (B,):

        Σᵢ ‖OJointᵢ − PJointᵢ‖ / (N · ‖(w, h)‖)

    over the N labelled joints (`true_present`), left and right matched without
    regard to side. A labelled joint with no prediction costs the image diagonal,
    i.e. 1 after normalisation, the most a prediction inside the image can cost.
    Lower is better; an image with no labelled joint gives NaN.

    "true" is either the ground-truth labels or the pose predicted on the
    unmasked original; the latter isolates what inpainting loses.
    """
    diagonal = image_diagonal(image_hw)
    dist = matched_distances(pred_xy, pred_present, true_xy, true_present, diagonal)
    count = jnp.asarray(true_present, bool).sum(axis=-1)
    return jnp.where(count > 0, dist.sum(axis=-1) / (jnp.maximum(count, 1) * diagonal), jnp.nan)


def joint_box_size(xy, present) -> jax.Array:
    """max(width, height) of the box around the present joints, (B,); 0 with none present."""
    xy = jnp.asarray(xy, jnp.float32)
    present = jnp.asarray(present, bool)[..., None]
    low = jnp.where(present, xy, jnp.inf).min(axis=1)
    high = jnp.where(present, xy, -jnp.inf).max(axis=1)
    extent = jnp.where(jnp.isfinite(high - low), high - low, 0.0)
    return extent.max(axis=-1)


def correct_joints(pred_xy, pred_present, true_xy, true_present, alpha: float = 0.2) -> jax.Array:
    """(B, 19) bool: the labelled joints whose side-agnostically matched prediction lies within
    alpha · max(width, height) of the box around the labelled joints (see `pck`)."""
    dist = matched_distances(pred_xy, pred_present, true_xy, true_present, _UNMATCHED)
    true_present = jnp.asarray(true_present, bool)
    reference = alpha * joint_box_size(true_xy, true_present)
    return true_present & (dist <= reference[:, None])


def pck(pred_xy, pred_present, true_xy, true_present, alpha: float = 0.2) -> jax.Array:
    """Percentage of Correct Keypoints, (B,) fractions in [0, 1].

    A labelled joint is correct when its side-agnostically matched prediction lies
    within alpha · max(width, height) of the box around the labelled joints (the
    reference length of Yang and Ramanan's PCK). The joint box exists for every
    source, while a torso needs hips and shoulders that not every source labels.
    An image with no labelled joint gives NaN.
    """
    correct = correct_joints(pred_xy, pred_present, true_xy, true_present, alpha)
    count = jnp.asarray(true_present, bool).sum(axis=-1)
    return jnp.where(count > 0, correct.sum(axis=-1) / jnp.maximum(count, 1), jnp.nan)
