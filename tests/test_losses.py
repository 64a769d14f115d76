"""The shared losses against hand-computed values and direct formulas."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest

from jaxpaint import losses


def one_pixel_hole(size=7, row=3, col=3):
    hole = np.zeros((1, size, size), bool)
    hole[0, row, col] = True
    return jnp.asarray(hole)


def test_overlap_band_is_the_ring_around_a_block():
    hole = np.zeros((1, 10, 10), bool)
    hole[0, 4:6, 3:5] = True  # a 2×2 block
    band = np.asarray(losses.overlap_band(jnp.asarray(hole), 2))
    expected = np.zeros((1, 10, 10), bool)
    expected[0, 2:8, 1:7] = True  # the block grown by 2 px on each side ...
    expected[0, 4:6, 3:5] = False  # ... minus the block itself
    np.testing.assert_array_equal(band, expected)


def test_overlap_band_stops_at_the_image_edge_and_zero_width_has_none():
    hole = one_pixel_hole(size=5, row=0, col=0)
    band = np.asarray(losses.overlap_band(hole, 1))[0]
    assert band.sum() == 3 and band[0, 1] and band[1, 0] and band[1, 1]
    assert not np.asarray(losses.overlap_band(hole, 0)).any()


def test_reconstruction_weights_hand_case():
    weights = np.asarray(losses.reconstruction_weights(one_pixel_hole(size=5, row=2, col=2), overlap=1))[0]
    expected = np.zeros((5, 5), np.float32)
    expected[1:4, 1:4] = 10.0
    expected[2, 2] = 1.0
    np.testing.assert_array_equal(weights, expected)


def test_masked_l2_hand_computed():
    # 1×1×3 hole pixel at (1,1) of a 3×3 image, overlap 1: the 8 neighbours get weight 10.
    target = jnp.zeros((1, 3, 3, 3))
    prediction = np.zeros((1, 3, 3, 3), np.float32)
    prediction[0, 1, 1] = [1.0, 2.0, 0.0]   # hole error: 1 + 4 = 5
    prediction[0, 0, 0] = [0.0, 0.0, 3.0]   # band error: 9, weight 10
    prediction = jnp.asarray(prediction)
    hole = one_pixel_hole(size=3, row=1, col=1)
    # (1·5 + 10·9) / (3 channels · (1 + 8·10)) = 95 / 243
    value = losses.masked_reconstruction_loss(prediction, target, hole, overlap=1)
    assert float(value) == pytest.approx(95 / 243, rel=1e-6)
    # Without the band only the hole counts: 5 / 3.
    assert float(losses.masked_reconstruction_loss(prediction, target, hole, overlap=0)) == pytest.approx(5 / 3, rel=1e-6)


def test_masked_l2_ignores_pixels_outside_hole_and_band():
    hole = one_pixel_hole(size=9, row=4, col=4)
    prediction = jnp.zeros((1, 9, 9, 3)).at[0, 0, 0].set(100.0)  # far from the hole
    assert float(losses.masked_reconstruction_loss(prediction, jnp.zeros_like(prediction), hole, overlap=2)) == 0.0


def test_weighted_l2_with_no_weight_is_zero_not_nan():
    value = losses.weighted_l2(jnp.ones((1, 2, 2, 3)), jnp.zeros((1, 2, 2, 3)), jnp.zeros((1, 2, 2)))
    assert float(value) == 0.0


def test_adversarial_losses_match_the_bce_formula():
    real = np.array([2.0, -1.0, 0.5, 30.0], np.float32)
    fake = np.array([-3.0, 0.0, 1.5, -30.0], np.float32)
    sigmoid = lambda x: 1.0 / (1.0 + np.exp(-x.astype(np.float64)))
    expected_d = np.mean(-np.log(sigmoid(real))) + np.mean(-np.log(1.0 - sigmoid(fake)))
    expected_g = np.mean(-np.log(sigmoid(fake)))
    assert float(losses.discriminator_loss(jnp.asarray(real), jnp.asarray(fake))) == pytest.approx(expected_d, rel=1e-5)
    assert float(losses.generator_adversarial_loss(jnp.asarray(fake))) == pytest.approx(expected_g, rel=1e-5)


def test_adversarial_losses_stay_finite_for_confident_logits():
    logits = jnp.asarray([1e4, -1e4])
    assert np.isfinite(float(losses.discriminator_loss(logits, logits)))
    assert float(losses.generator_adversarial_loss(jnp.asarray([-1e4]))) == pytest.approx(1e4)


def test_compose_weights_terms_and_skips_static_zeros():
    total, metrics = losses.compose({"rec": jnp.asarray(2.0), "adv": jnp.asarray(10.0)}, {"rec": 0.999, "adv": 0.001})
    assert float(total) == pytest.approx(0.999 * 2 + 0.001 * 10)
    assert set(metrics) == {"loss", "rec_loss", "adv_loss"} and float(metrics["adv_loss"]) == 10.0
    # A statically zero weight drops the term even when it is not finite (its gradient would be NaN).
    total, _ = losses.compose({"rec": jnp.asarray(2.0), "adv": jnp.asarray(jnp.inf)}, {"rec": 1.0, "adv": 0.0})
    assert float(total) == 2.0
    with pytest.raises(KeyError, match="adv"):
        losses.compose({"rec": jnp.asarray(1.0), "adv": jnp.asarray(1.0)}, {"rec": 1.0})


def reference_hole_dssim(x, y, hole, window):
    """hole_dssim by direct loops over every window position (numpy, float64)."""
    x, y = (np.asarray(x, np.float64) + 1) / 2, (np.asarray(y, np.float64) + 1) / 2
    c1, c2 = 0.01 ** 2, 0.03 ** 2
    total = weight = 0.0
    b, h, w, _ = x.shape
    for i in range(b):
        for r in range(h - window + 1):
            for c in range(w - window + 1):
                cover = hole[i, r:r + window, c:c + window].mean()
                if cover == 0:
                    continue
                a, t = x[i, r:r + window, c:c + window], y[i, r:r + window, c:c + window]
                ma, mt = a.mean((0, 1)), t.mean((0, 1))
                va, vt = a.var((0, 1)), t.var((0, 1))
                cov = ((a - ma) * (t - mt)).mean((0, 1))
                ssim = ((2 * ma * mt + c1) * (2 * cov + c2)) / ((ma ** 2 + mt ** 2 + c1) * (va + vt + c2))
                total += cover * (1 - ssim.mean()) / 2
                weight += cover
    return total / weight


@pytest.mark.parametrize("seed", range(4))
def test_hole_dssim_matches_a_window_by_window_loop(seed):
    rng = np.random.default_rng(seed)
    target = rng.uniform(-1, 1, (2, 14, 13, 3))
    prediction = np.clip(target + rng.normal(0, 0.4, target.shape), -1, 1)
    hole = np.zeros((2, 14, 13), bool)
    hole[0, 2:9, 3:8] = True
    hole[1, 6:14, 0:5] = True
    got = float(losses.hole_dssim(jnp.asarray(prediction, jnp.float32), jnp.asarray(target, jnp.float32),
                                  jnp.asarray(hole), window=4))
    assert got == pytest.approx(reference_hole_dssim(prediction, target, hole, 4), rel=1e-4)


def test_hole_dssim_is_zero_for_the_target_and_without_holes():
    rng = np.random.default_rng(9)
    target = jnp.asarray(rng.uniform(-1, 1, (1, 16, 16, 3)), jnp.float32)
    hole = jnp.zeros((1, 16, 16), bool).at[0, 4:12, 4:12].set(True)
    assert float(losses.hole_dssim(target, target, hole)) == pytest.approx(0.0, abs=1e-6)
    assert float(losses.hole_dssim(-target, target, jnp.zeros_like(hole))) == 0.0
    assert float(losses.hole_dssim(-target, target, hole)) > 0.4  # anticorrelated: SSIM near -1
