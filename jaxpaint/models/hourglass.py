"""Stacked Hourglass network for pose estimation (Newell, Yang and Deng 2016; thesis §4.3).

The network maps an image (float32 NHWC in [-1, 1]) to one heatmap per joint
TYPE (`jaxpaint.data.joints.JOINT_TYPES`, 12 channels) at 1/4 of the input
resolution. Paired types (left and right ankle, ...) share a channel with two
peaks, because the thesis scores poses without regard to side.

Each stack returns its own heatmaps so that training can supervise every stack
(intermediate supervision); the last stack's heatmaps are the prediction.
BatchNorm statistics live in the `batch_stats` collection.
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxpaint.data.joints import NUM_TYPES

# The stem halves the resolution twice (a stride-2 convolution, then a max-pool).
STEM_STRIDE = 4


def _norm(train: bool) -> nn.BatchNorm:
    return nn.BatchNorm(use_running_average=not train, momentum=0.9, epsilon=1e-5)


class Residual(nn.Module):
    """Bottleneck residual module: BN-ReLU-1×1, BN-ReLU-3×3, BN-ReLU-1×1, plus the skip.

    The skip is a 1×1 projection when the input width differs from `features`.
    """

    features: int

    @nn.compact
    def __call__(self, x: jax.Array, train: bool) -> jax.Array:
        half = max(self.features // 2, 1)
        y = nn.Conv(half, (1, 1))(nn.relu(_norm(train)(x)))
        y = nn.Conv(half, (3, 3), padding="SAME")(nn.relu(_norm(train)(y)))
        y = nn.Conv(self.features, (1, 1))(nn.relu(_norm(train)(y)))
        skip = x if x.shape[-1] == self.features else nn.Conv(self.features, (1, 1))(x)
        return skip + y


def _upsample2(x: jax.Array) -> jax.Array:
    """Nearest-neighbour ×2 upsampling, as in the reference implementation."""
    return jnp.repeat(jnp.repeat(x, 2, axis=1), 2, axis=2)


class Hourglass(nn.Module):
    """One hourglass of `depth` levels: at each level a residual branch keeps the
    current resolution while the other branch is pooled, recursed and upsampled;
    the two are added."""

    depth: int
    features: int

    @nn.compact
    def __call__(self, x: jax.Array, train: bool) -> jax.Array:
        upper = Residual(self.features)(x, train)
        low = nn.max_pool(x, (2, 2), strides=(2, 2))
        low = Residual(self.features)(low, train)
        if self.depth > 1:
            low = Hourglass(self.depth - 1, self.features)(low, train)
        else:
            low = Residual(self.features)(low, train)
        low = Residual(self.features)(low, train)
        return upper + _upsample2(low)


class StackedHourglass(nn.Module):
    """The full network.

    num_stacks: hourglasses in sequence, each with a heatmap head.
    features:   channel width inside the hourglasses.
    depth:      levels per hourglass; the input size must be divisible by 4 · 2**depth.
    num_joints: heatmap channels (joint types).
    """

    num_stacks: int = 2
    features: int = 64
    depth: int = 4
    num_joints: int = NUM_TYPES

    @nn.compact
    def __call__(self, images: jax.Array, train: bool = False) -> jax.Array:
        """images (B, S, S, 3) -> heatmaps (num_stacks, B, S/4, S/4, num_joints)."""
        check_input_size(images.shape[1], self.depth)
        check_input_size(images.shape[2], self.depth)
        stem_width = max(self.features // 4, 1)
        x = nn.Conv(stem_width, (7, 7), strides=(2, 2), padding="SAME")(images)
        x = nn.relu(_norm(train)(x))
        x = Residual(max(self.features // 2, 1))(x, train)
        x = nn.max_pool(x, (2, 2), strides=(2, 2))
        x = Residual(max(self.features // 2, 1))(x, train)
        x = Residual(self.features)(x, train)

        heatmaps = []
        for stack in range(self.num_stacks):
            y = Hourglass(self.depth, self.features)(x, train)
            y = Residual(self.features)(y, train)
            y = nn.relu(_norm(train)(nn.Conv(self.features, (1, 1))(y)))
            heatmap = nn.Conv(self.num_joints, (1, 1))(y)
            heatmaps.append(heatmap)
            if stack < self.num_stacks - 1:
                # Intermediate supervision: the next stack sees this stack's
                # features and its heatmaps, both remapped to the feature width.
                x = x + nn.Conv(self.features, (1, 1))(y) + nn.Conv(self.features, (1, 1))(heatmap)
        return jnp.stack(heatmaps)


def check_input_size(size: int, depth: int) -> None:
    """The stem divides by 4 and every hourglass level by 2 more; sizes must divide evenly."""
    multiple = STEM_STRIDE * 2**depth
    if size % multiple:
        raise ValueError(f"hourglass input size {size} must be a multiple of {multiple} (4 · 2**depth, depth={depth})")


def from_config(model_config) -> StackedHourglass:
    """The network described by a config's `model` section (num_stacks, features, depth)."""
    return StackedHourglass(
        num_stacks=int(model_config.num_stacks),
        features=int(model_config.features),
        depth=int(model_config.depth),
    )
