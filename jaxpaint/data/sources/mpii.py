"""MPII Human Pose (Andriluka et al. 2014): ~25k images, several people each, 16 joints.

On disk: `mpii_human_pose_v1_u12_1.mat` holding the struct `RELEASE` and
`images/<name>.jpg`. The fields used:
  RELEASE.annolist(i).image.name                        the image file
  RELEASE.annolist(i).annorect(p).annopoints.point(k)   .id (0..15), .x, .y, .is_visible
  RELEASE.img_train(i)                                  1 for training images
A person without `annopoints` (most test-set people) has no joints and is left
out; `is_visible` is sometimes empty or a string in the release: empty means unknown
and is stored as not visible. Every joint of Table 2 is annotated, none derived.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterator

import numpy as np

from jaxpaint.data.images import load_rgb
from jaxpaint.data.joints import Pose, from_table
from jaxpaint.data.sources import SourceImage
from jaxpaint.data.sources.matfile import as_list, as_scalar, as_text, field, load_mat, optional_field
from jaxpaint.errors import JaxpaintError

NAME = "mpii"
CROP = True
MANUAL_DOWNLOAD_INSTRUCTIONS = (
    "Download the images (mpii_human_pose_v1.tar.gz) and annotations (mpii_human_pose_v1_u12_2.zip) from "
    "http://human-pose.mpi-inf.mpg.de/ and unpack them so that --manual-dir holds images/ and "
    "mpii_human_pose_v1_u12_1.mat (directly or inside mpii_human_pose_v1_u12_2/)."
)
ANNOTATION_NAME = "mpii_human_pose_v1_u12_1.mat"

# MPII joint ids 0..15.
MPII_TABLE: list[tuple[str, str] | None] = [
    ("ankle", "right"), ("knee", "right"), ("hip", "right"),
    ("hip", "left"), ("knee", "left"), ("ankle", "left"),
    ("pelvis", "none"), ("thorax", "none"), ("upper_neck", "none"), ("head_top", "none"),
    ("wrist", "right"), ("elbow", "right"), ("shoulder", "right"),
    ("shoulder", "left"), ("elbow", "left"), ("wrist", "left"),
]


def find_annotation_file(root: Path) -> Path:
    for candidate in (root / ANNOTATION_NAME, root / "mpii_human_pose_v1_u12_2" / ANNOTATION_NAME):
        if candidate.is_file():
            return candidate
    raise JaxpaintError(f"annotation file {root / ANNOTATION_NAME} does not exist. {MANUAL_DOWNLOAD_INSTRUCTIONS}")


def person_pose(rect: object, path: Path, where: str) -> Pose | None:
    """The Pose of one annorect entry, or None where it has no annotated points."""
    annopoints = optional_field(rect, "annopoints")
    if annopoints is None or not hasattr(annopoints, "_fieldnames"):
        return None  # [] in the file: this person has no joint labels
    points = np.full((len(MPII_TABLE), 2), np.nan)
    visible = np.zeros(len(MPII_TABLE), bool)
    for k, point in enumerate(as_list(field(annopoints, "point", path, where))):
        at = f"{where}.annopoints.point({k + 1})"
        joint_id = as_scalar(field(point, "id", path, at), path, f"{at}.id")
        if joint_id is None or joint_id != int(joint_id) or not 0 <= joint_id < len(MPII_TABLE):
            raise JaxpaintError(f"annotation file {path}: {at}.id is {joint_id}, expected 0..15")
        x = as_scalar(field(point, "x", path, at), path, f"{at}.x")
        y = as_scalar(field(point, "y", path, at), path, f"{at}.y")
        if x is None or y is None:
            continue
        flag = as_scalar(optional_field(point, "is_visible", None), path, f"{at}.is_visible")
        points[int(joint_id)] = (x, y)
        visible[int(joint_id)] = flag == 1
    pose = from_table(points, MPII_TABLE, visible=visible)
    return pose if pose.num_present else None


def iter_images(manual_dir: str | os.PathLike | None, train_only: bool = True) -> Iterator[SourceImage]:
    """MPII images with at least one annotated person; `train_only` keeps img_train == 1 (the labelled split)."""
    if manual_dir is None:
        raise JaxpaintError(f"the mpii source needs --manual-dir. {MANUAL_DOWNLOAD_INSTRUCTIONS}")
    root = Path(manual_dir)
    path = find_annotation_file(root)
    release = load_mat(path, "RELEASE")
    annolist = as_list(field(release, "annolist", path, "RELEASE"))
    img_train = np.atleast_1d(np.asarray(field(release, "img_train", path, "RELEASE")))
    if train_only and img_train.shape != (len(annolist),):
        raise JaxpaintError(
            f"annotation file {path}: RELEASE.img_train has {img_train.size} entries for {len(annolist)} images"
        )
    for i, anno in enumerate(annolist):
        if train_only and img_train[i] != 1:
            continue
        where = f"RELEASE.annolist({i + 1})"
        name = as_text(field(field(anno, "image", path, where), "name", path, f"{where}.image"), path, f"{where}.image.name")
        people = []
        for p, rect in enumerate(as_list(optional_field(anno, "annorect"))):
            pose = person_pose(rect, path, f"{where}.annorect({p + 1})")
            if pose is not None:
                people.append(pose)
        if not people:
            continue
        image_path = root / "images" / name
        if not image_path.is_file():
            raise JaxpaintError(f"image {image_path} (from {path}, {where}) does not exist")
        yield SourceImage(image_id=Path(name).stem, path=str(image_path), load=lambda p=image_path: load_rgb(p), people=people)
