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
        return stacked_heatmaps(x, self.num_stacks, self.depth, self.features, self.num_joints, train)


def stacked_heatmaps(x: jax.Array, num_stacks: int, depth: int, features: int, num_joints: int,
                     train: bool) -> jax.Array:
    """The hourglass stacks on stem features x (B, h, w, features) -> heatmaps (num_stacks, B, h, w, num_joints).

    Called inside a parent's compact __call__, so the layers it makes belong to (and are named in) the parent.
    """
    heatmaps = []
    for stack in range(num_stacks):
        y = Hourglass(depth, features)(x, train)
        y = Residual(features)(y, train)
        y = nn.relu(_norm(train)(nn.Conv(features, (1, 1))(y)))
        heatmap = nn.Conv(num_joints, (1, 1))(y)
        heatmaps.append(heatmap)
        if stack < num_stacks - 1:
            # Intermediate supervision: the next stack sees this stack's
            # features and its heatmaps, both remapped to the feature width.
            x = x + nn.Conv(features, (1, 1))(y) + nn.Conv(features, (1, 1))(heatmap)
    return jnp.stack(heatmaps)


class BackboneHourglass(nn.Module):
    """Hourglass stacks on frozen pretrained features instead of the stem (beyond the thesis).

    The input is a tuple of feature maps of one image batch (for VGG-16: relu4_3 at stride 8, relu5_3 at
    stride 16). Each is mapped to `features` channels by a 1×1 conv and resized (bilinear) to the heatmap
    grid, input / 4; their sum goes through the same stacks as StackedHourglass.
    """

    num_stacks: int = 2
    features: int = 128
    depth: int = 3
    heat_size: int = 32
    num_joints: int = NUM_TYPES

    @nn.compact
    def __call__(self, feature_maps: tuple, train: bool = False) -> jax.Array:
        """feature_maps: tuple of (B, h_i, w_i, C_i) -> heatmaps (num_stacks, B, heat, heat, num_joints)."""
        check_input_size(self.heat_size * STEM_STRIDE, self.depth)
        x = 0.0
        for maps in feature_maps:
            y = nn.Conv(self.features, (1, 1))(maps.astype(jnp.float32))
            x = x + jax.image.resize(y, (y.shape[0], self.heat_size, self.heat_size, self.features), "bilinear")
        x = Residual(self.features)(nn.relu(_norm(train)(x)), train)
        return stacked_heatmaps(x, self.num_stacks, self.depth, self.features, self.num_joints, train)


def check_input_size(size: int, depth: int) -> None:
    """The stem divides by 4 and every hourglass level by 2 more; sizes must divide evenly."""
    multiple = STEM_STRIDE * 2**depth
    if size % multiple:
        raise ValueError(f"hourglass input size {size} must be a multiple of {multiple} (4 · 2**depth, depth={depth})")


def from_config(model_config) -> nn.Module:
    """The network described by a config's `model` section (num_stacks, features, depth; with
    backbone = "vgg16", the stacks on pretrained features at input_size / 4)."""
    if model_config.get("backbone", "none") != "none":
        return BackboneHourglass(
            num_stacks=int(model_config.num_stacks),
            features=int(model_config.features),
            depth=int(model_config.depth),
            heat_size=int(model_config.input_size) // STEM_STRIDE,
        )
    return StackedHourglass(
        num_stacks=int(model_config.num_stacks),
        features=int(model_config.features),
        depth=int(model_config.depth),
    )
