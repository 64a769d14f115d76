"""Semantic Image Inpainting end to end on the engine: DCGAN training, sample grids, restore and inpaint."""

from __future__ import annotations

import json

import numpy as np
import pytest

from jaxpaint.config import load_config
from jaxpaint.inference import load_inpainter
from jaxpaint.train.loop import train_and_evaluate


@pytest.fixture(scope="module")
def dcgan_run(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("dcgan")
    config = load_config("semantic:tiny", ["--config.num_steps=6", "--config.preview_every=3",
                                           "--config.checkpoint_every=6", "--config.log_every=3"])
    with config.unlocked():
        config.data.examples_fn = "pose_toy_data:examples"
    train_and_evaluate(config, workdir)
    return workdir


def test_dcgan_trains_both_nets_on_whole_images_and_draws_fixed_z_grids(dcgan_run):
    records = [json.loads(line) for line in (dcgan_run / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records if r["split"] == "train"] == [3, 6]
    assert set(records[0]["metrics"]) == {"loss", "adv_loss", "disc_loss", "d_real", "d_fake"}
    assert all(np.isfinite(v) for r in records for v in r["metrics"].values())
    grids = sorted((dcgan_run / "previews").glob("step_*.png"))
    assert [g.name for g in grids] == ["step_0000003.png", "step_0000006.png"]
    assert grids[0].read_bytes() != grids[1].read_bytes()  # the same z, a generator that moved


def test_restored_dcgan_inpaints_through_the_latent_search_keeping_known_pixels(dcgan_run):
    inpaint = load_inpainter("semantic", dcgan_run)
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (5, 64, 64, 3), dtype=np.uint8)
    holes = np.zeros((5, 64, 64), bool)
    holes[:, 10:30, 20:40] = True
    out = inpaint(images, holes)
    np.testing.assert_array_equal(out[~holes], images[~holes])
    assert not np.array_equal(out[holes], images[holes])
