"""The built-in synthetic-human source: procedurally drawn people with exact joint labels.

Each image is a scene about 1.5x `size` square holding ONE labelled person, big
enough that the human-centred crop (joint box enlarged ~1.4x, made square) is
downsampled rather than upsampled to `size`, and never under 64 px when size >= 64.
A person is a 3-D skeleton posed by forward kinematics from joint angles (standing,
walking, running, arms raised, crouching, jumping, kicking, lunging, free poses),
turned to a random view, projected orthographically and drawn part by part from far
to near. Body proportions, clothing colours and textures, skin and hair, backgrounds
(gradients, blotches, shapes, a ground plane) and, in about 30 % of scenes, 1-2
smaller unlabelled people behind the main one all vary.

Labels follow jaxpaint/data/joints.py: all 19 slots, left/right from the person's
own point of view (as LSP). A joint is visible unless the part drawn on top of it is
nearer to the viewer than the joint and is not one of the joint's own parts (for eyes
and nose, also unless the face points away).

Every image comes from `numpy.random.default_rng([seed, index, stream])`, so image i
does not depend on the images before it and can be drawn by any worker.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Iterator

import numpy as np
from PIL import Image, ImageDraw

from jaxpaint.data.joints import NUM_SLOTS, Pose, slot
from jaxpaint.data.sources import SourceImage
from jaxpaint.data.sources import _synthetic_draw as draw_lib

NAME = "synthetic"
CROP = True
MANUAL_DOWNLOAD_INSTRUCTIONS = ""

SCENE_SCALE = 1.5  # scene side / requested size: room for the enlarged crop around the person
MIN_PERSON_PX = 66  # the pipeline skips people under 64 px; keep a margin
EXTRA_PEOPLE_PROBABILITY = 0.3

# Independent random streams per image, so the labels can be computed without the background.
_STREAM_PERSON, _STREAM_PLACEMENT, _STREAM_EXTRAS, _STREAM_BACKGROUND = range(4)

SIDES = ("left", "right")
PART_NAMES = (
    "torso", "pelvis", "neck", "long_hair", "hair", "face", "eye_left", "eye_right", "nose", "mouth",
    "upper_arm_left", "sleeve_left", "forearm_left", "hand_left",
    "upper_arm_right", "sleeve_right", "forearm_right", "hand_right",
    "thigh_left", "shorts_left", "shin_left", "foot_left",
    "thigh_right", "shorts_right", "shin_right", "foot_right",
)
PART_ID = {name: i + 1 for i, name in enumerate(PART_NAMES)}  # label ids of the main person
_LABEL_STRIDE = 40  # label id offset between people in one label map
MATERIALS = ("skin", "hair", "shirt", "trousers", "shoes", "eye", "lips")
_FACE_PARTS = ("face", "eye_left", "eye_right", "nose", "mouth")


def _joint_owners() -> dict[int, frozenset[int]]:
    """For each slot, the parts a joint belongs to: these never hide it."""
    owners = {
        slot("pelvis"): ("pelvis", "torso", "thigh_left", "thigh_right", "shorts_left", "shorts_right"),
        slot("thorax"): ("torso", "neck"),
        slot("upper_neck"): ("neck", "face", "hair", "long_hair"),
        slot("head_top"): ("hair", "face"),
        slot("nose"): _FACE_PARTS,
    }
    for side in SIDES:
        owners[slot("ankle", side)] = (f"shin_{side}", f"foot_{side}")
        owners[slot("knee", side)] = (f"thigh_{side}", f"shorts_{side}", f"shin_{side}")
        owners[slot("hip", side)] = (f"thigh_{side}", f"shorts_{side}")
        owners[slot("wrist", side)] = (f"forearm_{side}", f"hand_{side}")
        owners[slot("elbow", side)] = (f"upper_arm_{side}", f"sleeve_{side}", f"forearm_{side}")
        owners[slot("shoulder", side)] = (f"upper_arm_{side}", f"sleeve_{side}")
        owners[slot("eye", side)] = _FACE_PARTS
    return {k: frozenset(PART_ID[name] for name in v) for k, v in owners.items()}


JOINT_OWNERS = _joint_owners()


@dataclasses.dataclass
class RenderedScene:
    """One scene: the image, the main person's joints, and the pixels the main person covers."""

    image: np.ndarray  # uint8 (S, S, 3), S = scene_size(size)
    pose: Pose
    person_mask: np.ndarray  # bool (S, S)


@dataclasses.dataclass
class _Part:
    name: str
    depth: float  # larger = nearer the viewer; parts are drawn in increasing depth
    material: str
    points: np.ndarray | None = None  # polygon (K, 2) in scene pixels
    centre: np.ndarray | None = None  # or a disc
    radius: float = 0.0
    shade: float = 1.0


@dataclasses.dataclass
class _Figure:
    """A posed person in scene pixels."""

    xy: np.ndarray  # (NUM_SLOTS, 2)
    depth: np.ndarray  # (NUM_SLOTS,) in body heights, larger = nearer
    facing: np.ndarray  # (NUM_SLOTS,) bool: False for an eye or the nose on the far side of the head
    parts: list[_Part]
    feet: np.ndarray  # (x, y) under the feet
    height_px: float


def scene_size(size: int) -> int:
    return int(round(SCENE_SCALE * size))


# ---------------------------------------------------------------- skeleton and poses

def _rx(a: float) -> np.ndarray:
    c, s = math.cos(a), math.sin(a)
    return np.array([[1, 0, 0], [0, c, -s], [0, s, c]])


def _ry(a: float) -> np.ndarray:
    c, s = math.cos(a), math.sin(a)
    return np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]])


def _rz(a: float) -> np.ndarray:
    c, s = math.cos(a), math.sin(a)
    return np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])


def _sample_body(rng: np.random.Generator) -> dict[str, float]:
    """Segment lengths and widths in units of body height (head top to ankle ~1)."""
    build = rng.uniform(0.8, 1.35)  # slim to heavy: scales widths
    u = lambda lo, hi: float(rng.uniform(lo, hi))  # noqa: E731
    return {
        "head_r": 0.062 * u(0.9, 1.12),
        "neck_len": 0.04 * u(0.8, 1.2),
        "neck_w": 0.045 * u(0.9, 1.15) * build,
        "torso_len": 0.29 * u(0.93, 1.07),
        "shoulder_half": 0.105 * u(0.88, 1.12) * build ** 0.5,
        "shoulder_drop": 0.02 * u(0.5, 1.5),
        "chest_depth": 0.06 * u(0.85, 1.2) * build,
        "waist_half": 0.07 * u(0.85, 1.15) * build,
        "hip_half": 0.058 * u(0.9, 1.2) * build ** 0.5,
        "hip_drop": 0.035,
        "upper_arm": 0.165 * u(0.92, 1.08),
        "forearm": 0.145 * u(0.92, 1.08),
        "hand": 0.07 * u(0.9, 1.1),
        "thigh": 0.235 * u(0.93, 1.07),
        "shin": 0.235 * u(0.93, 1.07),
        "foot": 0.12 * u(0.9, 1.1),
        "upper_arm_w": 0.05 * build * u(0.9, 1.1),
        "forearm_w": 0.041 * build * u(0.9, 1.1),
        "hand_w": 0.042 * u(0.9, 1.1),
        "thigh_w": 0.078 * build * u(0.9, 1.1),
        "shin_w": 0.055 * build * u(0.9, 1.1),
        "foot_w": 0.042 * u(0.9, 1.1),
    }


POSE_FAMILIES = ("stand", "walk", "run", "arms_up", "crouch", "jump", "kick", "reach", "lunge", "free")
_FAMILY_WEIGHTS = np.array([0.12, 0.13, 0.13, 0.1, 0.08, 0.09, 0.08, 0.1, 0.07, 0.1])


def _sample_angles(rng: np.random.Generator) -> tuple[str, dict[str, float]]:
    """Joint angles in degrees for one pose family, mirrored left/right half the time."""
    u = lambda lo, hi: float(rng.uniform(lo, hi))  # noqa: E731
    a = {
        "lean": u(-5, 10), "side_bend": u(-6, 6), "twist": u(-15, 15),
        "head_yaw": u(-35, 35), "head_pitch": u(-15, 20), "head_roll": u(-10, 10),
    }
    for s in ("l", "r"):
        a.update({
            f"sh_flex_{s}": u(-20, 25), f"sh_abd_{s}": u(6, 25), f"sh_twist_{s}": u(-20, 40),
            f"elbow_{s}": u(5, 35), f"wrist_{s}": u(-20, 30),
            f"hip_flex_{s}": u(-5, 12), f"hip_abd_{s}": u(1, 10), f"hip_twist_{s}": u(-10, 20),
            f"knee_{s}": u(0, 12), f"ankle_{s}": u(-10, 15),
        })
    family = POSE_FAMILIES[int(rng.choice(len(POSE_FAMILIES), p=_FAMILY_WEIGHTS))]
    if family == "walk":
        swing = u(15, 35)
        a.update(hip_flex_l=swing, hip_flex_r=-swing * u(0.5, 0.9), knee_l=u(0, 20), knee_r=u(15, 45),
                 sh_flex_l=-swing * u(0.5, 1.2), sh_flex_r=swing * u(0.5, 1.2), elbow_l=u(5, 40), elbow_r=u(10, 50))
    elif family == "run":
        swing = u(40, 80)
        a.update(lean=u(8, 25), hip_flex_l=swing, knee_l=u(40, 110), hip_flex_r=-u(15, 40), knee_r=u(50, 120),
                 sh_flex_l=-u(20, 60), sh_flex_r=u(30, 80), elbow_l=u(70, 110), elbow_r=u(70, 110),
                 sh_abd_l=u(5, 20), sh_abd_r=u(5, 20))
    elif family == "arms_up":
        for s in ("l", "r") if rng.random() < 0.6 else ("l",):
            if rng.random() < 0.5:
                a.update({f"sh_abd_{s}": u(110, 175), f"sh_flex_{s}": u(-10, 20)})
            else:
                a.update({f"sh_abd_{s}": u(5, 30), f"sh_flex_{s}": u(130, 180)})
            a[f"elbow_{s}"] = u(0, 70)
            a[f"sh_twist_{s}"] = u(-30, 60)
    elif family == "crouch":
        a.update(lean=u(20, 50), hip_flex_l=u(70, 115), hip_flex_r=u(70, 115), knee_l=u(90, 140),
                 knee_r=u(90, 140), hip_abd_l=u(5, 25), hip_abd_r=u(5, 25),
                 sh_flex_l=u(10, 90), sh_flex_r=u(10, 90), elbow_l=u(10, 100), elbow_r=u(10, 100))
    elif family == "jump":
        if rng.random() < 0.5:  # tuck jump
            a.update(hip_flex_l=u(30, 90), hip_flex_r=u(30, 90), knee_l=u(50, 120), knee_r=u(50, 120),
                     sh_abd_l=u(60, 170), sh_abd_r=u(60, 170), elbow_l=u(0, 60), elbow_r=u(0, 60))
        else:  # star jump
            a.update(hip_abd_l=u(20, 40), hip_abd_r=u(20, 40), knee_l=u(0, 20), knee_r=u(0, 20),
                     sh_abd_l=u(100, 165), sh_abd_r=u(100, 165), elbow_l=u(0, 25), elbow_r=u(0, 25))
    elif family == "kick":
        a.update(hip_flex_l=u(45, 100), knee_l=u(0, 60), knee_r=u(5, 30), lean=u(-20, 5),
                 sh_abd_l=u(30, 100), sh_abd_r=u(30, 100), elbow_l=u(10, 70), elbow_r=u(10, 70))
    elif family == "reach":
        a.update(sh_flex_l=u(50, 180), sh_abd_l=u(0, 60), sh_twist_l=u(-40, 80), elbow_l=u(0, 120),
                 sh_flex_r=u(-40, 100), sh_abd_r=u(5, 80), elbow_r=u(0, 140), twist=u(-35, 35), lean=u(-5, 30))
    elif family == "lunge":
        a.update(hip_flex_l=u(60, 95), knee_l=u(70, 100), hip_flex_r=-u(10, 30), knee_r=u(10, 100),
                 lean=u(0, 25), sh_abd_l=u(5, 80), sh_abd_r=u(5, 80))
    elif family == "free":
        for s in ("l", "r"):
            a.update({
                f"sh_flex_{s}": u(-50, 180), f"sh_abd_{s}": u(0, 150), f"sh_twist_{s}": u(-60, 80),
                f"elbow_{s}": u(0, 145), f"hip_flex_{s}": u(-25, 100), f"hip_abd_{s}": u(0, 40),
                f"knee_{s}": u(0, 130),
            })
        a.update(lean=u(-15, 40), side_bend=u(-20, 20), twist=u(-30, 30))
    if rng.random() < 0.5:
        for key in [k for k in a if k.endswith("_l")]:
            other = key[:-2] + "_r"
            a[key], a[other] = a[other], a[key]
    return family, a


def _sample_view(rng: np.random.Generator) -> tuple[float, float]:
    """Body yaw (0 = facing the viewer) and in-plane roll, in degrees."""
    r = rng.random()
    if r < 0.45:
        yaw = rng.uniform(-30, 30)
    elif r < 0.6:
        yaw = rng.uniform(150, 210)
    elif r < 0.85:
        yaw = rng.choice([-1, 1]) * rng.uniform(65, 115)
    else:
        yaw = rng.choice([-1, 1]) * rng.uniform(30, 65)
    roll = rng.normal(0, 4) if rng.random() < 0.9 else rng.uniform(-40, 40)
    return float(yaw), float(roll)


def _pose_3d(body: dict[str, float], a: dict[str, float]) -> dict[str, np.ndarray]:
    """Forward kinematics in the body frame: X = person's left, Y = up, Z = the way the person faces.

    Returns named 3-D points: the joints plus the extra points the drawing needs.
    """
    rad = math.radians
    p: dict[str, np.ndarray] = {}
    r_pelvis = _ry(rad(-a["twist"] / 2))
    r_torso = _ry(rad(a["twist"] / 2)) @ _rx(rad(a["lean"])) @ _rz(rad(a["side_bend"]))
    up = r_torso @ np.array([0.0, 1.0, 0.0])
    p["pelvis"] = np.zeros(3)
    p["thorax"] = r_torso @ np.array([0.0, body["torso_len"], 0.0])
    r_head = r_torso @ _ry(rad(a["head_yaw"])) @ _rx(rad(a["head_pitch"])) @ _rz(rad(a["head_roll"]))
    neck_dir = r_torso @ _rx(rad(a["head_pitch"] * 0.5)) @ np.array([0.0, 1.0, 0.0])
    p["upper_neck"] = p["thorax"] + neck_dir * body["neck_len"]
    r = body["head_r"]
    p["head_centre"] = p["upper_neck"] + r_head @ np.array([0.0, 0.85 * r, 0.1 * r])
    p["head_up"] = r_head @ np.array([0.0, 1.0, 0.0])
    p["head_forward"] = r_head @ np.array([0.0, 0.0, 1.0])
    for side, sign in (("left", 1.0), ("right", -1.0)):
        p[f"eye_{side}"] = p["head_centre"] + r_head @ (np.array([sign * 0.36, 0.12, 0.88]) * r)
    p["nose"] = p["head_centre"] + r_head @ (np.array([0.0, -0.15, 1.08]) * r)
    p["mouth"] = p["head_centre"] + r_head @ (np.array([0.0, -0.5, 0.85]) * r)
    p["torso_up"] = up
    p["r_torso"] = r_torso
    p["r_pelvis"] = r_pelvis
    down = np.array([0.0, -1.0, 0.0])
    for side, s, sign in (("left", "l", 1.0), ("right", "r", -1.0)):
        shoulder = r_torso @ np.array([sign * body["shoulder_half"], body["torso_len"] - body["shoulder_drop"], 0.0])
        r_upper = r_torso @ _rx(rad(-a[f"sh_flex_{s}"])) @ _rz(rad(sign * a[f"sh_abd_{s}"])) @ _ry(
            rad(sign * a[f"sh_twist_{s}"]))
        elbow = shoulder + r_upper @ down * body["upper_arm"]
        r_fore = r_upper @ _rx(rad(-a[f"elbow_{s}"]))
        wrist = elbow + r_fore @ down * body["forearm"]
        hand_tip = wrist + r_fore @ _rx(rad(-a[f"wrist_{s}"])) @ down * body["hand"]
        hip = r_pelvis @ np.array([sign * body["hip_half"], -body["hip_drop"], 0.0])
        r_thigh = r_pelvis @ _rx(rad(-a[f"hip_flex_{s}"])) @ _rz(rad(sign * a[f"hip_abd_{s}"])) @ _ry(
            rad(sign * a[f"hip_twist_{s}"]))
        knee = hip + r_thigh @ down * body["thigh"]
        r_shin = r_thigh @ _rx(rad(a[f"knee_{s}"]))
        ankle = knee + r_shin @ down * body["shin"]
        r_foot = r_shin @ _rx(rad(-a[f"ankle_{s}"]))
        toe = ankle + r_foot @ np.array([0.0, -0.35, 0.8]) * body["foot"]
        heel = ankle + r_foot @ np.array([0.0, -0.45, -0.3]) * body["foot"]
        p.update({f"shoulder_{side}": shoulder, f"elbow_{side}": elbow, f"wrist_{side}": wrist,
                  f"hand_tip_{side}": hand_tip, f"hip_{side}": hip, f"knee_{side}": knee,
                  f"ankle_{side}": ankle, f"toe_{side}": toe, f"heel_{side}": heel})
    p["pelvis"] = (p["hip_left"] + p["hip_right"]) / 2
    top_of_head = p["head_centre"] + p["head_up"] * r * 1.08
    p["head_top"] = top_of_head
    return p


def _torso_hull_3d(body: dict[str, float], r_torso: np.ndarray, r_pelvis: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """3-D outline points of the shirt (chest to hips) and of the trousers' top (hips)."""
    t, sh, d = body["torso_len"], body["shoulder_half"], body["chest_depth"]
    upper = []
    for sign in (1.0, -1.0):
        for z in (d * 0.7, -d * 0.7):
            upper += [
                (sign * body["neck_w"] * 0.7, t + 0.005, z * 0.5),
                (sign * (sh + body["upper_arm_w"] * 0.35), t - body["shoulder_drop"] + body["upper_arm_w"] * 0.3, z * 0.4),
                (sign * (sh + body["upper_arm_w"] * 0.15), t * 0.72, z),
                (sign * body["waist_half"], t * 0.35, z),
            ]
    upper_pts = np.array(upper) @ r_torso.T
    lower = []
    for sign in (1.0, -1.0):
        for z in (d * 0.7, -d * 0.7):
            lower += [
                (sign * body["waist_half"] * 1.02, 0.07, z),
                (sign * (body["hip_half"] + body["thigh_w"] * 0.45), -body["hip_drop"], z),
                (sign * body["hip_half"] * 0.6, -body["hip_drop"] - body["thigh_w"] * 0.5, z * 0.8),
            ]
    lower_pts = np.array(lower) @ r_pelvis.T
    # the shirt reaches down over the top of the trousers
    shirt = np.concatenate([upper_pts, lower_pts[:, :] * np.array([1.0, 0.0, 1.0]) + r_pelvis @ np.array([0, 0.03, 0])])
    return shirt, lower_pts


# ---------------------------------------------------------------- appearance

_SKIN_TONES = np.array([
    [255, 224, 196], [241, 194, 160], [224, 172, 125], [198, 134, 90], [160, 102, 66],
    [120, 74, 46], [88, 54, 36], [232, 190, 172],
], np.int16)
_HAIR_COLOURS = np.array([
    [20, 16, 14], [60, 40, 25], [110, 75, 40], [180, 140, 80], [200, 180, 130], [140, 50, 25],
    [120, 120, 120], [230, 230, 225],
], np.int16)
_TEXTURE_KINDS = ("solid", "solid", "stripes", "checks", "noise")


@dataclasses.dataclass
class _Outfit:
    skin: np.ndarray
    hair: np.ndarray
    shirt: np.ndarray
    shirt_texture: str
    trousers: np.ndarray
    trousers_texture: str
    shoes: np.ndarray
    long_sleeves: bool
    long_trousers: bool
    hair_style: str  # "short", "long" or "bald"


def _sample_outfit(rng: np.random.Generator) -> _Outfit:
    skin = draw_lib.vary_colour(rng, _SKIN_TONES[rng.integers(len(_SKIN_TONES))], 12)
    hair = draw_lib.vary_colour(rng, _HAIR_COLOURS[rng.integers(len(_HAIR_COLOURS))], 15)
    trousers_base = (
        draw_lib.vary_colour(rng, np.array([40, 55, 95]), 30) if rng.random() < 0.3 else draw_lib.random_colour(rng)
    )
    return _Outfit(
        skin=skin,
        hair=hair,
        shirt=draw_lib.random_colour(rng),
        shirt_texture=_TEXTURE_KINDS[rng.integers(len(_TEXTURE_KINDS))],
        trousers=trousers_base,
        trousers_texture=_TEXTURE_KINDS[rng.integers(len(_TEXTURE_KINDS))],
        shoes=draw_lib.random_colour(rng, 0, 120) if rng.random() < 0.7 else draw_lib.random_colour(rng),
        long_sleeves=bool(rng.random() < 0.5),
        long_trousers=bool(rng.random() < 0.65),
        hair_style=("short", "long", "bald")[int(rng.choice(3, p=[0.6, 0.3, 0.1]))],
    )


# ---------------------------------------------------------------- a posed, drawable person

@dataclasses.dataclass
class _PersonSpec:
    body: dict[str, float]
    angles: dict[str, float]
    family: str
    yaw: float
    roll: float
    outfit: _Outfit


def _sample_person(rng: np.random.Generator) -> _PersonSpec:
    body = _sample_body(rng)
    family, angles = _sample_angles(rng)
    yaw, roll = _sample_view(rng)
    return _PersonSpec(body, angles, family, yaw, roll, _sample_outfit(rng))


_JOINT_POINT = {
    slot(name, side): f"{name}_{side}"
    for name in ("ankle", "knee", "hip", "wrist", "elbow", "shoulder", "eye") for side in SIDES
}
_JOINT_POINT.update({slot(n): n for n in ("pelvis", "thorax", "upper_neck", "head_top", "nose")})
_JOINT_ORDER = [_JOINT_POINT[k] for k in range(NUM_SLOTS)]


def _figure(spec: _PersonSpec, long_side_px: float, centre: np.ndarray) -> _Figure:
    """Poses, turns and projects a person so that its joint box has the given longest side and centre."""
    b = spec.body
    p3 = _pose_3d(b, spec.angles)
    r_view = _rz(math.radians(spec.roll)) @ _ry(math.radians(spec.yaw))
    shirt3, trousers3 = _torso_hull_3d(b, p3["r_torso"], p3["r_pelvis"])

    def to_view(v: np.ndarray) -> np.ndarray:
        return v @ r_view.T

    names = [k for k, v in p3.items() if v.shape == (3,)]
    view = dict(zip(names, to_view(np.stack([p3[k] for k in names]))))
    joints3 = np.stack([view[n] for n in _JOINT_ORDER])
    xy_unit = joints3[:, :2] * np.array([1.0, -1.0])
    lo, hi = xy_unit.min(0), xy_unit.max(0)
    scale = long_side_px / max(float((hi - lo).max()), 1e-6)
    offset = centre - (lo + hi) / 2 * scale

    def px(v: np.ndarray) -> np.ndarray:
        return (v[..., :2] * np.array([1.0, -1.0])) * scale + offset

    o = spec.outfit
    parts: list[_Part] = []
    torso_depth = float(view["thorax"][2] + view["pelvis"][2]) / 2

    def limb(name, a, b_, w0, w1, material, bias=0.0, shade=1.0):
        parts.append(_Part(name, float(view[a][2] + view[b_][2]) / 2 + bias, material,
                           points=draw_lib.capsule_polygon(px(view[a]), px(view[b_]), w0 * scale, w1 * scale),
                           shade=shade))

    parts.append(_Part("torso", torso_depth, "shirt", points=draw_lib.convex_hull(px(to_view(shirt3)))))
    parts.append(_Part("pelvis", torso_depth + 1e-4, "trousers", points=draw_lib.convex_hull(px(to_view(trousers3)))))

    # head group: always over the torso and neck; the hair goes behind or over the face
    head_z = float(view["head_centre"][2])
    head_depth = max(head_z, torso_depth + 0.004)
    parts.append(_Part("neck", (torso_depth + head_depth) / 2, "skin",
                       points=draw_lib.capsule_polygon(px(view["thorax"]), px(view["upper_neck"]),
                                                       b["neck_w"] * scale, b["neck_w"] * scale * 0.95)))
    r = b["head_r"]
    centre_px = px(view["head_centre"])
    forward = view["head_forward"]
    facing_viewer = forward[2] > 0
    up2 = px(view["head_up"]) - px(np.zeros(3))
    back2 = -(px(forward) - px(np.zeros(3)))
    if o.hair_style != "bald":
        hair_centre = centre_px + up2 * 0.2 * r + back2 * 0.22 * r
        hair_radius = 1.05 * r * scale
        hair_depth = head_depth - 1e-3 if facing_viewer else head_depth + 1e-3
        parts.append(_Part("hair", hair_depth, "hair", centre=hair_centre, radius=hair_radius))
        if o.hair_style == "long":
            lower = centre_px - up2 * 1.7 * r + back2 * 0.35 * r
            parts.append(_Part("long_hair", torso_depth - 0.01 if facing_viewer else hair_depth + 1e-4, "hair",
                               points=draw_lib.capsule_polygon(hair_centre, lower, 2.0 * r * scale, 1.6 * r * scale)))
    parts.append(_Part("face", head_depth, "skin", centre=centre_px, radius=r * scale))
    facing = np.ones(NUM_SLOTS, bool)
    for name, radius, material, shade, slot_index in (
        ("eye_left", 0.13, "eye", 1.0, slot("eye", "left")),
        ("eye_right", 0.13, "eye", 1.0, slot("eye", "right")),
        ("nose", 0.12, "skin", 0.8, slot("nose")),
        ("mouth", 0.1, "lips", 1.0, None),
    ):
        normal_z = float(view[name][2] - view["head_centre"][2]) / r
        if slot_index is not None:
            facing[slot_index] = normal_z > 0.1
        if normal_z > 0.1:
            parts.append(_Part(name, head_depth + 2e-3 + normal_z * 1e-4, material, centre=px(view[name]),
                               radius=radius * r * scale, shade=shade))

    for side in SIDES:
        arm_material = "shirt" if o.long_sleeves else "skin"
        limb(f"upper_arm_{side}", f"shoulder_{side}", f"elbow_{side}", b["upper_arm_w"], b["forearm_w"] * 1.05,
             arm_material)
        if not o.long_sleeves:
            sleeve_end = view[f"shoulder_{side}"] + 0.5 * (view[f"elbow_{side}"] - view[f"shoulder_{side}"])
            view[f"sleeve_end_{side}"] = sleeve_end
            limb(f"sleeve_{side}", f"shoulder_{side}", f"sleeve_end_{side}", b["upper_arm_w"] * 1.2,
                 b["upper_arm_w"] * 1.15, "shirt", bias=1e-4)
        limb(f"forearm_{side}", f"elbow_{side}", f"wrist_{side}", b["forearm_w"], b["forearm_w"] * 0.8, arm_material)
        limb(f"hand_{side}", f"wrist_{side}", f"hand_tip_{side}", b["hand_w"] * 0.9, b["hand_w"], "skin", bias=1e-4)
        leg_material = "trousers" if o.long_trousers else "skin"
        limb(f"thigh_{side}", f"hip_{side}", f"knee_{side}", b["thigh_w"], b["shin_w"] * 1.1, leg_material)
        if not o.long_trousers:
            shorts_end = view[f"hip_{side}"] + 0.55 * (view[f"knee_{side}"] - view[f"hip_{side}"])
            view[f"shorts_end_{side}"] = shorts_end
            limb(f"shorts_{side}", f"hip_{side}", f"shorts_end_{side}", b["thigh_w"] * 1.15, b["thigh_w"] * 1.1,
                 "trousers", bias=1e-4)
        limb(f"shin_{side}", f"knee_{side}", f"ankle_{side}", b["shin_w"], b["shin_w"] * 0.7, leg_material)
        limb(f"foot_{side}", f"heel_{side}", f"toe_{side}", b["foot_w"], b["foot_w"] * 0.9, "shoes", bias=1e-4)

    # far side darker, near side brighter: a hint of depth
    for part in parts:
        part.shade *= float(np.clip(1.0 + (part.depth - torso_depth) * 1.5, 0.8, 1.1))
    parts.sort(key=lambda part: part.depth)

    feet_pts = np.stack([px(view[f"{k}_{s}"]) for k in ("toe", "heel", "ankle") for s in SIDES])
    feet = np.array([feet_pts[:, 0].mean(), feet_pts[:, 1].max()])
    head_top_px = px(view["head_top"])
    return _Figure(
        xy=px(joints3).astype(np.float32),
        depth=joints3[:, 2].astype(np.float32),
        facing=facing,
        parts=parts,
        feet=feet,
        height_px=float(np.hypot(*(feet - head_top_px))),
    )


def _draw_labels(labels_draw: ImageDraw.ImageDraw, figure: _Figure, base: int) -> None:
    for part in figure.parts:
        label = base + PART_ID[part.name]
        if part.points is not None:
            draw_lib.draw_polygon(labels_draw, part.points, label)
        else:
            draw_lib.draw_disc(labels_draw, part.centre, part.radius, label)


_VISIBILITY_TOLERANCE = 0.03  # body heights: a part this close in depth does not hide a joint


def _pose_with_visibility(figure: _Figure, labels: np.ndarray) -> Pose:
    """Joint labels; a joint is hidden when a nearer part that is not its own covers it."""
    depth_of_label = np.full(256, -np.inf)
    for part in figure.parts:
        depth_of_label[PART_ID[part.name]] = part.depth
    size = labels.shape[0]
    pose = Pose.empty()
    for k in range(NUM_SLOTS):
        x, y = figure.xy[k]
        col, row = int(np.clip(round(float(x)), 0, size - 1)), int(np.clip(round(float(y)), 0, size - 1))
        top = int(labels[row, col])
        main_top = 0 < top <= len(PART_NAMES)
        hidden = main_top and top not in JOINT_OWNERS[k] and depth_of_label[top] > figure.depth[k] + _VISIBILITY_TOLERANCE
        pose.set(k, float(x), float(y), visible=bool(figure.facing[k] and not hidden))
    return pose


# ---------------------------------------------------------------- scenes

def _target_long_side(rng: np.random.Generator, size: int) -> float:
    # joint box >= size / 1.4 so the enlarged crop is at least `size`: no upsampling blur
    long_side = rng.uniform(0.72, 0.92) * size
    return max(long_side, MIN_PERSON_PX) if size >= 64 else long_side


def _place_main(rng: np.random.Generator, size: int) -> tuple[float, np.ndarray]:
    scene = scene_size(size)
    long_side = _target_long_side(rng, size)
    margin = min(0.7 * long_side, scene / 2)
    centre = rng.uniform(margin, scene - margin, 2) if margin < scene / 2 else np.full(2, scene / 2)
    return float(long_side), centre


def _main_figure(seed: int, index: int, size: int) -> tuple[_PersonSpec, _Figure]:
    spec = _sample_person(np.random.default_rng([seed, index, _STREAM_PERSON]))
    long_side, centre = _place_main(np.random.default_rng([seed, index, _STREAM_PLACEMENT]), size)
    return spec, _figure(spec, long_side, centre)


def _materials(rng: np.random.Generator, outfit: _Outfit, scene: int, haze: float, solid: bool) -> list[np.ndarray]:
    """The person's materials in MATERIALS order: (3,) colours or (S, S, 3) textures."""
    def hazy(colour):
        return (colour * (1 - haze) + 128 * haze).astype(np.float32)

    shirt = draw_lib.texture(rng, scene, outfit.shirt, "solid" if solid else outfit.shirt_texture)
    trousers = draw_lib.texture(rng, scene, outfit.trousers, "solid" if solid else outfit.trousers_texture)
    return [
        hazy(outfit.skin), hazy(outfit.hair),
        shirt[0, 0].astype(np.float32) * (1 - haze) + 128 * haze if solid else shirt,
        trousers[0, 0].astype(np.float32) * (1 - haze) + 128 * haze if solid else trousers,
        hazy(outfit.shoes), hazy(np.array([25, 20, 20])), hazy(np.clip(outfit.skin * np.array([0.8, 0.5, 0.5]), 0, 255)),
    ]


def render_scene_layers(seed: int, index: int, size: int = 128) -> RenderedScene:
    """Renders scene `index` of `seed`: the image, the main person's pose and silhouette."""
    scene = scene_size(size)
    spec, main = _main_figure(seed, index, size)
    extras_rng = np.random.default_rng([seed, index, _STREAM_EXTRAS])
    bg_rng = np.random.default_rng([seed, index, _STREAM_BACKGROUND])

    airborne = spec.family == "jump"
    contact_y = main.feet[1] + (extras_rng.uniform(0.05, 0.25) * main.height_px if airborne else 0.0)
    horizon = contact_y - extras_rng.uniform(0.15, 1.0) * main.height_px if extras_rng.random() < 0.7 else None

    # people in the background stand on the ground between the horizon and the main person's feet
    extras: list[tuple[_PersonSpec, _Figure]] = []
    if extras_rng.random() < EXTRA_PEOPLE_PROBABILITY:
        for _ in range(int(extras_rng.integers(1, 3))):
            other = _sample_person(extras_rng)
            long_side = main.height_px * extras_rng.uniform(0.4, 0.75)
            ground_top = horizon if horizon is not None else contact_y - 0.5 * main.height_px
            feet_y = extras_rng.uniform(min(ground_top + long_side * 0.1, contact_y), contact_y)
            x = extras_rng.uniform(0, scene)
            fig = _figure(other, long_side, np.array([x, feet_y - long_side / 2]))
            shift = np.array([0.0, feet_y - fig.feet[1]]) if other.family != "jump" else np.zeros(2)
            fig = _figure(other, long_side, np.array([x, feet_y - long_side / 2]) + shift)
            extras.append((other, fig))

    img = draw_lib.background(bg_rng, scene, horizon)
    if horizon is not None:
        draw_lib.shadow(img, main.feet[0], contact_y, main.height_px * 0.22, 0.45 if not airborne else 0.25)
        for other, fig in extras:
            draw_lib.shadow(img, fig.feet[0], fig.feet[1], fig.height_px * 0.22, 0.35)

    label_img = Image.new("L", (scene, scene), 0)
    label_draw = ImageDraw.Draw(label_img)
    material_of_label = np.zeros(256, np.int64)
    shade_of_label = np.ones(256, np.float32)
    materials: list[np.ndarray] = []
    people = [(other, fig, _LABEL_STRIDE * (i + 1), 0.25, True) for i, (other, fig) in enumerate(extras)]
    people.append((spec, main, 0, 0.0, False))
    for person_spec, fig, base, haze, solid in people:
        first = len(materials)
        materials += _materials(bg_rng, person_spec.outfit, scene, haze, solid)
        for part in fig.parts:
            material_of_label[base + PART_ID[part.name]] = first + MATERIALS.index(part.material)
            shade_of_label[base + PART_ID[part.name]] = part.shade
        _draw_labels(label_draw, fig, base)
    labels = np.asarray(label_img)
    image = draw_lib.composite(img, labels, material_of_label, shade_of_label, materials, outline=0.7)
    main_mask = (labels > 0) & (labels <= len(PART_NAMES))
    return RenderedScene(image=image, pose=_pose_with_visibility(main, labels), person_mask=main_mask)


def render_scene(seed: int, index: int, size: int = 128) -> tuple[np.ndarray, Pose]:
    """Image `index` of the synthetic source for `seed`: uint8 (S, S, 3) with S = 1.5 size, and its person."""
    rendered = render_scene_layers(seed, index, size)
    return rendered.image, rendered.pose


def scene_pose(seed: int, index: int, size: int = 128) -> Pose:
    """The labels of scene `index` without rendering its pixels (same as `render_scene(...)[1]`)."""
    scene = scene_size(size)
    _, main = _main_figure(seed, index, size)
    label_img = Image.new("L", (scene, scene), 0)
    _draw_labels(ImageDraw.Draw(label_img), main, 0)
    return _pose_with_visibility(main, np.asarray(label_img))


def iter_images(manual_dir: str | None = None, *, num_examples: int = 2000, seed: int = 0,
                size: int = 128) -> Iterator[SourceImage]:
    """`num_examples` synthetic scenes; pixels are rendered when `load()` is called."""
    del manual_dir  # nothing to read: every image is generated
    for index in range(num_examples):
        yield SourceImage(
            image_id=f"syn-{index:06d}",
            path="",
            load=lambda index=index: render_scene(seed, index, size)[0],
            people=[scene_pose(seed, index, size)],
        )
