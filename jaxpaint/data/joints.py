"""The 12-type joint schema of the thesis (§2.3.2), kept with left/right slots.

Every person is stored as a fixed array of SLOTS: one slot per (type, side).
Paired types (ankles, knees, ...) have a left and a right slot; single types
(pelvis, thorax, ...) have one slot with side NONE. A fixed layout keeps
batches rectangular; `present` says which slots a source actually labels.

Evaluation follows the thesis and ignores sides: see `jaxpaint.metrics.pose`.
"""

from __future__ import annotations

import dataclasses

import numpy as np

# Joint types, numbered as in the thesis's Table 2 (1-based there, 0-based here).
JOINT_TYPES = (
    "ankle", "knee", "hip", "pelvis", "thorax", "upper_neck",
    "head_top", "wrist", "elbow", "shoulder", "eye", "nose",
)
NUM_TYPES = len(JOINT_TYPES)
TYPE_INDEX = {name: i for i, name in enumerate(JOINT_TYPES)}

SIDE_NONE, SIDE_LEFT, SIDE_RIGHT = 0, 1, 2
SIDE_NAMES = ("none", "left", "right")
PAIRED_TYPES = ("ankle", "knee", "hip", "wrist", "elbow", "shoulder", "eye")


def _slots() -> tuple[tuple[str, int], ...]:
    slots = []
    for name in JOINT_TYPES:
        if name in PAIRED_TYPES:
            slots += [(name, SIDE_LEFT), (name, SIDE_RIGHT)]
        else:
            slots.append((name, SIDE_NONE))
    return tuple(slots)


SLOTS = _slots()
NUM_SLOTS = len(SLOTS)  # 19
SLOT_INDEX = {slot: i for i, slot in enumerate(SLOTS)}
SLOT_TYPE = np.array([TYPE_INDEX[name] for name, _ in SLOTS], np.int32)
SLOT_SIDE = np.array([side for _, side in SLOTS], np.int32)
# For each slot, the slot of the same type on the other side (itself if unpaired).
SLOT_MIRROR = np.array(
    [SLOT_INDEX[(n, {SIDE_LEFT: SIDE_RIGHT, SIDE_RIGHT: SIDE_LEFT}.get(s, s))] for n, s in SLOTS],
    np.int32,
)


def slot(name: str, side: str = "none") -> int:
    """Slot index of a joint, e.g. slot("wrist", "left")."""
    return SLOT_INDEX[(name, SIDE_NAMES.index(side))]


@dataclasses.dataclass
class Pose:
    """One person's joints in the slot layout, in pixel coordinates (x = column, y = row).

    xy:       float32 (NUM_SLOTS, 2)
    present:  bool (NUM_SLOTS,)  the source labels this joint for this person
    visible:  bool (NUM_SLOTS,)  the source marks it visible (False where unknown or occluded)
    derived:  bool (NUM_SLOTS,)  inferred from other labels (thesis Table 2), not annotated
    """

    xy: np.ndarray
    present: np.ndarray
    visible: np.ndarray
    derived: np.ndarray

    @classmethod
    def empty(cls) -> "Pose":
        return cls(
            xy=np.zeros((NUM_SLOTS, 2), np.float32),
            present=np.zeros(NUM_SLOTS, bool),
            visible=np.zeros(NUM_SLOTS, bool),
            derived=np.zeros(NUM_SLOTS, bool),
        )

    def set(self, slot_index: int, x: float, y: float, visible: bool = True, derived: bool = False) -> None:
        self.xy[slot_index] = (x, y)
        self.present[slot_index] = True
        self.visible[slot_index] = visible
        self.derived[slot_index] = derived

    @property
    def num_present(self) -> int:
        return int(self.present.sum())

    def bbox(self) -> tuple[float, float, float, float]:
        """(x0, y0, x1, y1) of the present joints."""
        pts = self.xy[self.present]
        if len(pts) == 0:
            raise ValueError("pose has no present joints")
        return (float(pts[:, 0].min()), float(pts[:, 1].min()), float(pts[:, 0].max()), float(pts[:, 1].max()))

    def transformed(self, scale_x: float, scale_y: float, offset_x: float, offset_y: float) -> "Pose":
        """Joints after the map p -> (p - offset) * scale (a crop then a resize)."""
        xy = (self.xy - np.array([offset_x, offset_y], np.float32)) * np.array([scale_x, scale_y], np.float32)
        xy = np.where(self.present[:, None], xy, 0.0).astype(np.float32)
        return Pose(xy, self.present.copy(), self.visible.copy(), self.derived.copy())


def from_table(points: np.ndarray, table: list[tuple[str, str] | None], visible: np.ndarray | None = None) -> Pose:
    """Builds a Pose from a source's joint array and its mapping table.

    points: (K, 2) x, y in the source's order; table[k] is (type, side) for
    source joint k, or None where the source joint has no place in the schema.
    visible: (K,) bool, or None when the source gives no flag. A source joint
    with non-finite coordinates is treated as not labelled.
    """
    pose = Pose.empty()
    for k, entry in enumerate(table):
        if entry is None:
            continue
        x, y = points[k]
        if not (np.isfinite(x) and np.isfinite(y)):
            continue
        pose.set(slot(*entry), x, y, visible=True if visible is None else bool(visible[k]))
    return pose


def derive_midpoint(pose: Pose, target: int, a: int, b: int) -> None:
    """Sets slot `target` to the midpoint of slots a and b when both are present and target is not."""
    if pose.present[target] or not (pose.present[a] and pose.present[b]):
        return
    x, y = (pose.xy[a] + pose.xy[b]) / 2
    pose.set(target, x, y, visible=bool(pose.visible[a] and pose.visible[b]), derived=True)
