"""`jaxpaint data`: build, stats, export-track and preview through the command line."""

from __future__ import annotations

import json

import numpy as np
from PIL import Image

from jaxpaint.cli import main
from jaxpaint.data import loader
from jaxpaint.data.track import read_maskdata


def test_build_stats_export_preview(tmp_path, capsys):
    common = ["--source", "synthetic", "--size", "64", "--seed", "2", "--num-examples", "20"]
    for name in ("a", "b"):
        assert main(["data", "build", *common, "--data-dir", str(tmp_path / name)]) == 0
    out = capsys.readouterr().out
    assert "examples: 20" in out and "blocks covering a joint" in out

    hist = tmp_path / "hist.png"
    assert main(["data", "stats", *common, "--data-dir", str(tmp_path / "a"), "--out", str(hist)]) == 0
    out = capsys.readouterr().out
    assert "mask rules: 20 of 20 masks meet every rule" in out
    assert Image.open(hist).size[0] > 600

    for name in ("a", "b"):
        args = ["data", "export-track", *common, "--data-dir", str(tmp_path / name), "--split", "train"]
        assert main([*args, "--out", str(tmp_path / f"track_{name}")]) == 0
    maskdata_a = (tmp_path / "track_a" / "maskdata.json").read_bytes()
    assert maskdata_a == (tmp_path / "track_b" / "maskdata.json").read_bytes()
    # The exported blocks are the dataset's blocks, in the split's order.
    train = loader.open_split(tmp_path / "a", "synthetic_64_seed2_n20", "train")
    blocks = read_maskdata(tmp_path / "track_a" / "maskdata.json")
    assert len(blocks) == len(train)
    np.testing.assert_array_equal(blocks["000000.png"], train[0]["blocks"])
    x = np.asarray(Image.open(tmp_path / "track_a" / "X" / "000001.png"))
    y = np.asarray(Image.open(tmp_path / "track_a" / "Y" / "000001.png"))
    np.testing.assert_array_equal(y, train[1]["image"])
    row, col, size = train[1]["blocks"][0]
    assert (x[row : row + size, col : col + size] == 0).all()
    assert json.loads((tmp_path / "track_a" / "joints.json").read_text()).keys() == blocks.keys()

    grid = tmp_path / "grid.png"
    assert main(["data", "preview", *common, "--data-dir", str(tmp_path / "a"), "--out", str(grid), "--count", "9"]) == 0
    assert Image.open(grid).size == (3 * (128 + 2) + 2,) * 2


def test_missing_dataset_is_a_one_line_error(tmp_path, capsys):
    code = main(["data", "stats", "--source", "lspet", "--data-dir", str(tmp_path)])
    assert code == 2
    assert "jaxpaint data build --source lspet" in capsys.readouterr().err
