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

Two options give the content network of Multi-Scale Neural Patch Synthesis (Yang et
al. 2017), "a Context Encoder with ELUs and a plain fully connected bottleneck":

- `activation = "elu"`: ELU after every hidden layer, in place of the encoder's and the
  bottleneck's LeakyReLU 0.2 and the decoder's ReLU (the default, "leaky_relu", is
  Pathak et al.'s mix);
- `bottleneck_layer = "fc"`: no channel-wise layer; the n×n×m map is flattened and one
  dense layer (n²·m·bottleneck weights, no bias as BN follows) maps it to the context
  vector. The default, "channelwise", is the channel-wise layer plus the n×n convolution.
"""

from __future__ import annotations

import math

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxpaint.models.layers import (CONV_INIT, Conv, ConvTranspose, batch_norm, downsample, leaky_relu, num_stages,
                                    stage_widths)

ACTIVATIONS = ("leaky_relu", "elu")
BOTTLENECK_LAYERS = ("channelwise", "fc")


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
    activation: str = "leaky_relu"  # or "elu" (Yang et al.'s content network)
    bottleneck_layer: str = "channelwise"  # or "fc"
    # False: the output is tanh(last layer) (the papers). True: the input image plus a correction whose
    # last layer starts at 0, clipped to [-1, 1]: the network starts as its input fill (beyond the papers).
    residual: bool = False

    @nn.compact
    def __call__(self, x: jax.Array, train: bool) -> jax.Array:
        inputs = x
        if self.activation not in ACTIVATIONS:
            raise ValueError(f"ContextEncoder: activation {self.activation!r} is not one of {ACTIVATIONS}")
        if self.bottleneck_layer not in BOTTLENECK_LAYERS:
            raise ValueError(f"ContextEncoder: bottleneck_layer {self.bottleneck_layer!r} is not one of {BOTTLENECK_LAYERS}")
        elu = self.activation == "elu"
        encoder_act = nn.elu if elu else leaky_relu
        decoder_act = nn.elu if elu else nn.relu
        size = x.shape[1]
        widths = stage_widths(num_stages(size, self.feature_size), self.width)
        x = downsample(x, widths, train, prefix="enc_", activation=encoder_act)
        n = self.feature_size
        if self.bottleneck_layer == "fc":
            flat = x.reshape(x.shape[0], -1)
            x = nn.Dense(self.bottleneck, use_bias=False, kernel_init=CONV_INIT, name="bottleneck_fc")(flat)
            x = x.reshape(x.shape[0], 1, 1, self.bottleneck)
        else:
            x = encoder_act(ChannelwiseDense(name="channelwise_fc")(x))
            x = Conv(self.bottleneck, (n, n), padding="VALID", use_bias=False, kernel_init=CONV_INIT,
                     name="bottleneck_conv")(x)
        x = encoder_act(batch_norm(train, "bottleneck_bn")(x))
        x = ConvTranspose(widths[-1], (n, n), padding="VALID", use_bias=False, kernel_init=CONV_INIT, name="dec_fc")(x)
        x = decoder_act(batch_norm(train, "dec_bn_fc")(x))
        for i, features in enumerate(reversed(widths[:-1])):
            x = ConvTranspose(features, (4, 4), strides=(2, 2), padding="SAME", use_bias=False,
                              kernel_init=CONV_INIT, name=f"dec_conv{i}")(x)
            x = decoder_act(batch_norm(train, f"dec_bn{i}")(x))
        image = inputs[..., :3]
        out_init = nn.initializers.zeros_init() if self.residual else CONV_INIT
        x = ConvTranspose(3, (4, 4), strides=(2, 2), padding="SAME", kernel_init=out_init, name="dec_out")(x)
        return jnp.clip(image + x, -1.0, 1.0) if self.residual else jnp.tanh(x)
