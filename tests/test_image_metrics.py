"""MSE, PSNR and per-block averaging against numpy and scikit-image."""

import numpy as np
import pytest
from skimage.metrics import peak_signal_noise_ratio

from jaxpaint.errors import JaxpaintError
from jaxpaint.metrics.image import PSNR_CAP_DB, block_scores, image_scores, summarize


@pytest.fixture(scope="session")
def data():
    rng = np.random.default_rng(3)
    target = rng.integers(0, 256, (4, 32, 32, 3), dtype=np.uint8)
    pred = np.clip(target.astype(int) + rng.integers(-90, 91, target.shape), 0, 255).astype(np.uint8)
    pred[2] = target[2]  # a perfect image
    blocks = np.zeros((4, 10, 3), np.int32)
    blocks[0, :3] = [[0, 0, 4], [8, 8, 20], [0, 28, 4]]  # a tiny and a large block count the same
    blocks[1, :1] = [[2, 3, 29]]
    blocks[2, :2] = [[0, 0, 16], [16, 16, 16]]
    blocks[3, :10] = [[r, c, 6] for r in (0, 7, 14, 21, 26) for c in (0, 20)]
    return pred, target, blocks, np.array([3, 1, 2, 10])


def test_whole_image_mse_and_psnr_match_references(data):
    pred, target, _, _ = data
    scores = image_scores(pred, target)
    mse = ((pred / 255.0 - target / 255.0) ** 2).mean(axis=(1, 2, 3))
    np.testing.assert_allclose(scores["mse"], mse, rtol=1e-5)
    for i in (0, 1, 3):
        assert scores["psnr"][i] == pytest.approx(peak_signal_noise_ratio(target[i], pred[i], data_range=255), abs=1e-4)
    assert scores["psnr"][2] == PSNR_CAP_DB and scores["mse"][2] == 0 and scores["dssim"][2] == 0


def test_block_scores_average_blocks_equally(data):
    pred, target, blocks, num_blocks = data
    scores = block_scores(pred, target, blocks, num_blocks)
    for i in range(4):
        block_mse = [((pred[i, r:r + s, c:c + s] / 255.0 - target[i, r:r + s, c:c + s] / 255.0) ** 2).mean()
                     for r, c, s in blocks[i, :num_blocks[i]]]
        block_psnr = [min(10 * np.log10(1 / m), PSNR_CAP_DB) if m > 0 else PSNR_CAP_DB for m in block_mse]
        assert scores["mse"][i] == pytest.approx(np.mean(block_mse), rel=1e-5)
        assert scores["psnr"][i] == pytest.approx(np.mean(block_psnr), abs=1e-4)
    assert scores["dssim"][2] == 0


def test_chunking_gives_the_same_scores(data):
    pred, target, blocks, num_blocks = data
    whole = block_scores(pred, target, blocks, num_blocks)
    chunked = block_scores(pred, target, blocks, num_blocks, chunk=3)  # one full chunk, one padded
    for key in whole:
        np.testing.assert_allclose(chunked[key], whole[key], rtol=1e-6)


def test_bad_input_is_named(data):
    pred, target, blocks, num_blocks = data
    bad = blocks.copy()
    bad[1, 0] = [10, 10, 23]  # past the 32 px edge
    with pytest.raises(JaxpaintError, match=r"block 0 of image 1.*not inside a 32x32"):
        block_scores(pred, target, bad, num_blocks)
    with pytest.raises(JaxpaintError, match="image 0 has 0 blocks"):
        block_scores(pred, target, blocks, np.array([0, 1, 2, 10]))
    with pytest.raises(JaxpaintError, match="float32"):
        image_scores(pred.astype(np.float32), target)
    with pytest.raises(JaxpaintError, match="unknown SSIM kind"):
        image_scores(pred, target, ssim="box")


def test_summarize_means_over_images():
    assert summarize({"mse": np.array([0.1, 0.3]), "dssim": [0.2, 0.4]}) == pytest.approx({"mse": 0.2, "dssim": 0.3})
    assert summarize([{"mse": 1.0}, {"mse": 2.0}, {"mse": 6.0}]) == {"mse": 3.0}
    with pytest.raises(JaxpaintError):
        summarize([])


def test_dssim_of_identical_images_is_never_negative():
    # Rounding in SSIM can land a hair above 1; DSSIM must still be a distance (>= 0).
    rng = np.random.default_rng(7)
    images = rng.integers(0, 256, size=(64, 128, 128, 3), dtype=np.uint8)
    blocks = np.tile(np.array([[[20, 20, 40], [70, 70, 33], [20, 80, 9]]], np.int32), (64, 1, 1))
    scores = block_scores(images, images, blocks, np.full(64, 3, np.int32))
    assert np.all(scores["dssim"] >= 0) and np.all(scores["dssim"] < 1e-7)
    assert np.all(scores["mse"] == 0)


def test_block_scores_reuse_compiled_programs_across_batch_and_block_sizes():
    from jaxpaint.metrics import image as image_metrics

    rng = np.random.default_rng(3)
    image_metrics._region_metrics.clear_cache()
    for batch, size in ((3, 64), (5, 64), (7, 64), (6, 60)):
        pred = rng.integers(0, 256, (batch, size, size, 3), dtype=np.uint8)
        target = rng.integers(0, 256, (batch, size, size, 3), dtype=np.uint8)
        sides = rng.integers(17, 30, batch)
        blocks = np.stack([np.zeros(batch, int), np.zeros(batch, int), sides], -1)[:, None]
        image_metrics.block_scores(pred, target, blocks, np.ones(batch, np.int32))
    # Batches of 3, 5, 7 and 6 images, 60 or 64 px, blocks of 17-29 px: chunks of 4 or 8 images, one tile size.
    assert image_metrics._region_metrics._cache_size() == 2
