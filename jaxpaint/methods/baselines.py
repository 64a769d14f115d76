"""Two methods without training, the floor every learned method must beat.

- "holes": the hole is left empty, i.e. painted with the dataset's mean colour
  (`config.data.mean_rgb`, three floats in [-1, 1]; mid-grey when absent).
- "diffusion": harmonic fill (Laplace's equation with the known pixels as the
  boundary), solved by `jaxpaint.ops.poisson`; optional `config.diffusion.max_iters`
  and `config.diffusion.tol` tune the solver.

Both follow the method contract: `make_inpainter(config, state=None)` returns
`inpaint(images uint8 (B, S, S, 3), hole bool (B, S, S)) -> uint8 (B, S, S, 3)`
with the known pixels returned exactly.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from jaxpaint.errors import JaxpaintError
from jaxpaint.ops import poisson
from jaxpaint.ops.pixels import to_model, to_uint8

METHOD_NAMES = ("holes", "diffusion")
MID_GREY = (0.0, 0.0, 0.0)  # in [-1, 1]: 127.5, stored as 128


def _get(config, key: str, default=None):
    """config[key] for a ConfigDict or a plain dict, `default` when absent or None."""
    try:
        value = config[key]
    except (KeyError, AttributeError, TypeError):
        return default
    return default if value is None else value


def mean_colour(config) -> np.ndarray:
    """The fill colour as uint8 (3,), from config.data.mean_rgb in [-1, 1]."""
    data = _get(config, "data", {})
    rgb = _get(data, "mean_rgb", MID_GREY)
    rgb = np.asarray(rgb, np.float64)
    if rgb.shape != (3,) or not np.all(np.isfinite(rgb)) or np.any(np.abs(rgb) > 1.0):
        raise JaxpaintError(f"config data.mean_rgb = {rgb.tolist()} is not three values in [-1, 1]")
    return np.asarray(to_uint8(jnp.asarray(rgb, jnp.float32)))


@jax.jit
def fill_with_colour(images, hole, colour):
    """The hole painted in one uint8 colour (3,); known pixels unchanged."""
    return jnp.where(hole[..., None], colour.astype(jnp.uint8), images)


def make_diffusion(max_iters: int, tol: float):
    @jax.jit
    def diffuse(images, hole):
        scaled = to_model(images)
        filled = poisson.harmonic_fill(scaled, hole, max_iters=max_iters, tol=tol)
        return jnp.where(hole[..., None], to_uint8(filled), images)

    return diffuse


def _check_batch(images, hole) -> tuple[np.ndarray, np.ndarray]:
    images, hole = np.asarray(images), np.asarray(hole)
    if images.dtype != np.uint8 or images.ndim != 4 or images.shape[-1] != 3:
        raise JaxpaintError(f"inpaint: images are {images.dtype} {images.shape}, expected uint8 (B, S, S, 3)")
    if hole.shape != images.shape[:3]:
        raise JaxpaintError(f"inpaint: hole shape {hole.shape} does not match images {images.shape[:3]}")
    return images, hole.astype(bool)


def make_inpainter(config, state=None):
    """The inpainter of `config.method` ("holes" or "diffusion"); `state` is unused (nothing is trained)."""
    del state
    name = _get(config, "method")
    if name == "holes":
        colour = jnp.asarray(mean_colour(config))
        run = lambda images, hole: fill_with_colour(images, hole, colour)
    elif name == "diffusion":
        settings = _get(config, "diffusion", {})
        run = make_diffusion(
            int(_get(settings, "max_iters", poisson.DEFAULT_MAX_ITERS)),
            float(_get(settings, "tol", poisson.DEFAULT_TOL)),
        )
    else:
        raise JaxpaintError(f"baselines: config.method is {name!r}, expected one of {', '.join(METHOD_NAMES)}")

    def inpaint(images, hole):
        images, hole = _check_batch(images, hole)
        return np.asarray(run(images, hole))

    return inpaint
