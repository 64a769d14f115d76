"""The TFDS builder: layout, grouped splits, mask rules, determinism, failed builds leave nothing."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import scipy.io
from PIL import Image

from jaxpaint.data import builder, loader
from jaxpaint.data.joints import NUM_SLOTS
from jaxpaint.data.masks import check_mask_rules
from jaxpaint.data.splits import SPLITS
from jaxpaint.errors import JaxpaintError


def all_examples(data_dir, config):
    return {split: [src[i] for i in range(len(src))] for split, src in ((s, loader.open_split(data_dir, config, s)) for s in SPLITS)}


def shard_hashes(version_dir: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(version_dir.glob("*.array_record*"))}


def write_leeds_folder(root: Path, num_images: int, layout: str = "lspet", seed: int = 0) -> Path:
    """A small LSP/LSPET-style folder: noise JPEGs and a joints.mat with a 100 px person in each."""
    rng = np.random.default_rng(seed)
    (root / "images").mkdir(parents=True)
    joints = np.zeros((14, 3, num_images))
    for n in range(num_images):
        Image.fromarray(rng.integers(0, 256, (150, 200, 3), dtype=np.uint8)).save(root / "images" / f"im{n + 1:05d}.jpg")
        joints[:, 0, n] = rng.uniform(50, 150, 14)
        joints[:, 1, n] = np.linspace(20, 130, 14)
        joints[:, 2, n] = 1 if layout == "lspet" else 0
    scipy.io.savemat(root / "joints.mat", {"joints": joints if layout == "lspet" else joints.transpose(1, 0, 2)})
    return root


def test_tiny_dataset_layout_splits_and_masks(tiny_dataset):
    data_dir, config = tiny_dataset
    examples = all_examples(data_dir, config)
    sizes = {s: len(v) for s, v in examples.items()}
    assert sum(sizes.values()) == 120  # one person per synthetic scene, none skipped
    assert 60 <= sizes["train"] <= 84 and sizes["validation"] >= 15 and sizes["test"] >= 15
    ids = {s: {ex["image_id"] for ex in v} for s, v in examples.items()}
    assert not (ids["train"] & ids["validation"] or ids["train"] & ids["test"] or ids["validation"] & ids["test"])
    for split in SPLITS:
        for ex in examples[split]:
            assert ex["image"].shape == (64, 64, 3) and ex["image"].dtype == np.uint8
            assert ex["blocks"].dtype == np.int32 and ex["blocks"].shape[1] == 3
            assert ex["joints"]["xy"].shape == (NUM_SLOTS, 2) and ex["crop_box"].shape == (4,)
            assert check_mask_rules(ex["blocks"], 64, 64) == []
    stats = builder.read_build_stats(data_dir, config)
    assert {s: sum(v.values()) for s, v in stats["examples_per_split"].items()} == sizes
    assert stats["joint_cover_share"]["biased"] > stats["joint_cover_share"]["unbiased"]


def build_in_subprocess(data_dir: Path, hash_seed: str) -> Path:
    """Builds in a fresh interpreter: Python's string hashing differs between processes."""
    args = ["data", "build", "--source", "synthetic", "--size", "64", "--seed", "5", "--num-examples", "24"]
    env = dict(os.environ, PYTHONHASHSEED=hash_seed)
    subprocess.run([sys.executable, "-m", "jaxpaint.cli", *args, "--data-dir", str(data_dir)], env=env, check=True, capture_output=True)
    return loader.find_version_dir(data_dir, builder.config_name("synthetic", 64, 5, 24))


def test_same_seed_same_bytes_and_another_seed_other_masks(tmp_path):
    a = build_in_subprocess(tmp_path / "a", "1")
    b = build_in_subprocess(tmp_path / "b", "2")
    c = builder.build("synthetic", tmp_path / "c", size=64, seed=6, num_examples=24)
    assert shard_hashes(a) == shard_hashes(b) and len(shard_hashes(a)) == 3
    name5, name6 = builder.config_name("synthetic", 64, 5, 24), builder.config_name("synthetic", 64, 6, 24)
    ex_a = all_examples(tmp_path / "a", name5)
    ex_c = all_examples(tmp_path / "c", name6)
    masks_a = {ex["image_id"]: ex["blocks"].tolist() for v in ex_a.values() for ex in v}
    masks_c = {ex["image_id"]: ex["blocks"].tolist() for v in ex_c.values() for ex in v}
    assert masks_a != masks_c


def test_a_built_config_is_reused_not_rebuilt(tiny_dataset):
    data_dir, config = tiny_dataset
    version_dir = loader.find_version_dir(data_dir, config)
    before = shard_hashes(version_dir)
    assert builder.build("synthetic", data_dir, size=64, seed=0, num_examples=120) == version_dir
    assert shard_hashes(version_dir) == before


def test_leeds_folder_builds_and_skips_are_counted(tmp_path):
    manual = write_leeds_folder(tmp_path / "lspet", 10)
    version_dir = builder.build("lspet", tmp_path / "data", manual_dir=manual, size=64, seed=0)
    stats = json.loads((version_dir / builder.STATS_NAME).read_text())
    assert stats["examples_total"] == 10 and stats["source_images"] == {"lspet": 10}
    ex = loader.open_split(tmp_path / "data", "lspet_64_seed0", "train")[0]
    assert ex["source"] == b"lspet" and ex["image_id"].startswith(b"im")


def test_merged_config_reads_every_source_folder(tmp_path):
    write_leeds_folder(tmp_path / "manual" / "lspet", 6, "lspet", seed=1)
    write_leeds_folder(tmp_path / "manual" / "lsp", 5, "lsp", seed=2)
    builder.build("merged", tmp_path / "data", manual_dir=tmp_path / "manual", size=64, seed=0)
    stats = builder.read_build_stats(tmp_path / "data", "merged_64_seed0")
    assert stats["source_images"] == {"lsp": 5, "lspet": 6}
    sources = {ex["source"] for v in all_examples(tmp_path / "data", "merged_64_seed0").values() for ex in v}
    assert sources == {b"lsp", b"lspet"}


def assert_nothing_looks_built(data_dir: Path, config: str) -> None:
    with pytest.raises(JaxpaintError, match="is not built"):
        loader.find_version_dir(data_dir, config)
    leftovers = [p for p in (data_dir / "jaxpaint").rglob("*") if p.is_file()] if (data_dir / "jaxpaint").exists() else []
    assert not any(p.name.endswith(".array_record-00000-of-00001") or p.name == "dataset_info.json" for p in leftovers)


def test_corrupt_image_fails_the_build_and_leaves_nothing(tmp_path):
    manual = write_leeds_folder(tmp_path / "lspet", 8)
    bad = manual / "images" / "im00005.jpg"
    bad.write_bytes(bad.read_bytes()[: len(bad.read_bytes()) // 3])  # truncated JPEG
    with pytest.raises(JaxpaintError, match="im00005.jpg"):
        builder.build("lspet", tmp_path / "data", manual_dir=manual, size=64, seed=0)
    assert_nothing_looks_built(tmp_path / "data", "lspet_64_seed0")


def test_missing_image_and_truncated_annotations_fail_with_the_file_named(tmp_path):
    manual = write_leeds_folder(tmp_path / "lspet", 6)
    (manual / "images" / "im00003.jpg").unlink()
    with pytest.raises(JaxpaintError, match="im3.jpg|im00003"):
        builder.build("lspet", tmp_path / "data", manual_dir=manual, size=64, seed=0)
    assert_nothing_looks_built(tmp_path / "data", "lspet_64_seed0")

    manual2 = write_leeds_folder(tmp_path / "lspet2", 6)
    mat = manual2 / "joints.mat"
    mat.write_bytes(mat.read_bytes()[:200])
    with pytest.raises(JaxpaintError, match="joints.mat"):
        builder.build("lspet", tmp_path / "data2", manual_dir=manual2, size=64, seed=0)
    assert_nothing_looks_built(tmp_path / "data2", "lspet_64_seed0")


def test_bad_configs_are_refused(tmp_path):
    with pytest.raises(JaxpaintError, match="unknown source"):
        builder.build("imagenet", tmp_path)
    with pytest.raises(JaxpaintError, match="needs --manual-dir"):
        builder.build("lspet", tmp_path, size=64)
    with pytest.raises(JaxpaintError, match="no source sub-folder"):
        builder.build("merged", tmp_path, manual_dir=tmp_path, size=64)
