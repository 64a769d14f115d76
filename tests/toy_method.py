"""A tiny GAN inpainting method for the engine's tests: a conv autoencoder generator and a conv discriminator.

It is built on the shared GAN engine (jaxpaint/engine/gan.py) and depends on no other
method. Knobs: `model.step_delay_s` (sleep per step, numerics unchanged), `model.nan_at_step` (>= 0: from that step on the generator loss is
NaN, to test the divergence guard); a large `optim.disc_lr` with `optim.gen_lr = 0`
makes the discriminator win outright (a real collapse, for the collapse guard).
`examples(split)` gives small in-memory examples in the dataset layout.
"""

from __future__ import annotations

import time

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxpaint.engine import gan
from jaxpaint.engine.inpaint import chunked_inpainter
from jaxpaint.engine.state import TrainState
from jaxpaint.ops.holes import composite, fill_holes, masked_input
from jaxpaint.ops.pixels import to_model, to_uint8
from tests.toy_config import get_config  # noqa: F401  (the toy's config, kept in a module without Flax classes)

IMAGE_SIZE = 16
NUM_EXAMPLES = {"train": 24, "validation": 8}


def examples(split: str) -> list[dict]:
    """Deterministic colour-gradient images with one square hole each."""
    rng = np.random.default_rng(sum(map(ord, split)))
    out = []
    yy, xx = np.mgrid[:IMAGE_SIZE, :IMAGE_SIZE] / (IMAGE_SIZE - 1)
    for i in range(NUM_EXAMPLES[split]):
        colour = rng.uniform(0, 1, (3, 3))
        image = colour[0] * yy[..., None] + colour[1] * xx[..., None] + colour[2] * 0.3
        image = np.clip(image * 200 + rng.normal(0, 8, image.shape), 0, 255).astype(np.uint8)
        row, col = rng.integers(0, IMAGE_SIZE - 6, 2)
        out.append({
            "image": image,
            "blocks": np.array([[row, col, 6]], np.int32),
            "joints": {
                "xy": np.zeros((19, 2), np.float32),
                "present": np.zeros(19, bool),
                "visible": np.zeros(19, bool),
                "derived": np.zeros(19, bool),
            },
            "image_id": f"{split}-{i}",
        })
    return out


class Generator(nn.Module):
    features: int

    @nn.compact
    def __call__(self, x, train: bool):
        h = nn.relu(nn.Conv(self.features, (3, 3), strides=2)(x))
        h = nn.relu(nn.Conv(self.features, (3, 3))(h))
        return jnp.tanh(nn.ConvTranspose(3, (3, 3), strides=(2, 2))(h))


class Discriminator(nn.Module):
    features: int

    @nn.compact
    def __call__(self, x, train: bool):
        h = nn.leaky_relu(nn.Conv(self.features, (3, 3), strides=2)(x), 0.2)
        return nn.Dense(1)(h.reshape(h.shape[0], -1))[:, 0]


def generator_input(config, batch, key):
    x = masked_input(batch["image"], batch["hole"], config.data.mean_rgb)
    return x + 0.01 * jax.random.normal(key, x.shape)  # per-step noise: resume must replay the same draws


def terms(config, fake, shown, batch, frozen):
    mask = batch["hole"][..., None].astype(jnp.float32)
    return {"rec": jnp.sum(mask * (fake - batch["image"]) ** 2) / jnp.maximum(jnp.sum(mask) * 3, 1.0)}


def weights(config, step):
    rec = 1.0
    if config.model.nan_at_step >= 0:
        # A NaN weight, not a select, so that the NaN reaches the gradients and the parameters.
        rec = jnp.where(step >= config.model.nan_at_step, jnp.nan, 1.0)
    return {"rec": rec, "adv": config.loss.adv_weight}


SPEC = gan.GanSpec(
    generator=lambda config: Generator(config.model.features),
    discriminator=lambda config: Discriminator(config.model.features),
    generator_input=generator_input,
    terms=terms,
    weights=weights,
    optimizers=lambda config: {"generator": optax.adam(config.optim.gen_lr),
                               "discriminator": optax.adam(config.optim.disc_lr)},
)
_METHOD = gan.make_method(SPEC)
init_state, phase = _METHOD.init_state, _METHOD.phase


def train_step(config, state: TrainState, batch, frozen=None, *, phase: str = "gan"):
    if config.model.step_delay_s > 0:  # slows the run down so that a test can kill it mid-way
        jax.debug.callback(lambda step: time.sleep(config.model.step_delay_s), state.step)
    return _METHOD.train_step(config, state, batch, frozen, phase=phase)


def _outputs(config, state, batch):
    fake = gan.generate(SPEC, config, state, batch, jax.random.PRNGKey(0))
    return fake, composite(fake, batch["image"], batch["hole"])


def eval_step(config, state: TrainState, batch):
    fake, _ = _outputs(config, state, batch)
    rec = terms(config, fake, None, batch, None)["rec"]
    return {"loss": rec, "rec_loss": rec}


def preview(config, state: TrainState, batch):
    _, shown = _outputs(config, state, batch)
    masked = fill_holes(batch["image"], batch["hole"], config.data.mean_rgb)
    return {"input": to_uint8(masked), "output": to_uint8(shown), "target": to_uint8(batch["image"])}


def make_inpainter(config, state: TrainState):
    predict = jax.jit(lambda state, images, holes: to_uint8(
        _outputs(config, state, {"image": to_model(images), "hole": holes})[0]))
    return chunked_inpainter(lambda images, holes: predict(state, images, holes), chunk=int(config.batch_size),
                             name="toy")
