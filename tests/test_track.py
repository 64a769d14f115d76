"""The competition track folder: maskdata.json validation, hole geometry, write/read round trips."""

from __future__ import annotations

import json

import numpy as np
import pytest

from jaxpaint.data import joints as J
from jaxpaint.data.track import (
    blocks_overlap, blocks_to_hole, encode_maskdata, read_maskdata, read_track, write_maskdata, write_track,
)
from jaxpaint.errors import JaxpaintError


def squares_share_a_pixel(a, b, extent=40):
    return bool((blocks_to_hole([a], extent, extent) & blocks_to_hole([b], extent, extent)).any())


def test_overlap_matches_pixel_intersection_over_many_seeds():
    rng = np.random.default_rng(0)
    touching = 0
    for _ in range(2000):
        a = (int(rng.integers(0, 20)), int(rng.integers(0, 20)), int(rng.integers(1, 12)))
        b = (int(rng.integers(0, 20)), int(rng.integers(0, 20)), int(rng.integers(1, 12)))
        assert blocks_overlap(a, b) == squares_share_a_pixel(a, b) == blocks_overlap(b, a), (a, b)
        touching += a[0] + a[2] == b[0] or a[1] + a[2] == b[1]
    assert touching > 50  # the sample really exercises edge contact
    assert not blocks_overlap((0, 0, 4), (4, 0, 4)) and not blocks_overlap((0, 0, 4), (0, 4, 4))
    assert blocks_overlap((0, 0, 4), (3, 3, 4))


def test_hole_uses_x_as_row():
    hole = blocks_to_hole([[1, 5, 2]], 6, 10)
    expected = np.zeros((6, 10), bool)
    expected[1:3, 5:7] = True
    np.testing.assert_array_equal(hole, expected)
    with pytest.raises(ValueError):
        blocks_to_hole([[5, 0, 2]], 6, 10)


def test_maskdata_round_trip_and_stable_bytes(tmp_path):
    mapping = {"b.png": np.array([[3, 4, 5], [20, 0, 2]]), "a.png": [[0, 0, 1]]}
    path = tmp_path / "maskdata.json"
    write_maskdata(path, mapping)
    first = path.read_bytes()
    assert first == encode_maskdata({"a.png": [[0, 0, 1]], "b.png": [[3, 4, 5], [20, 0, 2]]})
    assert list(json.loads(first)) == ["a.png", "b.png"]
    back = read_maskdata(path, {"a.png": (1, 1), "b.png": (22, 9)})
    assert back["b.png"].tolist() == [[3, 4, 5], [20, 0, 2]] and back["a.png"].dtype == np.int64
    write_maskdata(path, back)
    assert path.read_bytes() == first


@pytest.mark.parametrize("content,message", [
    ("{not json", "not valid JSON"),
    ("[[0, 0, 1]]", "expected a JSON object"),
    ('{"a.png": [0, 0, 1]}', r"'a\.png'.*block 0 is not a list of three integers"),
    ('{"a.png": [[0, 0]]}', r"'a\.png'.*not a list of three integers"),
    ('{"a.png": [[0, 0, 1.5]]}', "not a list of three integers"),
    ('{"a.png": [[0, true, 1]]}', "not a list of three integers"),
    ('{"a.png": []}', "non-empty list"),
    ('{"a.png": [[-1, 0, 2]]}', r"block \[-1, 0, 2\] has a negative coordinate"),
    ('{"a.png": [[0, 0, 0]]}', r"block \[0, 0, 0\] has size 0"),
    ('{"a.png": [[0, 0, 4], [3, 3, 2]]}', r"block \[3, 3, 2\] overlaps block \[0, 0, 4\]"),
    ('{"a.png": [[8, 0, 4]]}', r"block \[8, 0, 4\] goes past the 10x12 image"),
    ('{"c.png": [[0, 0, 1]]}', r"'c\.png' has no image"),
])
def test_malformed_maskdata_is_rejected_with_file_and_entry(tmp_path, content, message):
    path = tmp_path / "maskdata.json"
    path.write_text(content)
    with pytest.raises(JaxpaintError, match=message) as err:
        read_maskdata(path, {"a.png": (10, 12)})
    assert str(path) in str(err.value)


def test_bad_mapping_writes_nothing(tmp_path):
    with pytest.raises(JaxpaintError, match="overlaps"):
        write_maskdata(tmp_path / "m.json", {"a.png": [[0, 0, 3], [1, 1, 3]]})
    assert list(tmp_path.iterdir()) == []


def make_items(n=3, seed=0):
    rng = np.random.default_rng(seed)
    items = []
    for k in range(n):
        image = rng.integers(1, 256, (16 + k, 12, 3), dtype=np.uint8)  # no zero pixels: holes are the only black
        pose = J.Pose.empty()
        pose.set(J.slot("wrist", "left"), 3.25, 7.5, visible=False)
        pose.set(J.slot("thorax"), 1.0 + k, 2.0, derived=True)
        items.append((f"img{k:02d}.png", image, np.array([[2, 1, 3], [8, 6, 4 + k % 2]]), pose))
    return items


def test_track_round_trip_is_exact_and_reproducible(tmp_path):
    items = make_items()
    assert write_track(tmp_path / "t1", items) == 3
    assert sorted(p.name for p in (tmp_path / "t1").iterdir()) == ["X", "Y", "joints.json", "maskdata.json"]
    records = read_track(tmp_path / "t1")
    assert [r.filename for r in records] == [name for name, *_ in items]
    for record, (name, image, blocks, pose) in zip(records, items):
        np.testing.assert_array_equal(record.y, image)
        np.testing.assert_array_equal(record.blocks, blocks)
        hole = blocks_to_hole(blocks, *image.shape[:2])
        assert (record.x[hole] == 0).all() and np.array_equal(record.x[~hole], image[~hole])
        for field in ("xy", "present", "visible", "derived"):
            np.testing.assert_array_equal(getattr(record.joints, field), getattr(pose, field))
    write_track(tmp_path / "t2", make_items())
    for rel in ("maskdata.json", "joints.json", "X/img01.png", "Y/img02.png"):
        assert (tmp_path / "t1" / rel).read_bytes() == (tmp_path / "t2" / rel).read_bytes()
    slot_record = json.loads((tmp_path / "t1" / "joints.json").read_text())["img00.png"][J.slot("wrist", "left")]
    assert slot_record == {"type": "wrist", "side": "left", "x": 3.25, "y": 7.5, "visible": False, "derived": False, "present": True}


def test_track_refuses_overwrite_and_leaves_nothing_on_failure(tmp_path):
    out = tmp_path / "t"
    write_track(out, make_items(1))
    with pytest.raises(JaxpaintError, match="not empty"):
        write_track(out, make_items(1))
    bad = make_items(2)
    bad[1] = (bad[1][0], bad[1][1], np.array([[0, 0, 5], [4, 4, 2]]), bad[1][3])  # overlapping blocks
    with pytest.raises(JaxpaintError, match=r"'img01\.png'.*overlaps"):
        write_track(tmp_path / "u", bad)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t"]  # no partial folder, no staging leftovers
    (tmp_path / "empty").mkdir()
    write_track(tmp_path / "empty", make_items(1))  # an empty folder may be filled
    assert (tmp_path / "empty" / "maskdata.json").is_file()


def test_read_track_catches_inconsistent_folders(tmp_path):
    out = tmp_path / "t"
    write_track(out, make_items(2))
    (out / "Y" / "img01.png").rename(tmp_path / "aside.png")
    with pytest.raises(JaxpaintError, match=r"'img01\.png' is in only one of X/ and Y/"):
        read_track(out)
    (tmp_path / "aside.png").rename(out / "Y" / "img01.png")
    masks = json.loads((out / "maskdata.json").read_text())
    masks["img00.png"] = [[0, 0, 2]]  # X's black squares no longer match the declared holes
    (out / "maskdata.json").write_text(json.dumps(masks))
    with pytest.raises(JaxpaintError, match=r"X/img00\.png"):
        read_track(out)
    assert len(read_track(out, check_inputs=False)) == 2
    del masks["img01.png"]
    (out / "maskdata.json").write_text(json.dumps(masks))
    with pytest.raises(JaxpaintError, match=r"no entry for 'img01\.png'"):
        read_track(out)
