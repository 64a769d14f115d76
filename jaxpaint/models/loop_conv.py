"""A stride-1 convolution whose input gradient stays fast inside XLA:CPU loops.

The gradient of a convolution with respect to its input is another convolution
that reads the kernel with input and output features swapped ("01oi"). Outside a
loop XLA:CPU transposes the kernel once and runs its fast (YNN) convolution; inside
a while loop body (lax.scan, fori_loop) it keeps the swapped form and falls back to
a generic loop nest, about 5× slower (measured here on a 2×2 conv, 128 channels;
cf. jax-ml/jax#12868). The latent search of Semantic Image Inpainting differentiates
G and D with respect to their input thousands of times in a scan, so the stride-1
convolutions of jaxpaint.models.layers go through `conv`: the same forward, with a
backward pass that materialises the swapped kernel behind an optimisation barrier
(loop-invariant, so hoisted out of the loop) so that the input-gradient convolution
is in the canonical form. Outside loops it costs nothing.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp

DIMENSIONS = ("NHWC", "HWIO", "NHWC")
SWAPPED = ("NHWC", "HWOI", "NHWC")


def _plain(x, kernel, padding, precision, dimensions=DIMENSIONS):
    return jax.lax.conv_general_dilated(x, kernel, (1, 1), padding, dimension_numbers=dimensions, precision=precision)


@functools.partial(jax.custom_vjp, nondiff_argnums=(2, 3))
def conv(x: jax.Array, kernel: jax.Array, padding="VALID", precision=None) -> jax.Array:
    """Stride-1 lax.conv_general_dilated on NHWC/HWIO with the loop-friendly backward pass described above.

    `padding`: "SAME", "VALID" or a tuple of (low, high) pairs (hashable: it is static).
    """
    return _plain(x, kernel, padding, precision)


def _conv_fwd(x, kernel, padding, precision):
    return _plain(x, kernel, padding, precision), (x, kernel)


def _conv_bwd(padding, precision, residuals, cotangent):
    x, kernel = residuals
    swapped = jax.lax.optimization_barrier(jnp.swapaxes(kernel, 2, 3))
    # The same forward written on the swapped kernel: its transpose reads `swapped` canonically.
    grad_x = jax.vjp(lambda x: _plain(x, swapped, padding, precision, SWAPPED), x)[1](cotangent)[0]
    grad_kernel = jax.vjp(lambda k: _plain(x, k, padding, precision), kernel)[1](cotangent)[0]
    return grad_x, grad_kernel


conv.defvjp(_conv_fwd, _conv_bwd)
