"""`jaxpaint run --suite`: a tiny suite end to end (train, evaluate, report), its resume, and the spec checks.

One shared run of three entries on tiny configs: the mean-colour fill, a Context Encoder, and patch
synthesis refining the Context Encoder's guess on two images.
"""

from __future__ import annotations

import base64
import json
import re

import numpy as np
import pytest

from jaxpaint.cli import build_parser
from jaxpaint.commands.suite import check_suite, load_suite, run_suite
from jaxpaint.errors import JaxpaintError
from tests.test_main_job import brute_force_holes_mse

TINY_STEPS = ["--config.num_steps=4", "--config.eval_every=2", "--config.log_every=2", "--config.checkpoint_every=4"]
SUITE = {
    "build": {"source": "synthetic", "size": 64, "num_examples": 60},
    "pose": {"config": "hourglass:tiny", "overrides": TINY_STEPS},
    "entries": [
        {"name": "holes", "method": "holes"},
        {"name": "context_encoder", "method": "context_encoder", "config": "context_encoder:tiny",
         "overrides": TINY_STEPS},
        {"name": "patch_synthesis", "method": "patch_synthesis", "content": ["content_network", "context_encoder"],
         "overrides": ["--config.iterations=2", "--config.levels=1", "--config.progress=False"],
         "max_test_images": 2},
    ],
    "published": [{"method": "2nd-place U-Net (slides)", "dssim": 0.2048, "mse": 0.0158, "psnr": 21.51, "wnjd": 0.1495}],
}

pytestmark = pytest.mark.slow  # a minute or more in all: scheduled first (conftest.py)


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
    assert names == ["original (unmasked)", "holes", "context_encoder", "patch_synthesis"]
    images = {row["method"]: row["images"] for row in results["rows"]}
    assert images == {"original (unmasked)": 12, "holes": 12, "context_encoder": 12, "patch_synthesis": 2}
    for row in results["rows"][1:]:
        assert {"dssim", "mse", "psnr", "wnjd", "pck"} <= set(row)
    assert results["status"] == {"pose": "trained", "context_encoder": "trained"}
    text = (suite_dir / "results.md").read_text()
    assert "Published figures: other data" in text and "0.2048" in text and "21.51" in text
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
    expected = {"figures/comparison.png", "figures/curves_context_encoder.png", "figures/validation_dssim.png",
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
    assert again["status"] == {"pose": "loaded", "context_encoder": "loaded"}
    assert out.count("is current, loaded") == 3
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
