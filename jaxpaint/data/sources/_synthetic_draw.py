"""Drawing helpers for the synthetic-human source: shapes, textures, backgrounds, compositing.

People are rasterised into a part-label map (uint8, 0 = background): each body part
is drawn with its own id in depth order, so later parts overwrite earlier ones and
the map says which part is on top at every pixel. Colours come afterwards: every id
maps to a material (a solid colour or a texture) and a shade, and label edges are
darkened to give outlines. All randomness comes from the caller's generator.
"""

from __future__ import annotations

import functools

import numpy as np
from PIL import Image, ImageDraw

_CAP_STEPS = 5  # points on each rounded end of a limb polygon


@functools.lru_cache(maxsize=1)
def noise_tile() -> np.ndarray:
    """A fixed 256x256x3 int16 tile of zero-mean noise in [-64, 64), shared by all images.

    Images take random windows of it instead of drawing fresh noise, which is much
    cheaper; the tile is built from a constant seed, so output stays deterministic.
    """
    return np.random.default_rng(20180_7).integers(-64, 64, (256, 256, 3)).astype(np.int16)


@functools.lru_cache(maxsize=8)
def pixel_grid(size: int) -> tuple[np.ndarray, np.ndarray]:
    """Row and column coordinates, shapes (size, 1) and (1, size), as float32."""
    coords = np.arange(size, dtype=np.float32)
    return coords[:, None], coords[None, :]


def noise_window(rng: np.random.Generator, size: int) -> np.ndarray:
    """A size x size x 3 window of the noise tile at a random offset (tiled when size > 256)."""
    tile = noise_tile()
    big = tile if size <= tile.shape[0] else np.tile(tile, (size // tile.shape[0] + 1,) * 2 + (1,))
    row, col = rng.integers(0, big.shape[0] - size + 1), rng.integers(0, big.shape[1] - size + 1)
    return big[row:row + size, col:col + size]


def convex_hull(points: np.ndarray) -> np.ndarray:
    """Convex hull of (N, 2) points in order (Andrew's monotone chain)."""
    pts = sorted(map(tuple, points.tolist()))
    if len(pts) <= 2:
        return np.asarray(pts, np.float32)

    def half(seq):
        out = []
        for p in seq:
            while len(out) >= 2 and (
                (out[-1][0] - out[-2][0]) * (p[1] - out[-2][1]) - (out[-1][1] - out[-2][1]) * (p[0] - out[-2][0])
            ) <= 0:
                out.pop()
            out.append(p)
        return out

    lower, upper = half(pts), half(reversed(pts))
    return np.asarray(lower[:-1] + upper[:-1], np.float32)


_CAP_ANGLES = np.linspace(-np.pi / 2, np.pi / 2, _CAP_STEPS, dtype=np.float32)
_CAP_COS, _CAP_SIN = np.cos(_CAP_ANGLES), np.sin(_CAP_ANGLES)


def capsule_polygon(p0: np.ndarray, p1: np.ndarray, width0: float, width1: float) -> np.ndarray:
    """Outline of a tapered limb from p0 to p1 with rounded ends, as (K, 2) points.

    width0/width1 are the full widths at the two ends; the ends are half circles, so
    a limb seen end-on (p0 close to p1) still draws as a round blob.
    """
    d = p1 - p0
    length = float(np.hypot(d[0], d[1]))
    u = d / length if length > 1e-6 else np.array([0.0, 1.0], np.float32)
    n = np.array([-u[1], u[0]], np.float32)
    r0, r1 = width0 / 2, width1 / 2
    # End cap at p1 sweeps from -n through +u to +n; the cap at p0 from +n through -u to -n.
    cap1 = p1 + r1 * (_CAP_COS[:, None] * u[None] + _CAP_SIN[:, None] * n[None])
    cap0 = p0 + r0 * (-_CAP_COS[:, None] * u[None] - _CAP_SIN[:, None] * n[None])
    return np.concatenate([cap1, cap0], axis=0)


def draw_polygon(draw: ImageDraw.ImageDraw, points: np.ndarray, fill: int) -> None:
    draw.polygon(points.ravel().tolist(), fill=fill)


def draw_disc(draw: ImageDraw.ImageDraw, centre: np.ndarray, radius: float, fill: int) -> None:
    x, y = float(centre[0]), float(centre[1])
    draw.ellipse((x - radius, y - radius, x + radius, y + radius), fill=fill)


def random_colour(rng: np.random.Generator, low: int = 0, high: int = 256) -> np.ndarray:
    return rng.integers(low, high, 3).astype(np.int16)


def vary_colour(rng: np.random.Generator, colour: np.ndarray, spread: int) -> np.ndarray:
    return np.clip(colour + rng.integers(-spread, spread + 1, 3), 0, 255).astype(np.int16)


def texture(rng: np.random.Generator, size: int, base: np.ndarray, kind: str) -> np.ndarray:
    """A size x size x 3 uint8 clothing texture in scene coordinates.

    kind: "solid", "stripes" (any direction), "checks" or "noise". The second colour
    of a pattern is a strong variation of `base`, or an unrelated colour.
    """
    if kind == "solid":
        return np.broadcast_to(base.astype(np.uint8), (size, size, 3))
    second = vary_colour(rng, base, 110) if rng.random() < 0.6 else random_colour(rng)
    rows, cols = pixel_grid(size)
    period = float(rng.uniform(3.0, 10.0)) * size / 192
    if kind == "stripes":
        angle = rng.choice([0.0, np.pi / 2, np.pi / 4, -np.pi / 4, float(rng.uniform(0, np.pi))])
        phase = (np.cos(angle) * cols + np.sin(angle) * rows) / period
        on = (np.floor(phase) % 2 == 0)[..., None]
        return np.where(on, base, second).astype(np.uint8)
    if kind == "checks":
        on = ((np.floor(rows / period) + np.floor(cols / period)) % 2 == 0)[..., None]
        return np.where(on, base, second).astype(np.uint8)
    if kind == "noise":
        grain = noise_window(rng, size) * float(rng.uniform(0.4, 1.2))
        return np.clip(base + grain, 0, 255).astype(np.uint8)
    raise ValueError(f"unknown texture kind {kind!r}")


def linear_gradient(rng: np.random.Generator, size: int, c0: np.ndarray, c1: np.ndarray) -> np.ndarray:
    rows, cols = pixel_grid(size)
    angle = rng.uniform(0, 2 * np.pi)
    t = (np.cos(angle) * cols + np.sin(angle) * rows) / size
    t = (t - t.min()) / max(float(t.max() - t.min()), 1e-6)
    return c0 + t[..., None] * (c1 - c0).astype(np.float32)


def radial_gradient(rng: np.random.Generator, size: int, c0: np.ndarray, c1: np.ndarray) -> np.ndarray:
    rows, cols = pixel_grid(size)
    cy, cx = rng.uniform(0, size, 2)
    t = np.sqrt((rows - cy) ** 2 + (cols - cx) ** 2) / (size * rng.uniform(0.6, 1.2))
    return c0 + np.minimum(t, 1.0)[..., None] * (c1 - c0).astype(np.float32)


def blotches(rng: np.random.Generator, size: int, cells: int) -> np.ndarray:
    """Smooth low-frequency colour variation: a tiny random image upsampled bicubically."""
    small = rng.integers(0, 256, (cells, cells, 3), dtype=np.uint8)
    return np.asarray(Image.fromarray(small).resize((size, size), Image.BICUBIC), np.float32)


def background(rng: np.random.Generator, size: int, horizon: float | None) -> np.ndarray:
    """A scene background as float32 (size, size, 3): a gradient or blotchy base, random
    shapes (buildings, poles, blobs), an optional ground plane below `horizon`, and grain."""
    c0, c1 = random_colour(rng), random_colour(rng)
    kind = rng.integers(3)
    if kind == 0:
        img = linear_gradient(rng, size, c0, c1)
    elif kind == 1:
        img = radial_gradient(rng, size, c0, c1)
    else:
        mix = rng.uniform(0.3, 0.8)
        img = mix * blotches(rng, size, int(rng.integers(3, 9))) + (1 - mix) * linear_gradient(rng, size, c0, c1)
    if rng.random() < 0.6:
        img = _draw_shapes(rng, img, int(rng.integers(2, 9)))
    if horizon is not None:
        img = _ground_plane(rng, img, horizon)
    grain = noise_window(rng, size) * float(rng.uniform(0.02, 0.25))
    return img + grain


def _draw_shapes(rng: np.random.Generator, img: np.ndarray, count: int) -> np.ndarray:
    size = img.shape[0]
    canvas = Image.fromarray(np.clip(img, 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(canvas)
    for _ in range(count):
        colour = tuple(int(c) for c in random_colour(rng))
        x0, y0 = rng.uniform(-0.2, 1.0, 2) * size
        w, h = rng.uniform(0.05, 0.5, 2) * size
        shape = rng.integers(4)
        if shape == 0:  # a building or box
            draw.rectangle((x0, y0, x0 + w, y0 + h * 2), fill=colour)
        elif shape == 1:  # a blob, bush or ball
            draw.ellipse((x0, y0, x0 + w, y0 + h), fill=colour)
        elif shape == 2:  # a pole or line
            draw.line((x0, y0, x0 + rng.uniform(-0.3, 0.3) * size, y0 + h * 2), fill=colour,
                      width=max(1, int(rng.uniform(0.005, 0.03) * size)))
        else:  # an irregular polygon
            pts = np.stack([x0 + rng.uniform(0, w, 5), y0 + rng.uniform(0, h, 5)], 1)
            draw.polygon(convex_hull(pts).ravel().tolist(), fill=colour)
    return np.asarray(canvas, np.float32)


def _ground_plane(rng: np.random.Generator, img: np.ndarray, horizon: float) -> np.ndarray:
    """Fills the rows below `horizon` with a ground colour that brightens toward the viewer,
    with optional court/lane lines."""
    size = img.shape[0]
    top = int(np.clip(horizon, 0, size))
    if top >= size:
        return img
    rows = np.arange(top, size, dtype=np.float32)[:, None, None]
    near = random_colour(rng, 30, 230)
    far = vary_colour(rng, near, 40) * 0.75
    t = (rows - top) / max(size - top, 1)
    ground = far + t * (near - far)
    img = img.copy()
    img[top:] = ground
    if rng.random() < 0.35:  # painted lines on a court or track
        line = vary_colour(rng, np.array([235, 235, 235]), 20)
        for _ in range(int(rng.integers(1, 4))):
            y = int(rng.uniform(top, size))
            img[y:y + max(1, size // 96)] = line
    return img


def shadow(img: np.ndarray, centre_x: float, centre_y: float, half_width: float, strength: float) -> None:
    """Darkens an elliptical patch in place (a contact shadow under the feet)."""
    size = img.shape[0]
    half_height = max(half_width * 0.18, 1.0)
    r0, r1 = int(max(centre_y - half_height, 0)), int(min(centre_y + half_height + 1, size))
    c0, c1 = int(max(centre_x - half_width, 0)), int(min(centre_x + half_width + 1, size))
    if r0 >= r1 or c0 >= c1:
        return
    rows = np.arange(r0, r1, dtype=np.float32)[:, None]
    cols = np.arange(c0, c1, dtype=np.float32)[None, :]
    d = ((cols - centre_x) / half_width) ** 2 + ((rows - centre_y) / half_height) ** 2
    factor = 1.0 - strength * np.clip(1.0 - d, 0.0, 1.0)
    img[r0:r1, c0:c1] *= factor[..., None]


def composite(
    background_img: np.ndarray,
    labels: np.ndarray,
    material_of_label: np.ndarray,
    shade_of_label: np.ndarray,
    materials: list[np.ndarray],
    outline: float,
) -> np.ndarray:
    """Colours a part-label map over a background and returns uint8 (H, W, 3).

    material_of_label: (256,) int, index into `materials` (each (3,) colour or (H, W, 3)
    texture); shade_of_label: (256,) float brightness. Pixels on the border between
    two labels are darkened by `outline` so touching parts stay distinguishable.
    """
    out = np.clip(background_img, 0, 255)
    drawn = labels > 0
    material = material_of_label[labels]
    shade = shade_of_label[labels].astype(np.float32)
    edge = np.zeros(labels.shape, bool)
    edge[1:] |= labels[1:] != labels[:-1]
    edge[:-1] |= labels[:-1] != labels[1:]
    edge[:, 1:] |= labels[:, 1:] != labels[:, :-1]
    shade = np.where(edge & drawn, shade * outline, shade)
    for index, mat in enumerate(materials):
        mask = drawn & (material == index)
        if not mask.any():
            continue
        out[mask] = (mat[mask] if mat.ndim == 3 else mat) * shade[mask][:, None]
    return out.astype(np.uint8)
