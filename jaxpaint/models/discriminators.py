"""Discriminators for the adversarial losses."""

from __future__ import annotations

import flax.linen as nn
import jax

from jaxpaint.models.layers import CONV_INIT, Conv, downsample, num_stages, stage_widths


class DCGANDiscriminator(nn.Module):
    """A DCGAN discriminator on the whole image: (B, S, S, 3) in [-1, 1] -> (B,) logits (real > 0).

    It sees only the image, not the context it was completed from: Pathak et al.
    (and the thesis, §3.1.1) found that conditioning it lets it spot the seam
    between context and prediction instead of judging realism.
    Stages: 4×4 stride-2 convs (BN after all but the first, LeakyReLU 0.2) down to
    feature_size², then one feature_size×feature_size VALID conv to a single logit.
    """

    width: int = 64
    feature_size: int = 4

    @nn.compact
    def __call__(self, x: jax.Array, train: bool) -> jax.Array:
        x = downsample(x, stage_widths(num_stages(x.shape[1], self.feature_size), self.width), train)
        n = self.feature_size
        x = Conv(1, (n, n), padding="VALID", kernel_init=CONV_INIT, name="logit")(x)
        return x.reshape(x.shape[0])
