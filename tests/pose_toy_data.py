"""Small in-memory pose examples for the hourglass tests: each joint is a disc in its type's colour.

`examples(split)` gives examples in the dataset layout (docs/DESIGN.md), for the
engine's `data.examples_fn = "pose_toy_data:examples"`.
"""

from __future__ import annotations

import colorsys

import numpy as np

from jaxpaint.data.joints import NUM_SLOTS, NUM_TYPES, SLOT_TYPE

IMAGE_SIZE = 64
NUM_EXAMPLES = {"train": 16, "validation": 8}
TYPE_RGB = np.array([colorsys.hsv_to_rgb(t / NUM_TYPES, 1.0, 1.0) for t in range(NUM_TYPES)]) * 255


def example(rng: np.random.Generator, name: str) -> dict:
    xy = rng.uniform(6, IMAGE_SIZE - 6, (NUM_SLOTS, 2)).astype(np.float32)
    present = rng.random(NUM_SLOTS) < 0.9
    image = np.full((IMAGE_SIZE, IMAGE_SIZE, 3), 40.0)
    rows, cols = np.mgrid[:IMAGE_SIZE, :IMAGE_SIZE]
    for s in np.flatnonzero(present):
        disc = (cols - xy[s, 0]) ** 2 + (rows - xy[s, 1]) ** 2 <= 6.0
        image[disc] = TYPE_RGB[SLOT_TYPE[s]]
    return {
        "image": image.astype(np.uint8),
        "blocks": np.array([[8, 8, 10]], np.int32),
        "joints": {
            "xy": np.where(present[:, None], xy, 0).astype(np.float32),
            "present": present,
            "visible": present.copy(),
            "derived": np.zeros(NUM_SLOTS, bool),
        },
        "image_id": name,
    }


def examples(split: str) -> list[dict]:
    rng = np.random.default_rng(sum(map(ord, split)))
    return [example(rng, f"{split}-{i}") for i in range(NUM_EXAMPLES[split])]
