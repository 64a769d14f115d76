"""Source readers: each on a tiny fixture written in its own on-disk format, plus real LSPET where present."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.io
from PIL import Image

from conftest import LSPET_DIR, needs_lspet
from jaxpaint.data import joints as J
from jaxpaint.data.sources import SOURCE_NAMES, get_source
from jaxpaint.data.sources import bbc, flic, lsp, lspet, mpii, synchronic
from jaxpaint.errors import JaxpaintError

EMPTY = np.zeros((0, 0))


def write_jpeg(path, h=6, w=8, value=100):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((h, w, 3), value, np.uint8)).save(path)


def struct_array(records: list[dict]) -> np.ndarray:
    """A 1xN MATLAB struct array (what the releases hold), built as a numpy record array of objects."""
    fields = list(dict.fromkeys(k for r in records for k in r))
    array = np.zeros((1, len(records)), dtype=[(f, object) for f in fields])
    for i, record in enumerate(records):
        for f in fields:
            array[0, i][f] = record.get(f, EMPTY)
    return array


def truncate(path):
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def expect_joint(pose, name, side, x, y, visible=True, derived=False):
    s = J.slot(name, side)
    assert pose.present[s], (name, side)
    np.testing.assert_allclose(pose.xy[s], (x, y), atol=1e-5)
    assert pose.visible[s] == visible and pose.derived[s] == derived, (name, side)


def test_every_source_module_follows_the_protocol():
    for name in SOURCE_NAMES:
        if name == "synthetic":
            continue
        module = get_source(name)
        assert module.NAME == name
        assert isinstance(module.CROP, bool) and module.MANUAL_DOWNLOAD_INSTRUCTIONS
        with pytest.raises(JaxpaintError, match="manual-dir"):
            next(iter(module.iter_images(None)))
    assert lsp.CROP is False and bbc.CROP is False and lspet.CROP and mpii.CROP and flic.CROP and synchronic.CROP


# ---------------------------------------------------------------- LSP / LSPET

def leeds_fixture(root, layout, n=3):
    """n images; image k has joint j at (10k + j, 100 + j); joint 1 unannotated (lspet) or occluded (lsp)."""
    per_image = np.zeros((n, 14, 3))
    for k in range(n):
        per_image[k, :, 0] = 10 * k + np.arange(14)
        per_image[k, :, 1] = 100 + np.arange(14)
    if layout == "lspet":
        per_image[:, :, 2] = 1
        per_image[:, 1, :] = (0, -37.5, 0)  # LSPET's junk for an unannotated joint
        joints = per_image.transpose(1, 2, 0)
    else:
        per_image[:, 1, 2] = 1
        joints = per_image.transpose(2, 1, 0)
    scipy.io.savemat(root / "joints.mat", {"joints": joints})
    width = 5 if layout == "lspet" else 4
    for k in range(n):
        write_jpeg(root / "images" / f"im{k + 1:0{width}d}.jpg", value=20 * k)


@pytest.mark.parametrize("layout,module", [("lspet", lspet), ("lsp", lsp)])
def test_leeds_layouts_fill_the_right_slots(tmp_path, layout, module):
    leeds_fixture(tmp_path, layout)
    images = list(module.iter_images(tmp_path))
    assert [im.image_id for im in images] == (["im00001", "im00002", "im00003"] if layout == "lspet" else ["im0001", "im0002", "im0003"])
    pose = images[2].people[0]
    expect_joint(pose, "ankle", "right", 20, 100)
    expect_joint(pose, "hip", "left", 23, 103)
    expect_joint(pose, "wrist", "right", 26, 106)
    expect_joint(pose, "shoulder", "left", 29, 109)
    expect_joint(pose, "upper_neck", "none", 32, 112)
    expect_joint(pose, "head_top", "none", 33, 113)
    knee_r = J.slot("knee", "right")
    if layout == "lspet":
        assert not pose.present[knee_r]
    else:
        expect_joint(pose, "knee", "right", 21, 101, visible=False)
    assert pose.num_present == (13 if layout == "lspet" else 14)
    assert not pose.derived.any()
    assert not pose.present[[J.slot("pelvis"), J.slot("thorax"), J.slot("nose"), J.slot("eye", "left")]].any()
    assert images[1].load()[0, 0, 0] == pytest.approx(20, abs=2)


def test_leeds_bad_inputs_name_the_file(tmp_path):
    leeds_fixture(tmp_path, "lspet")
    scipy.io.savemat(tmp_path / "joints.mat", {"joints": np.zeros((3, 14, 3))})  # LSP layout given to LSPET
    with pytest.raises(JaxpaintError, match=r"joints\.mat.*shape \(3, 14, 3\)"):
        list(lspet.iter_images(tmp_path))
    leeds_fixture(tmp_path, "lspet")
    truncate(tmp_path / "joints.mat")
    with pytest.raises(JaxpaintError, match=r"joints\.mat"):
        list(lspet.iter_images(tmp_path))
    leeds_fixture(tmp_path, "lspet")
    (tmp_path / "images" / "im00002.jpg").unlink()
    with pytest.raises(JaxpaintError, match=r"joints\.mat annotates image 2"):
        list(lspet.iter_images(tmp_path))
    with pytest.raises(JaxpaintError, match=r"nowhere.*does not exist"):
        list(lspet.iter_images(tmp_path / "nowhere"))
    broken = tmp_path / "images" / "im00001.jpg"
    truncate(broken)
    write_jpeg(tmp_path / "images" / "im00002.jpg")
    first = next(iter(lspet.iter_images(tmp_path)))
    with pytest.raises(JaxpaintError, match=r"im00001\.jpg"):
        first.load()


@needs_lspet
def test_real_lspet_matches_the_raw_file():
    raw = scipy.io.loadmat(LSPET_DIR / "joints.mat")["joints"]  # (14, 3, N), read independently
    images = list(lspet.iter_images(LSPET_DIR))
    assert len(images) == raw.shape[2] == 8000
    assert sum(int(im.people[0].present.sum()) for im in images) == int((raw[:, 2, :] == 1).sum())
    for k in (0, 4321, 7999):
        pose = images[k].people[0]
        assert images[k].image_id == f"im{k + 1:05d}"
        for j, entry in enumerate(lspet.LEEDS_TABLE):
            s = J.slot(*entry)
            assert pose.present[s] == (raw[j, 2, k] == 1)
            if pose.present[s]:
                np.testing.assert_allclose(pose.xy[s], raw[j, :2, k], rtol=1e-6)


@needs_lspet
def test_lsp_layout_conversion_of_real_data(tmp_path):
    out = tmp_path / "lsp"
    assert lspet.write_lsp_layout(LSPET_DIR, out, limit=12) == 12
    assert scipy.io.loadmat(out / "joints.mat")["joints"].shape == (3, 14, 12)
    converted = list(lsp.iter_images(out))
    original = list(lspet.iter_images(LSPET_DIR, limit=12))
    assert [c.image_id for c in converted] == [f"im{k:04d}" for k in range(1, 13)]
    for c, o in zip(converted, original):
        np.testing.assert_array_equal(c.people[0].present, o.people[0].present)
        np.testing.assert_allclose(c.people[0].xy, o.people[0].xy)
        assert open(c.path, "rb").read() == open(o.path, "rb").read()
    with pytest.raises(JaxpaintError, match="not empty"):
        lspet.write_lsp_layout(LSPET_DIR, out, limit=2)


# ---------------------------------------------------------------- MPII

def point(i, x, y, vis):
    return {"id": i, "x": x, "y": y, "is_visible": vis}


def mpii_fixture(root, drop_field=None):
    person_a = {"annopoints": {"point": struct_array([
        point(0, 11.0, 21.0, 1), point(6, 16.0, 26.0, 0), point(7, 17.0, 27.0, "1"),
        point(9, 19.0, 29.0, EMPTY), point(15, 25.0, 35.0, 1),
    ])}, "scale": 1.0}
    person_b = {"annopoints": {"point": struct_array([point(13, 5.0, 6.0, 1), point(12, 7.0, 8.0, 1)])}, "scale": 2.0}
    no_points = {"annopoints": EMPTY, "scale": 1.0}
    annolist = struct_array([
        {"image": {"name": "001.jpg"}, "annorect": struct_array([person_a, no_points, person_b])},
        {"image": {"name": "002.jpg"}, "annorect": struct_array([no_points])},
        {"image": {"name": "003.jpg"}, "annorect": struct_array([person_b])},
    ])
    release = {"annolist": annolist, "img_train": np.array([[1, 1, 0]])}
    if drop_field:
        release.pop(drop_field)
    scipy.io.savemat(root / mpii.ANNOTATION_NAME, {"RELEASE": release})
    for name in ("001.jpg", "002.jpg", "003.jpg"):
        write_jpeg(root / "images" / name)


def test_mpii_reads_people_and_visibility(tmp_path):
    mpii_fixture(tmp_path)
    images = list(mpii.iter_images(tmp_path))
    assert [im.image_id for im in images] == ["001"]  # 002 has no labelled person, 003 is a test image
    a, b = images[0].people
    expect_joint(a, "ankle", "right", 11, 21)
    expect_joint(a, "pelvis", "none", 16, 26, visible=False)
    expect_joint(a, "thorax", "none", 17, 27)  # is_visible stored as the string '1'
    expect_joint(a, "head_top", "none", 19, 29, visible=False)  # empty is_visible: unknown
    expect_joint(a, "wrist", "left", 25, 35)
    assert a.num_present == 5 and not a.derived.any()
    expect_joint(b, "shoulder", "left", 5, 6)
    expect_joint(b, "shoulder", "right", 7, 8)
    assert [im.image_id for im in mpii.iter_images(tmp_path, train_only=False)] == ["001", "003"]


def test_mpii_single_struct_fields_and_missing_visibility(tmp_path):
    # One image, one person, one point: MATLAB stores plain structs, not arrays, and may omit is_visible.
    lone_point = np.zeros((1, 1), dtype=[("id", object), ("x", object), ("y", object)])
    lone_point[0, 0] = (8, 3.0, 4.0)
    release = {"annolist": struct_array([{"image": {"name": "z.jpg"}, "annorect": {"annopoints": {"point": lone_point}}}]),
               "img_train": 1}
    scipy.io.savemat(tmp_path / mpii.ANNOTATION_NAME, {"RELEASE": release})
    write_jpeg(tmp_path / "images" / "z.jpg")
    (image,) = list(mpii.iter_images(tmp_path))
    expect_joint(image.people[0], "upper_neck", "none", 3, 4, visible=False)
    assert image.people[0].num_present == 1


def test_mpii_bad_inputs(tmp_path):
    mpii_fixture(tmp_path, drop_field="annolist")
    with pytest.raises(JaxpaintError, match=r"mpii_human_pose_v1_u12_1\.mat.*annolist"):
        list(mpii.iter_images(tmp_path))
    mpii_fixture(tmp_path)
    (tmp_path / "images" / "001.jpg").unlink()
    with pytest.raises(JaxpaintError, match=r"001\.jpg.*does not exist"):
        list(mpii.iter_images(tmp_path))
    truncate(tmp_path / mpii.ANNOTATION_NAME)
    with pytest.raises(JaxpaintError, match=r"mpii_human_pose_v1_u12_1\.mat"):
        list(mpii.iter_images(tmp_path))


# ---------------------------------------------------------------- FLIC

def flic_example(movie, frame, offset):
    coords = np.full((2, 29), np.nan)
    for k in (0, 2, 3, 6, 9, 12, 13, 16, 14):  # lsho lwri rsho lhip rhip leye reye nose lear
        coords[:, k] = (offset + k, offset + 50 + k)
    return {"poselet_hit_idx": EMPTY, "moviename": movie, "coords": coords,
            "filepath": f"{movie}-{frame:08d}.jpg", "currframe": float(frame), "istrain": 1, "istest": 0}


def flic_fixture(root, drop_coords=False):
    examples = [flic_example("m1", f, f) for f in (30, 10, 40, 20)] + [flic_example("m2", 5, 5)]
    if drop_coords:
        for e in examples:
            e.pop("coords")
    scipy.io.savemat(root / "examples.mat", {"examples": struct_array(examples)})
    for e in examples:
        write_jpeg(root / "images" / e["filepath"])


def test_flic_maps_points_and_skips_frames(tmp_path):
    flic_fixture(tmp_path)
    every = list(flic.iter_images(tmp_path, frame_stride=1))
    assert len(every) == 5
    half = list(flic.iter_images(tmp_path))
    # m1 in frame order is 10, 20, 30, 40: every second keeps 10 and 30; m2's only frame stays.
    assert [im.image_id for im in half] == ["m1-00000030", "m1-00000010", "m2-00000005"]
    pose = half[0].people[0]
    expect_joint(pose, "shoulder", "left", 30, 80)
    expect_joint(pose, "wrist", "left", 32, 82)
    expect_joint(pose, "shoulder", "right", 33, 83)
    expect_joint(pose, "hip", "left", 36, 86)
    expect_joint(pose, "hip", "right", 39, 89)
    expect_joint(pose, "eye", "left", 42, 92)
    expect_joint(pose, "eye", "right", 43, 93)
    expect_joint(pose, "nose", "none", 46, 96)
    assert pose.num_present == 8  # NaN points absent; the ear (not in Table 2 for FLIC) is dropped


def test_flic_bad_inputs(tmp_path):
    flic_fixture(tmp_path, drop_coords=True)
    with pytest.raises(JaxpaintError, match=r"examples\.mat.*coords"):
        list(flic.iter_images(tmp_path))
    with pytest.raises(JaxpaintError, match="frame_stride"):
        list(flic.iter_images(tmp_path, frame_stride=0))
    truncate(tmp_path / "examples.mat")
    with pytest.raises(JaxpaintError, match=r"examples\.mat"):
        list(flic.iter_images(tmp_path))


# ---------------------------------------------------------------- Synchronic

STICKMAN = [  # torso, l upper, r upper, l lower, r lower, head; some drawn bottom-up
    "50 40 50 90", "60 42 70 60", "40 42 30 60", "85 75 70 60", "30 60 20 75", "50 38 50 20",
]
STICKMAN_REVERSED = [
    "50 90 50 40", "70 60 60 42", "30 60 40 42", "70 60 85 75", "20 75 30 60", "50 20 50 38",
]


def test_synchronic_segments_become_joints(tmp_path):
    shifted = [" ".join(str(float(v) + 100 * (i % 2 == 0)) for i, v in enumerate(l.split())) for l in STICKMAN]
    text = "\n".join(["group1.jpg", "2", *STICKMAN, *shifted, "", "images/group2.jpg", *STICKMAN_REVERSED]) + "\n"
    (tmp_path / "activities_sticks.txt").write_text(text)
    write_jpeg(tmp_path / "group1.jpg")
    write_jpeg(tmp_path / "images" / "group2.jpg")
    images = list(synchronic.iter_images(tmp_path))
    assert [im.image_id for im in images] == ["group1", "group2"]
    assert len(images[0].people) == 2 and len(images[1].people) == 1
    for pose in (images[0].people[0], images[1].people[0]):  # drawn direction must not matter
        expect_joint(pose, "shoulder", "left", 60, 42)
        expect_joint(pose, "elbow", "left", 70, 60)
        expect_joint(pose, "wrist", "left", 85, 75)
        expect_joint(pose, "shoulder", "right", 40, 42)
        expect_joint(pose, "elbow", "right", 30, 60)
        expect_joint(pose, "wrist", "right", 20, 75)
        expect_joint(pose, "upper_neck", "none", 50, 38)
        expect_joint(pose, "head_top", "none", 50, 20)
        expect_joint(pose, "thorax", "none", 50, 65, derived=True)
        assert pose.num_present == 9 and pose.derived.sum() == 1
    expect_joint(images[0].people[1], "wrist", "left", 185, 75)


def test_synchronic_bad_inputs(tmp_path):
    path = tmp_path / "sticks.txt"
    path.write_text("a.jpg\n" + "\n".join(STICKMAN[:5]) + "\n")
    write_jpeg(tmp_path / "a.jpg")
    with pytest.raises(JaxpaintError, match=r"sticks\.txt.*'a\.jpg' has 5 segment lines"):
        list(synchronic.iter_images(tmp_path))
    path.write_text("a.jpg\n1 2 3\n")
    with pytest.raises(JaxpaintError, match=r"sticks\.txt, line 2"):
        list(synchronic.iter_images(tmp_path))
    path.write_text("b.jpg\n" + "\n".join(STICKMAN) + "\n")
    with pytest.raises(JaxpaintError, match=r"b\.jpg.*does not exist"):
        list(synchronic.iter_images(tmp_path))
    path.unlink()
    with pytest.raises(JaxpaintError, match="stickmen .txt"):
        list(synchronic.iter_images(tmp_path))


# ---------------------------------------------------------------- BBC Pose

def bbc_fixture(root, bad_shape=False):
    test_joints = np.zeros((2, 7, 2))
    test_joints[0] = np.arange(7)[:, None] + [100, 200]  # x of joint j in frame f: j + 100 (f=0), j + 200 (f=1)
    test_joints[1] = np.arange(7)[:, None] + [300, 400]
    train_joints = np.ones((2, 7, 1)) * 5
    videos = [
        {"videoName": "news1", "type": "test", "test_frames": np.array([[12, 40]]), "test_joints": test_joints,
         "train_frames": np.array([[40]]), "train_joints": train_joints},
        {"videoName": "news2", "type": "train", "test_frames": EMPTY, "test_joints": EMPTY,
         "train_frames": np.array([[7]]), "train_joints": train_joints if not bad_shape else np.ones((2, 6, 1))},
    ]
    scipy.io.savemat(root / "bbcpose.mat", {"bbcpose": struct_array(videos)})
    for v, f in ((1, 12), (1, 40), (2, 7)):
        write_jpeg(root / str(v) / f"{f}.jpg")


def test_bbc_reads_manual_frames(tmp_path):
    bbc_fixture(tmp_path)
    images = list(bbc.iter_images(tmp_path))
    assert [im.image_id for im in images] == ["1_12", "1_40"]
    pose = images[1].people[0]
    expect_joint(pose, "head_top", "none", 200, 400)
    expect_joint(pose, "wrist", "right", 201, 401)
    expect_joint(pose, "wrist", "left", 202, 402)
    expect_joint(pose, "elbow", "right", 203, 403)
    expect_joint(pose, "elbow", "left", 204, 404)
    expect_joint(pose, "shoulder", "right", 205, 405)
    expect_joint(pose, "shoulder", "left", 206, 406)
    assert pose.num_present == 7
    every = list(bbc.iter_images(tmp_path, annotations="all"))
    assert [im.image_id for im in every] == ["1_12", "1_40", "2_7"]  # frame 40 keeps its manual label
    np.testing.assert_allclose(every[1].people[0].xy, pose.xy)


def test_bbc_bad_inputs(tmp_path):
    bbc_fixture(tmp_path, bad_shape=True)
    with pytest.raises(JaxpaintError, match=r"bbcpose\.mat.*bbcpose\(2\)\.train_joints has shape"):
        list(bbc.iter_images(tmp_path, annotations="train"))
    bbc_fixture(tmp_path)
    (tmp_path / "1" / "40.jpg").unlink()
    with pytest.raises(JaxpaintError, match=r"40\.jpg.*does not exist"):
        list(bbc.iter_images(tmp_path))
    truncate(tmp_path / "bbcpose.mat")
    with pytest.raises(JaxpaintError, match=r"bbcpose\.mat"):
        list(bbc.iter_images(tmp_path))
