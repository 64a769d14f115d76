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


# ---------------------------------------------------------------- images read as they are meant


def test_16_bit_is_scaled_not_clipped(tmp_path):
    values = np.array([[0, 257, 1000, 32768, 65535]], np.uint16)
    Image.fromarray(values).save(tmp_path / "g16.png")
    assert Image.open(tmp_path / "g16.png").mode.startswith("I")
    out = load_rgb(tmp_path / "g16.png")
    np.testing.assert_array_equal(out[..., 0], [[0, 1, 4, 128, 255]])  # round(v * 255 / 65535)
    assert (out == out[..., :1]).all()
    gray = _pattern()[..., 0]
    Image.fromarray(gray.astype(np.uint16) * 257).save(tmp_path / "twin16.png")
    np.testing.assert_array_equal(load_rgb(tmp_path / "twin16.png")[..., 0], gray)  # the same picture as 8 bits


def test_alpha_opaque_loads_and_transparent_is_refused(tmp_path):
    rgb = _pattern()
    rgba = np.concatenate([rgb, np.full(rgb.shape[:2] + (1,), 255, np.uint8)], axis=2)
    Image.fromarray(rgba, "RGBA").save(tmp_path / "opaque.png")
    np.testing.assert_array_equal(load_rgb(tmp_path / "opaque.png"), rgb)
    Image.fromarray(rgba[..., [0, 3]], "LA").save(tmp_path / "la.png")
    np.testing.assert_array_equal(load_rgb(tmp_path / "la.png"), np.repeat(rgb[..., :1], 3, axis=2))
    rgba[2:4, 3:6, 3] = 10
    Image.fromarray(rgba, "RGBA").save(tmp_path / "holey.png")
    with pytest.raises(JaxpaintError, match=r"holey\.png has 6 transparent pixels"):
        load_rgb(tmp_path / "holey.png")


def test_palette_with_a_used_transparent_entry_is_refused(tmp_path):
    indices = np.zeros((4, 4), np.uint8)
    indices[0, 0] = 1
    image = Image.fromarray(indices, "P")
    image.putpalette([10, 20, 30, 200, 100, 50] + [0] * 762)
    image.save(tmp_path / "plain.png")
    np.testing.assert_array_equal(load_rgb(tmp_path / "plain.png")[0, :2], [[200, 100, 50], [10, 20, 30]])
    image.save(tmp_path / "unused.png", transparency=7)  # a transparent entry no pixel uses
    np.testing.assert_array_equal(load_rgb(tmp_path / "unused.png"), load_rgb(tmp_path / "plain.png"))
    image.save(tmp_path / "used.png", transparency=1)
    with pytest.raises(JaxpaintError, match=r"used\.png has 1 transparent pixels"):
        load_rgb(tmp_path / "used.png")


def test_cmyk_jpeg_keeps_its_colour(tmp_path):
    Image.fromarray(np.full((16, 16, 3), (200, 40, 90), np.uint8)).convert("CMYK").save(tmp_path / "c.jpg", quality=95)
    assert Image.open(tmp_path / "c.jpg").mode == "CMYK"
    np.testing.assert_allclose(load_rgb(tmp_path / "c.jpg").reshape(-1, 3).mean(axis=0), (200, 40, 90), atol=6)


def test_exif_orientation_is_not_applied(tmp_path):
    """Joints, masks and blocks refer to the stored pixel grid, so the stored pixels are what loads."""
    image = _pattern(12, 10)
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90° clockwise to display"
    Image.fromarray(image).save(tmp_path / "rotated.png", exif=exif)
    assert Image.open(tmp_path / "rotated.png").getexif().get(0x0112) == 6
    np.testing.assert_array_equal(load_rgb(tmp_path / "rotated.png"), image)


def test_float_images_are_refused(tmp_path):
    Image.fromarray(np.zeros((4, 4), np.float32), "F").save(tmp_path / "f.tif")
    with pytest.raises(JaxpaintError, match=r"f\.tif.*mode F"):
        load_rgb(tmp_path / "f.tif")


@pytest.mark.parametrize("umask,file_mode,dir_mode", [(0o022, 0o644, 0o755), (0o027, 0o640, 0o750)])
def test_outputs_respect_the_umask(tmp_path, umask, file_mode, dir_mode):
    from jaxpaint.data.images import staged_directory, write_bytes_atomic

    old = os.umask(umask)
    try:
        write_bytes_atomic(tmp_path / "f.txt", b"x")
        with staged_directory(tmp_path / "folder") as staging:
            write_bytes_atomic(staging / "inner.txt", b"y")
    finally:
        os.umask(old)
    assert (tmp_path / "f.txt").stat().st_mode & 0o777 == file_mode
    assert (tmp_path / "folder").stat().st_mode & 0o777 == dir_mode
    assert (tmp_path / "folder" / "inner.txt").stat().st_mode & 0o777 == file_mode


def test_output_path_may_not_cover_an_input(tmp_path):
    from jaxpaint.data.images import check_output_path

    (tmp_path / "in" / "sub").mkdir(parents=True)
    check_output_path(tmp_path / "out", "--out", {"--input": tmp_path / "in"})
    for out, problem in ((tmp_path / "in", "is the same path as"), (tmp_path / "in" / "sub" / "o", "lies inside"),
                         (tmp_path, "holds"), (tmp_path / "in" / ".." / "in", "is the same path as")):
        with pytest.raises(JaxpaintError, match=f"--out .* {problem} the input --input"):
            check_output_path(out, "--out", {"--input": tmp_path / "in"})
    (tmp_path / "link").symlink_to(tmp_path / "in")
    with pytest.raises(JaxpaintError, match="same path"):
        check_output_path(tmp_path / "link", "--out", {"--input": tmp_path / "in"})
