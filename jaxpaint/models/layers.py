"""Layers shared by the models, and convolutions in forms that XLA:CPU runs fast.

`Conv` and `ConvTranspose` are drop-in replacements for `flax.linen.Conv` and
`flax.linen.ConvTranspose` (2-D, channels last, no dilation): the same params
(`kernel`, `bias`, same shapes and meaning, so checkpoints load either way) and the
same output, computed in a form without strided or lhs-dilated convolutions:

- a strided conv is a space-to-depth of the padded input followed by a stride-1
  conv with the kernel rearranged to ceil(k/s)² taps over s²·C channels;
- a transposed conv with stride s is its phase (sub-pixel) decomposition: s² stride-1
  convs, each output phase reading only the kernel taps that land on it, interleaved
  by depth-to-space (or, for few output channels, one conv to s²·F channels). XLA:CPU
  computes an lhs-dilated conv and its gradients up to 10x slower (jax-ml/jax#31662);
- a VALID conv whose kernel covers the whole input, and a VALID transposed conv
  from a 1×1 input, are one dense matmul each.
"""

from __future__ import annotations

import math
from typing import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from jaxpaint.models import loop_conv

# DCGAN initialisation, as in the reference implementation: conv weights N(0, 0.02),
# BN scales N(1, 0.02).
CONV_INIT = nn.initializers.normal(0.02)


def bn_scale_init(key, shape, dtype=jnp.float32):
    return 1.0 + 0.02 * jax.random.normal(key, shape, dtype)


def stage_widths(num_stages: int, width: int) -> list[int]:
    """Channels after each stride-2 stage: the last four are width·(1, 2, 4, 8), earlier ones width.

    For 128 px and width 64 this is (64, 64, 128, 256, 512), the reference layout.
    """
    return [width * 2 ** min(max(i - (num_stages - 4), 0), 3) for i in range(num_stages)]


def num_stages(image_size: int, feature_size: int) -> int:
    """How many stride-2 stages take an image_size square down to feature_size."""
    stages = math.log2(image_size / feature_size) if feature_size > 0 else -1
    if stages < 1 or stages != int(stages):
        raise ValueError(f"image size {image_size} is not feature size {feature_size} times a power of two")
    return int(stages)


def batch_norm(train: bool, name: str | None = None) -> nn.BatchNorm:
    return nn.BatchNorm(use_running_average=not train, momentum=0.9, epsilon=1e-5, scale_init=bn_scale_init, name=name)


# ---------------------------------------------------------------------------------------------
# Rearrangements


def space_to_depth(x: jax.Array, s: int) -> jax.Array:
    """(B, H, W, C) -> (B, H/s, W/s, s·s·C), channel index (row phase·s + column phase)·C + c."""
    b, h, w, c = x.shape
    x = x.reshape(b, h // s, s, w // s, s, c).transpose(0, 1, 3, 2, 4, 5)
    return x.reshape(b, h // s, w // s, s * s * c)


def depth_to_space(x: jax.Array, s: int) -> jax.Array:
    """Inverse of space_to_depth: (B, H, W, s·s·F) with channels (row phase, column phase, f) -> (B, H·s, W·s, F)."""
    b, h, w, c = x.shape
    f = c // (s * s)
    x = x.reshape(b, h, w, s, s, f).transpose(0, 1, 3, 2, 4, 5)
    return x.reshape(b, h * s, w * s, f)


def _pad_or_crop(x: jax.Array, rows: tuple[int, int], cols: tuple[int, int]) -> jax.Array:
    """Pads spatial dims of NHWC x with zeros; negative amounts crop."""
    zero = jnp.zeros((), x.dtype)
    return lax.pad(x, zero, ((0, 0, 0), (rows[0], rows[1], 0), (cols[0], cols[1], 0), (0, 0, 0)))


def _conv_valid(x: jax.Array, kernel: jax.Array, precision) -> jax.Array:
    # loop_conv.conv: the same conv, with an input gradient that stays fast inside lax.scan.
    return loop_conv.conv(x, kernel, "VALID", precision)


def _as_pairs(padding, kernel_size: Sequence[int], strides: Sequence[int], in_size: Sequence[int]) -> list[tuple[int, int]]:
    """Explicit (low, high) padding of a forward conv, as lax resolves 'SAME'/'VALID'."""
    if isinstance(padding, str):
        return list(lax.padtype_to_pads(in_size, kernel_size, strides, padding.upper()))
    if isinstance(padding, int):
        return [(padding, padding)] * len(kernel_size)
    return [(p, p) if isinstance(p, int) else tuple(p) for p in padding]


def _check_supported(name: str, padding, kernel_dilation) -> None:
    if isinstance(padding, str) and padding.upper() not in ("SAME", "VALID"):
        raise ValueError(f"{name}: padding {padding!r} is not supported (SAME, VALID or explicit pairs)")
    if kernel_dilation not in (None, 1, (1, 1)):
        raise ValueError(f"{name}: kernel_dilation is not supported")


# ---------------------------------------------------------------------------------------------
# Forward conv


def strided_conv(x: jax.Array, kernel: jax.Array, strides: Sequence[int], pads: Sequence[tuple[int, int]],
                 precision=None) -> jax.Array:
    """lax.conv_general_dilated(x, kernel, strides, pads) (NHWC, HWIO) as space-to-depth + a stride-1 conv.

    Output index o reads padded input rows s·o + t, t < k. Writing t = s·q + a, the
    space-to-depth block o + q holds phase a in its channels, so the conv becomes a
    ceil(k/s)-tap stride-1 conv whose kernel is the original one zero-padded to a
    multiple of s and regrouped (q, a).
    """
    (kh, kw), (sh, sw) = kernel.shape[:2], tuple(strides)
    if sh != sw:
        raise ValueError(f"strided_conv: strides {tuple(strides)} must be equal")
    s = sh
    if s == 1:
        return loop_conv.conv(x, kernel, tuple(tuple(p) for p in pads), precision)
    qh, qw = -(-kh // s), -(-kw // s)
    out_h = (x.shape[1] + sum(pads[0]) - kh) // s + 1
    out_w = (x.shape[2] + sum(pads[1]) - kw) // s + 1
    # Pad (or crop) the high side so the padded input is exactly s·(out + taps - 1) long.
    rows = (pads[0][0], s * (out_h + qh - 1) - x.shape[1] - pads[0][0])
    cols = (pads[1][0], s * (out_w + qw - 1) - x.shape[2] - pads[1][0])
    z = space_to_depth(_pad_or_crop(x, rows, cols), s)
    cin, cout = kernel.shape[2:]
    k = jnp.pad(kernel, ((0, qh * s - kh), (0, qw * s - kw), (0, 0), (0, 0)))
    k = k.reshape(qh, s, qw, s, cin, cout).transpose(0, 2, 1, 3, 4, 5).reshape(qh, qw, s * s * cin, cout)
    return _conv_valid(z, k, precision)


def whole_input_conv(x: jax.Array, kernel: jax.Array, precision=None) -> jax.Array:
    """A VALID conv whose kernel is as large as x: (B, kh, kw, C) -> (B, 1, 1, F) as one matmul."""
    b = x.shape[0]
    kh, kw, cin, cout = kernel.shape
    y = jnp.matmul(x.reshape(b, kh * kw * cin), kernel.reshape(kh * kw * cin, cout), precision=precision)
    return y.reshape(b, 1, 1, cout)


class Conv(nn.Module):
    """flax.linen.Conv (2-D, NHWC) with the same params and output, fast on XLA:CPU (see module doc)."""

    features: int
    kernel_size: Sequence[int]
    strides: Sequence[int] | int = 1
    padding: str | Sequence = "SAME"
    use_bias: bool = True
    kernel_dilation: Sequence[int] | int | None = None
    precision: lax.Precision | None = None
    kernel_init: nn.initializers.Initializer = nn.initializers.lecun_normal()
    bias_init: nn.initializers.Initializer = nn.initializers.zeros_init()

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        _check_supported("Conv", self.padding, self.kernel_dilation)
        kernel_size = tuple(self.kernel_size)
        strides = (self.strides,) * 2 if isinstance(self.strides, int) else tuple(self.strides)
        kernel = self.param("kernel", self.kernel_init, kernel_size + (x.shape[-1], self.features))
        pads = _as_pairs(self.padding, kernel_size, strides, x.shape[1:3])
        whole = all(p == (0, 0) for p in pads) and x.shape[1:3] == kernel_size
        if whole:
            y = whole_input_conv(x, kernel, self.precision)
        else:
            y = strided_conv(x, kernel, strides, pads, self.precision)
        if self.use_bias:
            y = y + self.param("bias", self.bias_init, (self.features,))
        return y


# ---------------------------------------------------------------------------------------------
# Transposed conv


def _transpose_pads(kernel_size: Sequence[int], strides: Sequence[int], padding) -> list[tuple[int, int]]:
    """Padding of the lhs-dilated input that lax.conv_transpose uses (its _conv_transpose_padding)."""
    if isinstance(padding, int):
        padding = [(padding, padding)] * len(kernel_size)
    if not isinstance(padding, str):
        padding = [tuple(p) if not isinstance(p, int) else (p, p) for p in padding]
    pads = []
    for i, (k, s) in enumerate(zip(kernel_size, strides)):
        if isinstance(padding, str) and padding.upper() == "SAME":
            total = k + s - 2
            low = k - 1 if s > k - 1 else -(-total // 2)
        elif isinstance(padding, str):  # VALID
            total = k + s - 2 + max(k - s, 0)
            low = k - 1
        else:
            low, high = padding[i]
            total = low + high
        pads.append((low, total - low))
    return pads


def _phase_taps(s: int, low: int, phase: int) -> tuple[int, int]:
    """For output phase r of a transposed conv (no kernel flip): the first tap t0 ≡ low - r (mod s)
    and the input offset d0 it reads: y[s·m + r] = Σ_j x[m + d0 + j] · K[t0 + s·j]."""
    t0 = (low - phase) % s
    return t0, (phase + t0 - low) // s


def _phase_table(k: int, s: int, low: int) -> tuple[int, int, np.ndarray]:
    """(first offset, number of offsets, index table) for the one-conv phase form along one axis:
    table[d, r] is the kernel tap that offset d_first + d contributes to phase r, or k (a zero tap)."""
    taps = {}
    for r in range(s):
        t0, d0 = _phase_taps(s, low, r)
        for j, t in enumerate(range(t0, k, s)):
            taps[(d0 + j, r)] = t
    offsets = [d for d, _ in taps] or [0]
    first, count = min(offsets), max(offsets) - min(offsets) + 1
    table = np.full((count, s), k, np.int32)
    for (d, r), t in taps.items():
        table[d - first, r] = t
    return first, count, table


def _transpose_out_size(in_size: int, k: int, s: int, pads: tuple[int, int]) -> int:
    return (in_size - 1) * s + 1 + sum(pads) - k + 1


def phase_conv_transpose(x: jax.Array, kernel: jax.Array, strides: Sequence[int], pads: Sequence[tuple[int, int]],
                         precision=None) -> jax.Array:
    """lax.conv_transpose(x, kernel, strides, pads-as-resolved, transpose_kernel=False), NHWC/HWIO,
    as one stride-1 conv per output phase, interleaved by depth-to-space.

    The dilated input holds x[i] at s·i + low, so output o = s·m + r reads tap t from
    x[m + (r + t - low)/s] when that is whole: phase r is a stride-1 conv with every
    s-th tap of the kernel, starting at t0 ≡ low - r (mod s).
    """
    (kh, kw), (sh, sw) = kernel.shape[:2], tuple(strides)
    if sh != sw:
        raise ValueError(f"phase_conv_transpose: strides {tuple(strides)} must be equal")
    s = sh
    if kh < s or kw < s:  # some phases read no tap: the one-conv form gives them zeros
        return one_conv_transpose(x, kernel, strides, pads, precision)
    out_h = _transpose_out_size(x.shape[1], kh, s, pads[0])
    out_w = _transpose_out_size(x.shape[2], kw, s, pads[1])
    m_h, m_w = -(-out_h // s), -(-out_w // s)
    phases = []
    for r_h in range(s):
        t_h, d_h = _phase_taps(s, pads[0][0], r_h)
        n_h = len(range(t_h, kh, s))
        row = []
        for r_w in range(s):
            t_w, d_w = _phase_taps(s, pads[1][0], r_w)
            n_w = len(range(t_w, kw, s))
            # Phase input rows d_h .. m_h - 1 + d_h + n_h - 1 (zeros outside x).
            rows = (-d_h, m_h - 1 + d_h + n_h - 1 - (x.shape[1] - 1))
            cols = (-d_w, m_w - 1 + d_w + n_w - 1 - (x.shape[2] - 1))
            row.append(_conv_valid(_pad_or_crop(x, rows, cols), kernel[t_h::s, t_w::s], precision))
        phases.append(jnp.stack(row, axis=3))
    y = jnp.stack(phases, axis=3)  # (B, m_h, m_w, r_h, r_w, F)
    b, f = y.shape[0], y.shape[-1]
    y = y.transpose(0, 1, 3, 2, 4, 5).reshape(b, m_h * s, m_w * s, f)
    return y[:, :out_h, :out_w]


def one_conv_transpose(x: jax.Array, kernel: jax.Array, strides: Sequence[int], pads: Sequence[tuple[int, int]],
                       precision=None) -> jax.Array:
    """phase_conv_transpose as a single stride-1 conv to s·s·F channels, then depth-to-space.

    All phases share one conv over the union of their input offsets; a phase's kernel
    is zero at offsets it does not read. More FLOPs than one conv per phase, but with
    few output channels one wide conv keeps XLA:CPU busier than s² narrow ones.
    """
    (kh, kw), (sh, sw) = kernel.shape[:2], tuple(strides)
    if sh != sw:
        raise ValueError(f"one_conv_transpose: strides {tuple(strides)} must be equal")
    s = sh
    cin, cout = kernel.shape[2:]
    out_h = _transpose_out_size(x.shape[1], kh, s, pads[0])
    out_w = _transpose_out_size(x.shape[2], kw, s, pads[1])
    m_h, m_w = -(-out_h // s), -(-out_w // s)
    first_h, count_h, table_h = _phase_table(kh, s, pads[0][0])
    first_w, count_w, table_w = _phase_table(kw, s, pads[1][0])
    # Gather the phase kernels: (count_h, s, count_w, s, Cin, F) with zero taps where a phase reads nothing.
    padded = jnp.pad(kernel, ((0, 1), (0, 1), (0, 0), (0, 0)))
    k = jnp.take(padded, table_h.reshape(-1), axis=0).reshape(count_h, s, kw + 1, cin, cout)
    k = jnp.take(k, table_w.reshape(-1), axis=2).reshape(count_h, s, count_w, s, cin, cout)
    k = k.transpose(0, 2, 4, 1, 3, 5).reshape(count_h, count_w, cin, s * s * cout)
    # Input rows first_h .. m_h - 1 + first_h + count_h - 1 (zeros outside x).
    rows = (-first_h, m_h - 1 + first_h + count_h - 1 - (x.shape[1] - 1))
    cols = (-first_w, m_w - 1 + first_w + count_w - 1 - (x.shape[2] - 1))
    y = depth_to_space(_conv_valid(_pad_or_crop(x, rows, cols), k, precision), s)
    return y[:, :out_h, :out_w]


# Measured on XLA:CPU (fwd+grad, batch 32): with 64 -> 3 channels at 64 px one conv to 4·3
# channels took 0.15 s against 0.32 s for four 3-channel convs; from 64 channels up the
# per-phase convs were 1.3-4x faster than the one conv. At 16 output channels (the U-Net's
# last up-sampling at width 16, 64 -> 16 at 64 px, batch 12) the one conv took 86 ms against
# 105 ms (forward + gradient, 2-core AMD EPYC).
ONE_CONV_UP_TO_FEATURES = 16


def from_point_conv_transpose(x: jax.Array, kernel: jax.Array, precision=None) -> jax.Array:
    """A VALID stride-1 transposed conv of a (B, 1, 1, C) input as one matmul -> (B, kh, kw, F).

    lax.conv_transpose does not flip the kernel, so output (i, j) reads tap (kh-1-i, kw-1-j).
    """
    b = x.shape[0]
    kh, kw, cin, cout = kernel.shape
    flipped = kernel[::-1, ::-1].transpose(2, 0, 1, 3).reshape(cin, kh * kw * cout)
    return jnp.matmul(x.reshape(b, cin), flipped, precision=precision).reshape(b, kh, kw, cout)


class ConvTranspose(nn.Module):
    """flax.linen.ConvTranspose (2-D, NHWC, transpose_kernel=False) with the same params and output,
    fast on XLA:CPU (see module doc)."""

    features: int
    kernel_size: Sequence[int]
    strides: Sequence[int] | int = 1
    padding: str | Sequence = "SAME"
    use_bias: bool = True
    kernel_dilation: Sequence[int] | int | None = None
    precision: lax.Precision | None = None
    kernel_init: nn.initializers.Initializer = nn.initializers.lecun_normal()
    bias_init: nn.initializers.Initializer = nn.initializers.zeros_init()

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        _check_supported("ConvTranspose", self.padding, self.kernel_dilation)
        kernel_size = tuple(self.kernel_size)
        strides = (self.strides,) * 2 if isinstance(self.strides, int) else tuple(self.strides)
        kernel = self.param("kernel", self.kernel_init, kernel_size + (x.shape[-1], self.features))
        pads = _transpose_pads(kernel_size, strides, self.padding)
        from_point = x.shape[1:3] == (1, 1) and strides == (1, 1) and all(p == (k - 1, k - 1) for p, k in zip(pads, kernel_size))
        if from_point:
            y = from_point_conv_transpose(x, kernel, self.precision)
        elif self.features <= ONE_CONV_UP_TO_FEATURES:
            y = one_conv_transpose(x, kernel, strides, pads, self.precision)
        else:
            y = phase_conv_transpose(x, kernel, strides, pads, self.precision)
        if self.use_bias:
            y = y + self.param("bias", self.bias_init, (self.features,))
        return y


def leaky_relu(x: jax.Array) -> jax.Array:
    return nn.leaky_relu(x, 0.2)


def downsample(x: jax.Array, widths: list[int], train: bool, prefix: str = "", activation=leaky_relu) -> jax.Array:
    """The DCGAN-style encoder stages shared by the Context Encoder and the discriminator:
    4×4 stride-2 convs, BN after all but the first, LeakyReLU 0.2 (or `activation`). Call it inside
    a compact method: its layers (named `{prefix}conv{i}`, `{prefix}bn{i}`) belong to the caller."""
    for i, features in enumerate(widths):
        x = Conv(features, (4, 4), strides=(2, 2), padding=((1, 1), (1, 1)), use_bias=i == 0,
                 kernel_init=CONV_INIT, name=f"{prefix}conv{i}")(x)
        if i > 0:
            x = batch_norm(train, f"{prefix}bn{i}")(x)
        x = activation(x)
    return x
