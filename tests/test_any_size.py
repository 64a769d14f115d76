"""Photos of any size through a network trained on S×S crops (jaxpaint.any_size): the windows around the
holes, the padded whole photo and the squeezed photo, with stand-in inpainters whose answers are known."""

from __future__ import annotations

import numpy as np
import pytest

from jaxpaint import any_size
from jaxpaint.errors import JaxpaintError

SIZE = 32


def random_case(seed: int):
    rng = np.random.default_rng(seed)
    height, width = (int(v) for v in rng.integers(20, 150, 2))
    image = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
    hole = np.zeros((height, width), bool)
    for _ in range(int(rng.integers(1, 4))):
        side = int(rng.integers(2, max(3, min(height, width) // 2)))
        top, left = int(rng.integers(0, height - side + 1)), int(rng.integers(0, width - side + 1))
        hole[top:top + side, left:left + side] = True
    return image, hole


class Recorder:
    """An inpainter that paints every pixel one colour, and keeps the shapes it was called with."""

    def __init__(self, colour=(10, 200, 30), size: int | None = SIZE):
        self.colour, self.size, self.calls = np.asarray(colour, np.uint8), size, []

    def __call__(self, images, holes):
        assert images.dtype == np.uint8 and holes.shape == images.shape[:3]
        if self.size is not None:
            assert images.shape[1:3] == (self.size, self.size)
        self.calls.append(images.shape)
        return np.broadcast_to(self.colour, images.shape).copy()


@pytest.mark.parametrize("fit", any_size.FITS)
def test_every_fit_keeps_known_pixels_and_fills_every_hole_over_many_seeds(fit):
    for seed in range(25):
        image, hole = random_case(seed)
        inpainter = Recorder(size=None if fit == "full" else SIZE)
        (result,) = any_size.inpaint_any_size(inpainter, [image], [hole], SIZE, fit)
        assert result.shape == image.shape and result.dtype == np.uint8
        np.testing.assert_array_equal(result[~hole], image[~hole])
        assert np.all(result[hole] == inpainter.colour)
        if fit == "full":
            assert all(h % any_size.PAD_MULTIPLE == 0 and w % any_size.PAD_MULTIPLE == 0 for _, h, w, _ in inpainter.calls)


def test_windows_hold_their_hole_with_context_and_lie_inside_a_large_enough_image():
    for seed in range(50):
        image, hole = random_case(seed)
        height, width = hole.shape
        windows = any_size.hole_windows(hole, SIZE)
        assert np.array_equal(np.logical_or.reduce([mine for *_, mine in windows]), hole)  # every hole pixel once
        for top, left, side, mine in windows:
            rows, cols = np.nonzero(mine)
            extent = max(rows.max() - rows.min(), cols.max() - cols.min()) + 1
            assert side == max(SIZE, int(np.ceil(any_size.WINDOW_CONTEXT * extent)))
            assert top <= rows.min() and rows.max() < top + side and left <= cols.min() and cols.max() < left + side
            if height >= side:
                assert 0 <= top and top + side <= height
            if width >= side:
                assert 0 <= left and left + side <= width


def test_a_window_sees_the_photo_at_the_models_scale_when_the_hole_is_small():
    """A hole a third of the model's side or less: the window is S×S, cut without resizing, so the network
    sees exactly the photo's pixels around it, with only the holes marked."""
    image, hole = np.random.default_rng(1).integers(0, 256, (100, 140, 3), dtype=np.uint8), np.zeros((100, 140), bool)
    hole[40:48, 60:66] = True
    seen = []

    def inpainter(images, holes):
        seen.append((images.copy(), holes.copy()))
        return images
    any_size.inpaint_windows(inpainter, [image], [hole], SIZE)
    (images, holes), = seen
    (top, left, side, _), = any_size.hole_windows(hole, SIZE)
    assert side == SIZE
    np.testing.assert_array_equal(images[0], image[top:top + SIZE, left:left + SIZE])
    np.testing.assert_array_equal(holes[0], hole[top:top + SIZE, left:left + SIZE])


def test_full_pads_with_edge_pixels_marked_known_and_groups_equal_shapes():
    images = [np.full((70, 50, 3), 7, np.uint8), np.full((100, 60, 3), 9, np.uint8), np.full((20, 20, 3), 5, np.uint8)]
    holes = [np.zeros(im.shape[:2], bool) for im in images]
    for hole in holes:
        hole[2:6, 3:9] = True
    calls = []

    def inpainter(batch, batch_holes):
        calls.append(batch.shape)
        assert not batch_holes[:, 64:, :].any() and not batch_holes[:, :, 64:].any()  # padding is known
        return batch
    results = any_size.inpaint_full(inpainter, images, holes)
    assert sorted(calls) == [(1, 64, 64, 3), (2, 128, 64, 3)]
    for result, image in zip(results, images):
        np.testing.assert_array_equal(result, image)  # the identity network gives the photo back


def test_unknown_fit_is_refused():
    image, hole = random_case(0)
    with pytest.raises(JaxpaintError, match="--fit 'crop'"):
        any_size.inpaint_any_size(Recorder(), [image], [hole], SIZE, "crop")
