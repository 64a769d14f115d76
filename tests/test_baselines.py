"""The two baselines through the method contract."""

import ml_collections
import numpy as np
import pytest

from jaxpaint.errors import JaxpaintError
from jaxpaint.methods import baselines


@pytest.fixture(scope="session")
def batch():
    rng = np.random.default_rng(1)
    images = rng.integers(0, 256, (2, 16, 16, 3), dtype=np.uint8)
    hole = np.zeros((2, 16, 16), bool)
    hole[0, 4:9, 3:12] = True
    hole[1, 0:6, 10:16] = True
    return images, hole


def test_holes_fill_with_the_dataset_mean(batch):
    images, hole = batch
    config = ml_collections.ConfigDict({"method": "holes", "data": {"mean_rgb": [-1.0, 0.2, 1.0]}})
    out = baselines.make_inpainter(config)(images, hole)
    # (m + 1) * 127.5 rounded: 0, 153, 255
    assert np.array_equal(out[hole], np.tile([0, 153, 255], (hole.sum(), 1)))
    assert np.array_equal(out[~hole], images[~hole])
    grey = baselines.make_inpainter({"method": "holes"})(images, hole)
    assert np.all(grey[hole] == 128)


def test_diffusion_is_the_rounded_harmonic_fill(batch):
    images, hole = batch
    config = ml_collections.ConfigDict({"method": "diffusion", "diffusion": {"max_iters": 500, "tol": 1e-6}})
    out = baselines.make_inpainter(config)(images, hole)
    assert out.dtype == np.uint8 and np.array_equal(out[~hole], images[~hole])
    # Inside the hole every pixel is (to rounding) the mean of its 4 neighbours: Laplace's equation.
    u = out.astype(np.float64)
    for b in range(2):
        for i, j in np.argwhere(hole[b]):
            nbrs = [u[b, y, x] for y, x in ((i - 1, j), (i + 1, j), (i, j - 1), (i, j + 1)) if 0 <= y < 16 and 0 <= x < 16]
            assert np.all(np.abs(u[b, i, j] - np.mean(nbrs, axis=0)) <= 1.0)


def hole_border(hole: np.ndarray) -> np.ndarray:
    """Known pixels 4-adjacent to the hole: the only values a harmonic fill may depend on."""
    grown = hole.copy()
    grown[1:] |= hole[:-1]
    grown[:-1] |= hole[1:]
    grown[:, 1:] |= hole[:, :-1]
    grown[:, :-1] |= hole[:, 1:]
    return grown & ~hole


def test_diffusion_obeys_the_maximum_principle_of_its_own_border():
    """Each channel's fill lies within the range of that channel on the hole's border, even where pixels
    farther away span 0..255; a linear ramp along the border is reproduced exactly (linear is harmonic)."""
    rng = np.random.default_rng(7)
    images = rng.integers(0, 256, (3, 24, 24, 3), dtype=np.uint8)
    hole = np.zeros((3, 24, 24), bool)
    hole[0, 6:15, 5:19] = True
    hole[1, 0:9, 12:24] = True   # touching the image edge
    hole[2, 8:16, 8:16] = True
    ramp = 60 + 8 * np.arange(24)[None, :]  # image 2: a horizontal ramp in channel 0 on and around the hole
    images[2, 5:19, :, 0] = ramp
    for b in (0, 1):  # a narrow band of values on the border, extremes beyond it
        border = hole_border(hole[b])
        images[b][border] = rng.integers(100, 111, (border.sum(), 3))
    config = ml_collections.ConfigDict({"method": "diffusion", "diffusion": {"max_iters": 2000, "tol": 1e-7}})
    out = baselines.make_inpainter(config)(images, hole).astype(int)
    for b in range(3):
        border = hole_border(hole[b])
        for c in range(3):
            low, high = int(images[b][border][:, c].min()), int(images[b][border][:, c].max())
            fill = out[b][hole[b]][:, c]
            assert low - 1 <= fill.min() and fill.max() <= high + 1, (b, c, low, high, fill.min(), fill.max())
    rows, cols = np.nonzero(hole[2])
    np.testing.assert_allclose(out[2, rows, cols, 0], ramp[0, cols], atol=1)


def test_unknown_method_and_bad_mean_are_rejected():
    with pytest.raises(JaxpaintError, match="expected one of holes, diffusion"):
        baselines.make_inpainter({"method": "context_encoder"})
    with pytest.raises(JaxpaintError, match="mean_rgb"):
        baselines.make_inpainter({"method": "holes", "data": {"mean_rgb": [0.0, 2.0, 0.0]}})
