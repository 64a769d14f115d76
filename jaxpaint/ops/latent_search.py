"""The latent search of Semantic Image Inpainting (Yeh et al. 2017; thesis §3.4) as one compiled program.

For an image y with hole mask M and a trained DCGAN (G, D) it finds

    ẑ = argmin_{z ∈ [-1, 1]^latent}  L_c(z) + λ·L_p(z)
    L_c = ‖W ⊙ (G(z) − y)‖₁,  W = 0 on hole pixels and, on a known pixel, the share of
          hole pixels among its in-image neighbours in a window×window square (7 in the paper)
    L_p = log(1 − D(G(z))) = −softplus(logit)

by gradient steps on z, clipping z to [−1, 1] after each one. Everything for a batch
(every image, every restart, every iteration, the choice of the best restart and
the fill) is one jitted function: the iterations are a `lax.scan`, the step is
vmapped over the R restarts of an image and again over the images, and each image
keeps the restart with the lowest final loss. The batch is sharded along the mesh's
'data' axis; the networks' variables are arguments of the program (replicated),
never constants folded into it, so one compilation serves any weights.

The hole is then filled from G(ẑ): Poisson-blended into the known pixels with
`jaxpaint.ops.poisson` (so its borders match them), or pasted as is. Known pixels
are returned unchanged.

Presets (`PRESETS`; the public codes disagree):
  yeh      Yeh et al.'s paper: Adam, 1500 iterations, λ 0.003, weighted L1, Poisson
           blending. The paper gives no step size; 0.01 is bamos's, the code whose
           DCGAN the thesis trained. z starts uniform in [−1, 1] like the prior G was
           trained on.
  moodoki  moodoki/semantic_image_inpainting: Nesterov momentum (lr 3e-4, m 0.9), 3000
           iterations, λ 0.2, weighted L1, Poisson blending, z ~ N(0, 1) clipped.
  bamos    bamos/dcgan-completion.tensorflow: Adam (lr 0.01, β1 0.9), 1000 iterations,
           λ 0.1, unweighted L1 on every known pixel, no blending.
The default is `yeh`: it is the method as the paper and the SPEC define it (weighted
context loss, Poisson blending), and Adam's per-coordinate scaling makes it robust to
the size of L_c, which grows with the image and the hole, where a fixed-rate
momentum step (moodoki) has to be retuned. The thesis's tuned λ = 0.2 is applied on
top by the method's config, not by the preset. bamos and moodoki's codes write the
prior as the generator's training loss −log D(G(z)); here every preset uses the
paper's log(1 − D(G(z))).
"""

from __future__ import annotations

import dataclasses
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxpaint.errors import JaxpaintError
from jaxpaint.ops import poisson


@dataclasses.dataclass(frozen=True)
class SearchSettings:
    """How to search z. Hashable: it is a static argument of the compiled search."""

    optimizer: str = "adam"      # "adam" or "nesterov"
    learning_rate: float = 0.01
    momentum: float = 0.9        # Adam's β1, or the Nesterov momentum
    iterations: int = 1500
    prior_weight: float = 0.003  # λ
    weighted: bool = True        # W as in the paper; False: weight 1 on every known pixel
    window: int = 7              # side of W's neighbourhood
    blend: bool = True           # Poisson-blend G(ẑ) into the hole; False: paste it
    z_init: str = "uniform"      # "uniform" in [−1, 1], or "normal" N(0, 1) clipped to [−1, 1]
    restarts: int = 1            # R random starting points per image; the lowest final loss wins


PRESETS: dict[str, SearchSettings] = {
    "yeh": SearchSettings(),
    "moodoki": SearchSettings(optimizer="nesterov", learning_rate=3e-4, momentum=0.9, iterations=3000,
                              prior_weight=0.2, z_init="normal"),
    "bamos": SearchSettings(optimizer="adam", learning_rate=0.01, momentum=0.9, iterations=1000, prior_weight=0.1,
                            weighted=False, blend=False),
}
DEFAULT_PRESET = "yeh"


def make_settings(preset: str = DEFAULT_PRESET, **overrides) -> SearchSettings:
    """A preset with some fields replaced; bad names or values raise JaxpaintError."""
    if preset not in PRESETS:
        raise JaxpaintError(f"latent search preset {preset!r} is unknown; presets: {', '.join(sorted(PRESETS))}")
    fields = {f.name for f in dataclasses.fields(SearchSettings)}
    unknown = sorted(set(overrides) - fields)
    if unknown:
        raise JaxpaintError(f"latent search settings have no field {', '.join(unknown)}; fields: {', '.join(sorted(fields))}")
    settings = dataclasses.replace(PRESETS[preset], **overrides)
    check_settings(settings)
    return settings


def check_settings(s: SearchSettings) -> None:
    problems = []
    if s.optimizer not in ("adam", "nesterov"):
        problems.append(f"optimizer {s.optimizer!r} (expected 'adam' or 'nesterov')")
    if s.z_init not in ("uniform", "normal"):
        problems.append(f"z_init {s.z_init!r} (expected 'uniform' or 'normal')")
    if not s.learning_rate > 0:
        problems.append(f"learning_rate {s.learning_rate} (must be > 0)")
    if not 0 <= s.momentum < 1:
        problems.append(f"momentum {s.momentum} (must be in [0, 1))")
    if s.iterations < 0 or s.restarts < 1 or s.window < 1 or s.window % 2 == 0:
        problems.append(f"iterations {s.iterations}, restarts {s.restarts}, window {s.window} "
                        "(need iterations >= 0, restarts >= 1, an odd window)")
    if s.prior_weight < 0:
        problems.append(f"prior_weight {s.prior_weight} (must be >= 0)")
    if problems:
        raise JaxpaintError("latent search settings: bad " + "; ".join(problems))


# --- the loss -----------------------------------------------------------------------------------


def context_weights(holes: jax.Array, settings: SearchSettings) -> jax.Array:
    """W, float32 (B, H, W) from bool holes (B, H, W): 0 on holes; on known pixels the hole share
    of the in-image window×window neighbourhood (or 1 everywhere known when not weighted)."""
    known = (~holes).astype(jnp.float32)
    if not settings.weighted:
        return known
    window = (1, settings.window, settings.window)
    hole_count = jax.lax.reduce_window(holes.astype(jnp.float32), 0.0, jax.lax.add, window, (1, 1, 1), "SAME")
    return known * hole_count / _neighbourhood_sizes(holes.shape[1:], settings.window // 2)


def _neighbourhood_sizes(shape: tuple[int, int], radius: int) -> jax.Array:
    """|N(i)|, float32 (H, W): in-image pixels of each pixel's (2r+1)² window (a product of per-axis counts)."""
    def per_axis(n):
        i = jnp.arange(n)
        return (jnp.minimum(i + radius, n - 1) - jnp.maximum(i - radius, 0) + 1).astype(jnp.float32)

    return per_axis(shape[0])[:, None] * per_axis(shape[1])[None, :]


def search_loss(generate, discriminate, z: jax.Array, image: jax.Array, weights: jax.Array, prior_weight: float):
    """L_c + λ·L_p for one z (latent,), image (S, S, 3) and W (S, S)."""
    generated = generate(z[None])[0]
    context = jnp.sum(weights[..., None] * jnp.abs(generated - image))
    prior = -jax.nn.softplus(discriminate(generated[None])[0])  # log(1 − sigmoid(logit)), stable
    return context + prior_weight * prior


def optimizer(settings: SearchSettings) -> optax.GradientTransformation:
    if settings.optimizer == "adam":
        return optax.adam(settings.learning_rate, b1=settings.momentum)
    return optax.sgd(settings.learning_rate, momentum=settings.momentum, nesterov=True)


def initial_z(keys: jax.Array, restarts: int, latent_dim: int, settings: SearchSettings) -> jax.Array:
    """(B, R, latent) starting points, one draw per image key (so an image's z does not depend on its batch)."""
    def draw(key):
        if settings.z_init == "uniform":
            return jax.random.uniform(key, (restarts, latent_dim), jnp.float32, -1.0, 1.0)
        return jnp.clip(jax.random.normal(key, (restarts, latent_dim), jnp.float32), -1.0, 1.0)

    return jax.vmap(draw)(keys)


def image_keys(key: jax.Array, start: int, count: int) -> jax.Array:
    """Per-image keys for images start … start+count−1 of a run: the same image index, the same z."""
    return jax.vmap(lambda i: jax.random.fold_in(key, i))(jnp.arange(start, start + count, dtype=jnp.uint32))


# --- one step and the whole search --------------------------------------------------------------


def module_functions(generator, discriminator, g_vars, d_vars):
    """generate(z) and discriminate(images) in inference mode (BN running averages: images never interact)."""
    generate = lambda z: generator.apply(g_vars, z, train=False)
    discriminate = lambda x: discriminator.apply(d_vars, x, train=False)
    return generate, discriminate


def make_step(generator, discriminator, settings: SearchSettings) -> Callable:
    """step(g_vars, d_vars, z, opt_state, image, weights) -> (z, opt_state) for ONE image's R restarts
    (z (R, latent)): a gradient step on each restart, then z clipped to [−1, 1]."""
    tx = optimizer(settings)

    def step(g_vars, d_vars, z, opt_state, image, weights):
        generate, discriminate = module_functions(generator, discriminator, g_vars, d_vars)
        loss = lambda zr: search_loss(generate, discriminate, zr, image, weights, settings.prior_weight)
        grads = jax.vmap(jax.grad(loss))(z)
        updates, opt_state = jax.vmap(tx.update)(grads, opt_state, z)
        return jnp.clip(optax.apply_updates(z, updates), -1.0, 1.0), opt_state

    return step


def init_optimizer(settings: SearchSettings, z: jax.Array):
    """Optimiser state for z (..., R, latent): one independent state per image and restart."""
    tx = optimizer(settings)
    init = tx.init
    for _ in range(z.ndim - 1):
        init = jax.vmap(init)
    return init(z)


def search_from(generator, discriminator, settings: SearchSettings, g_vars, d_vars, images, holes, z0) -> dict:
    """The search from given starting points z0 (B, R, latent); traceable (the kernel's body).

    Returns {"z": (B, latent) the best restart's ẑ, "loss": (B,) its final loss,
    "restart_losses": (B, R), "generated": G(ẑ) (B, S, S, 3)}.
    """
    weights = context_weights(holes, settings)
    step = make_step(generator, discriminator, settings)
    batch_step = jax.vmap(step, in_axes=(None, None, 0, 0, 0, 0))  # over images

    def body(carry, _):
        z, opt_state = carry
        return batch_step(g_vars, d_vars, z, opt_state, images, weights), None

    (z, _), _ = jax.lax.scan(body, (z0, init_optimizer(settings, z0)), None, length=settings.iterations)

    generate, discriminate = module_functions(generator, discriminator, g_vars, d_vars)
    final_loss = lambda zr, image, w: search_loss(generate, discriminate, zr, image, w, settings.prior_weight)
    restart_losses = jax.vmap(jax.vmap(final_loss, in_axes=(0, None, None)))(z, images, weights)
    best = jnp.argmin(restart_losses, axis=1)
    z_best = jnp.take_along_axis(z, best[:, None, None], axis=1)[:, 0]
    return {
        "z": z_best,
        "loss": jnp.min(restart_losses, axis=1),
        "restart_losses": restart_losses,
        "generated": generate(z_best),
    }


def fill(images, holes, generated, settings: SearchSettings):
    """The hole from G(ẑ), Poisson-blended when the settings say so; known pixels are `images` exactly."""
    if settings.blend:
        filled = poisson.poisson_blend(images, generated, holes)
    else:
        filled = generated
    return jnp.where(holes[..., None], jnp.clip(filled, -1.0, 1.0), images)


def search(generator, discriminator, settings: SearchSettings, latent_dim: int, g_vars, d_vars, images, holes, keys):
    """The whole search and fill for a batch (traceable). images float32 (B, S, S, 3) in [-1, 1], holes
    bool (B, S, S), keys (B,) per-image PRNG keys. Returns search_from's dict plus "filled"."""
    z0 = initial_z(keys, settings.restarts, latent_dim, settings)
    found = search_from(generator, discriminator, settings, g_vars, d_vars, images, holes, z0)
    return {**found, "filled": fill(images, holes, found["generated"], settings)}


def make_search(generator, discriminator, settings: SearchSettings, latent_dim: int, data_sharding=None,
                replicated_sharding=None):
    """The compiled kernel: fn(g_vars, d_vars, images, holes, keys) -> dict (see `search`).

    With shardings (jaxpaint.engine.mesh's batch_sharding and replicated_sharding of
    the mesh), the batch arguments and every output are split along 'data' and the
    variables replicated; the batch must then split evenly over the devices.
    """
    kernel = lambda g_vars, d_vars, images, holes, keys: search(
        generator, discriminator, settings, latent_dim, g_vars, d_vars, images, holes, keys)
    if data_sharding is None:
        return jax.jit(kernel)
    data, replicated = data_sharding, replicated_sharding
    return jax.jit(kernel, in_shardings=(replicated, replicated, data, data, data), out_shardings=data)


def search_in_chunks(kernel, g_vars, d_vars, images: np.ndarray, holes: np.ndarray, key: jax.Array, chunk: int,
                     data_sharding=None, on_chunk: Callable[[int], None] | None = None) -> dict[str, np.ndarray]:
    """Runs `kernel` (from make_search) over any number of images, `chunk` at a time.

    The last chunk is padded (zero images, no hole), so the kernel compiles once and
    memory stays that of one chunk. Image i always gets key fold_in(key, i), so the
    result for an image does not depend on the chunk size or the device count.
    With `data_sharding` each chunk is sent to the devices split along its first axis.
    `on_chunk(n)` is called with the number of real images after each chunk.
    Returns numpy "z", "loss", "filled" for the B images.
    """
    if data_sharding is not None and chunk % len(data_sharding.device_set):
        raise JaxpaintError(f"latent search: chunk of {chunk} images does not split evenly over "
                            f"{len(data_sharding.device_set)} devices; choose a multiple of the device count")
    results: dict[str, list] = {"z": [], "loss": [], "filled": []}
    for start in range(0, len(images), chunk):
        part, part_holes = images[start:start + chunk], holes[start:start + chunk]
        count = len(part)
        if count < chunk:
            part = np.concatenate([part, np.zeros((chunk - count,) + part.shape[1:], part.dtype)])
            part_holes = np.concatenate([part_holes, np.zeros((chunk - count,) + part_holes.shape[1:], bool)])
        batch = (part, part_holes, image_keys(key, start, chunk))
        if data_sharding is not None:
            batch = jax.device_put(batch, data_sharding)
        out = kernel(g_vars, d_vars, *batch)
        for name in results:
            results[name].append(np.asarray(out[name])[:count])
        if on_chunk is not None:
            on_chunk(count)
    return {name: np.concatenate(parts) for name, parts in results.items()}
