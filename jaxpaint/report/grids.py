"""Image grids: examples with their holes and joints drawn, labelled columns, tiled samples.

Cells may be uint8 images or float images in [-1, 1] (model space); (H, W) arrays are
shown as grey. Every PNG is written atomically (jaxpaint.data.images.save_png_atomic).
"""

from __future__ import annotations

import colorsys
import os
from typing import Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from jaxpaint.data.images import save_png_atomic
from jaxpaint.data.joints import NUM_TYPES, SIDE_LEFT, SIDE_NONE, SIDE_RIGHT, SLOT_INDEX, SLOT_TYPE

HOLE_TINT = np.array([255, 0, 255], np.float32)  # magenta: rare in photos of people
HOLE_TINT_ALPHA = 0.45
HOLE_OUTLINE = (255, 255, 0)
BACKGROUND = (255, 255, 255)
LABEL_HEIGHT = 14

# One colour per joint type (thesis Table 2 order), spread over the hue circle.
TYPE_COLOURS = [
    tuple(int(255 * c) for c in colorsys.hsv_to_rgb(t / NUM_TYPES, 0.9, 1.0)) for t in range(NUM_TYPES)
]


def _skeleton() -> list[tuple[int, int]]:
    """Pairs of slots joined by a limb line."""
    pairs = []
    for side in (SIDE_LEFT, SIDE_RIGHT):
        chain = ["ankle", "knee", "hip"], ["wrist", "elbow", "shoulder"]
        for names in chain:
            pairs += [(SLOT_INDEX[(a, side)], SLOT_INDEX[(b, side)]) for a, b in zip(names, names[1:])]
        pairs.append((SLOT_INDEX[("hip", side)], SLOT_INDEX[("pelvis", SIDE_NONE)]))
        pairs.append((SLOT_INDEX[("shoulder", side)], SLOT_INDEX[("thorax", SIDE_NONE)]))
        pairs.append((SLOT_INDEX[("eye", side)], SLOT_INDEX[("nose", SIDE_NONE)]))
    spine = ["pelvis", "thorax", "upper_neck", "head_top"]
    pairs += [(SLOT_INDEX[(a, SIDE_NONE)], SLOT_INDEX[(b, SIDE_NONE)]) for a, b in zip(spine, spine[1:])]
    return pairs


SKELETON = _skeleton()


def to_uint8_rgb(image: np.ndarray) -> np.ndarray:
    """uint8 (H, W, 3) from uint8 or [-1, 1] float, (H, W), (H, W, 1) or (H, W, 3)."""
    image = np.asarray(image)
    if image.dtype != np.uint8:
        image = np.clip((image.astype(np.float32) + 1.0) * 127.5, 0, 255).round().astype(np.uint8)
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    if image.ndim == 2:
        image = np.repeat(image[:, :, None], 3, axis=2)
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"cannot show an image of shape {image.shape}")
    return image


def _hole_outline(hole: np.ndarray) -> np.ndarray:
    """Hole pixels with a non-hole 4-neighbour (or on the image border)."""
    padded = np.pad(hole, 1, constant_values=False)
    interior = padded[:-2, 1:-1] & padded[2:, 1:-1] & padded[1:-1, :-2] & padded[1:-1, 2:]
    return hole & ~interior


def draw_example(
    image: np.ndarray,
    hole: np.ndarray | None = None,
    joints_xy: np.ndarray | None = None,
    joints_present: np.ndarray | None = None,
    *,
    scale: int = 1,
    skeleton: bool = True,
) -> np.ndarray:
    """The image with holes tinted and outlined and joints as type-coloured dots on a skeleton; uint8 (H*scale, W*scale, 3).

    skeleton=False draws the dots alone: predicted poses are side-agnostic, so limb lines
    between their left/right slots would cross the body.
    """
    canvas = to_uint8_rgb(image).astype(np.float32)
    if hole is not None:
        hole = np.asarray(hole, bool)
        canvas[hole] = (1 - HOLE_TINT_ALPHA) * canvas[hole] + HOLE_TINT_ALPHA * HOLE_TINT
        canvas[_hole_outline(hole)] = HOLE_OUTLINE
    canvas = canvas.round().astype(np.uint8)
    if scale > 1:
        canvas = np.repeat(np.repeat(canvas, scale, axis=0), scale, axis=1)
    if joints_xy is None:
        return canvas
    xy = np.asarray(joints_xy, np.float32) * scale
    present = np.ones(len(xy), bool) if joints_present is None else np.asarray(joints_present, bool)
    pil = Image.fromarray(canvas)
    draw = ImageDraw.Draw(pil)
    width = max(1, scale)
    for a, b in SKELETON if skeleton else ():
        if present[a] and present[b]:
            draw.line([tuple(xy[a]), tuple(xy[b])], fill=(255, 255, 255), width=width)
    radius = 1.5 * scale + 0.5
    for i in np.flatnonzero(present):
        x, y = xy[i]
        draw.ellipse([x - radius, y - radius, x + radius, y + radius], fill=TYPE_COLOURS[SLOT_TYPE[i]], outline=(0, 0, 0))
    return np.asarray(pil, np.uint8)


def _fit(image: np.ndarray, height: int, width: int) -> np.ndarray:
    image = to_uint8_rgb(image)
    if image.shape[:2] == (height, width):
        return image
    return np.asarray(Image.fromarray(image).resize((width, height), Image.NEAREST))


def tile(images: Sequence[np.ndarray], ncols: int, *, pad: int = 2) -> np.ndarray:
    """Images laid out row-major in a grid of `ncols` columns, white between cells; uint8."""
    if not images:
        raise ValueError("no images to tile")
    height = max(to_uint8_rgb(im).shape[0] for im in images)
    width = max(to_uint8_rgb(im).shape[1] for im in images)
    nrows = -(-len(images) // ncols)
    grid = np.full((nrows * (height + pad) + pad, ncols * (width + pad) + pad, 3), BACKGROUND, np.uint8)
    for k, image in enumerate(images):
        r, c = divmod(k, ncols)
        y, x = pad + r * (height + pad), pad + c * (width + pad)
        grid[y : y + height, x : x + width] = _fit(image, height, width)
    return grid


def save_tiles(path: str | os.PathLike, images: Sequence[np.ndarray], ncols: int, *, pad: int = 2) -> None:
    """Writes `tile(images, ncols)` as a PNG (e.g. generator samples per epoch)."""
    save_png_atomic(path, tile(images, ncols, pad=pad))


def column_grid(columns: dict[str, Sequence[np.ndarray]], *, pad: int = 2, scale: int = 1) -> np.ndarray:
    """Labelled columns side by side (e.g. input | output | target), one row per example; uint8."""
    if not columns:
        raise ValueError("no columns to lay out")
    lengths = {len(cells) for cells in columns.values()}
    if len(lengths) != 1:
        raise ValueError(f"columns have different lengths: { {k: len(v) for k, v in columns.items()} }")
    nrows = lengths.pop()
    cells = [[to_uint8_rgb(im) for im in column] for column in columns.values()]
    height = max(im.shape[0] for col in cells for im in col) * scale
    width = max(im.shape[1] for col in cells for im in col) * scale
    grid = np.full((LABEL_HEIGHT + nrows * (height + pad) + pad, len(columns) * (width + pad) + pad, 3), BACKGROUND, np.uint8)
    for c, column in enumerate(cells):
        for r, image in enumerate(column):
            y, x = LABEL_HEIGHT + pad + r * (height + pad), pad + c * (width + pad)
            grid[y : y + height, x : x + width] = _fit(image, height, width)
    pil = Image.fromarray(grid)
    draw = ImageDraw.Draw(pil)
    font = ImageFont.load_default()
    for c, label in enumerate(columns):
        draw.text((pad + c * (width + pad) + 2, 1), str(label)[: max(1, width // 6)], fill=(0, 0, 0), font=font)
    return np.asarray(pil, np.uint8)


def save_grid(path: str | os.PathLike, columns: dict[str, Sequence[np.ndarray]], *, pad: int = 2, scale: int = 1) -> None:
    """Writes `column_grid(columns)` as a PNG, atomically."""
    save_png_atomic(path, column_grid(columns, pad=pad, scale=scale))
