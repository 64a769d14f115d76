"""Image grids: holes and joints drawn where they belong, labelled columns, atomic PNGs."""

from __future__ import annotations

import numpy as np
from PIL import Image

from jaxpaint.data.joints import NUM_SLOTS, slot
from jaxpaint.report import grids


def test_hole_is_tinted_with_an_outline_and_the_rest_untouched():
    image = np.full((32, 32, 3), 100, np.uint8)
    hole = np.zeros((32, 32), bool)
    hole[8:20, 10:22] = True
    out = grids.draw_example(image, hole)
    assert (out[~hole] == 100).all()
    assert (out[8, 10:22] == grids.HOLE_OUTLINE).all() and (out[19, 10:22] == grids.HOLE_OUTLINE).all()
    inner = out[12, 15].astype(float)
    expected = (1 - grids.HOLE_TINT_ALPHA) * 100 + grids.HOLE_TINT_ALPHA * grids.HOLE_TINT
    np.testing.assert_allclose(inner, expected, atol=1)


def test_joints_are_drawn_in_their_type_colour_only_when_present():
    image = np.zeros((40, 40, 3), np.uint8)
    xy = np.zeros((NUM_SLOTS, 2), np.float32)
    present = np.zeros(NUM_SLOTS, bool)
    xy[slot("head_top")] = (10, 10)
    present[slot("head_top")] = True
    xy[slot("nose")] = (30, 30)  # not present: must not appear
    out = grids.draw_example(image, None, xy, present, scale=2)
    assert out.shape == (80, 80, 3)
    assert tuple(out[20, 20]) == grids.TYPE_COLOURS[6]  # head_top is type 6
    assert (out[55:65, 55:65] == 0).all()


def test_labelled_columns_and_float_cells(tmp_path):
    a = [np.zeros((16, 16, 3), np.uint8)] * 2
    b = [np.ones((16, 16, 3), np.float32)] * 2  # +1 in model space is white
    path = tmp_path / "g.png"
    grids.save_grid(path, {"input": a, "target": b})
    saved = np.asarray(Image.open(path))
    assert saved.shape == (grids.LABEL_HEIGHT + 2 * 18 + 2, 2 * 18 + 2, 3)
    y0 = grids.LABEL_HEIGHT + 2
    assert (saved[y0 : y0 + 16, 2:18] == 0).all() and (saved[y0 : y0 + 16, 20:36] == 255).all()
    assert [p.name for p in tmp_path.iterdir()] == ["g.png"]  # no temporary file left behind
