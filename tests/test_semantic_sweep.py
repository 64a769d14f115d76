"""Semantic Image Inpainting's validation by inpainting: the tiny Algorithm 1 sweep end to end, its score
against an independent inpaint-and-score of the same images, and the restarts benchmark on the trial."""

from __future__ import annotations

import json

import numpy as np
import pytest

from jaxpaint.cli import main
from jaxpaint.commands.tune import tune
from jaxpaint.data import loader
from jaxpaint.methods import semantic
from jaxpaint.metrics.image import block_scores
from jaxpaint.inference import restore_run
from jaxpaint.train.metrics_log import METRICS_FILE, read_metrics

pytestmark = pytest.mark.slow  # a minute or more in all: scheduled first (conftest.py)

CHEAP = ["--config.preview_every=0", "--config.num_steps=2", "--config.checkpoint_every=2", "--config.log_every=2"]


@pytest.fixture(scope="module")
def sweep(tmp_path_factory, tiny_dataset):
    """Over 20 s (about 55 s): Algorithm 1 end to end, three DCGAN trials each validated by the latent search,
    once for the module."""
    data_dir, dataset = tiny_dataset
    workdir = tmp_path_factory.mktemp("tune_sii")
    overrides = [*CHEAP, f"--config.data.data_dir={data_dir}", f"--config.data.dataset={dataset}"]
    return workdir, tune("semantic:tiny", workdir, overrides)


def test_tiny_semantic_sweep_scores_trials_by_inpainting_validation_images(sweep):
    workdir, result = sweep
    assert [s["parameter"] for s in result["steps"]] == ["search.prior_weight", "model.latent_dim"]
    assert len(result["trials"]) == 3  # 2 + 2 values, the chosen λ's trial shared
    for step in result["steps"]:
        assert step["chosen"] == step["values"][int(np.argmin(step["scores"]))]
    for name, score in result["trials"].items():
        records = [r for r in read_metrics(workdir / "trials" / name / METRICS_FILE) if r["split"] == "val"]
        assert [r["step"] for r in records] == [2]  # one validation, at the last step
        assert set(records[0]["metrics"]) == {"search_loss", "block_mse", "block_dssim"}
        assert 0 < score < 1 and score == records[0]["metrics"]["block_dssim"]
    # λ changes only the search: two trials of the same DCGAN whose validation searches minimise different losses.
    losses = [[r for r in read_metrics(workdir / "trials" / name / METRICS_FILE) if r["split"] == "val"][0]
              ["metrics"]["search_loss"] for name in ("search.prior_weight=0.0,model.latent_dim=8",
                                                      "search.prior_weight=0.2,model.latent_dim=8")]
    assert losses[0] != losses[1]


def test_validation_dssim_is_that_of_inpainting_the_first_validation_batch(sweep, tiny_dataset):
    workdir, result = sweep
    data_dir, dataset = tiny_dataset
    trial = workdir / "trials" / next(iter(result["trials"]))
    source = loader.open_split(data_dir, dataset, "validation")
    batch = loader.batch_dataset(source, 4, seed=0, shuffle=False, drop_remainder=True)[0]
    config, state = restore_run(trial)
    with config.unlocked():
        config.search.iterations = config.val_search_iterations  # the tiny config's search runs 3, validation 2
    outputs = semantic.make_inpainter(config, state)(batch["image"], batch["hole"])
    scores = block_scores(outputs, batch["image"], batch["blocks"], batch["num_blocks"])
    logged = [r for r in read_metrics(trial / METRICS_FILE) if r["split"] == "val"][-1]["metrics"]
    np.testing.assert_allclose(logged["block_dssim"], scores["dssim"].mean(), rtol=1e-3, atol=1e-4)
    np.testing.assert_allclose(logged["block_mse"], scores["mse"].mean(), rtol=1e-3, atol=1e-6)


def test_restarts_benchmark_prints_one_row_per_restart_count(sweep, tiny_dataset, tmp_path, capsys):
    workdir, result = sweep
    data_dir, dataset = tiny_dataset
    trial = workdir / "trials" / next(iter(result["trials"]))
    out = tmp_path / "restarts.json"
    assert main(["bench", "latent_restarts", "--out", str(out), "--workdir", str(trial), "--data-dir", data_dir,
                 "--split", "validation", "--num-images", "6", "--restarts", "1", "3", "--iterations", "2"]) == 0
    figures = json.loads(out.read_text())
    assert json.loads(capsys.readouterr().out.splitlines()[0]) == figures
    assert figures["num_images"] == 6 and figures["iterations"] == 2 and figures["dataset"] == dataset
    assert [r["restarts"] for r in figures["rows"]] == [1, 3]
    for row in figures["rows"]:
        assert 0 < row["block_dssim"] < 1 and 0 < row["block_mse"] < 1
    assert main(["bench", "latent_restarts", "--workdir", str(trial), "--data-dir", data_dir, "--split",
                 "validation", "--num-images", "0"]) == 2
