"""Shared test settings and fixtures.

Real data and weights live outside the project (in ../shared on the development
machines); tests that need them skip with a stated reason when they are absent.
Set JAXPAINT_LSPET_DIR / JAXPAINT_VGG19_DIR to point elsewhere.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

_SHARED = Path(__file__).resolve().parents[2] / "shared"
LSPET_DIR = Path(os.environ.get("JAXPAINT_LSPET_DIR", _SHARED / "data" / "lspet"))
VGG19_DIR = Path(os.environ.get("JAXPAINT_VGG19_DIR", _SHARED / "weights" / "vgg19_imagenet_conv1_1-conv3_4"))

needs_lspet = pytest.mark.skipif(
    not (LSPET_DIR / "joints.mat").is_file(),
    reason=f"real LSPET data not found at {LSPET_DIR} (set JAXPAINT_LSPET_DIR)",
)
needs_vgg19 = pytest.mark.skipif(
    not VGG19_DIR.is_dir(),
    reason=f"real VGG-19 weights not found at {VGG19_DIR} (set JAXPAINT_VGG19_DIR)",
)


@pytest.fixture(scope="session")
def tiny_dataset(tmp_path_factory):
    """A built synthetic dataset: 120 source images at 64 px, seed 0. Returns (data_dir, config_name).

    Read it with `jaxpaint.data.loader.open_split(data_dir, config_name, split)`.
    """
    from jaxpaint.data import builder

    data_dir = tmp_path_factory.mktemp("tiny_dataset")
    builder.build("synthetic", data_dir, size=64, seed=0, num_examples=120)
    return str(data_dir), builder.config_name("synthetic", 64, 0, 120)
