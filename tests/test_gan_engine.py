"""The shared GAN step: composite to D, phases, frozen networks as data, exact resume across a phase change."""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
import pytest

from jaxpaint.engine import gan
from jaxpaint.train import loop
from jaxpaint.inference import restore_run
from tests import toy_method
from tests.toy_config import get_config as toy_config_base

SIZE = 8


class FreeImage(nn.Module):
    """A "generator" whose output is one learned image: its gradient shows where a loss pulls each pixel."""

    @nn.compact
    def __call__(self, x, train: bool):
        pixels = self.param("pixels", nn.initializers.zeros, (1,) + x.shape[1:3] + (3,))
        return jnp.broadcast_to(jnp.tanh(pixels), x.shape[:3] + (3,))


class MeanDiscriminator(nn.Module):
    @nn.compact
    def __call__(self, x, train: bool):
        return nn.Dense(1)(x.reshape(x.shape[0], -1))[:, 0]


def free_spec(adv_weight=1.0, frozen_scale=False):
    def terms(config, fake, shown, batch, frozen):
        out = {"rec": jnp.mean(jnp.square(fake - batch["image"]))}
        if frozen_scale:
            out["rec"] = out["rec"] * jnp.sum(frozen["scale"])
        return out

    return gan.GanSpec(
        generator=lambda config: FreeImage(),
        discriminator=lambda config: MeanDiscriminator(),
        generator_input=lambda config, batch, key: batch["image"],
        terms=terms,
        weights=lambda config, step: {"rec": 0.0, "adv": adv_weight} if not frozen_scale else {"rec": 1.0, "adv": 0.0},
        optimizers=lambda config: {"generator": optax.sgd(1.0), "discriminator": optax.sgd(1.0)},
        load_frozen=lambda config: {"scale": jnp.ones((7, 5))},
    )


def batch(seed=0):
    rng = np.random.default_rng(seed)
    hole = np.zeros((2, SIZE, SIZE), bool)
    hole[:, 2:5, 3:6] = True
    return {"image": jnp.asarray(rng.uniform(-1, 1, (2, SIZE, SIZE, 3)), jnp.float32), "hole": jnp.asarray(hole)}


def test_the_discriminator_judges_the_composite_so_gradients_stay_in_the_holes():
    spec, config, b = free_spec(), ml_collections.ConfigDict({}), batch()
    state = gan.init_state(spec, config, jax.random.PRNGKey(0), b)
    new_state, metrics = gan.train_step(spec, config, state, b, phase="gan")
    moved = np.any(np.asarray(new_state.params["generator"]["pixels"][0] != 0.0), axis=-1)
    assert moved.any(), "the adversarial term must move the hole pixels"
    np.testing.assert_array_equal(moved, np.asarray(b["hole"][0]))  # and only them
    assert {"loss", "rec_loss", "adv_loss", "disc_loss", "d_real", "d_fake"} <= set(metrics)


def test_g_only_leaves_the_discriminator_untouched_and_reports_no_d_metrics():
    spec, config, b = free_spec(), ml_collections.ConfigDict({}), batch()
    state = gan.init_state(spec, config, jax.random.PRNGKey(0), b)
    new_state, metrics = gan.train_step(spec, config, state, b, phase="g_only")
    jax.tree.map(np.testing.assert_array_equal, new_state.params["discriminator"], state.params["discriminator"])
    jax.tree.map(np.testing.assert_array_equal, new_state.opt_state["discriminator"], state.opt_state["discriminator"])
    assert set(metrics) == {"loss", "rec_loss"}
    assert int(new_state.step) == 1


def test_phase_is_a_pure_function_of_the_step_and_off_without_adversarial_weight():
    config = ml_collections.ConfigDict({"schedule": {"g_only_steps": 5}})
    assert [gan.phase_at(free_spec(), config, s) for s in (0, 4, 5, 9)] == ["g_only", "g_only", "gan", "gan"]
    assert {gan.phase_at(free_spec(adv_weight=0.0), config, s) for s in range(10)} == {"g_only"}
    from jaxpaint.config import load_config
    from jaxpaint.methods import context_encoder

    ce = load_config("context_encoder:tiny")
    ce.loss.lambda_rec = 1.0
    assert context_encoder.phase(ce, 1000) == "g_only"  # λ_rec = 1: the discriminator is never run
    ce.loss.lambda_rec = 0.999
    assert context_encoder.phase(ce, 0) == "gan"


def test_g_only_epochs_become_steps_from_the_train_split_size():
    config = ml_collections.ConfigDict({"batch_size": 4, "schedule": {"g_only_epochs": 2.5}})
    loop.fill_schedule_steps(config, num_train_examples=24)  # 6 steps an epoch
    assert config.schedule.g_only_steps == 15
    explicit = ml_collections.ConfigDict({"batch_size": 4, "schedule": {"g_only_epochs": 2.5, "g_only_steps": 3}})
    loop.fill_schedule_steps(explicit, 24)
    assert explicit.schedule.g_only_steps == 3


def test_frozen_networks_are_arguments_not_constants():
    spec, config, b = free_spec(frozen_scale=True), ml_collections.ConfigDict({}), batch()
    state = gan.init_state(spec, config, jax.random.PRNGKey(0), b)
    step = jax.jit(lambda s, bt, fr: gan.train_step(spec, config, s, bt, fr, phase="g_only"))
    frozen = spec.load_frozen(config)
    _, m1 = step(state, b, frozen)
    _, m2 = step(state, b, {"scale": 2.0 * frozen["scale"]})
    assert float(m2["loss"]) == pytest.approx(2.0 * float(m1["loss"]), rel=1e-6)
    assert step._cache_size() == 1  # new frozen values reuse the compiled program
    assert "scale" not in str(jax.tree.structure(state))  # never part of the state, so never checkpointed


def toy_config(*overrides):
    from jaxpaint.config import apply_overrides

    return apply_overrides(toy_config_base(), list(overrides))


def test_a_run_resumed_mid_phase_ends_where_an_uninterrupted_one_does(tmp_path):
    common = ["--config.eval_every=0", "--config.preview_every=0",
              "--config.checkpoint_every=2", "--config.log_every=2"]

    def cfg(steps):
        c = toy_config(*common, f"--config.num_steps={steps}")
        with c.unlocked():
            c.schedule = ml_collections.ConfigDict({"g_only_steps": 7})
        return c

    loop.train_and_evaluate(cfg(12), tmp_path / "whole")
    loop.train_and_evaluate(cfg(4), tmp_path / "parts")  # stops inside the generator-only phase
    loop.train_and_evaluate(cfg(12), tmp_path / "parts")  # resumes, crosses into the GAN phase at step 7
    _, whole = restore_run(tmp_path / "whole")
    _, parts = restore_run(tmp_path / "parts")
    jax.tree.map(np.testing.assert_array_equal, jax.device_get(whole), jax.device_get(parts))
    records = _records(tmp_path / "parts")
    assert [r["step"] for r in records] == [2, 4, 6, 7, 8, 10, 12]  # the phase change flushes at step 7
    assert "disc_loss" not in records[2]["metrics"] and "disc_loss" in records[4]["metrics"]
    assert records == _records(tmp_path / "whole")


def _records(workdir):
    from jaxpaint.train.metrics_log import read_metrics

    return [{"step": r["step"], "metrics": r["metrics"]} for r in read_metrics(workdir / "metrics.jsonl")
            if r["split"] == "train"]


def test_chunked_inpainter_compiles_once_and_keeps_known_pixels():
    from jaxpaint.engine.inpaint import chunked_inpainter

    shapes = []

    def predict(images, holes):
        shapes.append(images.shape)
        return np.full_like(images, 7)

    inpaint = chunked_inpainter(predict, chunk=4, name="test", size=SIZE)
    rng = np.random.default_rng(0)
    for count in (1, 4, 6, 9):
        images = rng.integers(0, 256, (count, SIZE, SIZE, 3), dtype=np.uint8)
        holes = rng.random((count, SIZE, SIZE)) < 0.3
        out = inpaint(images, holes)
        np.testing.assert_array_equal(out, np.where(holes[..., None], 7, images))
    assert set(shapes) == {(4, SIZE, SIZE, 3)}  # one shape, so one compiled program
    from jaxpaint.errors import JaxpaintError

    with pytest.raises(JaxpaintError, match=r"test inpainter: images must be uint8 \(B, 8, 8, 3\)"):
        inpaint(np.zeros((1, 9, 9, 3), np.uint8), np.zeros((1, 9, 9), bool))
