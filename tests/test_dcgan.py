"""The DCGAN generator's shapes and the loop-friendly convolution of the latent search."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxpaint.models.dcgan import DCGANGenerator
from jaxpaint.models.loop_conv import conv


@pytest.mark.parametrize("padding", ["VALID", "SAME", ((1, 0), (0, 1))])
def test_loop_friendly_conv_has_the_gradients_of_lax_conv(padding):
    x = jax.random.normal(jax.random.key(0), (2, 8, 8, 3))
    kernel = jax.random.normal(jax.random.key(1), (2, 3, 3, 5))
    plain = lambda x, k: jax.lax.conv_general_dilated(x, k, (1, 1), padding, dimension_numbers=("NHWC", "HWIO", "NHWC"))
    loss = lambda f: lambda x, k: jnp.sum(jnp.sin(f(x, k)))
    ours = jax.grad(loss(lambda x, k: conv(x, k, padding)), argnums=(0, 1))(x, kernel)
    reference = jax.grad(loss(plain), argnums=(0, 1))(x, kernel)
    np.testing.assert_allclose(conv(x, kernel, padding), plain(x, kernel), rtol=1e-5, atol=1e-5)
    for a, b in zip(ours, reference):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4)


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
