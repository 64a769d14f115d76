"""From source images to dataset examples: decode, crop, resize, mask, encode.

`process_image` turns one SourceImage into its examples; `process_in_order` runs it
over many images in a small thread pool (PIL's decode, resize and PNG encode release
the GIL) and yields the results in input order, so the output never depends on the
pool. `BuildStats` gathers what build_stats.json reports.
"""

from __future__ import annotations

import collections
import concurrent.futures
import dataclasses
from typing import Iterable, Iterator

import numpy as np

from jaxpaint.data.crop import crop_people
from jaxpaint.data.images import encode_png
from jaxpaint.data.joints import SLOT_SIDE, SLOT_TYPE
from jaxpaint.data.masks import covers_joint, example_key, make_mask
from jaxpaint.data.sources import SourceImage


@dataclasses.dataclass
class ImageResult:
    """The examples of one source image and what happened to its people."""

    examples: list[tuple[str, dict]]  # (unique key, TFDS example)
    skips: collections.Counter
    blocks_on_joints: int = 0
    blocks_on_joints_unbiased: int = 0
    num_blocks: int = 0
    num_blocks_unbiased: int = 0


def example_id(source: str, image_id: str, person: int) -> str:
    return f"{source}/{image_id}/{person}"


def process_image(source: str, item: SourceImage, *, size: int, seed: int, crop: bool) -> ImageResult:
    """Loads one source image and makes one example per usable person (crop, mask, PNG bytes)."""
    image = item.load()
    skips: collections.Counter = collections.Counter()
    result = ImageResult(examples=[], skips=skips)
    for c in crop_people(image, item.people, size=size, crop=crop, skips=skips):
        key = example_key(source, item.image_id, c.person)
        blocks = make_mask(seed, key, size, size, c.pose.xy, c.pose.present)
        # The same example's mask without the joint bias, only to report what the bias buys.
        unbiased = make_mask(seed, key, size, size, c.pose.xy, c.pose.present, p_joint=0.0)
        result.num_blocks += len(blocks)
        result.num_blocks_unbiased += len(unbiased)
        result.blocks_on_joints += int(covers_joint(blocks, c.pose.xy, c.pose.present).sum())
        result.blocks_on_joints_unbiased += int(covers_joint(unbiased, c.pose.xy, c.pose.present).sum())
        example = {
            "image": encode_png(c.image),
            "blocks": blocks.astype(np.int32),
            "joints": {
                "xy": c.pose.xy.astype(np.float32),
                "present": c.pose.present.astype(bool),
                "visible": c.pose.visible.astype(bool),
                "derived": c.pose.derived.astype(bool),
                "type": SLOT_TYPE.astype(np.int32),
                "side": SLOT_SIDE.astype(np.int32),
            },
            "source": source,
            "image_id": item.image_id,
            "crop_box": np.asarray(c.box, np.float32),
        }
        result.examples.append((example_id(source, item.image_id, c.person), example))
    return result


def process_in_order(
    source: str,
    items: Iterable[SourceImage],
    *,
    size: int,
    seed: int,
    crop: bool,
    workers: int = 2,
) -> Iterator[ImageResult]:
    """`process_image` over `items` with `workers` threads, yielding results in input order.

    At most 4 * workers images are in flight, so memory stays flat on large sources.
    The first error (e.g. a corrupt image) is raised here, in order.
    """
    if workers <= 1:
        for item in items:
            yield process_image(source, item, size=size, seed=seed, crop=crop)
        return
    window: collections.deque = collections.deque()
    with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as pool:
        try:
            for item in items:
                window.append(pool.submit(process_image, source, item, size=size, seed=seed, crop=crop))
                if len(window) >= 4 * workers:
                    yield window.popleft().result()
            while window:
                yield window.popleft().result()
        finally:
            for future in window:
                future.cancel()


@dataclasses.dataclass
class BuildStats:
    """Counts gathered during a build, written as build_stats.json."""

    examples: dict = dataclasses.field(default_factory=dict)  # split -> source -> count
    source_images: dict = dataclasses.field(default_factory=dict)  # source -> images read
    skips: dict = dataclasses.field(default_factory=dict)  # source -> reason -> count
    blocks: int = 0
    blocks_on_joints: int = 0
    blocks_unbiased: int = 0
    blocks_on_joints_unbiased: int = 0

    def add(self, split: str, source: str, result: ImageResult) -> None:
        per_split = self.examples.setdefault(split, {})
        per_split[source] = per_split.get(source, 0) + len(result.examples)
        self.source_images[source] = self.source_images.get(source, 0) + 1
        reasons = self.skips.setdefault(source, {})
        for reason, count in result.skips.items():
            reasons[reason] = reasons.get(reason, 0) + count
        self.blocks += result.num_blocks
        self.blocks_on_joints += result.blocks_on_joints
        self.blocks_unbiased += result.num_blocks_unbiased
        self.blocks_on_joints_unbiased += result.blocks_on_joints_unbiased

    def as_dict(self, wall_seconds: float) -> dict:
        images = sum(self.source_images.values())
        return {
            "examples_per_split": {split: dict(sorted(v.items())) for split, v in self.examples.items()},
            "examples_total": sum(sum(v.values()) for v in self.examples.values()),
            "source_images": dict(sorted(self.source_images.items())),
            "skips": {source: dict(sorted(v.items())) for source, v in sorted(self.skips.items())},
            "joint_cover_share": {
                "biased": self.blocks_on_joints / max(self.blocks, 1),
                "unbiased": self.blocks_on_joints_unbiased / max(self.blocks_unbiased, 1),
                "blocks_biased": self.blocks,
                "blocks_unbiased": self.blocks_unbiased,
            },
            "wall_seconds": round(wall_seconds, 2),
            "source_images_per_second": round(images / max(wall_seconds, 1e-9), 1),
        }
