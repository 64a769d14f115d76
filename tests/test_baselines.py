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
    # The fill stays within the range of the boundary values (maximum principle).
    assert out[hole].min() >= images[~hole].min() and out[hole].max() <= images[~hole].max()


def test_unknown_method_and_bad_mean_are_rejected():
    with pytest.raises(JaxpaintError, match="expected one of holes, diffusion"):
        baselines.make_inpainter({"method": "context_encoder"})
    with pytest.raises(JaxpaintError, match="mean_rgb"):
        baselines.make_inpainter({"method": "holes", "data": {"mean_rgb": [0.0, 2.0, 0.0]}})
