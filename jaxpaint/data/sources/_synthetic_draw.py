"""Drawing helpers for the synthetic-human source: shapes, colours, patterns, backgrounds, compositing.

People are rasterised into a part-label map (uint8, 0 = background): each body part
is drawn with its own id in depth order, so later parts overwrite earlier ones and
the map says which part is on top at every pixel. Colours come afterwards: every id
maps to a material (a solid colour or a `Pattern`) and a shade, and label edges are
darkened to give outlines. All randomness comes from the caller's generator; the
work is kept to the region the people cover, so a scene costs a few milliseconds.
"""

from __future__ import annotations

import colorsys
import dataclasses
import functools

import numpy as np
from PIL import Image, ImageDraw

_CAP_STEPS = 5  # points on each rounded end of a limb polygon
_LOW_RES = 16  # smooth background layers are computed at this size and upsampled


@functools.lru_cache(maxsize=1)
def noise_tile() -> np.ndarray:
    """A fixed 256x256x3 int16 tile of zero-mean noise in [-64, 64), shared by all images.

    Images take random windows of it instead of drawing fresh noise, which is much
    cheaper; the tile is built from a constant seed, so output stays deterministic.
    """
    return np.random.default_rng(2018_07).integers(-64, 64, (256, 256, 3)).astype(np.int16)


def noise_window(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """A height x width x 3 window of the noise tile at a random offset (tiled when larger)."""
    tile = noise_tile()
    reps = (max(height, width) // tile.shape[0]) + 1
    big = tile if reps == 1 else np.tile(tile, (reps, reps, 1))
    row = int(rng.integers(0, big.shape[0] - height + 1))
    col = int(rng.integers(0, big.shape[1] - width + 1))
    return big[row:row + height, col:col + width]


# ---------------------------------------------------------------- geometry

def convex_hull(points: np.ndarray) -> np.ndarray:
    """Convex hull of (N, 2) points in order (Andrew's monotone chain)."""
    pts = sorted(map(tuple, points.tolist()))
    if len(pts) <= 2:
        return np.asarray(pts, np.float64)

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
    return np.asarray(lower[:-1] + upper[:-1], np.float64)


_CAP_ANGLES = np.linspace(-np.pi / 2, np.pi / 2, _CAP_STEPS)
_CAP_COS, _CAP_SIN = np.cos(_CAP_ANGLES), np.sin(_CAP_ANGLES)


def capsule_polygons(p0: np.ndarray, p1: np.ndarray, width0: np.ndarray, width1: np.ndarray) -> np.ndarray:
    """Outlines of tapered limbs from p0 to p1 with rounded ends: (N, 2 * _CAP_STEPS, 2).

    p0, p1: (N, 2); width0/width1: (N,) full widths at the two ends. The ends are half
    circles, so a limb seen end-on (p0 close to p1) still draws as a round blob.
    """
    d = p1 - p0
    length = np.hypot(d[:, 0], d[:, 1])[:, None]
    u = np.where(length > 1e-6, d / np.maximum(length, 1e-6), np.array([0.0, 1.0]))
    n = np.stack([-u[:, 1], u[:, 0]], axis=1)
    r0, r1 = (width0 / 2)[:, None, None], (width1 / 2)[:, None, None]
    c, s = _CAP_COS[None, :, None], _CAP_SIN[None, :, None]
    # the cap at p1 sweeps -n -> +u -> +n, the cap at p0 sweeps +n -> -u -> -n
    cap1 = p1[:, None] + r1 * (c * u[:, None] + s * n[:, None])
    cap0 = p0[:, None] - r0 * (c * u[:, None] + s * n[:, None])
    return np.concatenate([cap1, cap0], axis=1)


def draw_polygon(draw: ImageDraw.ImageDraw, points: np.ndarray, fill: int) -> None:
    draw.polygon(points.ravel().tolist(), fill=fill)


def draw_disc(draw: ImageDraw.ImageDraw, centre: np.ndarray, radius: float, fill: int) -> None:
    x, y = float(centre[0]), float(centre[1])
    draw.ellipse((x - radius, y - radius, x + radius, y + radius), fill=fill)


# ---------------------------------------------------------------- colours and patterns

_NEUTRALS = np.array([[25, 25, 28], [235, 235, 230], [128, 128, 128], [45, 60, 100], [190, 170, 130], [70, 50, 40]])


def vary_colour(rng: np.random.Generator, colour: np.ndarray, spread: int) -> np.ndarray:
    return np.clip(colour + rng.integers(-spread, spread + 1, 3), 0, 255).astype(np.float64)


def hsv_colour(rng: np.random.Generator, saturation: tuple[float, float], value: tuple[float, float]) -> np.ndarray:
    """A colour of random hue with saturation and value drawn from the given ranges (0..255 floats)."""
    rgb = colorsys.hsv_to_rgb(rng.random(), rng.uniform(*saturation), rng.uniform(*value))
    return np.array(rgb) * 255


def cloth_colour(rng: np.random.Generator) -> np.ndarray:
    """A clothing colour: a neutral (black, white, grey, denim, khaki, brown) a third of the time, else a dyed one."""
    if rng.random() < 0.35:
        return vary_colour(rng, _NEUTRALS[rng.integers(len(_NEUTRALS))], 18)
    return hsv_colour(rng, (0.25, 0.9), (0.25, 0.95))


def scene_colour(rng: np.random.Generator) -> np.ndarray:
    """A background colour: mostly muted, as walls, sky, grass and floors are."""
    return hsv_colour(rng, (0.0, 0.6), (0.15, 0.95))


PATTERN_KINDS = ("solid", "stripes", "checks", "noise")


@dataclasses.dataclass
class Pattern:
    """A clothing pattern in scene coordinates, evaluated only where it shows.

    kind: "solid", "stripes" (any direction), "checks" or "noise".
    """

    kind: str
    base: np.ndarray
    second: np.ndarray
    period: float
    angle: float
    noise: np.ndarray | None  # (S, S, 3) int16 window of the noise tile for "noise"
    noise_gain: float

    def colours(self, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """Colours (K, 3) float at integer pixel coordinates rows, cols (K,)."""
        if self.kind == "solid":
            return np.broadcast_to(self.base, (len(rows), 3))
        if self.kind == "noise":
            # mostly brightness grain, like woven or printed fabric, with a little colour
            grain = self.noise[rows, cols]
            return self.base + (grain[:, :1] * 0.8 + grain * 0.2) * self.noise_gain
        if self.kind == "stripes":
            on = np.floor((np.cos(self.angle) * cols + np.sin(self.angle) * rows) / self.period) % 2 == 0
        else:
            on = (np.floor(rows / self.period) + np.floor(cols / self.period)) % 2 == 0
        return np.where(on[:, None], self.base, self.second)


def solid(colour: np.ndarray) -> Pattern:
    """A plain colour as a pattern."""
    return Pattern("solid", np.asarray(colour, np.float64), np.asarray(colour, np.float64), 1.0, 0.0, None, 0.0)


def random_pattern(rng: np.random.Generator, scene: int, base: np.ndarray, kind: str) -> Pattern:
    """A pattern of the given kind around `base`; the second colour is a strong variation or an unrelated colour."""
    second = vary_colour(rng, base, 110) if rng.random() < 0.5 else cloth_colour(rng)
    period = float(rng.uniform(3.0, 10.0)) * scene / 192
    angle = float(rng.choice([0.0, np.pi / 2, np.pi / 4, -np.pi / 4, rng.uniform(0, np.pi)]))
    noise = noise_window(rng, scene, scene) if kind == "noise" else None
    return Pattern(kind, np.asarray(base, np.float64), second, period, angle, noise, float(rng.uniform(0.3, 0.9)))


# ---------------------------------------------------------------- backgrounds

def _low_res_base(rng: np.random.Generator, c0: np.ndarray, c1: np.ndarray) -> np.ndarray:
    """A smooth _LOW_RES x _LOW_RES float image: linear gradient, radial gradient, or blotches over a gradient."""
    coords = (np.arange(_LOW_RES) + 0.5) / _LOW_RES
    rows, cols = coords[:, None], coords[None, :]
    kind = rng.integers(3)
    if kind == 1:
        cy, cx = rng.uniform(0, 1, 2)
        t = np.minimum(np.sqrt((rows - cy) ** 2 + (cols - cx) ** 2) / rng.uniform(0.6, 1.2), 1.0)
    else:
        angle = rng.uniform(0, 2 * np.pi)
        t = np.cos(angle) * cols + np.sin(angle) * rows
        t = (t - t.min()) / max(float(t.max() - t.min()), 1e-6)
    img = c0 + t[..., None] * (c1 - c0)
    if kind == 2:
        cells = int(rng.integers(3, 9))
        small = np.clip(c1 + rng.integers(-70, 71, (cells, cells, 3)), 0, 255).astype(np.uint8)
        blotch = np.asarray(Image.fromarray(small).resize((_LOW_RES, _LOW_RES), Image.BICUBIC), np.float64)
        mix = rng.uniform(0.3, 0.8)
        img = mix * blotch + (1 - mix) * img
    return img


def background(rng: np.random.Generator, size: int, horizon: float | None) -> np.ndarray:
    """A scene background, uint8 (size, size, 3): a gradient or blotchy base, random shapes
    (buildings, poles, blobs), an optional ground plane below `horizon`, and grain."""
    c0 = scene_colour(rng)
    c1 = vary_colour(rng, c0, 80) if rng.random() < 0.5 else scene_colour(rng)
    low = np.clip(_low_res_base(rng, c0, c1), 0, 255).astype(np.uint8)
    canvas = Image.fromarray(low).resize((size, size), Image.BILINEAR)
    if rng.random() < 0.6:
        _draw_shapes(rng, ImageDraw.Draw(canvas), size, int(rng.integers(2, 9)))
    img = np.array(canvas)
    if horizon is not None:
        _ground_plane(rng, img, horizon)
    gain = int(rng.integers(0, 5))  # grain amplitude in 1/16ths of the tile's +-64
    grain = (noise_window(rng, size, size) * gain) >> 4
    return np.clip(img + grain, 0, 255).astype(np.uint8)


def _draw_shapes(rng: np.random.Generator, draw: ImageDraw.ImageDraw, size: int, count: int) -> None:
    for _ in range(count):
        colour = tuple(int(c) for c in (scene_colour(rng) if rng.random() < 0.8 else cloth_colour(rng)))
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
            draw_polygon(draw, convex_hull(pts), colour)


def _ground_plane(rng: np.random.Generator, img: np.ndarray, horizon: float) -> None:
    """Fills the rows below `horizon` in place with a ground colour that brightens toward
    the viewer, sometimes with painted court or track lines."""
    size = img.shape[0]
    top = int(np.clip(horizon, 0, size))
    if top >= size:
        return
    near = scene_colour(rng)
    far = vary_colour(rng, near, 40) * 0.75
    t = np.linspace(0.0, 1.0, size - top)[:, None, None]
    img[top:] = np.clip(far + t * (near - far), 0, 255).astype(np.uint8)
    if rng.random() < 0.35:
        line = vary_colour(rng, np.array([235, 235, 230]), 20).astype(np.uint8)
        for _ in range(int(rng.integers(1, 4))):
            y = int(rng.uniform(top, size))
            img[y:y + max(1, size // 96)] = line


def shadow(img: np.ndarray, centre_x: float, centre_y: float, half_width: float, strength: float) -> None:
    """Darkens an elliptical patch of a uint8 image in place (a contact shadow under the feet)."""
    size = img.shape[0]
    half_height = max(half_width * 0.18, 1.0)
    r0, r1 = int(max(centre_y - half_height, 0)), int(min(centre_y + half_height + 1, size))
    c0, c1 = int(max(centre_x - half_width, 0)), int(min(centre_x + half_width + 1, size))
    if r0 >= r1 or c0 >= c1:
        return
    rows = np.arange(r0, r1)[:, None]
    cols = np.arange(c0, c1)[None, :]
    d = ((cols - centre_x) / half_width) ** 2 + ((rows - centre_y) / half_height) ** 2
    factor = 1.0 - strength * np.clip(1.0 - d, 0.0, 1.0)
    img[r0:r1, c0:c1] = (img[r0:r1, c0:c1] * factor[..., None]).astype(np.uint8)


# ---------------------------------------------------------------- compositing

def composite(
    image: np.ndarray,
    labels: np.ndarray,
    box: tuple[int, int, int, int],
    material_of_label: np.ndarray,
    shade_of_label: np.ndarray,
    materials: list[Pattern],
    outline: float,
) -> None:
    """Colours a part-label map over a uint8 image in place, within box = (row0, col0, row1, col1).

    material_of_label: (256,) index into `materials`; shade_of_label: (256,) brightness.
    Pixels on the border between two labels are darkened by `outline`, so touching
    parts stay distinguishable.
    """
    r0, c0, r1, c1 = box
    lab = labels[r0:r1, c0:c1]
    edge = np.zeros(lab.shape, bool)
    edge[1:] |= lab[1:] != lab[:-1]
    edge[:-1] |= lab[:-1] != lab[1:]
    edge[:, 1:] |= lab[:, 1:] != lab[:, :-1]
    rows, cols = np.nonzero(lab)
    if len(rows) == 0:
        return
    part = lab[rows, cols]
    shade = shade_of_label[part] * np.where(edge[rows, cols], outline, 1.0)
    material = material_of_label[part]
    rows, cols = rows + r0, cols + c0
    colours = np.empty((len(rows), 3))
    for index in np.unique(material):
        sel = material == index
        colours[sel] = materials[index].colours(rows[sel], cols[sel])
    image[rows, cols] = np.clip(colours * shade[:, None], 0, 255).astype(np.uint8)
