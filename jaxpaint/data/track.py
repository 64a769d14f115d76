"""The competition's track folder (ChaLearn LAP 2018 inpainting, track 1).

    X/<name>.png       masked input: the ground truth with every hole painted black
    Y/<name>.png       ground truth
    maskdata.json      {"<name>.png": [[x, y, sz], ...]}, hole = img[x:x+sz, y:y+sz], x = ROW
    joints.json        jaxpaint's addition: the 19 joint slots of each image

A block here is the same (row, col, size) triple as everywhere in jaxpaint.
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import Iterable

import numpy as np

from jaxpaint.data.images import load_rgb, save_png_atomic, staged_directory, write_bytes_atomic
from jaxpaint.data.joints import NUM_SLOTS, SIDE_NAMES, SLOTS, Pose
from jaxpaint.errors import JaxpaintError

MASKDATA_NAME = "maskdata.json"
JOINTS_NAME = "joints.json"
JOINT_FIELDS = ("type", "side", "x", "y", "visible", "derived", "present")


def blocks_overlap(a, b) -> bool:
    """True where squares a = (row, col, size) and b share a pixel; touching edges do not overlap."""
    (ra, ca, sa), (rb, cb, sb) = a, b
    return ra < rb + sb and rb < ra + sa and ca < cb + sb and cb < ca + sa


def blocks_to_hole(blocks, h: int, w: int) -> np.ndarray:
    """Bool (h, w) mask, True inside any block."""
    hole = np.zeros((h, w), bool)
    for row, col, size in np.asarray(blocks, dtype=np.int64).reshape(-1, 3):
        if row < 0 or col < 0 or size <= 0 or row + size > h or col + size > w:
            raise ValueError(f"block {[int(row), int(col), int(size)]} does not fit a {h}x{w} image")
        hole[row:row + size, col:col + size] = True
    return hole


def _is_int(value) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def validate_blocks(blocks, where: str, shape: tuple[int, int] | None = None) -> np.ndarray:
    """Checks a list of [row, col, size] blocks and returns them as int64 (N, 3).

    `where` opens every error message (it names the file and the image).
    Sizes must be positive, coordinates non-negative, blocks inside the image
    when its (h, w) shape is given, and no two blocks may overlap.
    """
    if not isinstance(blocks, (list, tuple, np.ndarray)) or len(blocks) == 0:
        raise JaxpaintError(f"{where}: expected a non-empty list of [x, y, sz] blocks, got {blocks!r}")
    rows = []
    for block in blocks:
        block_list = block.tolist() if isinstance(block, np.ndarray) else block
        if not isinstance(block_list, (list, tuple)) or len(block_list) != 3 or not all(_is_int(v) for v in block_list):
            raise JaxpaintError(f"{where}: block {block_list!r} is not a list of three integers [x, y, sz]")
        row, col, size = (int(v) for v in block_list)
        if row < 0 or col < 0:
            raise JaxpaintError(f"{where}: block {[row, col, size]} has a negative coordinate")
        if size <= 0:
            raise JaxpaintError(f"{where}: block {[row, col, size]} has size {size}, expected > 0")
        if shape is not None and (row + size > shape[0] or col + size > shape[1]):
            raise JaxpaintError(f"{where}: block {[row, col, size]} goes past the {shape[0]}x{shape[1]} image")
        for other in rows:
            if blocks_overlap(other, (row, col, size)):
                raise JaxpaintError(f"{where}: block {[row, col, size]} overlaps block {list(other)}")
        rows.append((row, col, size))
    return np.array(rows, dtype=np.int64)


def read_maskdata(path: str | os.PathLike, image_shapes: dict[str, tuple[int, int]] | None = None) -> dict[str, np.ndarray]:
    """Reads and validates maskdata.json into {filename: int64 (N, 3) blocks}.

    With image_shapes, every key must have a shape and every block must fit it.
    """
    path = Path(path)
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise JaxpaintError(f"mask file {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as err:
        raise JaxpaintError(f"mask file {path} cannot be read: {err}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise JaxpaintError(f"mask file {path} is not valid JSON: {err}") from None
    if not isinstance(data, dict):
        raise JaxpaintError(f"mask file {path}: expected a JSON object {{filename: [[x, y, sz], ...]}}, got {type(data).__name__}")
    masks = {}
    for name, blocks in data.items():
        shape = None
        if image_shapes is not None:
            if name not in image_shapes:
                raise JaxpaintError(f"mask file {path}: {name!r} has no image")
            shape = tuple(image_shapes[name])
        masks[name] = validate_blocks(blocks, f"mask file {path}, entry {name!r}", shape)
    return masks


def encode_maskdata(mapping: dict[str, np.ndarray]) -> bytes:
    """maskdata.json bytes: keys sorted, one line per image, plain integers; same mapping, same bytes."""
    entries = []
    for name in sorted(mapping):
        blocks = validate_blocks(mapping[name], f"mask for {name!r}")
        entries.append(f"{json.dumps(str(name))}: {json.dumps(blocks.tolist())}")
    return ("{\n" + ",\n".join(entries) + "\n}\n").encode() if entries else b"{}\n"


def write_maskdata(path: str | os.PathLike, mapping: dict[str, np.ndarray]) -> None:
    """Writes maskdata.json atomically (validated first, so a bad mapping writes nothing)."""
    write_bytes_atomic(path, encode_maskdata(mapping))


def pose_to_json(pose: Pose) -> list[dict]:
    """The 19 slots of a Pose as JSON records (type, side, x, y, visible, derived, present)."""
    return [
        {"type": name, "side": SIDE_NAMES[side], "x": float(pose.xy[i, 0]), "y": float(pose.xy[i, 1]),
         "visible": bool(pose.visible[i]), "derived": bool(pose.derived[i]), "present": bool(pose.present[i])}
        for i, (name, side) in enumerate(SLOTS)
    ]


def pose_from_json(records, where: str) -> Pose:
    """Inverse of pose_to_json; checks the slot layout."""
    if not isinstance(records, list) or len(records) != NUM_SLOTS:
        raise JaxpaintError(f"{where}: expected a list of {NUM_SLOTS} joint slots")
    pose = Pose.empty()
    for i, (record, (name, side)) in enumerate(zip(records, SLOTS)):
        if not isinstance(record, dict) or set(record) != set(JOINT_FIELDS):
            raise JaxpaintError(f"{where}: slot {i} must have exactly the fields {', '.join(JOINT_FIELDS)}")
        if record["type"] != name or record["side"] != SIDE_NAMES[side]:
            raise JaxpaintError(f"{where}: slot {i} is {record['type']}/{record['side']}, expected {name}/{SIDE_NAMES[side]}")
        x, y = record["x"], record["y"]
        flags = [record[k] for k in ("visible", "derived", "present")]
        if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (x, y)) or not all(isinstance(f, bool) for f in flags):
            raise JaxpaintError(f"{where}: slot {i} needs numeric x, y and boolean flags")
        pose.xy[i] = (x, y)
        pose.visible[i], pose.derived[i], pose.present[i] = flags
    return pose


def _check_filename(name) -> str:
    if not isinstance(name, str) or not name.endswith(".png") or Path(name).name != name or name.startswith("."):
        raise JaxpaintError(f"track file name {name!r} must be a plain '<name>.png'")
    return name


def masked_input(image: np.ndarray, hole: np.ndarray) -> np.ndarray:
    """The competition's X image: the ground truth with hole pixels black."""
    return np.where(hole[..., None], np.uint8(0), image)


def write_track(out_dir: str | os.PathLike, items: Iterable[tuple[str, np.ndarray, np.ndarray, Pose]]) -> int:
    """Writes X/, Y/, maskdata.json and joints.json from (filename, uint8 image, blocks, pose) items.

    The folder is built under a temporary sibling name and renamed into place
    at the end, so a failure never leaves a complete-looking track. An existing
    non-empty out_dir is refused. Returns the number of images written.
    """
    masks, joints = {}, {}
    with staged_directory(out_dir) as tmp:
        for filename, image, blocks, pose in items:
            _check_filename(filename)
            if filename in masks:
                raise JaxpaintError(f"track file name {filename!r} appears twice")
            image = np.asarray(image)
            if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
                raise JaxpaintError(f"track image {filename!r}: expected uint8 (H, W, 3), got {image.dtype} {image.shape}")
            masks[filename] = validate_blocks(blocks, f"track image {filename!r}", image.shape[:2])
            hole = blocks_to_hole(masks[filename], *image.shape[:2])
            save_png_atomic(tmp / "Y" / filename, image)
            save_png_atomic(tmp / "X" / filename, masked_input(image, hole))
            joints[filename] = pose_to_json(pose)
        if not masks:
            raise JaxpaintError(f"track {out_dir}: no images to write")
        write_maskdata(tmp / MASKDATA_NAME, masks)
        ordered = {name: joints[name] for name in sorted(joints)}
        write_bytes_atomic(tmp / JOINTS_NAME, (json.dumps(ordered, indent=1) + "\n").encode())
    return len(masks)


@dataclasses.dataclass
class TrackRecord:
    filename: str
    x: np.ndarray  # uint8 (H, W, 3) masked input
    y: np.ndarray  # uint8 (H, W, 3) ground truth
    blocks: np.ndarray  # int64 (N, 3)
    joints: Pose | None  # None where the track has no joints.json (the competition's own tracks)


def _png_names(folder: Path) -> set[str]:
    if not folder.is_dir():
        raise JaxpaintError(f"track folder {folder} does not exist")
    return {p.name for p in folder.iterdir() if p.suffix == ".png"}


def read_track(track_dir: str | os.PathLike, check_inputs: bool = True) -> list[TrackRecord]:
    """Reads and validates a track folder; records are sorted by file name.

    X/, Y/ and maskdata.json must list the same files, X and Y must have the
    same size, blocks must fit and not overlap, and (check_inputs) X must be
    black inside the holes and equal to Y outside them.
    """
    root = Path(track_dir)
    x_names, y_names = _png_names(root / "X"), _png_names(root / "Y")
    if x_names != y_names:
        odd = sorted(x_names ^ y_names)[0]
        raise JaxpaintError(f"track {root}: {odd!r} is in only one of X/ and Y/")
    images = {name: (load_rgb(root / "X" / name), load_rgb(root / "Y" / name)) for name in sorted(x_names)}
    for name, (x, y) in images.items():
        if x.shape != y.shape:
            raise JaxpaintError(f"track {root}: X/{name} is {x.shape[:2]} but Y/{name} is {y.shape[:2]}")
    mask_path = root / MASKDATA_NAME
    masks = read_maskdata(mask_path, {name: y.shape[:2] for name, (_, y) in images.items()})
    missing = sorted(set(images) - set(masks))
    if missing:
        raise JaxpaintError(f"mask file {mask_path} has no entry for {missing[0]!r}")
    joints = _read_joints(root / JOINTS_NAME, set(images))
    records = []
    for name, (x, y) in images.items():
        if check_inputs:
            hole = blocks_to_hole(masks[name], *y.shape[:2])
            if x[hole].any():
                raise JaxpaintError(f"track {root}: X/{name} is not black inside its holes")
            if not np.array_equal(x[~hole], y[~hole]):
                raise JaxpaintError(f"track {root}: X/{name} differs from Y/{name} outside its holes")
        records.append(TrackRecord(name, x, y, masks[name], None if joints is None else joints[name]))
    return records


def _read_joints(path: Path, names: set[str]) -> dict[str, Pose] | None:
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise JaxpaintError(f"joints file {path} cannot be read: {err}") from None
    if not isinstance(data, dict) or set(data) != names:
        raise JaxpaintError(f"joints file {path}: expected an object with one entry per image in X/ and Y/")
    return {name: pose_from_json(records, f"joints file {path}, entry {name!r}") for name, records in data.items()}
