"""Hole arithmetic shared by the methods: what a generator sees and what comes back.

Images are (B, H, W, 3), float in [-1, 1] or uint8; hole masks are bool (B, H, W), True = missing.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp


def fill_holes(images: jax.Array, hole: jax.Array, colour) -> jax.Array:
    """`images` with hole pixels replaced by `colour` (3 values in the images' own range and dtype)."""
    colour = jnp.asarray(colour).astype(images.dtype).reshape(1, 1, 1, 3)
    return jnp.where(hole[..., None], colour, images)


def composite(prediction: jax.Array, images: jax.Array, hole: jax.Array) -> jax.Array:
    """The prediction inside the holes, the input everywhere else."""
    return jnp.where(hole[..., None], prediction, images)


def masked_input(images: jax.Array, hole: jax.Array, colour) -> jax.Array:
    """float (B, H, W, 4): the image with its holes filled by `colour`, plus the mask as a fourth channel."""
    filled = fill_holes(images, hole, colour)
    return jnp.concatenate([filled, hole[..., None].astype(filled.dtype)], axis=-1)
