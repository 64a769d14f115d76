"""The latent search of Semantic Image Inpainting: W, batching, restarts, the [-1, 1] box, devices, known pixels."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # the 4-device run imports this module as tests.test_latent_search

from jaxpaint.errors import JaxpaintError  # noqa: E402
from jaxpaint.models.dcgan import DCGANGenerator  # noqa: E402
from jaxpaint.models.discriminators import DCGANDiscriminator  # noqa: E402
from jaxpaint.ops import latent_search as ls  # noqa: E402

pytestmark = pytest.mark.slow  # a minute or more in all: scheduled first (conftest.py)

SIZE, LATENT, RESTARTS = 16, 8, 3
# A large Adam step so that clipping to [-1, 1] is active within a few iterations.
SETTINGS = ls.make_settings("yeh", iterations=6, restarts=RESTARTS, learning_rate=0.5, prior_weight=0.2)


def tiny_problem(count: int = 3, seed: int = 0):
    """Random-init tiny G and D, `count` random images with 1–2 rectangular holes each."""
    g, d = DCGANGenerator(latent_dim=LATENT, image_size=SIZE, width=4), DCGANDiscriminator(width=4)
    g_vars = g.init(jax.random.key(0), jnp.zeros((1, LATENT)), train=False)
    # DCGAN's N(0, 0.02) init makes G(z) nearly constant in z; a larger projection makes
    # the restarts' losses differ clearly.
    g_vars = jax.tree_util.tree_map_with_path(
        lambda path, v: v * 50.0 if "project" in jax.tree_util.keystr(path) and "kernel" in jax.tree_util.keystr(path) else v,
        g_vars)
    d_vars = d.init(jax.random.key(1), jnp.zeros((1, SIZE, SIZE, 3)), train=False)
    rng = np.random.default_rng(seed)
    images = rng.uniform(-1, 1, (count, SIZE, SIZE, 3)).astype(np.float32)
    holes = np.zeros((count, SIZE, SIZE), bool)
    for b in range(count):
        for _ in range(rng.integers(1, 3)):
            r, c = rng.integers(0, SIZE - 5, 2)
            holes[b, r:r + rng.integers(2, 6), c:c + rng.integers(2, 6)] = True
    return g, d, g_vars, d_vars, images, holes


def brute_force_weights(holes: np.ndarray, window: int) -> np.ndarray:
    """W by loops: 0 on holes; on known pixels, holes / in-image pixels of the window around it."""
    r = window // 2
    out = np.zeros(holes.shape, np.float64)
    for b, i, j in np.ndindex(*holes.shape):
        if holes[b, i, j]:
            continue
        patch = holes[b, max(i - r, 0):i + r + 1, max(j - r, 0):j + r + 1]
        out[b, i, j] = patch.sum() / patch.size
    return out


def test_context_weights_match_brute_force():
    rng = np.random.default_rng(3)
    holes = rng.random((3, 11, 13)) < 0.3
    holes[1] = False
    holes[1, 0:4, 9:13] = True  # a hole in a corner: windows cut by the image edge
    for window in (7, 3):
        weights = ls.context_weights(jnp.asarray(holes), ls.make_settings("yeh", window=window))
        np.testing.assert_allclose(np.asarray(weights), brute_force_weights(holes, window), rtol=1e-6, atol=1e-7)
    # Hand case: one hole pixel at the centre of a 7×7 image, every window cut or whole.
    one = np.zeros((1, 7, 7), bool)
    one[0, 3, 3] = True
    weights = np.asarray(ls.context_weights(jnp.asarray(one), ls.make_settings("yeh")))
    assert weights[0, 3, 3] == 0 and weights[0, 0, 0] == pytest.approx(1 / 16) and weights[0, 3, 0] == pytest.approx(1 / 28)
    unweighted = ls.context_weights(jnp.asarray(holes), ls.make_settings("bamos"))
    np.testing.assert_array_equal(np.asarray(unweighted), (~holes).astype(np.float32))


@pytest.fixture(scope="module")
def searched():
    """One batched search of 3 images × 3 restarts, the same images one at a time, and each restart alone."""
    g, d, g_vars, d_vars, images, holes = tiny_problem()
    z0 = ls.initial_z(ls.image_keys(jax.random.key(7), 0, len(images)), RESTARTS, LATENT, SETTINGS)
    run = jax.jit(lambda images, holes, z0: ls.search_from(g, d, SETTINGS, g_vars, d_vars, images, holes, z0))
    batched = jax.device_get(run(images, holes, z0))
    alone = [jax.device_get(run(images[b:b + 1], holes[b:b + 1], z0[b:b + 1])) for b in range(len(images))]
    single = [jax.device_get(run(images, holes, z0[:, r:r + 1])) for r in range(RESTARTS)]
    return SimpleNamespace(images=images, holes=holes, z0=np.asarray(z0), batched=batched, alone=alone, single=single)


def test_vmapped_batch_equals_per_image_search(searched):
    for b, one in enumerate(searched.alone):
        np.testing.assert_allclose(searched.batched["z"][b], one["z"][0], rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(searched.batched["restart_losses"][b], one["restart_losses"][0], rtol=1e-5)
        np.testing.assert_allclose(searched.batched["generated"][b], one["generated"][0], atol=1e-5)


def test_restarts_keep_the_lowest_final_loss(searched):
    single_losses = np.stack([s["loss"] for s in searched.single], axis=1)  # (B, R), each restart run alone
    single_z = np.stack([s["z"] for s in searched.single], axis=1)
    np.testing.assert_allclose(searched.batched["restart_losses"], single_losses, rtol=1e-5)
    best = single_losses.argmin(axis=1)
    for b in range(len(best)):
        np.testing.assert_allclose(searched.batched["z"][b], single_z[b, best[b]], rtol=1e-5, atol=1e-6)
        assert searched.batched["loss"][b] == pytest.approx(single_losses[b].min(), rel=1e-6)


def test_z_stays_in_the_box_and_moves(searched):
    z = np.stack([s["z"] for s in searched.single], axis=1)
    assert np.all(np.abs(z) <= 1.0)
    assert np.any(np.abs(z) == 1.0), "the step is large enough that clipping must be active"
    assert not np.allclose(z, searched.z0), "the search did not move z"


def sharded_search(out_path: str | None = None) -> dict:
    """6 images searched on every device of a 'data' mesh, 4 at a time (the last chunk padded)."""
    from jaxpaint.engine.mesh import batch_sharding, make_mesh, replicated_sharding

    g, d, g_vars, d_vars, images, holes = tiny_problem(count=6, seed=1)
    mesh = make_mesh()
    kernel = ls.make_search(g, d, SETTINGS, LATENT, batch_sharding(mesh), replicated_sharding(mesh))
    found = ls.search_in_chunks(kernel, g_vars, d_vars, images, holes, jax.random.key(5), 4,
                                data_sharding=batch_sharding(mesh))
    if out_path:
        np.savez(out_path, devices=len(jax.devices()), **found)
    return found


def test_four_devices_find_the_same_z_as_one(tmp_path):
    out = tmp_path / "four.npz"
    env = dict(os.environ, PYTHONPATH=str(REPO), JAX_PLATFORMS="cpu",
               XLA_FLAGS=os.environ.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=4")
    code = f"from tests.test_latent_search import sharded_search; sharded_search({str(out)!r})"
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    four = np.load(out)
    assert int(four["devices"]) == 4 and jax.device_count() == 1

    # One device, chunks of 3 instead of 4: image i still starts from fold_in(key, i).
    g, d, g_vars, d_vars, images, holes = tiny_problem(count=6, seed=1)
    one = ls.search_in_chunks(ls.make_search(g, d, SETTINGS, LATENT), g_vars, d_vars, images, holes,
                              jax.random.key(5), 3)
    np.testing.assert_allclose(four["z"], one["z"], rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(four["loss"], one["loss"], rtol=1e-4)
    np.testing.assert_allclose(four["filled"], one["filled"], atol=1e-4)


def test_inpainter_keeps_known_pixels_exactly():
    from jaxpaint.methods import semantic

    g, d, g_vars, d_vars, _, holes = tiny_problem(count=5, seed=2)
    config = ml_collections.ConfigDict({
        "seed": 0, "batch_size": 4, "data": {"image_size": SIZE},
        "model": {"latent_dim": LATENT, "width": 4, "disc_width": 4},
        "search": {"preset": "yeh", "iterations": 3, "restarts": 2},
    })
    state = SimpleNamespace(
        params={"generator": g_vars["params"], "discriminator": d_vars["params"]},
        model_state={"generator": g_vars["batch_stats"], "discriminator": d_vars["batch_stats"]},
    )
    images = np.random.default_rng(4).integers(0, 256, (5, SIZE, SIZE, 3), dtype=np.uint8)
    out = semantic.make_inpainter(config, state)(images, holes)
    assert out.dtype == np.uint8 and out.shape == images.shape
    np.testing.assert_array_equal(out[~holes], images[~holes])
    assert np.any(out[holes] != images[holes]), "the holes were not filled"
    with pytest.raises(JaxpaintError, match="holes"):
        semantic.make_inpainter(config, state)(images, holes[:, :-1])


def test_bad_settings_name_the_problem():
    with pytest.raises(JaxpaintError, match="preset 'nope' is unknown"):
        ls.make_settings("nope")
    with pytest.raises(JaxpaintError, match="no field lr"):
        ls.make_settings("yeh", lr=0.1)
    with pytest.raises(JaxpaintError, match="optimizer 'sgd'"):
        ls.make_settings("yeh", optimizer="sgd")
