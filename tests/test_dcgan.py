"""The DCGAN generator's sub-pixel up-convolution and the loop-friendly convolutions of the latent search."""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxpaint.models.dcgan import DCGANGenerator, SubPixelConvTranspose
from jaxpaint.models.discriminators import DCGANDiscriminator
from jaxpaint.models.loop_conv import conv, loop_friendly_convs


def perturbed(variables, seed):
    """Variables with every leaf moved off its init (zero biases would hide bias mistakes)."""
    leaves, tree = jax.tree.flatten(variables)
    keys = jax.random.split(jax.random.key(seed), len(leaves))
    return jax.tree.unflatten(tree, [v + 0.1 * jax.random.normal(k, v.shape) for v, k in zip(leaves, keys)])


def test_sub_pixel_up_convolution_equals_conv_transpose():
    x = jax.random.normal(jax.random.key(0), (2, 5, 6, 3))
    variables = perturbed(SubPixelConvTranspose(4).init(jax.random.key(1), x), 2)
    reference = lambda x: nn.ConvTranspose(4, (4, 4), strides=(2, 2), padding="SAME").apply(variables, x)
    ours = lambda x: SubPixelConvTranspose(4).apply(variables, x)
    np.testing.assert_allclose(ours(x), reference(x), atol=1e-5)
    np.testing.assert_allclose(jax.grad(lambda x: jnp.sum(ours(x) ** 2))(x),
                               jax.grad(lambda x: jnp.sum(reference(x) ** 2))(x), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("strides, padding", [((2, 2), ((1, 1), (1, 1))), ((1, 1), "VALID"), ((1, 1), ((1, 0), (0, 1)))])
def test_loop_friendly_conv_has_the_gradients_of_lax_conv(strides, padding):
    x = jax.random.normal(jax.random.key(0), (2, 8, 8, 3))
    kernel = jax.random.normal(jax.random.key(1), (4, 4, 3, 5)) if strides == (2, 2) else \
        jax.random.normal(jax.random.key(1), (2, 2, 3, 5))
    plain = lambda x, k: jax.lax.conv_general_dilated(x, k, strides, padding, dimension_numbers=("NHWC", "HWIO", "NHWC"))
    loss = lambda f: lambda x, k: jnp.sum(jnp.sin(f(x, k)))
    ours = jax.grad(loss(lambda x, k: conv(x, k, strides, padding)), argnums=(0, 1))(x, kernel)
    reference = jax.grad(loss(plain), argnums=(0, 1))(x, kernel)
    for a, b in zip(ours, reference):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4)


def test_discriminator_with_loop_friendly_convs_is_the_same_function():
    d = DCGANDiscriminator(width=4)
    x = jax.random.uniform(jax.random.key(0), (3, 16, 16, 3), minval=-1, maxval=1)
    variables = perturbed(d.init(jax.random.key(1), x, train=False), 3)
    plain = lambda x: jnp.sum(d.apply(variables, x, train=False) ** 2)

    def friendly(x):
        with loop_friendly_convs():
            return jnp.sum(d.apply(variables, x, train=False) ** 2)

    assert friendly(x) == pytest.approx(float(plain(x)), rel=1e-5)
    np.testing.assert_allclose(jax.grad(friendly)(x), jax.grad(plain)(x), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("size, up_widths", [(16, [16]), (64, [16, 8, 4])])
def test_generator_shapes_range_and_widths(size, up_widths):
    """DCGAN widths at w = 4: 4×4×8w after the projection, then 4w, 2w, w (as many as the size needs)."""
    g = DCGANGenerator(latent_dim=6, image_size=size, width=4)
    variables = g.init(jax.random.key(0), jnp.zeros((1, 6)), train=False)
    images = g.apply(variables, jax.random.uniform(jax.random.key(1), (2, 6), minval=-1, maxval=1), train=False)
    assert images.shape == (2, size, size, 3) and float(jnp.max(jnp.abs(images))) <= 1.0
    params = variables["params"]
    assert params["project"]["kernel"].shape == (6, 4 * 4 * 32)
    assert [params[f"up{i}"]["kernel"].shape[-1] for i in range(len(up_widths))] == up_widths
    assert f"up{len(up_widths)}" not in params and params["out"]["kernel"].shape[-1] == 3
