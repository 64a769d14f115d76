"""A tiny GAN inpainting method for the engine's tests: a conv autoencoder generator and a conv discriminator.

It follows the method contract of jaxpaint/train/state.py and depends on no other
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

from jaxpaint.train.state import TrainState, create_state
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
    def __call__(self, x):
        h = nn.relu(nn.Conv(self.features, (3, 3), strides=2)(x))
        h = nn.relu(nn.Conv(self.features, (3, 3))(h))
        return jnp.tanh(nn.ConvTranspose(3, (3, 3), strides=(2, 2))(h))


class Discriminator(nn.Module):
    features: int

    @nn.compact
    def __call__(self, x):
        h = nn.leaky_relu(nn.Conv(self.features, (3, 3), strides=2)(x), 0.2)
        return nn.Dense(1)(h.reshape(h.shape[0], -1))[:, 0]


def _generator_input(image, hole, mean_rgb):
    mask = hole[..., None].astype(jnp.float32)
    filled = image * (1 - mask) + jnp.asarray(mean_rgb, jnp.float32) * mask
    return jnp.concatenate([filled, mask], axis=-1)


def _optimizers(config):
    return {"generator": optax.adam(config.optim.gen_lr), "discriminator": optax.adam(config.optim.disc_lr)}


def init_state(config, key, batch) -> TrainState:
    g_key, d_key, state_key = jax.random.split(key, 3)
    x = _generator_input(batch["image"], batch["hole"], config.data.mean_rgb)
    params = {
        "generator": Generator(config.model.features).init(g_key, x)["params"],
        "discriminator": Discriminator(config.model.features).init(d_key, batch["image"])["params"],
    }
    opt_state = {name: opt.init(params[name]) for name, opt in _optimizers(config).items()}
    return create_state(params, opt_state, state_key)


def _composite(config, params, batch, key):
    x = _generator_input(batch["image"], batch["hole"], config.data.mean_rgb)
    x = x + 0.01 * jax.random.normal(key, x.shape)  # per-step noise: resume must replay the same draws
    out = Generator(config.model.features).apply({"params": params}, x)
    mask = batch["hole"][..., None].astype(jnp.float32)
    return out, batch["image"] * (1 - mask) + out * mask, mask


def train_step(config, state: TrainState, batch):
    if config.model.step_delay_s > 0:  # slows the run down so that a test can kill it mid-way
        jax.debug.callback(lambda step: time.sleep(config.model.step_delay_s), state.step)
    key = state.step_key()
    disc = Discriminator(config.model.features)
    opts = _optimizers(config)

    def gen_loss(g_params):
        out, _, mask = _composite(config, g_params, batch, key)
        rec = jnp.sum(mask * (out - batch["image"]) ** 2) / jnp.maximum(jnp.sum(mask) * 3, 1.0)
        # The discriminator judges the whole generated image, so that with a frozen generator it wins quickly.
        adv = jnp.mean(optax.sigmoid_binary_cross_entropy(disc.apply({"params": state.params["discriminator"]}, out), 1.0))
        loss = rec + config.loss.adv_weight * adv
        if config.model.nan_at_step >= 0:
            # A factor, not a select, so that the NaN reaches the gradients and the parameters.
            loss = loss * jnp.where(state.step >= config.model.nan_at_step, jnp.nan, 1.0)
        return loss, (rec, adv, out)

    (loss, (rec, adv, fake)), g_grads = jax.value_and_grad(gen_loss, has_aux=True)(state.params["generator"])

    def disc_loss(d_params):
        real = disc.apply({"params": d_params}, batch["image"])
        fake_logits = disc.apply({"params": d_params}, jax.lax.stop_gradient(fake))
        return jnp.mean(optax.sigmoid_binary_cross_entropy(real, 1.0)) + jnp.mean(
            optax.sigmoid_binary_cross_entropy(fake_logits, 0.0)
        )

    d_loss, d_grads = jax.value_and_grad(disc_loss)(state.params["discriminator"])
    params, opt_state = {}, {}
    for name, grads in (("generator", g_grads), ("discriminator", d_grads)):
        updates, opt_state[name] = opts[name].update(grads, state.opt_state[name], state.params[name])
        params[name] = optax.apply_updates(state.params[name], updates)
    new_state = state.replace(step=state.step + 1, params=params, opt_state=opt_state)
    return new_state, {"loss": loss, "rec_loss": rec, "adv_loss": adv, "disc_loss": d_loss}


def eval_step(config, state: TrainState, batch):
    out, _, mask = _composite(config, state.params["generator"], batch, jax.random.PRNGKey(0))
    rec = jnp.sum(mask * (out - batch["image"]) ** 2) / jnp.maximum(jnp.sum(mask) * 3, 1.0)
    return {"loss": rec, "rec_loss": rec}


def _to_uint8(x):
    return jnp.clip(jnp.round((x + 1) * 127.5), 0, 255).astype(jnp.uint8)


def preview(config, state: TrainState, batch):
    _, composite, mask = _composite(config, state.params["generator"], batch, jax.random.PRNGKey(0))
    masked = batch["image"] * (1 - mask) + jnp.asarray(config.data.mean_rgb) * mask
    return {"input": _to_uint8(masked), "output": _to_uint8(composite), "target": _to_uint8(batch["image"])}


def make_inpainter(config, state: TrainState):
    @jax.jit
    def run(images, holes):
        x = images.astype(jnp.float32) / 127.5 - 1.0
        out, _, _ = _composite(config, state.params["generator"], {"image": x, "hole": holes}, jax.random.PRNGKey(0))
        return jnp.where(holes[..., None], _to_uint8(out), images)

    return lambda images, holes: np.asarray(run(jnp.asarray(images, jnp.uint8), jnp.asarray(holes, bool)))
