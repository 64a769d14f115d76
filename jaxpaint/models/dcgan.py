"""The DCGAN generator (Radford et al. 2016) that Semantic Image Inpainting searches in.

    z (B, latent) -> dense -> 4×4×8w, BN, ReLU
                  -> L-1 × [4×4 stride-2 up-conv, BN, ReLU] -> (S/2)×(S/2)×w
                  -> 4×4 stride-2 up-conv to 3 channels, tanh  -> (B, S, S, 3) in [-1, 1]

The widths mirror the discriminator's (`stage_widths`): w·(8, 4, 2, 1) for 64 px and
w·(8, 4, 2, 1, 1) for 128 px. w = 64 is the reference DCGAN code's ngf (512 channels
at 4×4, the network of bamos/dcgan-completion.tensorflow that the thesis trained);
w = 128 gives the 1024 of the DCGAN paper's figure.

The up-convolutions are jaxpaint.models.layers.ConvTranspose: the parameters and
function of flax's 4×4 stride-2 SAME ConvTranspose, computed in sub-pixel form (XLA:CPU
is slow on lhs-dilated convolutions, and the latent search differentiates through the
generator thousands of times).
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxpaint.models.layers import CONV_INIT, ConvTranspose, batch_norm, num_stages, stage_widths

FEATURE_SIZE = 4  # the projection's spatial side, as in DCGAN


def up_conv(features: int, use_bias: bool, name: str) -> ConvTranspose:
    return ConvTranspose(features, (4, 4), strides=(2, 2), padding="SAME", use_bias=use_bias, kernel_init=CONV_INIT,
                         name=name)


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
            x = up_conv(features, use_bias=False, name=f"up{i}")(x)
            x = nn.relu(batch_norm(train, f"up_bn{i}")(x))
        x = up_conv(3, use_bias=True, name="out")(x)
        return jnp.tanh(x)
