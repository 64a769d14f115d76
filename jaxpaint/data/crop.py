"""Human-centred square crops (thesis §2.3.1).

For a cropped source, each person gives one crop: the smallest box holding their
present joints, its longest side enlarged by CONTEXT (1.4: the joints span about
70 % of the crop, leaving room for the head, hands and feet, which the joints only
reach the centre of) and made square about the box centre. A square keeps the
person's aspect ratio: nothing is stretched. Where the square reaches past the
image, the outside is black (PIL's crop fills with zeros); black reads as "no
content" rather than inventing mirrored body parts as reflection padding would.

Sources with CROP=False (LSP, BBC Pose) keep the whole image, padded with black to
a square about its centre.

Coordinates use the pixel-edge convention: a box (x0, y0, x1, y1) spans x0 <= x < x1,
and a crop of side L resized to S maps a point p to (p - x0) * S / L.
"""

from __future__ import annotations

import collections
import dataclasses

import numpy as np
from PIL import Image

from jaxpaint.data.images import resize_pixels
from jaxpaint.data.joints import Pose

CONTEXT = 1.4
MIN_PERSON_PX = 64  # the thesis: the human must be bigger than 64x64 px
MIN_JOINTS = 2  # the thesis skips people with a single annotated joint
DEFAULT_SIZE = 128

SKIP_TOO_SMALL = "too_small"
SKIP_TOO_FEW_JOINTS = "too_few_joints"
SKIP_EXTRA_PERSON = "extra_person_whole_image"


@dataclasses.dataclass
class Crop:
    """One square crop: pixels, the person's joints in crop pixels, the crop box in source pixels."""

    image: np.ndarray  # uint8 (size, size, 3)
    pose: Pose
    box: tuple[float, float, float, float]  # x0, y0, x1, y1 in the source image (may exceed it)
    person: int  # index of the person in the source image


def skip_reason(pose: Pose) -> str | None:
    """Why a person yields no crop (too few joints, joint box under 64 px), or None to keep them."""
    if pose.num_present < MIN_JOINTS:
        return SKIP_TOO_FEW_JOINTS
    x0, y0, x1, y1 = pose.bbox()
    if max(x1 - x0, y1 - y0) < MIN_PERSON_PX:
        return SKIP_TOO_SMALL
    return None


def person_box(pose: Pose, context: float = CONTEXT) -> tuple[int, int, int, int]:
    """Integer square box around the joints: side = context * longest side of the joint box."""
    x0, y0, x1, y1 = pose.bbox()
    side = int(np.ceil(context * max(x1 - x0, y1 - y0)))
    left = int(np.floor((x0 + x1) / 2 - side / 2))
    top = int(np.floor((y0 + y1) / 2 - side / 2))
    return left, top, left + side, top + side


def whole_image_box(height: int, width: int) -> tuple[int, int, int, int]:
    """Square box of side max(h, w) centred on the image."""
    side = max(height, width)
    left, top = (width - side) // 2, (height - side) // 2
    return left, top, left + side, top + side


def crop_square(image: np.ndarray, box: tuple[int, int, int, int], size: int) -> np.ndarray:
    """Pixels of an integer square box (black outside the image), resized to size x size with Lanczos."""
    cropped = Image.fromarray(np.asarray(image, np.uint8)).crop(box)  # zeros where the box leaves the image
    return resize_pixels(np.asarray(cropped), (size, size), Image.Resampling.LANCZOS)


def crop_to_box(image: np.ndarray, pose: Pose, box: tuple[int, int, int, int], size: int, person: int) -> Crop:
    left, top, right, _ = box
    scale = size / (right - left)
    return Crop(
        image=crop_square(image, box, size),
        pose=pose.transformed(scale, scale, left, top),
        box=tuple(float(v) for v in box),
        person=person,
    )


def crop_people(
    image: np.ndarray,
    people: list[Pose],
    *,
    size: int = DEFAULT_SIZE,
    crop: bool = True,
    skips: collections.Counter | None = None,
) -> list[Crop]:
    """The crops of one source image; every person left out is counted in `skips` by reason.

    crop=False (whole-image sources) gives at most one crop, for the first usable person.
    """
    skips = collections.Counter() if skips is None else skips
    crops: list[Crop] = []
    for person, pose in enumerate(people):
        reason = skip_reason(pose)
        if reason is None and not crop and crops:
            reason = SKIP_EXTRA_PERSON
        if reason is not None:
            skips[reason] += 1
            continue
        box = person_box(pose) if crop else whole_image_box(*image.shape[:2])
        crops.append(crop_to_box(image, pose, box, size, person))
    return crops
