"""The DCGAN generator (Radford et al. 2016) that Semantic Image Inpainting searches in.

    z (B, latent) -> dense -> 4×4×8w, BN, ReLU
                  -> L-1 × [4×4 stride-2 up-conv, BN, ReLU] -> (S/2)×(S/2)×w
                  -> 4×4 stride-2 up-conv to 3 channels, tanh  -> (B, S, S, 3) in [-1, 1]

The widths mirror the discriminator's (`stage_widths`): w·(8, 4, 2, 1) for 64 px and
w·(8, 4, 2, 1, 1) for 128 px. w = 64 is the reference DCGAN code's ngf (512 channels
at 4×4, the network of bamos/dcgan-completion.tensorflow that the thesis trained);
w = 128 gives the 1024 of the DCGAN paper's figure.

The up-convolutions are `SubPixelConvTranspose`: the same function and parameters as
flax's `nn.ConvTranspose(features, (4, 4), strides=(2, 2), padding="SAME")`, computed as
four 2×2 convolutions (one per output phase) interleaved by depth-to-space. XLA:CPU
runs transposed convolutions (input dilation) several times slower than plain ones,
and the latent search differentiates through the generator thousands of times (inside a
scan, hence `loop_conv.conv`).
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxpaint.models.context_encoder import CONV_INIT, batch_norm, num_stages, stage_widths
from jaxpaint.models.loop_conv import conv

FEATURE_SIZE = 4  # the projection's spatial side, as in DCGAN


def _phase_conv(x: jax.Array, kernel: jax.Array, row_phase: int, col_phase: int) -> jax.Array:
    """The outputs (2m + row_phase, 2n + col_phase) of the stride-2 SAME transposed conv.

    lax.conv_transpose pads the 2×-dilated input by 2 on each side and correlates it with
    the unflipped 4×4 kernel; output phase p then sees kernel taps p and p + 2 at input
    offsets (p - 1, p), i.e. a VALID 2×2 correlation of x padded by (1 - p, p).
    """
    taps = kernel[row_phase::2, col_phase::2]
    padding = ((1 - row_phase, row_phase), (1 - col_phase, col_phase))
    return conv(x, taps, (1, 1), padding)


class SubPixelConvTranspose(nn.Module):
    """A 4×4, stride-2, SAME transposed convolution without input dilation: (B, H, W, C) -> (B, 2H, 2W, features).

    Parameters `kernel` (4, 4, C, features) and `bias` are those of the equivalent
    `nn.ConvTranspose`, so either module can load the other's weights.
    """

    features: int
    use_bias: bool = True

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        kernel = self.param("kernel", CONV_INIT, (4, 4, x.shape[-1], self.features))
        phases = jnp.stack(
            [jnp.stack([_phase_conv(x, kernel, r, c) for c in (0, 1)], axis=3) for r in (0, 1)], axis=2
        )  # (B, H, 2, W, 2, F): row phase after H, column phase after W
        b, h, _, w, _, f = phases.shape
        y = phases.reshape(b, 2 * h, 2 * w, f)
        if self.use_bias:
            y = y + self.param("bias", nn.initializers.zeros, (self.features,))
        return y


class DCGANGenerator(nn.Module):
    """z float32 (B, latent_dim) -> images float32 (B, image_size, image_size, 3) in [-1, 1]."""

    latent_dim: int = 100
    image_size: int = 64
    width: int = 64

    @nn.compact
    def __call__(self, z: jax.Array, train: bool) -> jax.Array:
        widths = stage_widths(num_stages(self.image_size, FEATURE_SIZE), self.width)
        x = nn.Dense(FEATURE_SIZE * FEATURE_SIZE * widths[-1], use_bias=False, kernel_init=CONV_INIT, name="project")(z)
        x = x.reshape(z.shape[0], FEATURE_SIZE, FEATURE_SIZE, widths[-1])
        x = nn.relu(batch_norm(train, "project_bn")(x))
        for i, features in enumerate(reversed(widths[:-1])):
            x = SubPixelConvTranspose(features, use_bias=False, name=f"up{i}")(x)
            x = nn.relu(batch_norm(train, f"up_bn{i}")(x))
        x = SubPixelConvTranspose(3, name="out")(x)
        return jnp.tanh(x)
