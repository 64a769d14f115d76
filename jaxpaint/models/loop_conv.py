"""Convolutions whose input gradient stays fast inside XLA:CPU loops.

The gradient of a convolution with respect to its input is another convolution
that reads the kernel with input and output features swapped ("01oi"). Outside a
loop XLA:CPU transposes the kernel once and runs its fast (YNN) convolution; inside
a while loop body (lax.scan, fori_loop) it keeps the swapped form and falls back to
a generic loop nest, 3–5× slower (measured here; cf. jax-ml/jax#12868). The latent
search differentiates G and D with respect to their input thousands of times in a
scan, so its convolutions use `conv`: the same forward, with a backward pass that
materialises the swapped kernel behind an optimisation barrier (hoisted out of the
loop, being loop-invariant) so that the input-gradient convolution is canonical.

`loop_friendly_convs()` applies the same to every plain `nn.Conv` of a module (the
shared DCGANDiscriminator) without touching its code or parameters.
"""

from __future__ import annotations

import contextlib
import functools

import flax.linen as nn
import jax
import jax.numpy as jnp

DIMENSIONS = ("NHWC", "HWIO", "NHWC")
SWAPPED = ("NHWC", "HWOI", "NHWC")


def _plain(x, kernel, strides, padding, dimensions=DIMENSIONS):
    return jax.lax.conv_general_dilated(x, kernel, strides, padding, dimension_numbers=dimensions)


@functools.partial(jax.custom_vjp, nondiff_argnums=(2, 3))
def conv(x: jax.Array, kernel: jax.Array, strides: tuple[int, int], padding) -> jax.Array:
    """lax.conv_general_dilated on NHWC/HWIO with the loop-friendly backward pass described above.

    `padding`: "SAME", "VALID" or a tuple of (low, high) pairs (hashable: it is static).
    """
    return _plain(x, kernel, strides, padding)


def _conv_fwd(x, kernel, strides, padding):
    return _plain(x, kernel, strides, padding), (x, kernel)


def _conv_bwd(strides, padding, residuals, cotangent):
    x, kernel = residuals
    swapped = jax.lax.optimization_barrier(jnp.swapaxes(kernel, 2, 3))
    # The same forward written on the swapped kernel: its transpose reads `swapped` canonically.
    grad_x = jax.vjp(lambda x: _plain(x, swapped, strides, padding, SWAPPED), x)[1](cotangent)[0]
    grad_kernel = jax.vjp(lambda k: _plain(x, k, strides, padding), kernel)[1](cotangent)[0]
    return grad_x, grad_kernel


conv.defvjp(_conv_fwd, _conv_bwd)


def _static_padding(padding):
    if isinstance(padding, str):
        return padding.upper() if padding.upper() in ("SAME", "VALID") else None
    if isinstance(padding, int):
        return ((padding, padding), (padding, padding))
    try:
        pairs = tuple((int(lo), int(hi)) for lo, hi in padding)
    except (TypeError, ValueError):
        return None
    return pairs if len(pairs) == 2 else None


def _pair(value):
    value = 1 if value is None else value
    return (value, value) if isinstance(value, int) else tuple(value)


def _intercept_conv(next_fun, args, kwargs, context):
    """Runs a plain 2-D nn.Conv through `conv`; anything else (dilation, groups, masks, …) as usual."""
    module = context.module
    if type(module) is not nn.Conv or context.method_name != "__call__" or kwargs or len(args) != 1:
        return next_fun(*args, **kwargs)
    (x,) = args
    padding = _static_padding(module.padding)
    simple = (x.ndim == 4 and len(_pair(module.kernel_size)) == 2 and padding is not None
              and _pair(module.input_dilation) == (1, 1) and _pair(module.kernel_dilation) == (1, 1)
              and module.feature_group_count == 1 and module.mask is None and module.dtype is None)
    if not simple or not module.has_variable("params", "kernel"):
        return next_fun(*args, **kwargs)
    y = conv(x, module.get_variable("params", "kernel"), _pair(module.strides), padding)
    if module.use_bias:
        y = y + module.get_variable("params", "bias")
    return y


@contextlib.contextmanager
def loop_friendly_convs():
    """Within this context, applying a module runs its plain nn.Conv layers through `conv`."""
    with nn.intercept_methods(_intercept_conv):
        yield
