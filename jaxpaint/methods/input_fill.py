"""What an image-to-image generator (the U-Net, the Context Encoder and its content network) sees in the
holes: the dataset's mean colour (`model.input_fill = "mean"`, the papers) or the harmonic (Laplace)
fill of the known pixels ("harmonic", beyond them: the generator starts from the diffusion fill).

With `model.fill_once`, the trainer solves each training example's harmonic fill once before the run
(`prepare_train_source`) instead of inside every step: a mask is fixed per example.
"""

from __future__ import annotations

import jax
import numpy as np

from jaxpaint.errors import JaxpaintError
from jaxpaint.ops import poisson
from jaxpaint.ops.holes import fill_holes
from jaxpaint.ops.pixels import to_model

INPUT_FILLS = ("mean", "harmonic")
# The harmonic input fill only has to be close (the generator refines it), not converged to the
# diffusion baseline's relative residual of 1e-5.
HARMONIC_ITERS, HARMONIC_TOL = 500, 1e-3


def filled_image(config, images: jax.Array, hole: jax.Array) -> jax.Array:
    """float (B, S, S, 3) images with their holes filled as `model.input_fill` says."""
    fill = config.model.get("input_fill", "mean")
    if fill == "mean":
        return fill_holes(images, hole, config.data.mean_rgb)
    if fill == "harmonic":
        return poisson.harmonic_fill(images, hole, max_iters=HARMONIC_ITERS, tol=HARMONIC_TOL)
    raise JaxpaintError(f"{config.method}: model.input_fill is {fill!r}, expected one of {', '.join(INPUT_FILLS)}")


def batch_fill(config, batch: dict) -> jax.Array:
    """The batch's precomputed fill ("filled", see `prepare_train_source`) or, without one, `filled_image`."""
    return batch["filled"] if "filled" in batch else filled_image(config, batch["image"], batch["hole"])


def fills_once(config) -> bool:
    """model.fill_once with the harmonic fill: the trainer solves each training example's fill once."""
    return bool(config.model.get("fill_once", False)) and config.model.get("input_fill", "mean") == "harmonic"


def prepare_train_source(config, source):
    """The training examples with their harmonic input fill ("filled", float16: 6 bytes a pixel, 0.47 GB
    for LSPET's 4752 crops at 128 px) when `fills_once`, else `source` unchanged. The fill is solved here
    once, in chunks of the batch size, in example order (each system stops at its own tolerance, so a
    chunk's others do not change it). float16 is within 5e-4 of the float32 fill, under a quarter of a
    uint8 level."""
    if not fills_once(config):
        return source
    from tqdm import tqdm

    from jaxpaint.data import loader

    chunk = int(config.batch_size)
    solve = jax.jit(lambda images, holes: filled_image(config, to_model(images), holes))
    fills = np.zeros((len(source),) + tuple(np.shape(source[0]["image"])), np.float16)
    for start in tqdm(range(0, len(source), chunk), desc="harmonic fill, once per example", unit="batch"):
        elements = [loader.to_batch_element(source[i]) for i in range(start, min(start + chunk, len(source)))]
        images = np.stack([e["image"] for e in elements])
        holes = np.stack([e["hole"] for e in elements])
        pad = chunk - len(elements)  # the last chunk padded to the same shape: one compiled program
        images = np.concatenate([images, np.repeat(images[-1:], pad, 0)]) if pad else images
        holes = np.concatenate([holes, np.repeat(holes[-1:], pad, 0)]) if pad else holes
        fills[start:start + len(elements)] = np.asarray(solve(images, holes))[: len(elements)]
    return loader.WithArrays(source, filled=fills)
