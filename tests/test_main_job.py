"""End to end: `jaxpaint run` with tiny configs builds data, trains both networks, evaluates and reports.

The same seed must give the same table; the report must hold every method's row.
"""

from __future__ import annotations

import json

import jax
import numpy as np
import pytest

from jaxpaint.cli import main

TINY = ["--size", "64", "--num-examples", "100", "--pose-config", "hourglass:tiny",
        "--inpaint-config", "context_encoder:tiny", "--unet-config", "unet:tiny"]

pytestmark = pytest.mark.slow  # a minute or more in all: scheduled first (conftest.py)


def _table(report_text: str) -> list[str]:
    return [line for line in report_text.splitlines() if line.startswith("|")]


@pytest.fixture(scope="module")
def main_job(tmp_path_factory):
    """Over 20 s (about 80 s): the whole main job on tiny configs, once for the module."""
    workdir = tmp_path_factory.mktemp("main_job")
    assert main(["run", "--workdir", str(workdir), *TINY]) == 0
    return workdir


def test_report_has_every_method_and_the_originals(main_job):
    table = _table((main_job / "results.md").read_text())
    names = [row.split("|")[1].strip() for row in table[2:]]
    assert names == ["original (unmasked)", "holes", "diffusion", "context_encoder",
                     "context_encoder inpaint.blend=poisson", "unet"]
    for method in ("holes", "diffusion", "context_encoder", "unet"):
        results = json.loads((main_job / "eval" / method / "results.json").read_text())
        assert results["num_images"] == 20  # the 20 % test split of 100 synthetic people
        assert set(results["means"]) >= {"dssim", "mse", "psnr", "wnjd", "wnjd_vs_original", "pck"}
        assert (main_job / "eval" / method / "grid.png").stat().st_size > 0
    holes = json.loads((main_job / "eval" / "holes" / "results.json").read_text())["means"]
    diffusion = json.loads((main_job / "eval" / "diffusion" / "results.json").read_text())["means"]
    # Diffusion fills holes from their borders; a flat mean colour cannot be closer on smooth synthetic scenes.
    assert diffusion["mse"] < holes["mse"]
    assert diffusion["dssim"] < holes["dssim"]
    assert (main_job / "pose" / "curves.png").is_file()
    assert (main_job / "context_encoder" / "curves.png").is_file()
    assert (main_job / "unet" / "curves.png").is_file()


def test_report_html_embeds_every_figure_the_run_made(main_job):
    import base64
    import re

    page = (main_job / "report.html").read_text()
    embedded = {base64.b64decode(src) for src in re.findall(r'src="data:image/png;base64,([^"]+)"', page)}
    made = (sorted(main_job.glob("eval/*/grid.png")) + sorted(main_job.glob("eval/*/worst_wnjd.png"))
            + sorted(main_job.glob("*/curves.png")))
    assert len(made) >= 13
    assert all(path.read_bytes() in embedded for path in made)
    assert "context_encoder inpaint.blend=poisson" in page


def brute_force_holes_mse(data_dir, dataset) -> np.ndarray:
    """Per-image MSE of the mean-colour fill, computed here with numpy from the built splits: the train
    split's mean colour pasted into every block, squared error on [0, 1] values averaged over each block,
    then over the image's blocks."""
    from jaxpaint.data import loader

    train = loader.open_split(data_dir, dataset, "train")
    pixels = np.concatenate([np.asarray(train[i]["image"], np.float64).reshape(-1, 3) for i in range(len(train))])
    mean = (pixels.mean(axis=0) / 127.5 - 1.0).astype(np.float32)
    fill = np.round((np.clip(mean, -1, 1) + np.float32(1)) * np.float32(127.5)).astype(np.float64)
    test = loader.open_split(data_dir, dataset, "test")
    per_image = []
    for i in range(len(test)):
        y = np.asarray(test[i]["image"], np.float64)
        blocks = np.asarray(test[i]["blocks"]).reshape(-1, 3)
        per_image.append(np.mean([np.mean(((fill - y[r:r + s, c:c + s]) / 255.0) ** 2) for r, c, s in blocks]))
    return np.asarray(per_image)


def test_scores_match_an_independent_computation(main_job):
    """The holes row is recomputed from the dataset with numpy; the unmasked originals score exactly 0."""
    holes = json.loads((main_job / "eval" / "holes" / "results.json").read_text())
    expected = brute_force_holes_mse(main_job / "data", holes["dataset"])
    np.testing.assert_allclose(holes["per_image"]["mse"], expected, atol=2e-6)
    assert holes["means"]["mse"] == pytest.approx(expected.mean(), rel=1e-5)
    original = holes["original"]
    assert original["mse"] == 0 and original["dssim"] == 0 and original["wnjd_vs_original"] == 0
    for method in ("diffusion", "context_encoder"):
        means = json.loads((main_job / "eval" / method / "results.json").read_text())["means"]
        assert 0 < means["mse"] < 1 and 0 <= means["pck"] <= 1 and 0 <= means["wnjd"] <= 1


def test_same_seed_gives_the_same_dataset_and_trained_networks(main_job, tmp_path):
    """The job's random sources again from nothing: the dataset built anew and the three networks trained
    anew with the job's configs. Every split's examples and every trained parameter and statistic equal the
    first run's, bit for bit. (Evaluation draws nothing at random; it is the job's costliest stage, so it
    is not repeated: equal inputs and weights give the table the first run printed.) Over 20 s (about 25 s):
    three trainings."""
    from jaxpaint.commands.run import run_config
    from jaxpaint.data import builder, loader
    from jaxpaint.inference import restore_run
    from jaxpaint.train.loop import train_and_evaluate

    size, seed, num = 64, 0, 100
    dataset = builder.config_name("synthetic", size, seed, num)
    builder.build("synthetic", tmp_path / "data", size=size, seed=seed, num_examples=num)
    for split in ("train", "validation", "test"):
        first, second = loader.open_split(main_job / "data", dataset, split), loader.open_split(tmp_path / "data", dataset, split)
        assert len(first) == len(second) > 0
        for i in range(len(first)):
            jax.tree.map(np.testing.assert_array_equal, second[i], first[i])
    for name, spec in (("pose", "hourglass:tiny"), ("context_encoder", "context_encoder:tiny"), ("unet", "unet:tiny")):
        train_and_evaluate(run_config(spec, tmp_path / "data", dataset, seed, size), tmp_path / name)
        (_, first), (_, second) = restore_run(main_job / name), restore_run(tmp_path / name)
        assert int(first.step) == int(second.step) > 0
        for part in ("params", "model_state", "opt_state"):
            jax.tree.map(np.testing.assert_array_equal, getattr(second, part), getattr(first, part))


def test_evaluate_names_a_missing_run(main_job, tmp_path, capsys):
    missing = tmp_path / "no_such_run"
    code = main(["evaluate", "--method", "context_encoder", "--workdir", str(missing),
                 "--data-dir", str(main_job / "data")])
    assert code == 2
    assert str(missing) in capsys.readouterr().err
