"""Train/validation/test splits (60/20/20), grouped by source image.

All crops of one source image share a split, so no person's surroundings are seen in
training and then scored in test. Images are shuffled by the seed and laid end to end,
each with a weight (its number of people); an image goes to the split in whose share
its midpoint falls, which keeps the crop counts close to 60/20/20 even when images
hold different numbers of people.
"""

from __future__ import annotations

from typing import Iterable

import numpy as np

SPLITS = ("train", "validation", "test")
FRACTIONS = (0.6, 0.2, 0.2)


def assign_splits(
    groups: Iterable[tuple[str, float]],
    seed: int,
    fractions: tuple[float, ...] = FRACTIONS,
    names: tuple[str, ...] = SPLITS,
) -> dict[str, str]:
    """Maps each group id (e.g. "lspet/im00042") to a split name, deterministically from `seed`.

    groups: (id, weight) pairs; a repeated id adds its weights. Ids are sorted before the
    shuffle so the result does not depend on the order in which they were listed.
    """
    if len(fractions) != len(names) or not np.isclose(sum(fractions), 1.0) or min(fractions) < 0:
        raise ValueError(f"split fractions {fractions} must be non-negative, one per split, and sum to 1")
    weights: dict[str, float] = {}
    for group, weight in groups:
        weights[group] = weights.get(group, 0.0) + float(weight)
    ids = sorted(weights)
    if not ids:
        return {}
    order = np.random.default_rng([int(seed), 0x5917]).permutation(len(ids))
    w = np.array([max(weights[ids[i]], 0.0) for i in order], np.float64)
    if w.sum() <= 0:
        w = np.ones_like(w)
    midpoints = (np.cumsum(w) - w / 2) / w.sum()
    bounds = np.cumsum(fractions)
    which = np.minimum(np.searchsorted(bounds, midpoints, side="right"), len(names) - 1)
    return {ids[i]: names[k] for i, k in zip(order, which)}
