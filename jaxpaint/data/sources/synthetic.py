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
import functools
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
    def u(lo: float, hi: float) -> float:
        return float(rng.uniform(lo, hi))

    return {
        "head_r": 0.062 * u(0.9, 1.12),
        "neck_len": 0.04 * u(0.8, 1.2),
        "neck_w": 0.045 * u(0.9, 1.15) * build,
        "torso_len": 0.29 * u(0.93, 1.07),
        "shoulder_half": 0.105 * u(0.88, 1.12) * build ** 0.5,
        "shoulder_drop": 0.02 * u(0.5, 1.5),
        "chest_depth": 0.065 * u(0.85, 1.15) * build,
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
    def u(lo: float, hi: float) -> float:
        return float(rng.uniform(lo, hi))

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


@dataclasses.dataclass
class _Skeleton:
    """A posed body in the body frame: X = the person's left, Y = up, Z = the way the person faces."""

    points: dict[str, np.ndarray]  # named 3-D points: the joints and what the drawing needs
    r_torso: np.ndarray
    r_pelvis: np.ndarray
    head_up: np.ndarray
    head_forward: np.ndarray


def _pose_3d(body: dict[str, float], a: dict[str, float], head_top_radii: float) -> _Skeleton:
    """Forward kinematics from joint angles (degrees); `head_top_radii` places the head-top
    joint above the head centre, in head radii (on top of the hair when there is hair)."""
    rad = math.radians
    r_pelvis = _ry(rad(-a["twist"] / 2))
    r_torso = _ry(rad(a["twist"] / 2)) @ _rx(rad(a["lean"])) @ _rz(rad(a["side_bend"]))
    r_head = r_torso @ _ry(rad(a["head_yaw"])) @ _rx(rad(a["head_pitch"])) @ _rz(rad(a["head_roll"]))
    neck_dir = r_torso @ _rx(rad(a["head_pitch"] * 0.5)) @ np.array([0.0, 1.0, 0.0])
    r = body["head_r"]
    p: dict[str, np.ndarray] = {"thorax": r_torso @ np.array([0.0, body["torso_len"], 0.0])}
    p["upper_neck"] = p["thorax"] + neck_dir * body["neck_len"]
    p["head_centre"] = p["upper_neck"] + r_head @ np.array([0.0, 0.85 * r, 0.1 * r])
    face_points = {  # on the head sphere, in head radii
        "eye_left": (0.33, 0.12, 0.84), "eye_right": (-0.33, 0.12, 0.84),
        "nose": (0.0, -0.15, 1.08), "mouth": (0.0, -0.5, 0.85), "head_top": (0.0, head_top_radii, 0.0),
    }
    for name, offset in face_points.items():
        p[name] = p["head_centre"] + r_head @ (np.array(offset) * r)
    down = np.array([0.0, -1.0, 0.0])
    for side, s, sign in (("left", "l", 1.0), ("right", "r", -1.0)):
        shoulder = r_torso @ np.array([sign * body["shoulder_half"], body["torso_len"] - body["shoulder_drop"], 0.0])
        r_upper = (r_torso @ _rx(rad(-a[f"sh_flex_{s}"])) @ _rz(rad(sign * a[f"sh_abd_{s}"]))
                   @ _ry(rad(sign * a[f"sh_twist_{s}"])))
        elbow = shoulder + r_upper @ down * body["upper_arm"]
        r_fore = r_upper @ _rx(rad(-a[f"elbow_{s}"]))
        wrist = elbow + r_fore @ down * body["forearm"]
        hand_tip = wrist + r_fore @ _rx(rad(-a[f"wrist_{s}"])) @ down * body["hand"]
        hip = r_pelvis @ np.array([sign * body["hip_half"], -body["hip_drop"], 0.0])
        r_thigh = (r_pelvis @ _rx(rad(-a[f"hip_flex_{s}"])) @ _rz(rad(sign * a[f"hip_abd_{s}"]))
                   @ _ry(rad(sign * a[f"hip_twist_{s}"])))
        knee = hip + r_thigh @ down * body["thigh"]
        r_shin = r_thigh @ _rx(rad(a[f"knee_{s}"]))
        ankle = knee + r_shin @ down * body["shin"]
        r_foot = r_shin @ _rx(rad(-a[f"ankle_{s}"]))
        p.update({
            f"shoulder_{side}": shoulder, f"elbow_{side}": elbow, f"wrist_{side}": wrist, f"hand_tip_{side}": hand_tip,
            f"hip_{side}": hip, f"knee_{side}": knee, f"ankle_{side}": ankle,
            f"toe_{side}": ankle + r_foot @ np.array([0.0, -0.35, 0.8]) * body["foot"],
            # close enough to the ankle that the shoe's rounded heel covers it
            f"heel_{side}": ankle + r_foot @ np.array([0.0, -0.15, -0.1]) * body["foot"],
            f"sleeve_end_{side}": shoulder + 0.5 * (elbow - shoulder),
            f"shorts_end_{side}": hip + 0.55 * (knee - hip),
        })
    p["pelvis"] = (p["hip_left"] + p["hip_right"]) / 2
    return _Skeleton(p, r_torso, r_pelvis, r_head @ np.array([0.0, 1.0, 0.0]), r_head @ np.array([0.0, 0.0, 1.0]))


def _torso_hull_3d(body: dict[str, float], r_torso: np.ndarray, r_pelvis: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """3-D outline points of the shirt (neck to belt) and of the trousers' top (belt to crotch)."""
    t, sh, d, waist = body["torso_len"], body["shoulder_half"], body["chest_depth"], body["waist_half"]
    chest, belt, hips = [], [], []
    for sign in (1.0, -1.0):
        for z in (d, -d):
            chest += [
                (sign * body["neck_w"] * 0.7, t + 0.005, z * 0.5),
                (sign * (sh + body["upper_arm_w"] * 0.35), t - body["shoulder_drop"] + body["upper_arm_w"] * 0.3, z * 0.5),
                (sign * (sh + body["upper_arm_w"] * 0.15), t * 0.72, z),
                (sign * waist, t * 0.35, z * 0.9),
            ]
            belt.append((sign * waist * 1.04, 0.04, z * 0.9))
            hips += [
                (sign * (body["hip_half"] + body["thigh_w"] * 0.45), -body["hip_drop"], z * 0.9),
                (sign * body["hip_half"] * 0.6, -body["hip_drop"] - body["thigh_w"] * 0.5, z * 0.7),
            ]
    belt_pts = np.array(belt) @ r_pelvis.T
    shirt = np.concatenate([np.array(chest) @ r_torso.T, belt_pts])
    trousers = np.concatenate([belt_pts, np.array(hips) @ r_pelvis.T])
    return shirt, trousers


# ---------------------------------------------------------------- appearance

_SKIN_TONES = np.array([
    [255, 224, 196], [241, 194, 160], [224, 172, 125], [198, 134, 90], [160, 102, 66],
    [120, 74, 46], [88, 54, 36], [232, 190, 172],
])
_HAIR_COLOURS = np.array([
    [20, 16, 14], [60, 40, 25], [110, 75, 40], [180, 140, 80], [200, 180, 130], [140, 50, 25],
    [120, 120, 120], [230, 230, 225],
])
_PATTERN_WEIGHTS = np.array([0.4, 0.25, 0.15, 0.2])  # over draw_lib.PATTERN_KINDS
_EYE_COLOUR = np.array([25.0, 20.0, 20.0])
_LIP_TINT = np.array([0.8, 0.5, 0.5])


@dataclasses.dataclass
class _Outfit:
    skin: np.ndarray
    hair: np.ndarray
    shirt: np.ndarray
    shirt_pattern: str
    trousers: np.ndarray
    trousers_pattern: str
    shoes: np.ndarray
    long_sleeves: bool
    long_trousers: bool
    hair_style: str  # "short", "long" or "bald"


def _sample_outfit(rng: np.random.Generator) -> _Outfit:
    kinds = draw_lib.PATTERN_KINDS
    denim = rng.random() < 0.3
    return _Outfit(
        skin=draw_lib.vary_colour(rng, _SKIN_TONES[rng.integers(len(_SKIN_TONES))], 12),
        hair=draw_lib.vary_colour(rng, _HAIR_COLOURS[rng.integers(len(_HAIR_COLOURS))], 15),
        shirt=draw_lib.cloth_colour(rng),
        shirt_pattern=kinds[int(rng.choice(len(kinds), p=_PATTERN_WEIGHTS))],
        trousers=draw_lib.vary_colour(rng, np.array([40, 55, 95]), 30) if denim else draw_lib.cloth_colour(rng),
        trousers_pattern=kinds[int(rng.choice(len(kinds), p=_PATTERN_WEIGHTS))],
        shoes=rng.uniform(0, 90, 3) if rng.random() < 0.6 else draw_lib.cloth_colour(rng),
        long_sleeves=bool(rng.random() < 0.5),
        long_trousers=bool(rng.random() < 0.65),
        hair_style=("short", "long", "bald")[int(rng.choice(3, p=[0.6, 0.3, 0.1]))],
    )


def _materials(rng: np.random.Generator, outfit: _Outfit, scene: int, haze: float,
               patterned: bool) -> list[draw_lib.Pattern]:
    """The person's materials in MATERIALS order; `haze` fades colours toward grey (distant people)."""
    def hazy(colour: np.ndarray) -> np.ndarray:
        return colour * (1 - haze) + 128 * haze

    def cloth(colour: np.ndarray, kind: str) -> draw_lib.Pattern:
        if not patterned or kind == "solid":
            return draw_lib.solid(hazy(colour))
        return draw_lib.random_pattern(rng, scene, colour, kind)

    return [
        draw_lib.solid(hazy(outfit.skin)), draw_lib.solid(hazy(outfit.hair)),
        cloth(outfit.shirt, outfit.shirt_pattern), cloth(outfit.trousers, outfit.trousers_pattern),
        draw_lib.solid(hazy(outfit.shoes)), draw_lib.solid(hazy(_EYE_COLOUR)),
        draw_lib.solid(hazy(outfit.skin * _LIP_TINT)),
    ]


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

# (part, from point, to point, width at start, width at end (body keys, factor), material or None for clothing)
_LIMBS = (
    ("upper_arm", "shoulder", "elbow", ("upper_arm_w", 1.0), ("forearm_w", 1.05), "sleeve"),
    ("sleeve", "shoulder", "sleeve_end", ("upper_arm_w", 1.2), ("upper_arm_w", 1.15), "shirt"),
    ("forearm", "elbow", "wrist", ("forearm_w", 1.0), ("forearm_w", 0.8), "sleeve"),
    ("hand", "wrist", "hand_tip", ("hand_w", 0.9), ("hand_w", 1.0), "skin"),
    ("thigh", "hip", "knee", ("thigh_w", 1.0), ("shin_w", 1.1), "leg"),
    ("shorts", "hip", "shorts_end", ("thigh_w", 1.15), ("thigh_w", 1.1), "trousers"),
    ("shin", "knee", "ankle", ("shin_w", 1.0), ("shin_w", 0.7), "leg"),
    ("foot", "heel", "toe", ("foot_w", 1.15), ("foot_w", 0.9), "shoes"),
)
_ON_TOP = 1e-4  # depth bias that keeps sleeves, shorts, hands and feet over the limb they sit on


@dataclasses.dataclass
class _Part:
    name: str
    depth: float  # larger = nearer the viewer; parts are drawn in increasing depth
    material: str
    points: np.ndarray | None = None  # a polygon (K, 2) in scene pixels ...
    centre: np.ndarray | None = None  # ... or a disc
    radius: float = 0.0
    shade: float = 1.0


@dataclasses.dataclass
class _Figure:
    """A posed person in scene pixels."""

    xy: np.ndarray  # (NUM_SLOTS, 2)
    depth: np.ndarray  # (NUM_SLOTS,) in body heights, larger = nearer
    facing: np.ndarray  # (NUM_SLOTS,) False for an eye or the nose on the far side of the head
    parts: list[_Part]  # in drawing order
    feet: np.ndarray  # (x, y) of the ground under the feet
    height_px: float  # head top to feet

    def shifted(self, delta: np.ndarray) -> "_Figure":
        parts = [
            dataclasses.replace(
                p, points=None if p.points is None else p.points + delta,
                centre=None if p.centre is None else p.centre + delta,
            )
            for p in self.parts
        ]
        return dataclasses.replace(self, xy=(self.xy + delta).astype(np.float32), parts=parts, feet=self.feet + delta)

    def box(self) -> tuple[float, float, float, float]:
        """(x0, y0, x1, y1) around everything drawn."""
        pts = [p.points for p in self.parts if p.points is not None]
        pts += [p.centre + np.array([[-p.radius, -p.radius], [p.radius, p.radius]]) for p in self.parts
                if p.centre is not None]
        allpts = np.concatenate(pts)
        return (*allpts.min(0), *allpts.max(0))


def _figure(spec: _PersonSpec, long_side_px: float, centre: np.ndarray) -> _Figure:
    """Poses, turns and projects a person so that its joint box has the given longest side and centre."""
    b, o = spec.body, spec.outfit
    head_top_radii = 0.95 if o.hair_style == "bald" else 1.12
    skel = _pose_3d(b, spec.angles, head_top_radii)
    shirt3, trousers3 = _torso_hull_3d(b, skel.r_torso, skel.r_pelvis)
    r_view = _rz(math.radians(spec.roll)) @ _ry(math.radians(spec.yaw))
    flip = np.array([1.0, -1.0])  # image rows grow downward

    names = list(skel.points)
    view = np.stack([skel.points[n] for n in names]) @ r_view.T
    unit_xy = view[:, :2] * flip
    index = {n: i for i, n in enumerate(names)}
    joint_rows = [index[n] for n in _JOINT_ORDER]
    lo, hi = unit_xy[joint_rows].min(0), unit_xy[joint_rows].max(0)
    scale = long_side_px / max(float((hi - lo).max()), 1e-6)
    offset = centre - (lo + hi) / 2 * scale
    xy = dict(zip(names, unit_xy * scale + offset))
    z = dict(zip(names, view[:, 2].tolist()))

    def px(points3: np.ndarray) -> np.ndarray:
        return (points3 @ r_view.T)[:, :2] * flip * scale + offset

    def direction_px(v: np.ndarray) -> np.ndarray:
        return (r_view @ v)[:2] * flip * scale

    torso_depth = (z["thorax"] + z["pelvis"]) / 2
    parts = [
        _Part("torso", torso_depth, "shirt", points=draw_lib.convex_hull(px(shirt3))),
        _Part("pelvis", torso_depth + _ON_TOP, "trousers", points=draw_lib.convex_hull(px(trousers3))),
    ]
    head_depth = max(z["head_centre"], torso_depth + 0.004)  # the head stays over the torso and neck
    parts += _head_parts(b, o, xy, z, scale, head_depth, torso_depth, direction_px(skel.head_up),
                         direction_px(skel.head_forward), (r_view @ skel.head_forward)[2] > 0)
    parts += _limb_parts(b, o, xy, z, scale)
    # the far side slightly darker, the near side slightly brighter: a hint of depth
    for part in parts:
        part.shade *= min(max(1.0 + (part.depth - torso_depth) * 1.5, 0.8), 1.1)
    parts.sort(key=lambda part: part.depth)

    facing = np.ones(NUM_SLOTS, bool)
    for slot_index, name in ((slot("eye", "left"), "eye_left"), (slot("eye", "right"), "eye_right"),
                             (slot("nose"), "nose")):
        facing[slot_index] = _faces_viewer(z, name, b["head_r"])
    feet_pts = np.stack([xy[f"{k}_{s}"] for k in ("toe", "heel", "ankle") for s in SIDES])
    feet = np.array([feet_pts[:, 0].mean(), feet_pts[:, 1].max()])
    joints = np.stack([xy[n] for n in _JOINT_ORDER])
    return _Figure(
        xy=joints.astype(np.float32),
        depth=np.array([z[n] for n in _JOINT_ORDER], np.float32),
        facing=facing,
        parts=parts,
        feet=feet,
        height_px=float(np.hypot(*(feet - xy["head_top"]))),
    )


def _faces_viewer(z: dict[str, float], name: str, head_r: float) -> bool:
    """Whether a point on the face looks toward the viewer (its outward normal points at the camera)."""
    return (z[name] - z["head_centre"]) / head_r > 0.1


def _head_parts(b, o: _Outfit, xy, z, scale: float, head_depth: float, torso_depth: float, up2: np.ndarray,
                forward2: np.ndarray, facing_viewer: bool) -> list[_Part]:
    """Neck, hair (behind the face, or over it when the head turns away), face, eyes, nose, mouth.

    up2, forward2: the head's up and facing directions projected to pixels (per body height).
    """
    r = b["head_r"]
    head_r_px = r * scale
    centre = xy["head_centre"]
    neck_w = np.array([b["neck_w"] * scale])
    parts = [_Part("neck", (torso_depth + head_depth) / 2, "skin",
                   points=draw_lib.capsule_polygons(xy["thorax"][None], xy["upper_neck"][None], neck_w,
                                                    neck_w * 0.95)[0])]
    if o.hair_style != "bald":
        hair_centre = centre + (up2 * 0.2 - forward2 * 0.22) * r
        hair_depth = head_depth - 1e-3 if facing_viewer else head_depth + 1e-3
        parts.append(_Part("hair", hair_depth, "hair", centre=hair_centre, radius=1.05 * head_r_px))
        if o.hair_style == "long":
            lower = centre + (-up2 * 1.7 - forward2 * 0.35) * r
            parts.append(_Part(
                "long_hair", torso_depth - 0.01 if facing_viewer else hair_depth + _ON_TOP, "hair",
                points=draw_lib.capsule_polygons(hair_centre[None], lower[None], np.array([2.0 * head_r_px]),
                                                 np.array([1.6 * head_r_px]))[0]))
    parts.append(_Part("face", head_depth, "skin", centre=centre, radius=head_r_px))
    for name, radius, material, shade in (
        ("eye_left", 0.13, "eye", 1.0), ("eye_right", 0.13, "eye", 1.0),
        ("nose", 0.12, "skin", 0.8), ("mouth", 0.1, "lips", 1.0),
    ):
        # the nose sticks out of the head's outline in profile, even turned slightly away
        if _faces_viewer(z, name, r) or (name == "nose" and (z[name] - z["head_centre"]) / r > -0.35):
            parts.append(_Part(name, head_depth + 2e-3, material, centre=xy[name],
                               radius=radius * head_r_px, shade=shade))
    return parts


def _limb_parts(b, o: _Outfit, xy, z, scale: float) -> list[_Part]:
    """Arms and legs with sleeves, shorts, hands and shoes, each placed at the depth of its midpoint."""
    material_of = {"sleeve": "shirt" if o.long_sleeves else "skin", "leg": "trousers" if o.long_trousers else "skin"}
    specs = []
    for side in SIDES:
        for name, start, end, (w0_key, w0), (w1_key, w1), material in _LIMBS:
            if (name == "sleeve" and o.long_sleeves) or (name == "shorts" and o.long_trousers):
                continue
            a, e = f"{start}_{side}", f"{end}_{side}"
            bias = 0.0 if name in ("upper_arm", "forearm", "thigh", "shin") else _ON_TOP
            specs.append((f"{name}_{side}", a, e, b[w0_key] * w0, b[w1_key] * w1, material_of.get(material, material),
                          (z[a] + z[e]) / 2 + bias))
    polys = draw_lib.capsule_polygons(
        np.stack([xy[s[1]] for s in specs]), np.stack([xy[s[2]] for s in specs]),
        np.array([s[3] for s in specs]) * scale, np.array([s[4] for s in specs]) * scale,
    )
    return [_Part(name, depth, material, points=poly) for (name, _, _, _, _, material, depth), poly in zip(specs, polys)]


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
    depth_of_label = {PART_ID[part.name]: part.depth for part in figure.parts}
    size = labels.shape[0]
    pose = Pose.empty()
    for k in range(NUM_SLOTS):
        x, y = float(figure.xy[k, 0]), float(figure.xy[k, 1])
        top = int(labels[min(max(round(y), 0), size - 1), min(max(round(x), 0), size - 1)])
        hidden = (
            top in depth_of_label
            and top not in JOINT_OWNERS[k]
            and depth_of_label[top] > figure.depth[k] + _VISIBILITY_TOLERANCE
        )
        pose.set(k, x, y, visible=bool(figure.facing[k] and not hidden))
    return pose


# ---------------------------------------------------------------- scenes

def _target_long_side(rng: np.random.Generator, size: int) -> float:
    # a joint box of at least size / 1.4 makes the enlarged crop at least `size`: no upsampling blur
    long_side = rng.uniform(0.72, 0.92) * size
    return max(long_side, MIN_PERSON_PX) if size >= 64 else long_side


def _main_figure(seed: int, index: int, size: int) -> tuple[_PersonSpec, _Figure]:
    spec = _sample_person(np.random.default_rng([seed, index, _STREAM_PERSON]))
    rng = np.random.default_rng([seed, index, _STREAM_PLACEMENT])
    scene = scene_size(size)
    long_side = _target_long_side(rng, size)
    margin = 0.7 * long_side  # half the enlarged crop: keep it inside the scene when there is room
    centre = rng.uniform(margin, scene - margin, 2) if margin < scene / 2 else np.full(2, scene / 2)
    return spec, _figure(spec, long_side, centre)


def _background_people(rng: np.random.Generator, main: _Figure, contact_y: float,
                       horizon: float | None, scene: int) -> list[tuple[_PersonSpec, _Figure]]:
    """1-2 smaller people standing on the ground between the horizon and the main person's feet."""
    people = []
    for _ in range(int(rng.integers(1, 3))):
        spec = _sample_person(rng)
        long_side = main.height_px * rng.uniform(0.4, 0.75)
        ground_top = horizon if horizon is not None else contact_y - 0.5 * main.height_px
        feet_y = rng.uniform(min(ground_top + 0.1 * long_side, contact_y), contact_y)
        # mostly to one side of the main person, so they do not hide its outline
        x0, _, x1, _ = main.box()
        beside = rng.uniform(-0.5 * long_side, x0) if rng.random() < 0.5 else rng.uniform(x1, scene + 0.5 * long_side)
        x = beside if rng.random() < 0.8 else rng.uniform(0, scene)
        fig = _figure(spec, long_side, np.array([x, feet_y]))
        people.append((spec, fig.shifted(np.array([0.0, feet_y - fig.feet[1]]))))
    return people


def render_scene_layers(seed: int, index: int, size: int = 128) -> RenderedScene:
    """Renders scene `index` of `seed`: the image, the main person's pose and silhouette."""
    scene = scene_size(size)
    spec, main = _main_figure(seed, index, size)
    extras_rng = np.random.default_rng([seed, index, _STREAM_EXTRAS])
    bg_rng = np.random.default_rng([seed, index, _STREAM_BACKGROUND])

    airborne = spec.family == "jump"
    contact_y = main.feet[1] + (extras_rng.uniform(0.05, 0.25) * main.height_px if airborne else 0.0)
    horizon = contact_y - extras_rng.uniform(0.15, 1.0) * main.height_px if extras_rng.random() < 0.7 else None
    extras = []
    if extras_rng.random() < EXTRA_PEOPLE_PROBABILITY:
        extras = _background_people(extras_rng, main, contact_y, horizon, scene)

    image = draw_lib.background(bg_rng, scene, horizon)
    if horizon is not None:
        draw_lib.shadow(image, main.feet[0], contact_y, main.height_px * 0.22, 0.25 if airborne else 0.45)
        for _, fig in extras:
            draw_lib.shadow(image, fig.feet[0], fig.feet[1], fig.height_px * 0.22, 0.35)

    label_img = Image.new("L", (scene, scene), 0)
    label_draw = ImageDraw.Draw(label_img)
    material_of_label = np.zeros(256, np.int64)
    shade_of_label = np.ones(256)
    materials: list[draw_lib.Pattern] = []
    # background people first (behind), faded and plainly dressed; the main person last
    people = [(s, f, _LABEL_STRIDE * (i + 1), 0.25, False) for i, (s, f) in enumerate(extras)]
    people.append((spec, main, 0, 0.0, True))
    boxes = []
    for person, fig, base, haze, patterned in people:
        first = len(materials)
        materials += _materials(bg_rng, person.outfit, scene, haze, patterned)
        for part in fig.parts:
            material_of_label[base + PART_ID[part.name]] = first + MATERIALS.index(part.material)
            shade_of_label[base + PART_ID[part.name]] = part.shade
        _draw_labels(label_draw, fig, base)
        boxes.append(fig.box())
    labels = np.asarray(label_img)
    x0, y0 = (max(int(min(b[i] for b in boxes)) - 1, 0) for i in (0, 1))
    x1, y1 = (min(int(max(b[i] for b in boxes)) + 2, scene) for i in (2, 3))
    draw_lib.composite(image, labels, (y0, x0, y1, x1), material_of_label, shade_of_label, materials, outline=0.7)
    person_mask = (labels > 0) & (labels <= len(PART_NAMES))
    return RenderedScene(image=image, pose=_pose_with_visibility(main, labels), person_mask=person_mask)


def render_scene(seed: int, index: int, size: int = 128) -> tuple[np.ndarray, Pose]:
    """Image `index` of the synthetic source for `seed`: uint8 (S, S, 3) with S = scene_size(size), and its person."""
    rendered = render_scene_layers(seed, index, size)
    return rendered.image, rendered.pose


def scene_pose(seed: int, index: int, size: int = 128) -> Pose:
    """The labels of scene `index` without its pixels; equal to `render_scene(seed, index, size)[1]`."""
    scene = scene_size(size)
    _, main = _main_figure(seed, index, size)
    label_img = Image.new("L", (scene, scene), 0)
    _draw_labels(ImageDraw.Draw(label_img), main, 0)
    return _pose_with_visibility(main, np.asarray(label_img))


def iter_images(manual_dir: str | None = None, *, num_examples: int = 2000, seed: int = 0,
                size: int = 128) -> Iterator[SourceImage]:
    """`num_examples` synthetic scenes; the labels are computed here, the pixels when `load()` is called."""
    del manual_dir  # nothing to read: every image is generated
    for index in range(num_examples):
        yield SourceImage(
            image_id=f"syn-{index:06d}",
            path="",
            load=functools.partial(_render_image, seed, index, size),
            people=[scene_pose(seed, index, size)],
        )


def _render_image(seed: int, index: int, size: int) -> np.ndarray:
    return render_scene(seed, index, size)[0]
