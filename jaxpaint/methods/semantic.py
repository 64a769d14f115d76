"""Semantic Image Inpainting (Yeh et al. 2017; thesis §3.4, §5.2): inpainting with a trained DCGAN.

Training: a DCGAN on unmasked images, on the shared GAN engine. The generator maps
z ~ U[−1, 1]^latent_dim to an image; the discriminator judges whole images (the
fake is G(z) itself, not a composite: there is no hole when training). Adam 2e-4,
β1 0.5 for both nets, as in the DCGAN paper. The preview grid draws G from a fixed
set of z (the thesis's Fig. 17), once an epoch in the configs.

For each image the latent search (`jaxpaint.ops.latent_search`) finds the z whose
G(z) best matches the known pixels near the holes while D finds it realistic, then
fills the holes from G(ẑ), Poisson-blended. Whole chunks of images are searched by
one compiled program, split over the process's devices along the mesh's 'data' axis.

Config fields read here:
  seed                   the search's PRNG seed (image i of a call starts from fold_in(key, i))
  batch_size             images per compiled chunk (a multiple of the device count)
  data.image_size        64 or 128 (any 4·2^k)
  model.latent_dim, model.width, model.disc_width
                         the DCGAN (widths as in jaxpaint.models.dcgan)
  search.preset          a latent_search preset ("yeh", "moodoki", "bamos"; default "yeh")
  search.<field>         optional overrides of SearchSettings fields (iterations,
                         prior_weight, restarts, learning_rate, …)
  val_search_iterations  iterations of the search in `eval_step` (validation), which
                         inpaints `eval_batches` validation batches with the search
                         (otherwise as configured) and scores them per block: the
                         validation DSSIM that Algorithm 1 (`jaxpaint tune`) compares

The state is a trained DCGAN's: params["generator"], params["discriminator"] and
model_state["generator"], model_state["discriminator"] (their batch_stats).
"""

from __future__ import annotations

import dataclasses
from typing import Callable

import jax
import numpy as np
import optax

from jaxpaint.engine import gan
from jaxpaint.engine.inpaint import check_batch
from jaxpaint.errors import JaxpaintError
from jaxpaint.methods.context_encoder import block_metrics
from jaxpaint.models.dcgan import DCGANGenerator
from jaxpaint.models.discriminators import DCGANDiscriminator
from jaxpaint.ops import latent_search
from jaxpaint.ops.pixels import to_model, to_uint8
from jaxpaint.engine.mesh import batch_sharding, make_mesh, replicated_sharding


def generator(config) -> DCGANGenerator:
    m = config.model
    return DCGANGenerator(latent_dim=int(m.latent_dim), image_size=int(config.data.image_size), width=int(m.width))


def discriminator(config) -> DCGANDiscriminator:
    return DCGANDiscriminator(width=int(config.model.disc_width))


def optimizers(config) -> dict[str, optax.GradientTransformation]:
    o = config.optim
    return {part: optax.adam(o.learning_rate, b1=o.b1, b2=o.b2) for part in ("generator", "discriminator")}


def draw_z(config, batch_size: int, key: jax.Array) -> jax.Array:
    """Latent vectors uniform in [−1, 1], the range the latent search keeps z in."""
    return jax.random.uniform(key, (batch_size, int(config.model.latent_dim)), minval=-1.0, maxval=1.0)


def generator_input(config, batch: dict, key: jax.Array) -> jax.Array:
    return draw_z(config, batch["image"].shape[0], key)


def show_fake(config, fake, batch):
    """The discriminator judges G(z) whole: a DCGAN has no known pixels to composite with."""
    del config, batch
    return fake


SPEC = gan.GanSpec(generator=generator, discriminator=discriminator, generator_input=generator_input,
                   terms=lambda config, fake, shown, batch, frozen: {},
                   weights=lambda config, step: {"adv": 1.0}, optimizers=optimizers, show=show_fake)
_METHOD = gan.make_method(SPEC)
init_state, train_step, phase = _METHOD.init_state, _METHOD.train_step, _METHOD.phase

PREVIEW_SAMPLES = 16
PREVIEW_COLUMNS = 4  # a square grid of the samples, as in the thesis's Fig. 17


def preview(config, state, batch: dict) -> dict[str, jax.Array]:
    """G on the same PREVIEW_SAMPLES latent vectors at every preview, so the grids show training progress."""
    del batch
    z = draw_z(config, PREVIEW_SAMPLES, jax.random.PRNGKey(int(config.seed) + 1))
    samples, _ = gan.apply_net(generator(config), state.params["generator"], state.model_state["generator"], z,
                               train=False)
    samples = to_uint8(samples)
    rows = PREVIEW_SAMPLES // PREVIEW_COLUMNS
    return {f"z {c * rows + 1}-{(c + 1) * rows}": samples[c * rows:(c + 1) * rows] for c in range(PREVIEW_COLUMNS)}


def search_settings(config) -> latent_search.SearchSettings:
    """The config's `search` section as SearchSettings: a preset plus the fields it sets (None = the preset's)."""
    section = dict(config.get("search", {}) or {})
    preset = section.pop("preset", latent_search.DEFAULT_PRESET)
    return latent_search.make_settings(preset, **{k: v for k, v in section.items() if v is not None})


def network_variables(state) -> tuple[dict, dict]:
    """(generator, discriminator) variables of a trained DCGAN state, for inference."""
    try:
        return tuple(
            {"params": state.params[part], "batch_stats": state.model_state[part]}
            for part in ("generator", "discriminator")
        )
    except (KeyError, TypeError, AttributeError):
        raise JaxpaintError("semantic: the state is not a trained DCGAN's (need params and model_state "
                            "for 'generator' and 'discriminator')") from None


def eval_step(config, state, batch: dict) -> dict[str, jax.Array]:
    """Validation by inpainting: the latent search (`val_search_iterations` steps) fills the batch's holes
    and the composite is scored per block, as `jaxpaint evaluate` scores it. Image i of the batch starts
    from the inpainter's key for position i, so a run's first validation batch scores the same as
    inpainting it with batch_size images a call and search.iterations = val_search_iterations."""
    settings = dataclasses.replace(search_settings(config), iterations=int(config.val_search_iterations))
    g_vars, d_vars = network_variables(state)
    model = generator(config)
    images, holes = batch["image"], batch["hole"]
    keys = latent_search.image_keys(jax.random.key(int(config.seed)), 0, images.shape[0])
    found = latent_search.search(model, discriminator(config), settings, model.latent_dim, g_vars, d_vars,
                                 images, holes, keys)
    metrics = {"search_loss": found["loss"].mean()}
    if "blocks" in batch and "num_blocks" in batch:
        metrics.update(block_metrics(to_uint8(found["filled"]), to_uint8(images), batch["blocks"], batch["num_blocks"]))
    return metrics


def make_inpainter(config, state) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    """A batched inpainter: uint8 (B, S, S, 3) and bool (B, S, S) holes -> uint8 (B, S, S, 3).

    Images go through the compiled latent search `config.batch_size` at a time (the
    last chunk padded, so any B compiles once), sharded over all devices; a progress
    bar counts the images. Known pixels are copied back from the input bytes.
    """
    from tqdm import tqdm

    size = int(config.data.image_size)
    chunk = int(config.batch_size)
    settings = search_settings(config)
    # This process's devices only: under jax.distributed each process inpaints its own images.
    mesh = make_mesh(jax.local_devices())
    if chunk % mesh.devices.size:
        raise JaxpaintError(f"semantic inpainter: batch_size {chunk} does not divide evenly over "
                            f"{mesh.devices.size} devices; choose a multiple of {mesh.devices.size}")
    data, replicated = batch_sharding(mesh), replicated_sharding(mesh)
    g_vars, d_vars = jax.device_put(network_variables(state), replicated)
    model = generator(config)
    kernel = latent_search.make_search(model, discriminator(config), settings, model.latent_dim, data, replicated)
    key = jax.random.key(int(config.seed))

    def inpaint(images: np.ndarray, holes: np.ndarray) -> np.ndarray:
        images, holes = check_batch("semantic", images, holes, size)
        scaled = np.asarray(to_model(images))
        with tqdm(total=len(images), desc="latent search", unit="img", leave=False) as bar:
            found = latent_search.search_in_chunks(kernel, g_vars, d_vars, scaled, holes, key, chunk,
                                                   data_sharding=data, on_chunk=bar.update)
        filled = np.asarray(to_uint8(found["filled"]))
        return np.where(holes[..., None], filled, images)

    return inpaint
