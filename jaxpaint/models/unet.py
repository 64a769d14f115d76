"""The 2nd-place ChaLearn 2018 inpainting networks (Pandey & Patel): a dilated U-Net and a global discriminator.

Generator, for an S×S×4 input (the image with its holes, plus the mask; S divisible
by 4) and channel unit w = `width` (64 in the paper), every conv followed by BN and
ReLU except the output heads:

    c1  5×5/w                   S
    c2  3×3/2w stride 2         S/2
    c3  3×3/2w                  S/2
    c4  3×3/4w stride 2         S/4
        two 3×3/4w, then 3×3/4w dilated at rates 2, 4, 8, 16, then two 3×3/4w
        ⊕ c4 → up ×2 to 2w      S/2     ⊕ c3 → 3×3/2w ⊕ c2
        → up ×2 to w            S       ⊕ c1 → 3×3/(w/2)
    image head  3×3/3, tanh;  mask head  3×3/1, sigmoid

(`fourier_blocks=N` adds N residual fast-Fourier-convolution blocks after the dilated
convs, LaMa's image-wide receptive field; `residual=True` instead adds the image head, initialised to zero, to the input
image: a variant beyond the paper for short training on a good input fill.)

(⊕: channel concatenation, the skip connections). Each "up ×2" is a 4×4 stride-2
transposed conv, as in the team's code. Strided and transposed convs use the
param-compatible fast forms of jaxpaint.models.layers (XLA:CPU runs lhs-dilated
convolutions slowly); the dilated ones are flax's. The mask head serves the α·(mask − predicted mask)² term of the
slides' reconstruction loss (an earlier version of the team's code predicted the
mask alongside the image).

Discriminator (global): five 5×5 stride-2 convs (w, 2w, 4w, 8w, 8w) with BN and
ReLU, then FC 1024 and FC 1, linear, as in the team's code.
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxpaint.models import layers

# The team's code initialises conv weights with Xavier (Glorot uniform).
CONV_INIT = nn.initializers.xavier_uniform()
DILATION_RATES = (2, 4, 8, 16)


class ConvBNReLU(nn.Module):
    """conv (SAME padding, no bias: BN's offset replaces it) -> BN -> ReLU."""

    features: int
    kernel: int = 3
    stride: int = 1
    dilation: int = 1
    bn_momentum: float = 0.99

    @nn.compact
    def __call__(self, x: jax.Array, train: bool) -> jax.Array:
        kernel = (self.kernel, self.kernel)
        common = dict(padding="SAME", use_bias=False, kernel_init=CONV_INIT, name="conv")
        if self.dilation > 1:  # layers.Conv has no dilation
            x = nn.Conv(self.features, kernel, kernel_dilation=self.dilation, **common)(x)
        else:  # space-to-depth for strides: faster on XLA:CPU
            x = layers.Conv(self.features, kernel, strides=self.stride, **common)(x)
        x = nn.BatchNorm(use_running_average=not train, momentum=self.bn_momentum, epsilon=1e-3, name="bn")(x)
        return nn.relu(x)


class UpConvBNReLU(nn.Module):
    """×2 up-sampling by a 4×4 stride-2 transposed conv -> BN -> ReLU."""

    features: int
    bn_momentum: float = 0.99

    @nn.compact
    def __call__(self, x: jax.Array, train: bool) -> jax.Array:
        x = layers.ConvTranspose(self.features, (4, 4), strides=2, padding="SAME", use_bias=False,
                                 kernel_init=CONV_INIT, name="conv")(x)
        x = nn.BatchNorm(use_running_average=not train, momentum=self.bn_momentum, epsilon=1e-3, name="bn")(x)
        return nn.relu(x)


class SpectralTransform(nn.Module):
    """LaMa's Fourier unit (Suvorov et al. 2022): a 1×1 conv, BN and ReLU over the real and imaginary parts
    of the feature map's 2-D Fourier transform, then back: every output pixel sees the whole map."""

    features: int
    bn_momentum: float = 0.99

    @nn.compact
    def __call__(self, x: jax.Array, train: bool) -> jax.Array:
        height, width = x.shape[1:3]
        spectrum = jnp.fft.rfft2(x, axes=(1, 2), norm="ortho")
        z = jnp.concatenate([spectrum.real, spectrum.imag], axis=-1)
        z = nn.Conv(2 * self.features, (1, 1), use_bias=False, kernel_init=CONV_INIT, name="conv")(z)
        z = nn.relu(nn.BatchNorm(use_running_average=not train, momentum=self.bn_momentum, epsilon=1e-3,
                                 name="bn")(z))
        real, imag = jnp.split(z, 2, axis=-1)
        return jnp.fft.irfft2(jax.lax.complex(real, imag), s=(height, width), axes=(1, 2), norm="ortho")


class FourierBlock(nn.Module):
    """A residual fast-Fourier-convolution block (after LaMa's FFC ResNet block, one FFC deep): half the
    channels from a local 3×3 conv, half from a global branch (1×1 conv, Fourier unit added to its input,
    1×1 conv); BN over both, added to the input, ReLU."""

    bn_momentum: float = 0.99

    @nn.compact
    def __call__(self, x: jax.Array, train: bool) -> jax.Array:
        channels = x.shape[-1]
        half = max(channels // 2, 1)
        local = ConvBNReLU(half, bn_momentum=self.bn_momentum, name="local")(x, train)
        g = ConvBNReLU(half, kernel=1, bn_momentum=self.bn_momentum, name="reduce")(x, train)
        g = g + SpectralTransform(half, self.bn_momentum, name="fourier")(g, train)
        g = nn.Conv(channels - half, (1, 1), use_bias=False, kernel_init=CONV_INIT, name="expand")(g)
        y = nn.BatchNorm(use_running_average=not train, momentum=self.bn_momentum, epsilon=1e-3,
                         name="bn")(jnp.concatenate([local, g], axis=-1))
        return nn.relu(x + y)


class HeadParams(nn.Module):
    """The kernel and bias of a 3×3 output head, with nn.Conv's names, shapes and initialisation (so
    checkpoints read either way); the U-Net applies its two heads as one conv."""

    features: int
    kernel_init: nn.initializers.Initializer

    @nn.compact
    def __call__(self, in_features: int) -> tuple[jax.Array, jax.Array]:
        kernel = self.param("kernel", self.kernel_init, (3, 3, in_features, self.features), jnp.float32)
        return kernel, self.param("bias", nn.initializers.zeros_init(), (self.features,), jnp.float32)


class DilatedUNet(nn.Module):
    """(B, S, S, 4) in [-1, 1] (+ mask channel) -> (B, S, S, 4): the image in [-1, 1] (tanh) and the
    predicted hole mask in [0, 1] (sigmoid) as the last channel."""

    width: int = 64
    dilation_rates: tuple[int, ...] = DILATION_RATES
    bn_momentum: float = 0.99
    # False: the image head is tanh(conv) (the paper). True: it is the input image plus a
    # correction, conv initialised to 0 (the network starts as the identity on its input fill),
    # clipped to [-1, 1].
    residual: bool = False
    # Fourier blocks (FourierBlock) after the dilated convs, at S/4: an image-wide receptive field
    # (beyond the paper; 0 in it).
    fourier_blocks: int = 0

    @nn.compact
    def __call__(self, x: jax.Array, train: bool) -> jax.Array:
        size = x.shape[1]
        if size % 4 or x.shape[2] % 4:
            raise ValueError(f"DilatedUNet: input sides must be divisible by 4, got {x.shape[1:3]}")
        w = self.width

        def block(features, name, **kw):
            return ConvBNReLU(features, bn_momentum=self.bn_momentum, name=name, **kw)

        c1 = block(w, "conv1", kernel=5)(x, train)
        c2 = block(2 * w, "conv2", stride=2)(c1, train)
        c3 = block(2 * w, "conv3")(c2, train)
        c4 = block(4 * w, "conv4", stride=2)(c3, train)
        h = block(4 * w, "conv5")(c4, train)
        h = block(4 * w, "conv6")(h, train)
        for i, rate in enumerate(self.dilation_rates):
            h = block(4 * w, f"dilated{i + 1}", dilation=rate)(h, train)
        for i in range(self.fourier_blocks):
            h = FourierBlock(self.bn_momentum, name=f"fourier{i + 1}")(h, train)
        h = block(4 * w, "conv7")(h, train)
        h = block(4 * w, "conv8")(h, train)
        h = UpConvBNReLU(2 * w, self.bn_momentum, name="up1")(jnp.concatenate([h, c4], -1), train)
        h = block(2 * w, "conv9")(jnp.concatenate([h, c3], -1), train)
        h = UpConvBNReLU(w, self.bn_momentum, name="up2")(jnp.concatenate([h, c2], -1), train)
        h = block(max(w // 2, 1), "conv10")(jnp.concatenate([h, c1], -1), train)
        image_init = nn.initializers.zeros_init() if self.residual else CONV_INIT
        heads = [HeadParams(3, image_init, name="image")(h.shape[-1]), HeadParams(1, CONV_INIT, name="mask")(h.shape[-1])]
        # Both heads as one 4-channel conv: XLA:CPU runs one conv with 4 outputs faster than two with 3 and 1.
        kernel, bias = (jnp.concatenate(parts, axis=-1) for parts in zip(*heads))
        out = jax.lax.conv_general_dilated(h, kernel, (1, 1), "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC")) + bias
        image, mask = out[..., :3], out[..., 3:]
        image = jnp.clip(x[..., :3] + image, -1.0, 1.0) if self.residual else jnp.tanh(image)
        return jnp.concatenate([image, jax.nn.sigmoid(mask)], axis=-1)


class GlobalDiscriminator(nn.Module):
    """(B, S, S, 3) in [-1, 1] -> (B,) logits (real > 0): five 5×5 stride-2 conv-BN-ReLU stages, FC 1024, FC 1."""

    width: int = 64
    fc_width: int = 1024
    bn_momentum: float = 0.99

    @nn.compact
    def __call__(self, x: jax.Array, train: bool) -> jax.Array:
        w = self.width
        for i, features in enumerate((w, 2 * w, 4 * w, 8 * w, 8 * w)):
            x = ConvBNReLU(features, kernel=5, stride=2, bn_momentum=self.bn_momentum, name=f"conv{i + 1}")(x, train)
        x = x.reshape(x.shape[0], -1)
        x = nn.Dense(self.fc_width, name="fc")(x)
        return nn.Dense(1, name="logit")(x).reshape(x.shape[0])
