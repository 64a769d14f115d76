"""FLIC, Frames Labelled In Cinema (Sapp & Taskar 2013): 5003 movie frames, one person each.

On disk: `examples.mat` with the struct array `examples` and `images/`. Fields used:
  filepath   the frame's file name in images/
  coords     (2, 29) x, y of the 29 FLIC points; NaN = not labelled
  moviename, currframe   which film and frame, used to thin out the frames
FLIC labels 11 of its 29 points; Table 2 of the thesis keeps hips, wrists,
elbows, shoulders, eyes and the nose. The labels carry no visibility flag.

The thesis keeps about half of the frames to raise pose variance (§2.3.1):
`frame_stride=2` keeps every second frame of each film in frame order.
"""

from __future__ import annotations

import os
from collections import defaultdict
from pathlib import Path
from typing import Iterator

from jaxpaint.data.images import load_rgb
from jaxpaint.data.joints import from_table
from jaxpaint.data.sources import SourceImage
from jaxpaint.data.sources.matfile import as_float_array, as_list, as_scalar, as_text, field, load_mat
from jaxpaint.errors import JaxpaintError

NAME = "flic"
CROP = True
MANUAL_DOWNLOAD_INSTRUCTIONS = (
    "Download FLIC.zip from https://bensapp.github.io/flic-dataset.html and unpack it so that "
    "--manual-dir holds examples.mat and images/."
)

FLIC_POINT_NAMES = (
    "lsho", "lelb", "lwri", "rsho", "relb", "rwri", "lhip", "lkne", "lank", "rhip", "rkne", "rank",
    "leye", "reye", "lear", "rear", "nose", "msho", "mhip", "mear", "mtorso",
    "mluarm", "mruarm", "mllarm", "mrlarm", "mluleg", "mruleg", "mllleg", "mrlleg",
)
_KEPT = {
    "lsho": ("shoulder", "left"), "lelb": ("elbow", "left"), "lwri": ("wrist", "left"),
    "rsho": ("shoulder", "right"), "relb": ("elbow", "right"), "rwri": ("wrist", "right"),
    "lhip": ("hip", "left"), "rhip": ("hip", "right"),
    "leye": ("eye", "left"), "reye": ("eye", "right"), "nose": ("nose", "none"),
}
FLIC_TABLE: list[tuple[str, str] | None] = [_KEPT.get(name) for name in FLIC_POINT_NAMES]


def kept_frames(movies: list[str], frames: list[float], stride: int) -> list[int]:
    """Indices of every `stride`-th frame of each film, counted in frame order."""
    by_movie = defaultdict(list)
    for index, movie in enumerate(movies):
        by_movie[movie].append(index)
    kept = []
    for indices in by_movie.values():
        ordered = sorted(indices, key=lambda i: (frames[i], i))
        kept += ordered[::stride]
    return sorted(kept)


def iter_images(manual_dir: str | os.PathLike | None, frame_stride: int = 2) -> Iterator[SourceImage]:
    """FLIC frames with their person; frame_stride=1 keeps every frame."""
    if manual_dir is None:
        raise JaxpaintError(f"the flic source needs --manual-dir. {MANUAL_DOWNLOAD_INSTRUCTIONS}")
    if not isinstance(frame_stride, int) or frame_stride < 1:
        raise JaxpaintError(f"flic frame_stride must be a positive integer, got {frame_stride!r}")
    root = Path(manual_dir)
    path = root / "examples.mat"
    examples = as_list(load_mat(path, "examples"))
    movies, frames = [], []
    for i, example in enumerate(examples):
        where = f"examples({i + 1})"
        movies.append(as_text(field(example, "moviename", path, where), path, f"{where}.moviename"))
        frame = as_scalar(field(example, "currframe", path, where), path, f"{where}.currframe")
        frames.append(-1.0 if frame is None else frame)
    for i in kept_frames(movies, frames, frame_stride):
        where = f"examples({i + 1})"
        example = examples[i]
        name = Path(as_text(field(example, "filepath", path, where), path, f"{where}.filepath").replace("\\", "/")).name
        coords = as_float_array(field(example, "coords", path, where), (2, len(FLIC_POINT_NAMES)), path, f"{where}.coords")
        pose = from_table(coords.T, FLIC_TABLE)
        if not pose.num_present:
            continue
        image_path = root / "images" / name
        if not image_path.is_file():
            raise JaxpaintError(f"image {image_path} (from {path}, {where}) does not exist")
        yield SourceImage(image_id=Path(name).stem, path=str(image_path), load=lambda p=image_path: load_rgb(p), people=[pose])
