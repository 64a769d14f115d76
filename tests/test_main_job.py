"""End to end: `jaxpaint run` (the main job) and `jaxpaint run --suite` on tiny configs.

The main job builds data, trains the pose evaluator, a Context Encoder and a U-Net, evaluates and
reports; the same seed must give the same table, and the report must hold every method's row.

The tiny suite (second half) runs in the same module on purpose: it builds the main job's dataset and
trains the same tiny configs, so its programs come from the session's compilation cache that the main
job filled instead of being compiled again (the two jobs in two modules would start side by side on the
two test workers, each compiling everything).
"""

from __future__ import annotations

import base64
import json
import re

import jax
import numpy as np
import pytest

from jaxpaint.cli import build_parser, main
from jaxpaint.commands.suite import check_suite, load_suite, run_suite
from jaxpaint.errors import JaxpaintError

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
    # WNJD and PCK with their standard errors; every method paired with the diffusion fill on the same images.
    assert "ΔWNJD vs diffusion ↓" in table[0] and all(row.count(" ± ") >= 2 for row in table[2:])
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


def test_evaluate_names_a_missing_run(main_job, tmp_path, capsys):
    missing = tmp_path / "no_such_run"
    code = main(["evaluate", "--method", "context_encoder", "--workdir", str(missing),
                 "--data-dir", str(main_job / "data")])
    assert code == 2
    assert str(missing) in capsys.readouterr().err


# ---------------------------------------------------------------------------------------------
# `jaxpaint run --suite`: a tiny suite end to end (train, evaluate, report), its resume, and the spec checks.
# One shared run of three entries on tiny configs: the mean-colour fill, a Context Encoder, and patch
# synthesis refining the Context Encoder's guess on two images.

TINY_STEPS = ["--config.num_steps=4", "--config.eval_every=2", "--config.log_every=2", "--config.checkpoint_every=4"]
SUITE = {
    "build": {"source": "synthetic", "size": 64, "num_examples": 100},  # the main job's dataset
    "pose": {"config": "hourglass:tiny", "overrides": TINY_STEPS},
    "entries": [
        {"name": "holes", "method": "holes"},
        {"name": "context_encoder", "method": "context_encoder", "config": "context_encoder:tiny",
         "overrides": TINY_STEPS},
        {"name": "unet", "method": "unet", "config": "unet:tiny", "overrides": TINY_STEPS},
        {"name": "unet_released", "method": "unet", "release": "unet-lspet-v1"},  # fully convolutional: 64 px too
        {"name": "patch_synthesis", "method": "patch_synthesis", "content": ["content_network", "context_encoder"],
         "overrides": ["--config.iterations=2", "--config.levels=1", "--config.progress=False"],
         "max_test_images": 2},
    ],
    "published": [{"method": "2nd-place U-Net (slides)", "dssim": 0.2048, "mse": 0.0158, "psnr": 21.51, "wnjd": 0.1495}],
}


def run_args(workdir, *extra):
    return build_parser("run").parse_args(["run", "--suite", "tiny", "--workdir", str(workdir), *extra])


@pytest.fixture(scope="module")
def suite_dir(tmp_path_factory):
    """Over 20 s (about 60 s): the tiny suite end to end (build, two trainings, three evaluations), once for
    the module."""
    workdir = tmp_path_factory.mktemp("suite")
    assert run_suite(run_args(workdir), SUITE) == 0
    return workdir


def test_table_has_every_entry_with_its_image_count_and_the_published_block(suite_dir):
    results = json.loads((suite_dir / "results.json").read_text())
    names = [row["method"] for row in results["rows"]]
    assert names == ["original (unmasked)", "holes", "context_encoder", "unet", "unet_released", "patch_synthesis"]
    images = {row["method"]: row["images"] for row in results["rows"]}
    assert images == {"original (unmasked)": 20, "holes": 20, "context_encoder": 20, "unet": 20, "unet_released": 20,
                      "patch_synthesis": 2}
    for row in results["rows"][1:]:
        assert {"dssim", "mse", "psnr", "wnjd", "pck", "wnjd_se", "pck_se"} <= set(row)
        assert "wnjd_vs_diffusion" not in row  # the tiny suite has no diffusion entry to pair with
    assert results["status"] == {"pose": "trained", "context_encoder": "trained", "unet": "trained"}  # not the release
    text = (suite_dir / "results.md").read_text()
    assert "Published figures: other data" in text and "0.2048" in text and "21.51" in text
    assert "No diffusion row in this table, so no paired differences" in text
    # The guess came from the trained Context Encoder (the first `content` entry present), not the default.
    eval_results = json.loads((suite_dir / "eval" / "patch_synthesis" / "results.json").read_text())
    assert "content_method='context_encoder'" in eval_results["method"]


def test_holes_row_matches_an_independent_computation(suite_dir):
    holes = json.loads((suite_dir / "eval" / "holes" / "results.json").read_text())
    expected = brute_force_holes_mse(suite_dir / "data", holes["dataset"])
    np.testing.assert_allclose(holes["per_image"]["mse"], expected, atol=2e-6)
    row = next(r for r in json.loads((suite_dir / "results.json").read_text())["rows"] if r["method"] == "holes")
    assert row["mse"] == pytest.approx(expected.mean(), rel=1e-5)


def test_report_embeds_every_figure_it_lists(suite_dir):
    page = (suite_dir / "report.html").read_text()
    assert not re.search(r'(href|src)="(?!data:)', page)  # nothing outside the file
    embedded = {base64.b64decode(src) for src in re.findall(r'src="data:image/png;base64,([^"]+)"', page)}
    listed = re.findall(r"\]\(([^)]+\.png)\)", (suite_dir / "results.md").read_text())
    expected = {"figures/comparison.png", "figures/curves_context_encoder.png", "figures/curves_unet.png",
                "figures/validation_dssim.png",
                "eval/holes/worst_wnjd.png", "eval/context_encoder/worst_wnjd.png", "eval/patch_synthesis/worst_wnjd.png"}
    assert expected <= set(listed)
    assert len(embedded) == len(listed)
    assert all((suite_dir / path).read_bytes() in embedded for path in listed)
    assert "Published figures: other data" in page


def test_a_second_run_trains_and_scores_nothing(suite_dir, capsys):
    before = {p: p.stat().st_mtime_ns for p in suite_dir.rglob("*") if p.is_file() and "runs" in p.parts}
    first = json.loads((suite_dir / "results.json").read_text())
    capsys.readouterr()
    assert run_suite(run_args(suite_dir), SUITE) == 0
    out = capsys.readouterr().out
    again = json.loads((suite_dir / "results.json").read_text())
    assert again["status"] == {"pose": "loaded", "context_encoder": "loaded", "unet": "loaded"}
    assert out.count("is current, loaded") == 5
    assert again["rows"] == first["rows"]
    assert {p: p.stat().st_mtime_ns for p in before} == before  # no run file was rewritten


def test_table3_spec_loads_for_both_sources_and_its_configs_load():
    from jaxpaint.config import load_config

    for source in ("synthetic", "lspet"):
        suite = load_suite("table3", source)
        assert {e["method"] for e in suite["entries"]} == {
            "holes", "diffusion", "context_encoder", "semantic", "patch_synthesis", "unet"}
        for entry in suite["entries"]:
            if entry.get("config"):
                load_config(entry["config"], entry.get("overrides", []))
    with pytest.raises(JaxpaintError, match="source preset"):
        load_suite("table3", "imagenet")


@pytest.mark.parametrize("entry, message", [
    ({"name": "unet", "method": "unet"}, "needs a 'config'"),
    ({"name": "diffusion", "method": "diffusion", "config": "unet:tiny"}, "trains nothing"),
    ({"name": "diffusion", "method": "diffusion", "release": "unet-lspet-v1"}, "trains nothing"),
    ({"name": "unet", "method": "unet", "config": "unet:tiny", "release": "unet-lspet-v1"}, "not both"),
    ({"name": "unet", "method": "unet", "release": "unet-nowhere"}, "release unet-nowhere is neither"),
    ({"name": "x", "method": "no_such_method"}, "unknown inpainting method"),
    ({"name": "holes", "method": "holes", "colour": 3}, "unknown keys"),
])
def test_bad_entries_are_refused_before_anything_is_written(tmp_path, entry, message):
    with pytest.raises(JaxpaintError, match=message):
        run_suite(run_args(tmp_path / "out"), {**SUITE, "entries": [entry]})
    assert not (tmp_path / "out").exists()
    with pytest.raises(JaxpaintError, match="unique"):
        check_suite({"build": {}, "entries": [{"name": "a", "method": "holes"}] * 2}, "test")


def test_entries_keeps_only_the_named_rows_and_refuses_unknown_names():
    from jaxpaint.commands.suite import only_entries

    suite = load_suite("table3", "synthetic")
    kept = only_entries(suite, "unet, diffusion")
    assert [e["name"] for e in kept["entries"]] == ["diffusion", "unet"]  # the suite's order
    assert only_entries(suite, None) is suite
    # Patch synthesis refines the content network's guess: that row comes along.
    lspet = load_suite("table3", "lspet")
    assert [e["name"] for e in only_entries(lspet, "patch_synthesis")["entries"]] == ["content_network",
                                                                                      "patch_synthesis"]
    with pytest.raises(JaxpaintError, match="unknown entry unet_big; the suite has holes, diffusion"):
        only_entries(suite, "unet,unet_big")


def test_a_pose_aware_entry_reads_the_suite_pose_evaluator(tmp_path):
    from jaxpaint.commands.suite import entry_config

    entry = {"name": "unet_pose", "method": "unet", "config": "unet:pose_lspet"}
    config = entry_config(entry, tmp_path / "data", "lspet_128_seed0", 0, tmp_path / "pose")
    assert config.pose.workdir == str((tmp_path / "pose").resolve()) and config.loss.pose_weight > 0
    given = {**entry, "overrides": ["--config.pose.workdir='/elsewhere'"]}  # an entry's own choice wins
    assert entry_config(given, tmp_path / "data", "lspet_128_seed0", 0, tmp_path / "pose").pose.workdir == "/elsewhere"


def test_same_seed_gives_the_same_dataset_and_trained_networks(main_job, suite_dir):
    """Every random source of the main job run again from nothing: the tiny suite builds the same dataset
    (size, seed, count) in its own folder and trains the job's three networks with the job's configs and
    seed (only how often it validates differs, which draws nothing). Every split's examples and every
    trained parameter, optimiser moment and statistic equal the main job's, bit for bit. (Evaluation draws
    nothing at random: equal inputs and weights give the table the first run printed.)"""
    from jaxpaint.data import builder, loader
    from jaxpaint.inference import restore_run

    dataset = builder.config_name("synthetic", 64, 0, 100)
    for split in ("train", "validation", "test"):
        first, second = loader.open_split(main_job / "data", dataset, split), loader.open_split(suite_dir / "data", dataset, split)
        assert len(first) == len(second) > 0
        for i in range(len(first)):
            jax.tree.map(np.testing.assert_array_equal, second[i], first[i])
    for name, again in (("pose", suite_dir / "pose"), ("context_encoder", suite_dir / "runs" / "context_encoder"),
                        ("unet", suite_dir / "runs" / "unet")):
        (_, first), (_, second) = restore_run(main_job / name), restore_run(again)
        assert int(first.step) == int(second.step) > 0
        for part in ("params", "model_state", "opt_state"):
            jax.tree.map(np.testing.assert_array_equal, getattr(second, part), getattr(first, part))
