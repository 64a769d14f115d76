"""Synchronic Activities Stickmen V (Eichner & Ferrari 2012): group photos, several stickmen each.

On disk: a stickmen text file in the format of the ETHZ/Oxford stickmen
releases (Buffy, PASCAL, Synchronic Activities) and the images it names.
For each image:
  <image file name>                  a line that is not four numbers
  [<number of stickmen>]             optional count line
  6 lines per stickman "x1 y1 x2 y2": torso, left upper arm, right upper arm,
                                      left lower arm, right lower arm, head
The drawn direction of a segment is not fixed, so endpoints are assigned by
geometry: the torso's top is the end nearer the head; a shoulder is the
upper-arm end nearer the torso top, the elbow its other end; the wrist is the
lower-arm end farther from that elbow; the upper neck is the head end nearer
the torso top, the head top the other. As §2.3.2 says, the thorax is the
midpoint of the torso line, marked derived.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterator

import numpy as np

from jaxpaint.data.images import load_rgb
from jaxpaint.data.joints import Pose, from_table, slot
from jaxpaint.data.sources import SourceImage
from jaxpaint.errors import JaxpaintError

NAME = "synchronic"
CROP = True
MANUAL_DOWNLOAD_INSTRUCTIONS = (
    "Download the Synchronic Activities Stickmen V release from the CALVIN (ETH Zurich) pages and unpack it "
    "so that --manual-dir holds the stickmen .txt annotation file (name containing 'stick') and the images "
    "it names (beside it or in images/); or pass annotation_file=<path>."
)
SEGMENTS = ("torso", "left_upper_arm", "right_upper_arm", "left_lower_arm", "right_lower_arm", "head")

# Joints computed from the segments, in this order; the torso ends are kept only to derive the thorax.
STICK_JOINTS = ("torso_top", "torso_bottom", "shoulder_l", "elbow_l", "wrist_l",
                "shoulder_r", "elbow_r", "wrist_r", "upper_neck", "head_top")
STICK_TABLE: list[tuple[str, str] | None] = [
    None, None,
    ("shoulder", "left"), ("elbow", "left"), ("wrist", "left"),
    ("shoulder", "right"), ("elbow", "right"), ("wrist", "right"),
    ("upper_neck", "none"), ("head_top", "none"),
]


def _ends_by_distance(segment: np.ndarray, anchor: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(nearer end, farther end) of a (2, 2) segment relative to `anchor`."""
    a, b = segment
    return (a, b) if np.linalg.norm(a - anchor) <= np.linalg.norm(b - anchor) else (b, a)


def stickman_pose(segments: np.ndarray) -> Pose:
    """The Pose of one stickman given as (6, 2, 2) segments (SEGMENTS order, two (x, y) ends each)."""
    torso, l_upper, r_upper, l_lower, r_lower, head = segments
    torso_top, torso_bottom = _ends_by_distance(torso, head.mean(axis=0))
    points = [torso_top, torso_bottom]
    for upper, lower in ((l_upper, l_lower), (r_upper, r_lower)):
        shoulder, elbow = _ends_by_distance(upper, torso_top)
        _, wrist = _ends_by_distance(lower, elbow)
        points += [shoulder, elbow, wrist]
    upper_neck, head_top = _ends_by_distance(head, torso_top)
    points += [upper_neck, head_top]
    pose = from_table(np.array(points), STICK_TABLE)
    # The torso ends are not schema joints, so the midpoint is taken here rather than between two slots.
    thorax_x, thorax_y = (torso_top + torso_bottom) / 2
    pose.set(slot("thorax"), thorax_x, thorax_y, visible=True, derived=True)
    return pose


def _numbers(line: str) -> list[float] | None:
    try:
        return [float(v) for v in line.split()]
    except ValueError:
        return None


def parse_stickmen(path: str | os.PathLike) -> list[tuple[str, list[np.ndarray]]]:
    """Reads a stickmen text file into [(image name, [(6, 2, 2) segments per stickman])]."""
    path = Path(path)
    try:
        lines = path.read_text().splitlines()
    except (OSError, UnicodeDecodeError) as err:
        raise JaxpaintError(f"annotation file {path} cannot be read: {err}") from None
    entries: list[tuple[str, list[np.ndarray]]] = []
    pending: list[list[float]] = []
    count: int | None = None

    def close_entry(line_no: int) -> None:
        if not entries:
            return
        name, _ = entries[-1]
        if len(pending) % len(SEGMENTS):
            raise JaxpaintError(
                f"annotation file {path}: image {name!r} has {len(pending)} segment lines before line {line_no}, "
                f"not a multiple of {len(SEGMENTS)}"
            )
        sticks = [np.array(pending[k:k + 6]).reshape(6, 2, 2) for k in range(0, len(pending), 6)]
        if count is not None and count != len(sticks):
            raise JaxpaintError(f"annotation file {path}: image {name!r} declares {count} stickmen but has {len(sticks)}")
        entries[-1] = (name, sticks)

    for line_no, raw in enumerate(lines, start=1):
        line = raw.strip()
        if not line:
            continue
        values = _numbers(line)
        if values is not None and len(values) not in (1, 4):
            raise JaxpaintError(f"annotation file {path}, line {line_no}: expected 'x1 y1 x2 y2', got {line!r}")
        if values is None:  # an image name starts the next entry
            close_entry(line_no)
            entries.append((line, []))
            pending, count = [], None
        elif not entries:
            raise JaxpaintError(f"annotation file {path}, line {line_no}: coordinates before any image name")
        elif len(values) == 1:
            if pending or count is not None or values[0] != int(values[0]) or values[0] < 0:
                raise JaxpaintError(f"annotation file {path}, line {line_no}: unexpected {line!r}")
            count = int(values[0])
        else:
            if not np.isfinite(values).all():
                raise JaxpaintError(f"annotation file {path}, line {line_no}: non-finite coordinates {line!r}")
            pending.append(values)
    close_entry(len(lines) + 1)
    if not entries:
        raise JaxpaintError(f"annotation file {path} names no images")
    return entries


def find_annotation_file(root: Path) -> Path:
    candidates = sorted(p for p in root.glob("*.txt") if "stick" in p.name.lower())
    if len(candidates) != 1:
        found = ", ".join(p.name for p in candidates) or "none"
        raise JaxpaintError(
            f"expected one stickmen .txt annotation file in {root}, found {found}; pass annotation_file=<path>"
        )
    return candidates[0]


def iter_images(manual_dir: str | os.PathLike | None, annotation_file: str | None = None) -> Iterator[SourceImage]:
    """Images with every stickman drawn in them."""
    if manual_dir is None:
        raise JaxpaintError(f"the synchronic source needs --manual-dir. {MANUAL_DOWNLOAD_INSTRUCTIONS}")
    root = Path(manual_dir)
    path = Path(annotation_file) if annotation_file else find_annotation_file(root)
    for name, sticks in parse_stickmen(path):
        if not sticks:
            continue
        relative = name.replace("\\", "/")
        image_path = next((p for p in (root / relative, root / "images" / Path(relative).name) if p.is_file()), None)
        if image_path is None:
            raise JaxpaintError(f"image {root / relative} (named in {path}) does not exist")
        people = [stickman_pose(s) for s in sticks]
        yield SourceImage(image_id=Path(relative).stem, path=str(image_path), load=lambda p=image_path: load_rgb(p), people=people)
