"""LSP Extended (LSPET, Johnson & Everingham 2011): 10,000 Flickr images, 14 joints each.

On disk: `joints.mat` with `joints` of shape (14, 3, N) — x, y and a flag per
joint — and `images/im00001.jpg ...`, column n of `joints` belonging to image
number n + 1.

The flag: 1 means the joint is annotated (and visible), 0 means it was not
annotated. Inspecting the released file shows that every flag-0 entry has junk
coordinates (one of x, y is 0 and the other negative or 0), so a flag-0 joint is
treated as absent, not as occluded; a flag-1 joint is present and visible.

The original LSP (2000 images, `jaxpaint.data.sources.lsp`) stores the same
joints as (3, 14, N) with the opposite flag meaning; `read_leeds_joints` parses
both layouts.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path
from typing import Iterator

import numpy as np
import scipy.io

from jaxpaint.data.images import load_rgb, staged_directory
from jaxpaint.data.joints import Pose, from_table
from jaxpaint.data.sources import SourceImage
from jaxpaint.data.sources.matfile import load_mat
from jaxpaint.errors import JaxpaintError

NAME = "lspet"
CROP = True  # wide scenes: crop around the person
MANUAL_DOWNLOAD_INSTRUCTIONS = (
    "Download lspet_dataset.zip from http://sam.johnson.io/research/lspet.html and unpack it so that "
    "--manual-dir holds joints.mat and images/im00001.jpg ..."
)

# Source joint order of LSP and LSPET. "Neck" is the upper neck in the thesis's schema.
LEEDS_TABLE: list[tuple[str, str] | None] = [
    ("ankle", "right"), ("knee", "right"), ("hip", "right"),
    ("hip", "left"), ("knee", "left"), ("ankle", "left"),
    ("wrist", "right"), ("elbow", "right"), ("shoulder", "right"),
    ("shoulder", "left"), ("elbow", "left"), ("wrist", "left"),
    ("upper_neck", "none"), ("head_top", "none"),
]
NUM_LEEDS_JOINTS = len(LEEDS_TABLE)
LAYOUTS = ("lspet", "lsp")
IMAGE_NUMBER_DIGITS = {"lspet": 5, "lsp": 4}  # im00001.jpg in LSPET, im0001.jpg in LSP
_IMAGE_NAME = re.compile(r"^im(\d+)\.jpg$")


def read_leeds_joints(mat_path: str | os.PathLike, layout: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Parses a Leeds `joints.mat` into (xy (N, 14, 2), present (N, 14), visible (N, 14)).

    layout "lspet": (14, 3, N), flag 1 = annotated and visible, 0 = not annotated.
    layout "lsp":   (3, 14, N), flag 1 = occluded, 0 = visible; every joint is
                    annotated (occluded ones are estimated by the annotator).
    In both, a joint with non-finite coordinates is absent.
    """
    if layout not in LAYOUTS:
        raise ValueError(f"unknown Leeds layout {layout!r}; expected one of {LAYOUTS}")
    mat_path = Path(mat_path)
    raw = load_mat(mat_path, "joints")
    try:
        joints = np.asarray(raw, dtype=np.float64)
    except (TypeError, ValueError):
        raise JaxpaintError(f"annotation file {mat_path}: 'joints' is not a numeric array") from None
    if joints.ndim == 2:  # squeeze_me drops the last axis of a one-image file
        joints = joints[..., None]
    expected = (NUM_LEEDS_JOINTS, 3) if layout == "lspet" else (3, NUM_LEEDS_JOINTS)
    if joints.ndim != 3 or joints.shape[:2] != expected:
        raise JaxpaintError(
            f"annotation file {mat_path}: 'joints' has shape {joints.shape}, expected "
            f"({expected[0]}, {expected[1]}, N) for the {layout} layout"
        )
    if layout == "lspet":
        per_image = joints.transpose(2, 0, 1)  # (N, 14, 3)
    else:
        per_image = joints.transpose(2, 1, 0)
    xy, flag = per_image[..., :2], per_image[..., 2]
    finite = np.isfinite(xy).all(axis=-1)
    if layout == "lspet":
        present = finite & (flag == 1)
        visible = present.copy()
    else:
        present = finite
        visible = present & (flag == 0)
    return xy, present, visible


def leeds_pose(xy: np.ndarray, present: np.ndarray, visible: np.ndarray) -> Pose:
    """One image's (14, 2) joints as a Pose; absent joints become NaN so from_table skips them."""
    points = np.where(present[:, None], xy, np.nan)
    return from_table(points, LEEDS_TABLE, visible=visible)


def numbered_images(images_dir: Path) -> dict[int, Path]:
    """Maps image number n to images_dir/im<n>.jpg (any zero padding)."""
    if not images_dir.is_dir():
        raise JaxpaintError(f"images folder {images_dir} does not exist")
    numbered = {}
    for path in images_dir.iterdir():
        match = _IMAGE_NAME.match(path.name)
        if match:
            numbered[int(match.group(1))] = path
    return numbered


def iter_leeds_images(manual_dir: str | os.PathLike | None, layout: str, limit: int | None = None) -> Iterator[SourceImage]:
    """SourceImages of an LSP or LSPET folder (joints.mat + images/), in image-number order.

    Every annotation column must have its image; an image without a column
    means the folder and joints.mat do not belong together.
    """
    if manual_dir is None:
        raise JaxpaintError(f"the {layout} source needs --manual-dir")
    root = Path(manual_dir)
    mat_path = root / "joints.mat"
    images = numbered_images(root / "images")
    xy, present, visible = read_leeds_joints(mat_path, layout)
    count = xy.shape[0]
    extra = sorted(n for n in images if not 1 <= n <= count)
    if extra:
        raise JaxpaintError(
            f"annotation file {mat_path} has {count} images but {images[extra[0]]} has no annotation column"
        )
    for index in range(count if limit is None else min(limit, count)):
        number = index + 1
        if number not in images:
            raise JaxpaintError(f"annotation file {mat_path} annotates image {number} but {root / 'images'} has no im{number:0{IMAGE_NUMBER_DIGITS[layout]}d}.jpg")
        path = images[number]
        pose = leeds_pose(xy[index], present[index], visible[index])
        people = [pose] if pose.num_present else []
        yield SourceImage(image_id=path.stem, path=str(path), load=lambda p=path: load_rgb(p), people=people)


def iter_images(manual_dir: str | os.PathLike | None, limit: int | None = None) -> Iterator[SourceImage]:
    """LSPET images with one person each; `limit` keeps the first images only."""
    return iter_leeds_images(manual_dir, "lspet", limit)


def write_lsp_layout(src_dir: str | os.PathLike, out_dir: str | os.PathLike, limit: int | None = None) -> int:
    """Rewrites an LSPET folder in the original LSP layout; returns the number of images written.

    joints.mat becomes (3, 14, N) with the LSP flag (1 = occluded); joints that
    LSPET does not annotate get NaN coordinates (LSP has no "not annotated"
    flag) and flag 1. Images are copied byte for byte as im0001.jpg ... The
    folder appears only when complete.
    """
    src_dir = Path(src_dir)
    xy, present, _ = read_leeds_joints(src_dir / "joints.mat", "lspet")
    images = numbered_images(src_dir / "images")
    count = xy.shape[0] if limit is None else min(limit, xy.shape[0])
    width = max(4, len(str(count)))
    with staged_directory(out_dir) as tmp:
        (tmp / "images").mkdir()
        for index in range(count):
            if index + 1 not in images:
                raise JaxpaintError(f"{src_dir / 'images'} has no image number {index + 1}")
            shutil.copyfile(images[index + 1], tmp / "images" / f"im{index + 1:0{width}d}.jpg")
        coords = np.where(present[:count, :, None], xy[:count], np.nan)  # (N, 14, 2)
        occluded = (~present[:count]).astype(np.float64)
        joints = np.concatenate([coords, occluded[..., None]], axis=-1).transpose(2, 1, 0)  # (3, 14, N)
        scipy.io.savemat(tmp / "joints.mat", {"joints": joints})
    return count
