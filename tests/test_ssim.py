"""SSIM kernels against independent computations: numpy loops, scipy.ndimage and scikit-image."""

import numpy as np
import pytest
from scipy import ndimage
from skimage.metrics import structural_similarity

from jaxpaint.metrics.image import block_scores, image_scores

C1, C2 = 0.01**2, 0.03**2


def windows_ssim_reference(x, y, window=8):
    """Non-overlapping-window SSIM by plain loops: edge windows are partial, weighted by pixel count."""
    x, y = x / 255.0, y / 255.0
    h, w, channels = x.shape
    total = 0.0
    for i in range(0, h, window):
        for j in range(0, w, window):
            a, b = x[i:i + window, j:j + window], y[i:i + window, j:j + window]
            per_channel = []
            for c in range(channels):
                p, q = a[..., c], b[..., c]
                mp, mq = p.mean(), q.mean()
                vp, vq, cov = ((p - mp) ** 2).mean(), ((q - mq) ** 2).mean(), ((p - mp) * (q - mq)).mean()
                per_channel.append((2 * mp * mq + C1) * (2 * cov + C2) / ((mp**2 + mq**2 + C1) * (vp + vq + C2)))
            total += np.mean(per_channel) * a.shape[0] * a.shape[1]
    return total / (h * w)


def gaussian_ssim_uncropped(x, y):
    """Gaussian SSIM map (scipy reflect filtering) averaged over the whole region: the rule for regions <= 10 px."""
    x, y = x / 255.0, y / 255.0
    f = lambda a: np.stack([ndimage.gaussian_filter(a[..., c], 1.5, truncate=3.5, mode="reflect") for c in range(3)], -1)
    mx, my = f(x), f(y)
    vx, vy, cov = f(x * x) - mx**2, f(y * y) - my**2, f(x * y) - mx * my
    return (((2 * mx * my + C1) * (2 * cov + C2)) / ((mx**2 + my**2 + C1) * (vx + vy + C2))).mean()


def skimage_gaussian_ssim(x, y):
    return structural_similarity(x / 255.0, y / 255.0, gaussian_weights=True, sigma=1.5,
                                 use_sample_covariance=False, data_range=1, channel_axis=-1)


@pytest.fixture(scope="session")
def pair():
    rng = np.random.default_rng(7)
    target = rng.integers(0, 256, (3, 37, 45, 3), dtype=np.uint8)
    noise = rng.integers(-60, 61, target.shape)
    pred = np.clip(target.astype(int) + noise, 0, 255).astype(np.uint8)
    pred[1, :10] = target[1, :10]  # a region of exact agreement
    return pred, target


def test_hand_computed_two_by_two():
    # mu = 0.5 each, variances 0.25, covariance 0: SSIM = (0.5 + c1) c2 / ((0.5 + c1)(0.5 + c2)) = c2 / (0.5 + c2)
    x = np.repeat(np.array([[0, 255], [0, 255]], np.uint8)[..., None], 3, axis=-1)
    y = np.repeat(np.array([[0, 255], [255, 0]], np.uint8)[..., None], 3, axis=-1)
    scores = image_scores(x, y)
    assert scores["dssim"][0] == pytest.approx((1 - 0.0009 / 0.5009) / 2, abs=1e-6)
    assert scores["mse"][0] == pytest.approx(0.5, abs=1e-7)
    assert scores["psnr"][0] == pytest.approx(10 * np.log10(2), abs=1e-5)


def test_windows_ssim_matches_loops_on_whole_images(pair):
    pred, target = pair  # 37 x 45: partial windows on both edges
    got = image_scores(pred, target)["dssim"]
    want = [(1 - windows_ssim_reference(p, t)) / 2 for p, t in zip(pred, target)]
    np.testing.assert_allclose(got, want, atol=1e-5)


def test_gaussian_ssim_matches_scikit_image(pair):
    pred, target = pair
    got = image_scores(pred, target, ssim="gaussian")["dssim"]
    want = [(1 - skimage_gaussian_ssim(p, t)) / 2 for p, t in zip(pred, target)]
    np.testing.assert_allclose(got, want, atol=1e-5)


@pytest.mark.parametrize("kind", ["windows", "gaussian"])
def test_block_ssim_matches_per_block_references(pair, kind):
    pred, target = pair
    # sizes below, at and past the window (8) and the Gaussian crop limit (11); rows past num_blocks are junk
    blocks = np.array([[[0, 0, 5], [10, 20, 11], [0, 0, 99]],
                       [[3, 3, 30], [20, 35, 9], [0, 0, 0]],
                       [[1, 30, 8], [15, 2, 20], [30, 38, 7]]])
    num_blocks = np.array([2, 2, 3])
    got = block_scores(pred, target, blocks, num_blocks, ssim=kind)["dssim"]
    for i in range(3):
        per_block = []
        for r, c, s in blocks[i, :num_blocks[i]]:
            p, t = pred[i, r:r + s, c:c + s], target[i, r:r + s, c:c + s]
            if kind == "windows":
                ssim = windows_ssim_reference(p, t)
            else:
                ssim = skimage_gaussian_ssim(p, t) if s >= 11 else gaussian_ssim_uncropped(p, t)
            per_block.append((1 - ssim) / 2)
        assert got[i] == pytest.approx(np.mean(per_block), abs=1e-5), (kind, i)
