"""Neural Patch Synthesis end to end on tiny images, with the real VGG-16 and the diffusion fill as content."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest

from jaxpaint.errors import JaxpaintError
from jaxpaint.methods import baselines
from jaxpaint.methods import patch_synthesis as ps
from jaxpaint.models import vgg
from jaxpaint.ops.pixels import to_model

pytestmark = pytest.mark.slow  # a minute or more in all: scheduled first (conftest.py)


@pytest.fixture(scope="module")
def vgg16():
    return vgg.load_vgg16()


def tiny_batch(size=32):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (2, size, size, 3), dtype=np.uint8)
    hole = np.zeros((2, size, size), bool)
    hole[0, 8:20, 10:22] = True
    hole[1, 14:30, 2:12] = True
    return images, hole


def tiny_config(**changes):
    config = ps.default_config()
    config.update({"levels": 1, "iterations": 3, "progress": False, **changes})
    return config


def test_known_pixels_exact_hole_changed_and_repeatable():
    from jaxpaint.inference import load_inpainter

    images, hole = tiny_batch()
    # As `inpaint --method patch_synthesis` builds it: the content guess from the config (diffusion by default).
    inpaint = load_inpainter("patch_synthesis", config=tiny_config())
    first, second = inpaint(images, hole), inpaint(images, hole)
    assert first.dtype == np.uint8 and first.shape == images.shape
    np.testing.assert_array_equal(first[~hole], images[~hole])
    assert first.tobytes() == second.tobytes()
    diffusion = baselines.make_inpainter(ml_collections.ConfigDict({"method": "diffusion"}))
    assert np.any((first != diffusion(images, hole))[hole])  # the texture optimisation moved the content guess


def test_optimisation_lowers_the_energy(vgg16):
    """Over 20 s (about 35 s): L-BFGS over VGG features, compiled for each setting it compares."""
    model, variables = vgg16
    config = tiny_config()
    layers, content_layer = ps._layers(config, model)
    images, hole = tiny_batch()
    known, hole = to_model(images), jnp.asarray(hole)
    content = jnp.where(hole[..., None], 0.0, known)
    banks = ps.key_banks(model, variables, known, hole, layers, tuple(ps._transforms(config)))
    targets = ps.search_targets(model, variables, content, hole, banks, layers, config.tile)
    content_features = ps.features_of(model, variables, content, (content_layer,))[content_layer]
    # The fixed unit step of the reference may go up for a few steps before it settles.
    for linesearch in ps.LINESEARCHES:
        settings = ps._settings(tiny_config(linesearch=linesearch))
        optimise = ps.make_optimise(model, settings, layers, content_layer, 12)
        _, values = optimise(variables, content, known, hole, content_features, targets)
        values = np.asarray(values)
        assert values.shape == (2, 12) and np.all(values[:, -1] < values[:, 0]), linesearch
    # Without a line search (the reference's L-BFGS) the first step is -g scaled to at most unit length.
    settings = ps._settings(tiny_config(linesearch="none"))
    stepped, _ = ps.make_optimise(model, settings, layers, content_layer, 1)(
        variables, content, known, hole, content_features, targets)
    for i in range(2):
        energy = lambda x: ps.energy(model, variables, settings, layers, content_layer, x, known[i], hole[i],
                                     content_features[i], {k: (t[i], c[i]) for k, (t, c) in targets.items()})
        grad = np.asarray(jax.grad(energy)(content[i]), np.float64)
        expected = np.asarray(content[i], np.float64) - min(1.0, 1.0 / np.linalg.norm(grad)) * grad
        np.testing.assert_allclose(np.asarray(stepped[i]), expected, atol=1e-5)
    # 9 transformed copies of the known region are candidates
    assert banks["relu4_1"][0].shape[1] == 9 * 4


def test_bad_settings_are_named():
    with pytest.raises(JaxpaintError, match="too small for layer relu4_2"):
        ps.level_sizes(32, 2, ("relu3_1", "relu4_1", "relu4_2"))
    with pytest.raises(JaxpaintError, match="optimizer 'sgd'"):
        ps.make_inpainter(tiny_config(optimizer="sgd"), lambda i, h: i, vgg=(None, None))
    with pytest.raises(JaxpaintError, match="linesearch 'armijo'"):
        ps.make_inpainter(tiny_config(linesearch="armijo"), lambda i, h: i, vgg=(None, None))
    with pytest.raises(JaxpaintError, match="give a content inpainter"):
        ps.make_inpainter(tiny_config(), None, vgg=(None, None))


def test_the_pyramid_starts_at_start_size_and_the_result_comes_back_at_the_image_side():
    layers = ("relu3_1", "relu4_1", "relu4_2")
    assert ps.level_sizes(128, 3, layers) == [32, 64, 128]  # the reference's pyramid: the image and its halves
    assert ps.level_sizes(128, 2, layers, start_size=128) == [128, 256]
    assert ps.level_sizes(128, 1, layers, start_size=48, patch_size=5) == [48]  # relu4: 6 cells
    with pytest.raises(JaxpaintError, match="5×5 patches"):
        ps.level_sizes(128, 1, layers, start_size=32, patch_size=5)
    with pytest.raises(JaxpaintError, match="start_size is 0"):
        ps.level_sizes(128, 1, layers, start_size=0)
    from jaxpaint.inference import load_inpainter

    images, hole = tiny_batch()
    at_64 = load_inpainter("patch_synthesis", config=tiny_config(start_size=64, iterations=2))(images, hole)
    at_32 = load_inpainter("patch_synthesis", config=tiny_config(iterations=2))(images, hole)
    assert at_64.shape == images.shape
    np.testing.assert_array_equal(at_64[~hole], images[~hole])
    assert np.any((at_64 != at_32)[hole])  # synthesised at twice the side, then resized back
