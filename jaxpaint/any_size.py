"""Photos of any size and aspect through a network trained on S×S crops.

Three ways to fit a photo to the network, each keeping the known pixels exactly:
  window  each hole (a connected group of hole pixels) gets a square window around it,
          WINDOW_CONTEXT times its extent and at least S, resized to S×S for the network;
          the prediction is resized back and only that hole's pixels are pasted;
  full    the fully convolutional network at the photo's own resolution, the photo padded
          (edge pixels, known) to a multiple of PAD_MULTIPLE;
  resize  the whole photo squeezed to S×S and the prediction stretched back.

`jaxpaint bench any_size` measures them on LSPET's full photographs; DEFAULT_FIT is the
better one there (see the README).
"""

from __future__ import annotations

import numpy as np

from jaxpaint.errors import JaxpaintError

FITS = ("window", "full", "resize")
DEFAULT_FIT = "window"
WINDOW_CONTEXT = 3  # the mask rules keep a block under a third of the crop's side
PAD_MULTIPLE = 64   # fewer distinct shapes to compile; the networks need a multiple of 4 at most


def resize_hole(hole: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Any output pixel touched by a hole pixel is a hole, so no hole colour leaks in as context."""
    from PIL import Image

    from jaxpaint.data.images import resize_pixels

    return resize_pixels(hole.astype(np.float32), shape, Image.Resampling.BOX) > 0


def resize_image(image: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    from jaxpaint.data.images import resize_pixels

    return image if image.shape[:2] == tuple(shape) else resize_pixels(image, shape)


def composite(prediction: np.ndarray, image: np.ndarray, hole: np.ndarray) -> np.ndarray:
    return np.where(hole[..., None], prediction, image).astype(np.uint8)


def inpaint_resized(inpainter, images: list, holes: list, size: int) -> list[np.ndarray]:
    """Every image squeezed to size×size in one network batch, predictions stretched back."""
    batch = np.stack([resize_image(im, (size, size)) for im in images])
    batch_holes = np.stack([h if h.shape == (size, size) else resize_hole(h, (size, size)) for h in holes])
    return [composite(resize_image(p, im.shape[:2]), im, h)
            for p, im, h in zip(inpainter(batch, batch_holes), images, holes)]


def padded(image: np.ndarray, hole: np.ndarray, multiple: int) -> tuple[np.ndarray, np.ndarray]:
    """The image padded at the bottom and right to a multiple of `multiple` with its edge pixels, known."""
    height, width = hole.shape
    pad = ((0, -height % multiple), (0, -width % multiple))
    return np.pad(image, (*pad, (0, 0)), mode="edge"), np.pad(hole, pad)


def inpaint_full(inpainter, images: list, holes: list, multiple: int = PAD_MULTIPLE) -> list[np.ndarray]:
    """Each image at its own resolution, padded; images that pad to one shape share a network call."""
    results: list[np.ndarray | None] = [None] * len(images)
    groups: dict[tuple, list[int]] = {}
    pads = [padded(im, h, multiple) for im, h in zip(images, holes)]
    for i, (image, _) in enumerate(pads):
        groups.setdefault(image.shape, []).append(i)
    for members in groups.values():
        predicted = inpainter(np.stack([pads[i][0] for i in members]), np.stack([pads[i][1] for i in members]))
        for i, prediction in zip(members, predicted):
            height, width = holes[i].shape
            results[i] = composite(prediction[:height, :width], images[i], holes[i])
    return results


def hole_windows(hole: np.ndarray, size: int, context: float = WINDOW_CONTEXT) -> list[tuple[int, int, int, np.ndarray]]:
    """(top, left, side, pixels of this hole) per connected hole: a square of side max(size, context ×
    the hole's extent) centred on it, shifted to lie inside the image where the image is large enough."""
    from scipy import ndimage

    labels, count = ndimage.label(hole, structure=np.ones((3, 3), bool))
    height, width = hole.shape
    windows = []
    for index, box in enumerate(ndimage.find_objects(labels), start=1):
        rows, cols = box
        extent = max(rows.stop - rows.start, cols.stop - cols.start)
        side = max(size, int(np.ceil(context * extent)))
        top = (rows.start + rows.stop - side) // 2
        left = (cols.start + cols.stop - side) // 2
        top = min(max(top, 0), max(height - side, 0)) if height >= side else (height - side) // 2
        left = min(max(left, 0), max(width - side, 0)) if width >= side else (width - side) // 2
        windows.append((top, left, side, labels == index))
    return windows


def cut(array: np.ndarray, top: int, left: int, side: int, fill_edge: bool) -> np.ndarray:
    """The side×side square at (top, left); parts outside the image are its edge pixels (or False)."""
    height, width = array.shape[:2]
    rows = np.clip(np.arange(top, top + side), 0, height - 1)
    cols = np.clip(np.arange(left, left + side), 0, width - 1)
    square = array[rows][:, cols]
    if not fill_edge:  # a hole mask: outside the image is known (the edge pixels stand in for it)
        inside = ((np.arange(top, top + side) >= 0) & (np.arange(top, top + side) < height))[:, None] & \
                 ((np.arange(left, left + side) >= 0) & (np.arange(left, left + side) < width))[None, :]
        square = square & inside
    return square


def inpaint_windows(inpainter, images: list, holes: list, size: int,
                    context: float = WINDOW_CONTEXT) -> list[np.ndarray]:
    """Every hole of every image through its own window, all windows in one network batch."""
    jobs = [(i, *window) for i, hole in enumerate(holes) for window in hole_windows(hole, size, context)]
    results = [image.copy() for image in images]
    if not jobs:
        return results
    batch = np.stack([resize_image(cut(images[i], top, left, side, True), (size, size))
                      for i, top, left, side, _ in jobs])
    batch_holes = np.stack([resize_hole(cut(holes[i], top, left, side, False), (size, size))
                            for i, top, left, side, _ in jobs])
    for (i, top, left, side, mine), prediction in zip(jobs, inpainter(batch, batch_holes)):
        prediction = resize_image(prediction, (side, side))
        rows, cols = np.nonzero(mine)
        results[i][rows, cols] = prediction[rows - top, cols - left]
    return results


def inpaint_any_size(inpainter, images: list, holes: list, size: int | None, fit: str = DEFAULT_FIT) -> list[np.ndarray]:
    """Images of any sizes through an inpainter trained at size×size (None: it takes any size as it is)."""
    if fit not in FITS:
        raise JaxpaintError(f"--fit {fit!r}: choose one of {', '.join(FITS)}")
    if size is None:
        return inpaint_full(inpainter, images, holes, multiple=1)
    if all(im.shape[:2] == (size, size) for im in images):
        return [composite(p, im, h) for p, im, h in zip(inpainter(np.stack(images), np.stack(holes)), images, holes)]
    if fit == "full":
        return inpaint_full(inpainter, images, holes)
    return (inpaint_windows if fit == "window" else inpaint_resized)(inpainter, images, holes, size)
