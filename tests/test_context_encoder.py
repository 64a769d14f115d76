"""Context Encoder: the channel-wise layer, the networks' shapes, training steps and the inpainter."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxpaint.config import load_config
from jaxpaint.methods import context_encoder as ce
from jaxpaint.models.context_encoder import ChannelwiseDense, ContextEncoder, stage_widths
from jaxpaint.models.discriminators import DCGANDiscriminator
from jaxpaint.ops.holes import fill_holes
from tests.states import initial_state


def test_channelwise_dense_has_m_n4_weights_and_matches_per_channel_matmuls():
    x = jax.random.normal(jax.random.key(0), (2, 3, 3, 5))  # n = 3, m = 5
    variables = ChannelwiseDense().init(jax.random.key(1), x)
    kernel = np.asarray(variables["params"]["kernel"])
    assert kernel.size == 5 * 3**4  # m·n⁴, not m²·n⁴
    bias = np.asarray(variables["params"]["bias"]) + 0.5
    variables = {"params": {"kernel": kernel, "bias": bias}}
    out = np.asarray(ChannelwiseDense().apply(variables, x))
    xn = np.asarray(x)
    for c in range(5):
        expected = xn[:, :, :, c].reshape(2, 9) @ kernel[c] + bias[:, c]
        np.testing.assert_allclose(out[:, :, :, c].reshape(2, 9), expected, rtol=1e-5, atol=1e-5)


def test_channelwise_dense_keeps_channels_apart_but_mixes_positions():
    x = jnp.zeros((1, 4, 4, 3))
    layer = ChannelwiseDense()
    variables = layer.init(jax.random.key(0), x)
    bumped = x.at[0, 0, 0, 1].set(1.0)  # one corner of channel 1
    delta = np.asarray(layer.apply(variables, bumped) - layer.apply(variables, x))
    assert np.abs(delta[..., 0]).max() == 0 and np.abs(delta[..., 2]).max() == 0
    assert np.abs(delta[0, 3, 3, 1]) > 0  # the far corner hears about it


def test_stage_widths_follow_the_reference_layout():
    assert stage_widths(5, 64) == [64, 64, 128, 256, 512]
    assert stage_widths(4, 64) == [64, 128, 256, 512]


def test_paper_model_shapes_and_bottleneck():
    config = load_config("context_encoder:paper")
    image = jax.ShapeDtypeStruct((2, 128, 128, 3), jnp.float32)
    shapes = jax.eval_shape(lambda x: ce.generator(config).init(jax.random.key(0), x, train=False), image)
    params = shapes["params"]
    assert params["channelwise_fc"]["kernel"].shape == (512, 16, 16)  # m = 512 maps of 4×4: 512·4⁴ weights
    assert params["bottleneck_conv"]["kernel"].shape == (4, 4, 512, 4000)  # the 4000-long context vector
    out = jax.eval_shape(lambda v, x: ce.generator(config).apply(v, x, train=False), shapes, image)
    assert out.shape == (2, 128, 128, 3)
    d_shapes = jax.eval_shape(lambda x: ce.discriminator(config).init(jax.random.key(0), x, train=False), image)
    logits = jax.eval_shape(lambda v, x: ce.discriminator(config).apply(v, x, train=False), d_shapes, image)
    assert logits.shape == (2,)


@pytest.fixture(scope="module")
def tiny():
    """The tiny config, a fixed batch with holes and its initial state."""
    config = load_config("context_encoder:tiny")
    config.data.mean_rgb = (0.1, -0.2, 0.3)
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:64, 0:64] / 63.0
    base = np.stack([yy, xx, 0.5 * (yy + xx)], -1) * 2 - 1  # smooth gradients: learnable from context
    images = np.stack([base * s for s in (1.0, -1.0, 0.5, -0.5)]).astype(np.float32)
    blocks = np.zeros((4, 10, 3), np.int32)
    blocks[:, 0] = (20, 24, 12)
    blocks[1, 1] = (40, 8, 10)
    num_blocks = np.array([1, 2, 1, 1], np.int32)
    hole = np.zeros((4, 64, 64), bool)
    hole[:, 20:32, 24:36] = True
    hole[1, 40:50, 8:18] = True
    batch = {"image": jnp.asarray(images), "hole": jnp.asarray(hole), "blocks": jnp.asarray(blocks),
             "num_blocks": jnp.asarray(num_blocks)}
    state = initial_state(ce.init_state, config, jax.random.key(0), batch)
    return config, batch, state, rng


def test_generator_input_has_the_mean_colour_in_the_holes(tiny):
    config, batch, _, _ = tiny
    filled = np.asarray(fill_holes(batch["image"], batch["hole"], config.data.mean_rgb))
    hole = np.asarray(batch["hole"])
    np.testing.assert_allclose(filled[hole], np.broadcast_to([0.1, -0.2, 0.3], filled[hole].shape))
    np.testing.assert_array_equal(filled[~hole], np.asarray(batch["image"])[~hole])


def test_train_steps_update_both_nets_and_lower_the_reconstruction_loss(tiny):
    config, batch, state, _ = tiny
    step = jax.jit(lambda s, b: ce.train_step(config, s, b))
    first_state, first = step(state, batch)
    assert set(first) == {"loss", "rec_loss", "adv_loss", "disc_loss", "d_real", "d_fake"}
    assert all(np.isfinite(float(v)) for v in first.values())
    assert int(first_state.step) == 1
    for part in ("generator", "discriminator"):
        moved = jax.tree.map(lambda a, b: bool(jnp.any(a != b)), state.params[part], first_state.params[part])
        assert any(jax.tree.leaves(moved)), part
    current = first_state
    for _ in range(11):
        current, metrics = step(current, batch)
    assert float(metrics["rec_loss"]) < 0.5 * float(first["rec_loss"])
    assert float(metrics["loss"]) == pytest.approx(
        0.999 * float(metrics["rec_loss"]) + 0.001 * float(metrics["adv_loss"]), rel=1e-5
    )


def test_eval_step_and_preview(tiny):
    config, batch, state, _ = tiny
    metrics = jax.jit(lambda s, b: ce.eval_step(config, s, b))(state, batch)
    assert float(metrics["rec_loss"]) > 0 and 0 < float(metrics["hole_mse"]) <= 1
    images = jax.jit(lambda s, b: ce.preview(config, s, b))(state, batch)
    assert set(images) == {"input", "output", "target"}
    for image in images.values():
        assert image.shape == (4, 64, 64, 3) and image.dtype == jnp.uint8
    hole = np.asarray(batch["hole"])
    np.testing.assert_array_equal(np.asarray(images["output"])[~hole], np.asarray(images["target"])[~hole])
    # The in-jit block metrics agree with the evaluation's own scoring of the same completions.
    from jaxpaint.metrics.image import block_scores

    scores = block_scores(np.asarray(images["output"]), np.asarray(images["target"]), batch["blocks"], batch["num_blocks"])
    assert float(metrics["block_mse"]) == pytest.approx(scores["mse"].mean(), rel=1e-4)
    assert float(metrics["block_dssim"]) == pytest.approx(scores["dssim"].mean(), rel=1e-4)


def test_inpainter_keeps_known_pixels_exactly_and_pads_the_last_chunk(tiny):
    config, _, state, rng = tiny
    inpaint = ce.make_inpainter(config, state)  # chunks of config.batch_size = 4
    images = rng.integers(0, 256, (6, 64, 64, 3), dtype=np.uint8)
    holes = np.zeros((6, 64, 64), bool)
    holes[:, 10:30, 10:30] = True
    holes[5, 40:60, 40:60] = True
    out = inpaint(images, holes)
    assert out.dtype == np.uint8 and out.shape == images.shape
    np.testing.assert_array_equal(out[~holes], images[~holes])
    assert np.any(out[holes] != images[holes])
    # Inference-mode BN: an image's completion does not depend on its batch-mates or the padding.
    np.testing.assert_array_equal(inpaint(images[5:6], holes[5:6])[0], out[5])


def test_inpainter_rejects_the_wrong_image_size(tiny):
    config, _, state, _ = tiny
    from jaxpaint.errors import JaxpaintError

    with pytest.raises(JaxpaintError, match="64, 64, 3"):
        ce.make_inpainter(config, state)(np.zeros((1, 32, 32, 3), np.uint8), np.zeros((1, 32, 32), bool))


def test_tiny_networks_output_shapes():
    x = jax.ShapeDtypeStruct((3, 64, 64, 3), jnp.float32)
    model = DCGANDiscriminator(width=4)
    variables = jax.eval_shape(lambda x: model.init(jax.random.key(0), x, train=False), x)
    assert jax.eval_shape(lambda v, x: model.apply(v, x, train=False), variables, x).shape == (3,)
    generator = ContextEncoder(width=4, bottleneck=8)
    variables = jax.eval_shape(lambda x: generator.init(jax.random.key(0), x, train=False), x)
    assert variables["params"]["bottleneck_conv"]["kernel"].shape == (4, 4, 32, 8)
    assert jax.eval_shape(lambda v, x: generator.apply(v, x, train=False), variables, x).shape == (3, 64, 64, 3)


def test_residual_generator_starts_at_its_harmonic_input_fill(tiny):
    """model.input_fill = "harmonic" with model.residual: the untrained network returns its input fill,
    and the generator reads a batch's precomputed fill when it has one."""
    from jaxpaint.methods import input_fill
    from jaxpaint.ops import poisson

    config, batch, _, _ = tiny
    config = load_config("context_encoder:tiny", ["--config.model.input_fill=harmonic", "--config.model.residual=True"])
    config.data.mean_rgb = (0.1, -0.2, 0.3)
    state = initial_state(ce.init_state, config, jax.random.key(1), batch)
    expected = poisson.harmonic_fill(batch["image"], batch["hole"], max_iters=input_fill.HARMONIC_ITERS,
                                     tol=input_fill.HARMONIC_TOL)
    np.testing.assert_allclose(np.asarray(ce.predict(config, state, batch)), np.asarray(expected), atol=1e-6)
    given = {**batch, "filled": -batch["image"]}
    np.testing.assert_array_equal(ce.generator_input(config, given), -batch["image"])


def test_the_dssim_term_joins_the_loss_only_when_weighted():
    """loss.ssim_weight σ adds σ·DSSIM(composite holes) to λ_rec·L_rec; at 0 the term is not computed."""
    from jaxpaint import losses

    config = load_config("context_encoder:tiny", ["--config.loss.lambda_rec=1.0"])
    keys = jax.random.split(jax.random.key(0), 2)
    image = jax.random.uniform(keys[0], (2, 64, 64, 3), minval=-1, maxval=1)
    fake = jax.random.uniform(keys[1], (2, 64, 64, 3), minval=-1, maxval=1)
    hole = jnp.zeros((2, 64, 64), bool).at[:, 16:40, 8:30].set(True)
    batch = {"image": image, "hole": hole}
    shown = jnp.where(hole[..., None], fake, image)
    assert set(ce.terms(config, fake, shown, batch, {})) == {"rec"}
    config.loss.ssim_weight = 2.5
    terms = ce.terms(config, fake, shown, batch, {})
    assert float(terms["ssim"]) == pytest.approx(float(losses.hole_dssim(shown, image, hole)))
    assert 0.2 < float(terms["ssim"]) < 0.6  # random pixels against random pixels: SSIM near 0
    total, _ = losses.compose(terms, ce.weights(config, 0))
    assert float(total) == pytest.approx(float(terms["rec"]) + 2.5 * float(terms["ssim"]), rel=1e-6)
