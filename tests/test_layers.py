"""jaxpaint.models.layers: the fast conv forms against flax's layers with the same params."""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxpaint.models import layers
from jaxpaint.models.context_encoder import ChannelwiseDense, ContextEncoder
from jaxpaint.models.discriminators import DCGANDiscriminator
from jaxpaint.models.layers import CONV_INIT, batch_norm, num_stages, stage_widths

pytestmark = pytest.mark.slow  # a minute or more in all: scheduled first (conftest.py)

FORWARD_TOL = 1e-5
GRAD_TOL = 1e-4


def assert_same_layer(reference: nn.Module, fast: nn.Module, shape, seed: int = 0):
    """Same param shapes; same output and same gradients w.r.t. input and params, for params drawn
    by the reference (biases made non-zero so that they count)."""
    x = jax.random.normal(jax.random.key(seed), shape)
    params = reference.init(jax.random.key(seed + 1), x)
    params = jax.tree.map(lambda p: p + 0.1 * jax.random.normal(jax.random.key(seed + 2), p.shape), params)
    assert jax.tree.map(jnp.shape, fast.init(jax.random.key(0), x)) == jax.tree.map(jnp.shape, params)
    out_shape = jax.eval_shape(reference.apply, params, x).shape
    cotangent = jax.random.normal(jax.random.key(seed + 3), out_shape)

    @jax.jit  # one compilation for both layers, forward and backward
    def outputs_and_grads(params, x):
        y_ref, pull_ref = jax.vjp(reference.apply, params, x)
        y_fast, pull_fast = jax.vjp(fast.apply, params, x)
        return y_ref, y_fast, pull_ref(cotangent), pull_fast(cotangent)

    y_ref, y_fast, grads_ref, grads_fast = outputs_and_grads(params, x)
    assert y_fast.shape == y_ref.shape
    np.testing.assert_allclose(y_fast, y_ref, rtol=0, atol=FORWARD_TOL)
    for g_fast, g_ref in zip(jax.tree.leaves(grads_fast), jax.tree.leaves(grads_ref), strict=True):
        np.testing.assert_allclose(g_fast, g_ref, rtol=0, atol=GRAD_TOL)


CONV_CASES = [  # (settings, input shape): strided (space-to-depth), whole-input (matmul) and plain
    (dict(features=5, kernel_size=(4, 4), strides=(2, 2), padding=((1, 1), (1, 1))), (2, 8, 8, 3)),
    (dict(features=6, kernel_size=(4, 4), strides=(2, 2), padding=((1, 1), (1, 1)), use_bias=False), (1, 7, 9, 2)),
    (dict(features=4, kernel_size=(3, 3), strides=(2, 2), padding="SAME"), (2, 7, 6, 3)),
    (dict(features=3, kernel_size=(3, 3), strides=(3, 3), padding="VALID"), (1, 10, 11, 2)),
    (dict(features=4, kernel_size=(5, 3), strides=(2, 2), padding=((2, 1), (0, 2))), (2, 9, 8, 3)),
    (dict(features=7, kernel_size=(4, 4), padding="VALID", use_bias=False), (3, 4, 4, 6)),
    (dict(features=2, kernel_size=(3, 5), padding="VALID"), (2, 3, 5, 4)),
    (dict(features=4, kernel_size=(3, 3), padding="SAME"), (2, 5, 6, 3)),
]


@pytest.mark.parametrize("settings,shape", CONV_CASES)
def test_conv_matches_flax_conv(settings, shape):
    assert_same_layer(nn.Conv(**settings), layers.Conv(**settings), shape)


TRANSPOSE_CASES = [  # phase form (many features), one-conv form (few), whole-kernel matmul, fallbacks
    (dict(features=20, kernel_size=(4, 4), strides=(2, 2), padding="SAME", use_bias=False), (2, 4, 4, 3)),
    (dict(features=5, kernel_size=(4, 4), strides=(2, 2), padding="SAME"), (2, 5, 3, 3)),
    (dict(features=16, kernel_size=(3, 3), strides=(2, 2), padding="SAME"), (2, 5, 4, 3)),
    (dict(features=16, kernel_size=(3, 3), strides=(2, 2), padding="VALID"), (1, 3, 5, 2)),
    (dict(features=17, kernel_size=(5, 5), strides=(3, 3), padding=((1, 2), (0, 3))), (2, 4, 5, 3)),
    (dict(features=16, kernel_size=(2, 2), strides=(3, 3), padding="VALID"), (1, 3, 4, 2)),
    (dict(features=5, kernel_size=(4, 4), padding="VALID", use_bias=False), (2, 1, 1, 7)),
    (dict(features=3, kernel_size=(3, 2), padding="VALID"), (2, 1, 1, 5)),
    (dict(features=4, kernel_size=(3, 3), padding="SAME"), (2, 5, 6, 3)),
]


@pytest.mark.parametrize("settings,shape", TRANSPOSE_CASES)
def test_conv_transpose_matches_flax_conv_transpose(settings, shape):
    assert_same_layer(nn.ConvTranspose(**settings), layers.ConvTranspose(**settings), shape)


@pytest.mark.parametrize("form", [layers.phase_conv_transpose, layers.one_conv_transpose])
@pytest.mark.parametrize("kernel_size,padding,shape", [((4, 4), "SAME", (2, 3, 5, 3)), ((3, 3), "VALID", (1, 4, 3, 2))])
def test_both_transposed_forms_match_lax(form, kernel_size, padding, shape):
    x = jax.random.normal(jax.random.key(0), shape)
    kernel = jax.random.normal(jax.random.key(1), kernel_size + (shape[-1], 6))
    pads = layers._transpose_pads(kernel_size, (2, 2), padding)
    expected = jax.lax.conv_transpose(x, kernel, (2, 2), padding, dimension_numbers=("NHWC", "HWIO", "NHWC"))
    np.testing.assert_allclose(form(x, kernel, (2, 2), pads), expected, rtol=0, atol=FORWARD_TOL)


def test_space_to_depth_round_trips_and_orders_channels_by_phase():
    x = jnp.arange(2 * 4 * 6 * 3, dtype=jnp.float32).reshape(2, 4, 6, 3)
    z = layers.space_to_depth(x, 2)
    assert z.shape == (2, 2, 3, 12)
    np.testing.assert_array_equal(z[0, 1, 2, 3:6], x[0, 2, 5])  # row phase 0, column phase 1 of block (1, 2)
    np.testing.assert_array_equal(layers.depth_to_space(z, 2), x)


def test_unsupported_settings_are_named():
    with pytest.raises(ValueError, match="CIRCULAR"):
        layers.ConvTranspose(3, (4, 4), strides=(2, 2), padding="CIRCULAR").init(jax.random.key(0), jnp.ones((1, 4, 4, 2)))


class FlaxContextEncoder(nn.Module):
    """The Context Encoder written with flax.linen's Conv/ConvTranspose: the layout of its checkpoints."""

    width: int
    bottleneck: int
    feature_size: int

    @nn.compact
    def __call__(self, x, train: bool):
        widths = stage_widths(num_stages(x.shape[1], self.feature_size), self.width)
        for i, features in enumerate(widths):
            x = nn.Conv(features, (4, 4), strides=(2, 2), padding=((1, 1), (1, 1)), use_bias=i == 0,
                        kernel_init=CONV_INIT, name=f"enc_conv{i}")(x)
            x = nn.leaky_relu(batch_norm(train, f"enc_bn{i}")(x) if i else x, 0.2)
        x = nn.leaky_relu(ChannelwiseDense(name="channelwise_fc")(x), 0.2)
        n = self.feature_size
        x = nn.Conv(self.bottleneck, (n, n), padding="VALID", use_bias=False, name="bottleneck_conv")(x)
        x = nn.leaky_relu(batch_norm(train, "bottleneck_bn")(x), 0.2)
        x = nn.ConvTranspose(widths[-1], (n, n), padding="VALID", use_bias=False, name="dec_fc")(x)
        x = nn.relu(batch_norm(train, "dec_bn_fc")(x))
        for i, features in enumerate(reversed(widths[:-1])):
            x = nn.ConvTranspose(features, (4, 4), strides=(2, 2), padding="SAME", use_bias=False, name=f"dec_conv{i}")(x)
            x = nn.relu(batch_norm(train, f"dec_bn{i}")(x))
        return jnp.tanh(nn.ConvTranspose(3, (4, 4), strides=(2, 2), padding="SAME", name="dec_out")(x))


class FlaxDiscriminator(nn.Module):
    width: int
    feature_size: int

    @nn.compact
    def __call__(self, x, train: bool):
        for i, features in enumerate(stage_widths(num_stages(x.shape[1], self.feature_size), self.width)):
            x = nn.Conv(features, (4, 4), strides=(2, 2), padding=((1, 1), (1, 1)), use_bias=i == 0, name=f"conv{i}")(x)
            x = nn.leaky_relu(batch_norm(train, f"bn{i}")(x) if i else x, 0.2)
        n = self.feature_size
        return nn.Conv(1, (n, n), padding="VALID", name="logit")(x).reshape(x.shape[0])


@pytest.mark.parametrize("fast,reference", [
    (ContextEncoder(width=4, bottleneck=12, feature_size=4), FlaxContextEncoder(width=4, bottleneck=12, feature_size=4)),
    (DCGANDiscriminator(width=4, feature_size=4), FlaxDiscriminator(width=4, feature_size=4)),
])
def test_models_keep_the_flax_layer_param_tree_and_outputs(fast, reference):
    """Checkpoints of the flax-layer models load into the fast ones and give the same outputs."""
    x = jax.random.uniform(jax.random.key(0), (2, 32, 32, 3), minval=-1, maxval=1)
    variables = jax.jit(lambda x: reference.init(jax.random.key(1), x, train=False))(x)
    fast_shapes = jax.eval_shape(lambda: fast.init(jax.random.key(1), x, train=False))
    assert jax.tree.structure(fast_shapes) == jax.tree.structure(variables)
    assert jax.tree.map(jnp.shape, fast_shapes) == jax.tree.map(jnp.shape, variables)
    both = jax.jit(lambda v, x: (fast.apply(v, x, train=False), reference.apply(v, x, train=False)))
    np.testing.assert_allclose(*both(variables, x), rtol=0, atol=FORWARD_TOL)
