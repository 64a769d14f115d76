"""The one batched inpainter every method returns: fixed-size chunks, one compile, known pixels exact.

A method supplies `predict(images uint8 (C, S, S, 3), holes bool (C, S, S)) -> uint8 (C, S, S, 3)`,
jitted for chunks of C images; `chunked_inpainter` checks the input, runs it chunk by
chunk (the last one padded, so any number of images compiles once) and copies the
known pixels back from the input bytes.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from jaxpaint.errors import JaxpaintError

Inpainter = Callable[[np.ndarray, np.ndarray], np.ndarray]


def check_batch(name: str, images, holes, size: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """uint8 (B, S, S, 3) images and bool (B, S, S) holes, or a JaxpaintError naming what is wrong."""
    images, holes = np.asarray(images), np.asarray(holes)
    expected = f"(B, {size}, {size}, 3)" if size else "(B, H, W, 3)"
    if images.dtype != np.uint8 or images.ndim != 4 or images.shape[-1] != 3 or (
            size is not None and images.shape[1:3] != (size, size)):
        raise JaxpaintError(f"{name} inpainter: images must be uint8 {expected}, got {images.dtype} {images.shape}")
    if holes.shape != images.shape[:3]:
        raise JaxpaintError(f"{name} inpainter: holes {holes.shape} do not match images {images.shape[:3]}")
    return images, holes.astype(bool)


def pad_to(array: np.ndarray, length: int) -> np.ndarray:
    """`array` with zero rows appended along the first axis up to `length`."""
    missing = length - len(array)
    if missing <= 0:
        return array
    return np.concatenate([array, np.zeros((missing,) + array.shape[1:], array.dtype)])


def chunked_inpainter(predict: Callable, *, chunk: int, name: str, size: int | None = None) -> Inpainter:
    """The batched inpainter around a jitted chunk predictor (see the module docstring)."""
    if chunk <= 0:
        raise JaxpaintError(f"{name} inpainter: the chunk size must be positive, got {chunk}")

    def inpaint(images, holes) -> np.ndarray:
        images, holes = check_batch(name, images, holes, size)
        out = np.empty_like(images)
        for start in range(0, len(images), chunk):
            part, part_holes = images[start:start + chunk], holes[start:start + chunk]
            predicted = np.asarray(predict(pad_to(part, chunk), pad_to(part_holes, chunk)))[: len(part)]
            out[start:start + len(part)] = np.where(part_holes[..., None], predicted, part)
        return out

    return inpaint
