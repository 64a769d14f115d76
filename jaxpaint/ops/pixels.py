"""Conversions between stored pixels (uint8) and what models see (float32 in [-1, 1])."""

from __future__ import annotations

import jax.numpy as jnp


def to_model(images_u8) -> jnp.ndarray:
    """uint8 pixels -> float32 in [-1, 1]."""
    return jnp.asarray(images_u8).astype(jnp.float32) / 127.5 - 1.0


def to_uint8(images) -> jnp.ndarray:
    """[-1, 1] floats -> uint8 pixels, clipped and rounded (the inverse of `to_model`)."""
    return jnp.round((jnp.clip(images, -1.0, 1.0) + 1.0) * 127.5).astype(jnp.uint8)
