"""Block masks, as in thesis §2.3.3.

A mask is 1 to 10 square blocks `(row, col, size)` with
  * min(w, h)/20 < size < min(w, h)/3 (strict, integer sizes),
  * no two blocks overlapping (sharing an edge is allowed: blocks are half-open),
  * every block at least `edge_margin(h, w)` pixels from every image edge,
  * at most 70 % of the image masked,
  * placement biased toward joints: with probability `p_joint` a block is centred on
    a random present joint (jittered), otherwise it is placed uniformly.

The thesis keeps 100 px from the edge of its (roughly 640 px) source images. Our crops
are resized, so the margin is scaled by min(h, w) / 640: 20 px at 128 px, 10 px at 64 px.

Masks are drawn from `np.random.default_rng([seed, key])`, where the key is a stable
hash of (source, image_id, person). An example's mask therefore depends only on the
seed and on which example it is, never on the order in which examples are generated.
"""

from __future__ import annotations

import hashlib

import numpy as np

MIN_BLOCKS, MAX_BLOCKS = 1, 10
MAX_MASKED_FRACTION = 0.70
REFERENCE_MARGIN_PX, REFERENCE_SIZE_PX = 100, 640
P_JOINT = 0.7  # share of blocks aimed at a joint
JITTER = 0.25  # std of the offset from the aimed joint, as a fraction of the block side
MAX_TRIES_PER_BLOCK = 64


def size_range(height: int, width: int) -> tuple[int, int]:
    """Smallest and largest integer side s with min(w,h)/20 < s < min(w,h)/3."""
    m = min(height, width)
    low = int(np.floor(m / 20)) + 1
    high = int(np.ceil(m / 3)) - 1
    return low, high


def edge_margin(height: int, width: int) -> int:
    """The thesis's 100 px edge margin, scaled from a 640 px image to this one (20 px at 128)."""
    return int(round(REFERENCE_MARGIN_PX * min(height, width) / REFERENCE_SIZE_PX))


def example_key(*parts: object) -> int:
    """A stable 63-bit integer from the parts' text (Python's hash() is salted per process)."""
    text = "\x1f".join(str(p) for p in parts).encode()
    return int.from_bytes(hashlib.blake2b(text, digest_size=8).digest(), "little") >> 1


def mask_rng(seed: int, key: int) -> np.random.Generator:
    return np.random.default_rng([int(seed), int(key)])


def _aimed_corner(rng, joint_xy, size: int) -> tuple[int, int]:
    # Centre the block on the joint, jittered so that joints are not always at the block centre.
    cx, cy = np.asarray(joint_xy, np.float64) + rng.normal(0.0, JITTER * size, 2)
    return int(round(cy - size / 2)), int(round(cx - size / 2))


def sample_blocks(
    rng: np.random.Generator,
    height: int,
    width: int,
    joints_xy: np.ndarray | None = None,
    present: np.ndarray | None = None,
    *,
    p_joint: float = P_JOINT,
    max_tries: int = MAX_TRIES_PER_BLOCK,
) -> np.ndarray:
    """Draws a mask's blocks: int32 (N, 3) rows of (row, col, size), 1 <= N <= 10.

    N is drawn uniformly in 1..10; each block is retried (new size and place) up to
    `max_tries` times until it fits without overlap and within the 70 % budget. A block
    that never fits is dropped, so N can end lower than drawn, never below 1.
    """
    low, high = size_range(height, width)
    margin = edge_margin(height, width)
    if high < low or high > min(height, width) - 2 * margin:
        raise ValueError(f"a {height}x{width} image is too small for block masks")
    joints = np.zeros((0, 2))
    if joints_xy is not None and present is not None:
        joints = np.asarray(joints_xy, np.float64)[np.asarray(present, bool)]
    target = int(rng.integers(MIN_BLOCKS, MAX_BLOCKS + 1))
    budget = int(MAX_MASKED_FRACTION * height * width)
    taken = np.zeros((height, width), bool)
    blocks: list[tuple[int, int, int]] = []
    for _ in range(target):
        for _ in range(max_tries):
            size = int(rng.integers(low, high + 1))
            max_row, max_col = height - margin - size, width - margin - size
            if len(joints) and rng.random() < p_joint:
                row, col = _aimed_corner(rng, joints[rng.integers(len(joints))], size)
                row, col = int(np.clip(row, margin, max_row)), int(np.clip(col, margin, max_col))
            else:
                row, col = int(rng.integers(margin, max_row + 1)), int(rng.integers(margin, max_col + 1))
            if taken.sum() + size * size > budget or taken[row : row + size, col : col + size].any():
                continue
            taken[row : row + size, col : col + size] = True
            blocks.append((row, col, size))
            break
    if not blocks:
        raise RuntimeError(f"no block fits a {height}x{width} image")  # unreachable: the first block always fits
    return np.array(blocks, np.int32).reshape(-1, 3)


def make_mask(
    seed: int,
    key: int,
    height: int,
    width: int,
    joints_xy: np.ndarray | None = None,
    present: np.ndarray | None = None,
    *,
    p_joint: float = P_JOINT,
) -> np.ndarray:
    """The blocks of one example's mask, a pure function of (seed, key, image size, joints)."""
    return sample_blocks(mask_rng(seed, key), height, width, joints_xy, present, p_joint=p_joint)


def check_mask_rules(blocks: np.ndarray, height: int, width: int) -> list[str]:
    """Every way `blocks` breaks the §2.3.3 rules, as readable lines; empty when the mask is valid."""
    blocks = np.asarray(blocks).reshape(-1, 3)
    problems: list[str] = []
    if not MIN_BLOCKS <= len(blocks) <= MAX_BLOCKS:
        problems.append(f"{len(blocks)} blocks, expected {MIN_BLOCKS}..{MAX_BLOCKS}")
    m = min(height, width)
    margin = edge_margin(height, width)
    covered = np.zeros((height, width), np.int32)
    for i, (row, col, size) in enumerate(blocks.tolist()):
        if not m / 20 < size < m / 3:
            problems.append(f"block {i}: size {size} not strictly between {m / 20:g} and {m / 3:g}")
        if row < margin or col < margin or row + size > height - margin or col + size > width - margin:
            problems.append(f"block {i} at ({row}, {col}, {size}) is within {margin} px of the edge")
        covered[max(row, 0) : max(row + size, 0), max(col, 0) : max(col + size, 0)] += 1
    if (covered > 1).any():
        problems.append(f"blocks overlap on {(covered > 1).sum()} pixels")
    fraction = (covered > 0).mean()
    if fraction > MAX_MASKED_FRACTION:
        problems.append(f"{fraction:.1%} of the image is masked, more than {MAX_MASKED_FRACTION:.0%}")
    return problems


def covers_joint(blocks: np.ndarray, joints_xy: np.ndarray, present: np.ndarray) -> np.ndarray:
    """bool (N,): whether block n holds at least one present joint (row <= y < row+size, col <= x < col+size)."""
    blocks = np.asarray(blocks, np.float64).reshape(-1, 3)
    xy = np.asarray(joints_xy, np.float64)[np.asarray(present, bool)]
    if len(xy) == 0:
        return np.zeros(len(blocks), bool)
    row, col, size = blocks[:, 0:1], blocks[:, 1:2], blocks[:, 2:3]
    x, y = xy[None, :, 0], xy[None, :, 1]
    inside = (row <= y) & (y < row + size) & (col <= x) & (x < col + size)
    return inside.any(axis=1)
