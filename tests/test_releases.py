"""Released models: a release folder written from a run, restored bit for bit by name, refused when its
weight file is missing, truncated or altered, and used by `inpaint --model` on photos of any size."""

from __future__ import annotations

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxpaint import releases
from jaxpaint.cli import main
from jaxpaint.config import load_config
from jaxpaint.data.images import load_rgb, save_png_atomic
from jaxpaint.data.joints import JOINT_TYPES, SLOT_TYPE
from jaxpaint.engine import checkpoint as ckpt
from jaxpaint.inference import restore_run
from jaxpaint.methods import pose as pose_method
from jaxpaint.methods import unet
from tests.run_folder import write_run
from tests.states import initial_state

pytestmark = pytest.mark.slow  # half a minute or more in all: scheduled first (conftest.py)


@pytest.fixture(scope="module")
def unet_run(tmp_path_factory):
    """A tiny U-Net run folder whose initial weights are perturbed away from any default."""
    workdir = tmp_path_factory.mktemp("unet_run")
    config = load_config("unet:tiny")
    batch = {"image": jnp.zeros((2, 64, 64, 3), jnp.float32), "hole": jnp.zeros((2, 64, 64), bool)}
    state = initial_state(unet.init_state, config, jax.random.PRNGKey(1), batch)
    state = state.replace(model_state=jax.tree.map(lambda x: x + 0.25, state.model_state))
    return write_run(workdir, config, batch, state)


@pytest.fixture()
def release_dir(tmp_path, monkeypatch, unet_run):
    """A release folder `tiny-unet` (as `models release` writes it, scores given) in a patched RELEASE_DIR."""
    monkeypatch.setattr(releases, "RELEASE_DIR", tmp_path / "released")
    folder = releases.RELEASE_DIR / "tiny-unet"
    folder.mkdir(parents=True)
    for name in (ckpt.CONFIG_FILE, ckpt.BATCH_SPEC_FILE):
        (folder / name).write_bytes((unet_run / name).read_bytes())
    sha256 = ckpt.save_weights(restore_run(unet_run)[1], folder)
    card = {"name": "tiny-unet", "kind": "inpainter", "method": "unet", "config": "unet:tiny", "steps": 0, "seed": 0,
            "data": {"dataset": "synthetic_64_seed0", "source": "synthetic", "size": 64, "seed": 0, "num_examples": None,
                     "licence": releases.LICENCES["synthetic"]},
            "scores": {"split": "test", "images": 3, "dssim": 0.5, "mse": 0.25},
            "weights": {"file": ckpt.WEIGHTS_FILE, "bytes": (folder / ckpt.WEIGHTS_FILE).stat().st_size, "sha256": sha256},
            "rebuild": "jaxpaint models rebuild tiny-unet --workdir runs/x"}
    (folder / releases.CARD_FILE).write_text(json.dumps(card))
    return folder


def test_a_release_restores_the_runs_weights_bit_for_bit(release_dir, unet_run):
    (_, expected), (config, got) = restore_run(unet_run), restore_run(release_dir)
    assert config.method == "unet" and int(got.step) == int(expected.step)
    for part in ("params", "model_state"):
        jax.tree.map(np.testing.assert_array_equal, getattr(got, part), getattr(expected, part))
    # The bytes depend on the state only.
    assert ckpt.weights_bytes(got) == (release_dir / ckpt.WEIGHTS_FILE).read_bytes()


def test_models_lists_the_release_with_its_scores_and_size(release_dir, capsys):
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    line = next(line for line in out.splitlines() if line.startswith("| tiny-unet"))
    size = (release_dir / ckpt.WEIGHTS_FILE).stat().st_size
    assert "DSSIM 0.5" in line and "MSE 0.25" in line and f"{size / 1e6:.2f} MB" in line


@pytest.mark.parametrize("damage", ["missing", "truncated", "altered", "no digest"])
def test_a_damaged_weight_file_is_one_error_naming_it(release_dir, tmp_path, capsys, damage):
    weights = release_dir / ckpt.WEIGHTS_FILE
    data = weights.read_bytes()
    if damage == "missing":
        weights.unlink()
    elif damage == "truncated":
        weights.write_bytes(data[: len(data) // 2])
    elif damage == "altered":
        weights.write_bytes(data[:100] + bytes([data[100] ^ 1]) + data[101:])
    else:
        (release_dir / ckpt.DIGEST_FILE).unlink()
    image = np.random.default_rng(0).integers(0, 256, (48, 80, 3), dtype=np.uint8)
    save_png_atomic(tmp_path / "a.png", image)
    save_png_atomic(tmp_path / "m.png", np.pad(np.full((8, 8), 255, np.uint8), ((20, 20), (30, 42))))
    code = main(["inpaint", "--model", "tiny-unet", "--image", str(tmp_path / "a.png"), "--mask",
                 str(tmp_path / "m.png"), "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1
    named = ckpt.DIGEST_FILE if damage == "no digest" else ckpt.WEIGHTS_FILE
    assert str(release_dir / named) in err[0]
    assert ("truncated or altered" in err[0]) == (damage in ("truncated", "altered"))
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("fit", ["window", "full", "resize"])
def test_inpaint_by_name_takes_a_photo_of_any_size(release_dir, tmp_path, fit):
    image = np.random.default_rng(3).integers(0, 256, (72, 120, 3), dtype=np.uint8)
    hole = np.zeros((72, 120), bool)
    hole[30:44, 50:70] = True
    hole[5:9, 100:112] = True
    save_png_atomic(tmp_path / "a.png", image)
    save_png_atomic(tmp_path / "m.png", hole.astype(np.uint8) * 255)
    assert main(["inpaint", "--model", "tiny-unet", "--image", str(tmp_path / "a.png"), "--mask", str(tmp_path / "m.png"),
                 "--out", str(tmp_path / "out"), "--fit", fit]) == 0
    result = load_rgb(tmp_path / "out" / "a.png")
    assert result.shape == image.shape
    np.testing.assert_array_equal(result[~hole], image[~hole])
    assert np.any(result[hole] != image[hole])


def test_an_empty_mask_gives_the_image_back_and_says_so_once(release_dir, tmp_path, capsys):
    image = np.random.default_rng(4).integers(0, 256, (40, 40, 3), dtype=np.uint8)
    save_png_atomic(tmp_path / "a.png", image)
    save_png_atomic(tmp_path / "m.png", np.zeros((40, 40), np.uint8))
    assert main(["inpaint", "--model", "tiny-unet", "--image", str(tmp_path / "a.png"), "--mask", str(tmp_path / "m.png"),
                 "--out", str(tmp_path / "out")]) == 0
    np.testing.assert_array_equal(load_rgb(tmp_path / "out" / "a.png"), image)
    assert capsys.readouterr().out.count("has no hole") == 1


def test_a_release_folder_is_never_written_by_train_or_evaluate(release_dir, tmp_path, capsys):
    before = {p.name: p.read_bytes() for p in release_dir.iterdir()}
    assert main(["train", "--config", "unet:tiny", "--workdir", str(release_dir)]) == 2
    assert "released model's folder" in capsys.readouterr().err
    assert main(["evaluate", "--method", "unet", "--workdir", str(release_dir), "--data-dir", str(tmp_path)]) == 2
    assert "give --out" in capsys.readouterr().err
    assert {p.name: p.read_bytes() for p in release_dir.iterdir()} == before


def test_pose_model_names_resolve_and_unknown_names_are_refused(release_dir, tmp_path, capsys):
    assert releases.resolve("tiny-unet", "--pose-model") == str(release_dir)
    assert releases.resolve(str(tmp_path), "--pose-model") == str(tmp_path)
    code = main(["inpaint", "--model", "no-such-model", "--image", "a.png", "--mask", "m.png", "--out", str(tmp_path / "o")])
    assert code == 2 and "no released model named 'no-such-model'" in capsys.readouterr().err
    code = main(["evaluate", "--method", "holes", "--workdir", str(tmp_path / "w"), "--data-dir", str(tmp_path),
                 "--pose-model", "no-such-model"])
    assert code == 2 and "--pose-model no-such-model is neither a released model" in capsys.readouterr().err


def test_release_of_a_pose_run_scores_it(tmp_path, tiny_dataset):
    """`models release` end to end on a tiny hourglass: its card's PCK and WNJD are those of the pose
    evaluator on the test split, recomputed here from its predictions."""
    from jaxpaint.data import loader
    from jaxpaint.metrics import pose as pose_metrics
    from jaxpaint.pose_evaluator import PoseEvaluator

    data_dir, dataset = tiny_dataset
    config = load_config("hourglass:tiny", [f"--config.data.data_dir={data_dir}", f"--config.data.dataset={dataset}"])
    batch = {"image": jnp.zeros((4, 64, 64, 3), jnp.float32)}
    state = initial_state(pose_method.init_state, config, jax.random.PRNGKey(0), batch)
    run = write_run(tmp_path / "run", config, batch, state)
    assert main(["models", "release", "--workdir", str(run), "--name", "tiny-pose", "--config", "hourglass:tiny",
                 "--data-dir", data_dir, "--out", str(tmp_path / "a")]) == 0
    card = json.loads((tmp_path / "a" / releases.CARD_FILE).read_text())
    assert card["kind"] == "pose evaluator" and card["data"]["source"] == "synthetic"
    test = loader.open_split(data_dir, dataset, "test")
    images = np.stack([test[i]["image"] for i in range(len(test))])
    xy, present = PoseEvaluator.load(tmp_path / "a").predict(images)
    true_xy = np.stack([test[i]["joints"]["xy"] for i in range(len(test))])
    true_present = np.stack([test[i]["joints"]["present"] for i in range(len(test))])
    pck = np.asarray(pose_metrics.pck(xy, present, true_xy, true_present, alpha=0.2))
    assert card["scores"]["images"] == len(test)
    assert card["scores"]["pck"] == pytest.approx(np.nanmean(pck), abs=1e-4)
    # Per joint type: the correct fraction of every labelled joint of that type, counted here slot by slot.
    correct = np.asarray(pose_metrics.correct_joints(xy, present, true_xy, true_present, alpha=0.2))
    for name, value in card["scores"]["pck_per_type"].items():
        slots = [s for s, t in enumerate(SLOT_TYPE) if JOINT_TYPES[t] == name]
        assert value == pytest.approx(correct[:, slots].sum() / true_present[:, slots].sum(), abs=1e-4), name
    assert set(card["scores"]["pck_per_type"]) == {JOINT_TYPES[t] for t in SLOT_TYPE[true_present.any(axis=0)]}
    assert card["weights"]["sha256"] == (tmp_path / "a" / ckpt.DIGEST_FILE).read_text().split()[0]


def test_rebuild_trains_the_card_again_and_gives_the_shipped_bytes(tmp_path, monkeypatch, capsys):
    """`models rebuild` from a card alone: the dataset built, the config trained on the same seed, the release
    written. Rebuilt twice in two folders, the second run's weights equal the first's (shipped) byte for byte.
    Over 20 s (about 30 s): two tiny trainings and evaluations."""
    monkeypatch.setattr(releases, "RELEASE_DIR", tmp_path / "released")
    shipped = releases.RELEASE_DIR / "tiny-ce"
    shipped.mkdir(parents=True)
    config = load_config("context_encoder:tiny", ["--config.num_steps=2", "--config.eval_every=2",
                                                  "--config.checkpoint_every=2", "--config.log_every=1"])
    with config.unlocked():
        config.data.dataset = "synthetic_64_seed0_n24"
    ckpt.save_config(config, shipped)
    card = {"name": "tiny-ce", "kind": "inpainter", "method": "context_encoder", "config": "context_encoder:tiny",
            "steps": 2, "seed": 0, "data": {"dataset": "synthetic_64_seed0_n24", "source": "synthetic", "size": 64,
                                            "seed": 0, "num_examples": 24},
            "scores": {"split": "test", "images": 0}, "weights": {"file": ckpt.WEIGHTS_FILE, "sha256": "0" * 64},
            "rebuild": "jaxpaint models rebuild tiny-ce --workdir W"}
    (shipped / releases.CARD_FILE).write_text(json.dumps(card))
    assert main(["models", "rebuild", "tiny-ce", "--workdir", str(tmp_path / "first")]) == 0
    assert "differs from the shipped" in capsys.readouterr().out
    first = tmp_path / "first" / "tiny-ce"
    rebuilt_card = json.loads((first / releases.CARD_FILE).read_text())
    assert rebuilt_card["steps"] == 2 and rebuilt_card["scores"]["images"] == 5 and 0 < rebuilt_card["scores"]["dssim"] < 1
    for name in (ckpt.WEIGHTS_FILE, ckpt.DIGEST_FILE, ckpt.BATCH_SPEC_FILE, releases.CARD_FILE):
        (shipped / name).write_bytes((first / name).read_bytes())
    assert main(["models", "rebuild", "tiny-ce", "--workdir", str(tmp_path / "second")]) == 0
    assert "equal to the shipped weights" in capsys.readouterr().out
    assert (tmp_path / "second" / "tiny-ce" / ckpt.WEIGHTS_FILE).read_bytes() == (first / ckpt.WEIGHTS_FILE).read_bytes()


def test_the_cached_pose_evaluator_is_reloaded_when_its_folder_changes(tmp_path):
    """evaluate keeps one pose evaluator per (folder, version): a new checkpoint or new weights change the
    version, so a retrained evaluator is never scored with the old one."""
    import os

    from jaxpaint.commands.evaluate import folder_version

    run = tmp_path / "run"
    (run / ckpt.CHECKPOINT_DIR / "4").mkdir(parents=True)
    first = folder_version(run)
    os.utime(run / ckpt.CHECKPOINT_DIR, ns=(1, 1))
    (run / ckpt.CHECKPOINT_DIR / "8").mkdir()
    assert folder_version(run) != first
    release = tmp_path / "release"
    release.mkdir()
    (release / ckpt.WEIGHTS_FILE).write_bytes(b"a")
    os.utime(release / ckpt.WEIGHTS_FILE, ns=(1, 1))
    before = folder_version(release)
    (release / ckpt.WEIGHTS_FILE).write_bytes(b"b")
    assert folder_version(release) != before


@pytest.mark.parametrize("name", releases.names())
def test_every_shipped_release_has_the_weights_its_card_names_and_a_config_in_range(name):
    import hashlib

    from jaxpaint.config import check_config

    folder = releases.folder(name)
    card = releases.read_card(folder)
    weights = (folder / card["weights"]["file"]).read_bytes()
    assert len(weights) == card["weights"]["bytes"]
    assert hashlib.sha256(weights).hexdigest() == card["weights"]["sha256"]
    config = ckpt.load_config_json(folder)
    check_config(config, name)
    assert config.method == card["method"] and card["steps"] == config.num_steps
