"""The Context Encoder generator (Pathak et al. 2016, thesis §3.1–3.2) as a Flax linen module.

Shape of the network for an S×S input with L = log2(S / n) stride-2 stages:

    encoder   L × [4×4 conv stride 2, BN (not on the first), LeakyReLU 0.2]  -> n×n×m
    channel-wise fully connected layer: each of the m channels maps its own
              n² values to n² values (m·n⁴ weights, thesis §3.2), LeakyReLU 0.2
    stride-1 conv with an n×n kernel, VALID                                  -> 1×1×bottleneck
              BN, LeakyReLU 0.2
    decoder   n×n up-convolution -> n×n×m, then L × [4×4 transposed conv stride 2,
              BN, ReLU], the last one to 3 channels with tanh                 -> S×S×3

The thesis's "bottleneck 4000" is `nBottleneck` of the reference implementation:
the length of the context vector between encoder and decoder. Here it is the
width of the stride-1 convolution, whose n×n kernel covers the whole n×n map,
so the convolution mixes all channels and positions into one 1×1×bottleneck
vector. The channel-wise layer before it carries information across the image
within each channel at m·n⁴ instead of m²·n⁴ weights; the LeakyReLU between the
two keeps them from collapsing into one linear map.

The generator predicts the whole image, because holes may be anywhere (up to 10
blocks per image), not one centre square.
"""

from __future__ import annotations

import math

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxpaint.models.layers import CONV_INIT, Conv, ConvTranspose, batch_norm, downsample, num_stages, stage_widths


class ChannelwiseDense(nn.Module):
    """Fully connected within each channel: (B, n, n, m) -> (B, n, n, m) with an (m, n², n²) kernel."""

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        batch, height, width, channels = x.shape
        positions = height * width
        kernel = self.param("kernel", nn.initializers.normal(1.0 / math.sqrt(positions)), (channels, positions, positions))
        bias = self.param("bias", nn.initializers.zeros, (positions, channels))
        flat = x.reshape(batch, positions, channels)
        mixed = jnp.einsum("bpc,cpq->bqc", flat, kernel) + bias
        return mixed.reshape(batch, height, width, channels)


class ContextEncoder(nn.Module):
    """Maps a float32 (B, S, S, 3) image in [-1, 1], holes filled, to a (B, S, S, 3) prediction in [-1, 1]."""

    width: int = 64
    bottleneck: int = 4000
    feature_size: int = 4

    @nn.compact
    def __call__(self, x: jax.Array, train: bool) -> jax.Array:
        size = x.shape[1]
        widths = stage_widths(num_stages(size, self.feature_size), self.width)
        x = downsample(x, widths, train, prefix="enc_")
        x = nn.leaky_relu(ChannelwiseDense(name="channelwise_fc")(x), 0.2)
        n = self.feature_size
        x = Conv(self.bottleneck, (n, n), padding="VALID", use_bias=False, kernel_init=CONV_INIT, name="bottleneck_conv")(x)
        x = nn.leaky_relu(batch_norm(train, "bottleneck_bn")(x), 0.2)
        x = ConvTranspose(widths[-1], (n, n), padding="VALID", use_bias=False, kernel_init=CONV_INIT, name="dec_fc")(x)
        x = nn.relu(batch_norm(train, "dec_bn_fc")(x))
        for i, features in enumerate(reversed(widths[:-1])):
            x = ConvTranspose(features, (4, 4), strides=(2, 2), padding="SAME", use_bias=False,
                              kernel_init=CONV_INIT, name=f"dec_conv{i}")(x)
            x = nn.relu(batch_norm(train, f"dec_bn{i}")(x))
        x = ConvTranspose(3, (4, 4), strides=(2, 2), padding="SAME", kernel_init=CONV_INIT, name="dec_out")(x)
        return jnp.tanh(x)
