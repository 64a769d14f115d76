"""Image I/O: every mode decodes to uint8 RGB; unreadable files raise JaxpaintError naming the path."""

from __future__ import annotations

import os

import numpy as np
import pytest
from PIL import Image

from jaxpaint.data.images import encode_png, load_rgb, save_png_atomic
from jaxpaint.errors import JaxpaintError


def _pattern(h=12, w=10, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def test_png_round_trip_is_exact(tmp_path):
    image = _pattern()
    path = tmp_path / "a.png"
    save_png_atomic(path, image)
    np.testing.assert_array_equal(load_rgb(path), image)
    # Same array, same bytes: the track folder must be reproducible.
    assert path.read_bytes() == encode_png(image)
    assert [p.name for p in tmp_path.iterdir()] == ["a.png"]  # no temporary file left behind


@pytest.mark.parametrize("mode", ["L", "RGBA", "CMYK", "P", "I;16"])
def test_other_modes_become_rgb(tmp_path, mode):
    rgb = Image.fromarray(_pattern())
    image = rgb.convert(mode)
    suffix = ".jpg" if mode == "CMYK" else ".png"
    path = tmp_path / f"x{suffix}"
    image.save(path)
    out = load_rgb(path)
    assert out.dtype == np.uint8 and out.shape == (12, 10, 3)
    if mode in ("L", "RGBA", "P"):
        np.testing.assert_array_equal(out, np.asarray(Image.open(path).convert("RGB")))
    if mode == "L":
        assert (out[..., 0] == out[..., 1]).all() and (out[..., 1] == out[..., 2]).all()


def test_jpeg_decodes_close_to_source(tmp_path):
    image = np.full((16, 16, 3), (200, 40, 90), np.uint8)
    path = tmp_path / "a.jpg"
    Image.fromarray(image).save(path, quality=95)
    assert np.abs(load_rgb(path).astype(int) - image).max() <= 3


def test_missing_file_names_path(tmp_path):
    with pytest.raises(JaxpaintError, match="nope.jpg.*does not exist"):
        load_rgb(tmp_path / "nope.jpg")


def test_truncated_jpeg_fails_on_load(tmp_path):
    path = tmp_path / "cut.jpg"
    Image.fromarray(_pattern(64, 64)).save(path, quality=90)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(JaxpaintError, match=r"cut\.jpg.*cannot be decoded"):
        load_rgb(path)


def test_garbage_file_fails(tmp_path):
    path = tmp_path / "junk.png"
    path.write_bytes(b"not an image at all")
    with pytest.raises(JaxpaintError, match=r"junk\.png"):
        load_rgb(path)


def test_save_rejects_bad_arrays_and_keeps_old_file(tmp_path):
    path = tmp_path / "keep.png"
    save_png_atomic(path, _pattern())
    before = path.read_bytes()
    with pytest.raises(JaxpaintError, match=r"keep\.png.*dtype"):
        save_png_atomic(path, _pattern().astype(np.float32))
    with pytest.raises(JaxpaintError, match=r"keep\.png.*shape"):
        save_png_atomic(path, np.zeros((4, 4, 2), np.uint8))
    assert path.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["keep.png"]
