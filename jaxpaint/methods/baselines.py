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

from jaxpaint.engine.inpaint import chunked_inpainter
from jaxpaint.errors import JaxpaintError
from jaxpaint.ops import poisson
from jaxpaint.ops.holes import fill_holes
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


DEFAULT_CHUNK = 64


def make_diffusion(max_iters: int, tol: float):
    @jax.jit
    def diffuse(images, hole):
        filled = poisson.harmonic_fill(to_model(images), hole, max_iters=max_iters, tol=tol)
        return to_uint8(filled)

    return diffuse


def make_inpainter(config, state=None):
    """The inpainter of `config.method` ("holes" or "diffusion"); `state` is unused (nothing is trained)."""
    del state
    name = _get(config, "method")
    if name == "holes":
        colour = jnp.asarray(mean_colour(config))
        run = jax.jit(lambda images, hole: fill_holes(images, hole, colour))
    elif name == "diffusion":
        settings = _get(config, "diffusion", {})
        run = make_diffusion(
            int(_get(settings, "max_iters", poisson.DEFAULT_MAX_ITERS)),
            float(_get(settings, "tol", poisson.DEFAULT_TOL)),
        )
    else:
        raise JaxpaintError(f"baselines: config.method is {name!r}, expected one of {', '.join(METHOD_NAMES)}")

    return chunked_inpainter(run, chunk=int(_get(config, "batch_size", DEFAULT_CHUNK)), name=name)
