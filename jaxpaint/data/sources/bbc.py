"""Short BBC Pose (Charles et al. 2013): sign-language interpreters in BBC broadcasts, one person per frame.

On disk, as in the BBC Pose releases of the Oxford VGG group: `bbcpose.mat`
holding the struct array `bbcpose`, one entry per video, and the frames at
`<video number>/<frame number>.jpg` (video number = 1-based position in the
array). Fields used per video:
  videoName                  the broadcast's name (for messages)
  test_frames, test_joints   manually annotated frames: (F,) and (2, 7, F)
  train_frames, train_joints frames labelled by a tracker: same shapes
Joint order: head, right wrist, left wrist, right elbow, left elbow, right
shoulder, left shoulder. Table 2 of the thesis lists BBC's head as the head
top. The labels carry no visibility flag. The thesis uses the frames whole.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterator

import numpy as np

from jaxpaint.data.images import load_rgb
from jaxpaint.data.joints import from_table
from jaxpaint.data.sources import SourceImage
from jaxpaint.data.sources.matfile import as_list, as_text, field, load_mat, optional_field
from jaxpaint.errors import JaxpaintError

NAME = "bbc"
CROP = False
MANUAL_DOWNLOAD_INSTRUCTIONS = (
    "Download Short BBC Pose from the Oxford VGG pose data pages and unpack it so that --manual-dir holds "
    "bbcpose.mat and one folder of frames per video (1/, 2/, ... holding <frame>.jpg)."
)
BBC_TABLE: list[tuple[str, str] | None] = [
    ("head_top", "none"),
    ("wrist", "right"), ("wrist", "left"),
    ("elbow", "right"), ("elbow", "left"),
    ("shoulder", "right"), ("shoulder", "left"),
]
ANNOTATION_SETS = {"test": ("test",), "train": ("train",), "all": ("test", "train")}


def _frames_and_joints(video: object, prefix: str, path: Path, where: str) -> tuple[np.ndarray, np.ndarray]:
    """(frame numbers (F,), joints (F, 7, 2)) of one video's `prefix` labels; empty where the video has none."""
    frames_raw = optional_field(video, f"{prefix}_frames")
    joints_raw = optional_field(video, f"{prefix}_joints")
    frames = np.atleast_1d(np.asarray([] if frames_raw is None else frames_raw, dtype=np.float64)).ravel()
    joints = np.asarray([] if joints_raw is None else joints_raw, dtype=np.float64)
    if frames.size == 0 and joints.size == 0:
        return frames, np.zeros((0, len(BBC_TABLE), 2))
    if joints.ndim == 2:  # squeeze_me drops the frame axis of a one-frame video
        joints = joints[..., None]
    if joints.shape != (2, len(BBC_TABLE), frames.size):
        raise JaxpaintError(
            f"annotation file {path}: {where}.{prefix}_joints has shape {joints.shape}, "
            f"expected (2, {len(BBC_TABLE)}, {frames.size}) for {frames.size} {prefix}_frames"
        )
    if (frames != np.round(frames)).any() or (frames < 0).any():
        raise JaxpaintError(f"annotation file {path}: {where}.{prefix}_frames holds non-integer or negative frame numbers")
    return frames, joints.transpose(2, 1, 0)


def iter_images(manual_dir: str | os.PathLike | None, annotations: str = "test") -> Iterator[SourceImage]:
    """Annotated frames; annotations="test" (manual labels, the default), "train" (tracker labels) or "all"."""
    if manual_dir is None:
        raise JaxpaintError(f"the bbc source needs --manual-dir. {MANUAL_DOWNLOAD_INSTRUCTIONS}")
    if annotations not in ANNOTATION_SETS:
        raise JaxpaintError(f"bbc annotations must be one of {sorted(ANNOTATION_SETS)}, got {annotations!r}")
    root = Path(manual_dir)
    path = root / "bbcpose.mat"
    videos = as_list(load_mat(path, "bbcpose"))
    for v, video in enumerate(videos, start=1):
        where = f"bbcpose({v})"
        as_text(field(video, "videoName", path, where), path, f"{where}.videoName")
        seen = set()
        for prefix in ANNOTATION_SETS[annotations]:
            frames, joints = _frames_and_joints(video, prefix, path, where)
            for frame, points in zip(frames.astype(int), joints):
                if frame in seen:  # a frame labelled both ways keeps its manual label
                    continue
                seen.add(frame)
                pose = from_table(points, BBC_TABLE)
                if not pose.num_present:
                    continue
                image_path = root / str(v) / f"{frame}.jpg"
                if not image_path.is_file():
                    raise JaxpaintError(f"image {image_path} (from {path}, {where}) does not exist")
                yield SourceImage(image_id=f"{v}_{frame}", path=str(image_path), load=lambda p=image_path: load_rgb(p), people=[pose])
