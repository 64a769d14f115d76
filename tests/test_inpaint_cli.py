"""`jaxpaint inpaint`: the three input modes, exact known pixels, and errors that name the file."""

from __future__ import annotations

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from PIL import Image

from jaxpaint.cli import main
from jaxpaint.config import load_config
from jaxpaint.data.images import load_rgb, save_png_atomic
from jaxpaint.data.track import blocks_to_hole
from jaxpaint.methods import context_encoder as ce
from tests.run_folder import write_run
from tests.states import initial_state


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    """A context_encoder run folder (config.json, batch_spec.json, one checkpoint) of the tiny model."""
    workdir = tmp_path_factory.mktemp("ce_run")
    config = load_config("context_encoder:tiny")
    config.data.mean_rgb = (0.0, 0.1, -0.1)
    batch = {"image": jnp.zeros((4, 64, 64, 3), jnp.float32), "hole": jnp.zeros((4, 64, 64), bool)}
    state = initial_state(ce.init_state, config, jax.random.PRNGKey(config.seed), batch)
    write_run(workdir, config, batch, state)
    return workdir


def random_image(seed: int, height=64, width=64) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)


def inpaint(*args) -> int:
    return main(["inpaint", *map(str, args)])


@pytest.mark.parametrize("height,width", [(64, 64), (80, 72)])  # the model's size, and one it must resize for
def test_single_image_keeps_known_pixels(run_dir, tmp_path, height, width):
    image = random_image(1, height, width)
    hole = np.zeros((height, width), bool)
    hole[10:30, 20:44] = True
    save_png_atomic(tmp_path / "a.png", image)
    save_png_atomic(tmp_path / "m.png", hole.astype(np.uint8) * 255)
    assert inpaint("--workdir", run_dir, "--image", tmp_path / "a.png", "--mask", tmp_path / "m.png", "--out", tmp_path / "out") == 0
    result = load_rgb(tmp_path / "out" / "a.png")
    assert result.shape == image.shape
    np.testing.assert_array_equal(result[~hole], image[~hole])
    assert np.any(result[hole] != image[hole])


def test_folder_with_maskdata(run_dir, tmp_path):
    masks = {"p1.png": [[4, 4, 20]], "p2.png": [[30, 10, 12], [5, 40, 8]], "p3.png": [[0, 0, 64]]}
    sizes = {"p1.png": (64, 64), "p2.png": (80, 72), "p3.png": (64, 64)}  # sizes mixed within one batch
    images = {}
    for i, name in enumerate(masks):
        images[name] = random_image(10 + i, *sizes[name])
        save_png_atomic(tmp_path / "X" / name, images[name])
    (tmp_path / "maskdata.json").write_text(json.dumps(masks))
    out = tmp_path / "out"
    assert inpaint("--workdir", run_dir, "--input", tmp_path / "X", "--masks", tmp_path / "maskdata.json",
                   "--out", out, "--batch-size", 2) == 0
    assert sorted(p.name for p in out.iterdir()) == sorted(masks)
    for name, blocks in masks.items():
        hole = blocks_to_hole(blocks, *sizes[name])
        result = load_rgb(out / name)
        assert result.shape == images[name].shape
        np.testing.assert_array_equal(result[~hole], images[name][~hole])


def test_dataset_split(run_dir, tmp_path, tiny_dataset):
    from jaxpaint.data.loader import open_split
    from jaxpaint.data.track import read_maskdata

    data_dir, dataset = tiny_dataset
    out = tmp_path / "out"
    assert inpaint("--workdir", run_dir, "--data-dir", data_dir, "--dataset", dataset, "--split", "test",
                   "--limit", 5, "--out", out) == 0
    masks = read_maskdata(out / "maskdata.json")
    assert sorted(masks) == [f"test_{i:05d}.png" for i in range(5)]
    source = open_split(data_dir, dataset, "test")
    for i in range(5):
        image = np.asarray(source[i]["image"])
        hole = blocks_to_hole(masks[f"test_{i:05d}.png"], *image.shape[:2])
        np.testing.assert_array_equal(np.asarray(source[i]["blocks"]).reshape(-1, 3), masks[f"test_{i:05d}.png"])
        np.testing.assert_array_equal(load_rgb(out / f"test_{i:05d}.png")[~hole], image[~hole])


def error_of(capsys, *args) -> str:
    assert inpaint(*args) == 2
    return capsys.readouterr().err


def test_bad_inputs_name_the_file(run_dir, tmp_path, capsys):
    save_png_atomic(tmp_path / "a.png", random_image(2))
    save_png_atomic(tmp_path / "X" / "a.png", random_image(2))
    save_png_atomic(tmp_path / "small.png", np.full((32, 32), 255, np.uint8))
    out = tmp_path / "out"

    err = error_of(capsys, "--workdir", run_dir, "--image", tmp_path / "missing.png", "--mask", tmp_path / "small.png", "--out", out)
    assert "missing.png" in err and "does not exist" in err

    err = error_of(capsys, "--workdir", run_dir, "--image", tmp_path / "a.png", "--mask", tmp_path / "small.png", "--out", out)
    assert "small.png" in err and "32x32" in err

    (tmp_path / "bad.json").write_text("{not json")
    err = error_of(capsys, "--workdir", run_dir, "--input", tmp_path / "X", "--masks", tmp_path / "bad.json", "--out", out)
    assert "bad.json" in err and "JSON" in err

    (tmp_path / "ghost.json").write_text(json.dumps({"ghost.png": [[1, 1, 4]]}))
    err = error_of(capsys, "--workdir", run_dir, "--input", tmp_path / "X", "--masks", tmp_path / "ghost.json", "--out", out)
    assert "ghost.png" in err and "does not exist" in err

    (tmp_path / "big.json").write_text(json.dumps({"a.png": [[60, 60, 10]]}))
    err = error_of(capsys, "--workdir", run_dir, "--input", tmp_path / "X", "--masks", tmp_path / "big.json", "--out", out)
    assert "big.json" in err and "goes past" in err

    err = error_of(capsys, "--workdir", tmp_path / "X", "--image", tmp_path / "a.png", "--mask", tmp_path / "small.png", "--out", out)
    assert "config.json" in err

    assert not out.exists()  # nothing half-written
