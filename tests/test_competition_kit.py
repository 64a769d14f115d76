"""The competition kit end to end on the synthetic source: tools/make_track.py makes a track from a built
split, tools/inpaint_folder.py runs a method over its X/, tools/score.py writes scores.txt; the scores
must be those `jaxpaint evaluate` gives the same method on the same images."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from jaxpaint.commands.evaluate import evaluate_method
from tests.test_mesh import REPO, cli_env

LIMIT = 6


def tool(name: str, *args) -> str:
    result = subprocess.run([sys.executable, str(REPO / "tools" / name), *map(str, args)], cwd=REPO,
                            capture_output=True, text=True, env=cli_env(), timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def test_track_inpaint_score_matches_evaluate(tiny_dataset, tmp_path):
    data_dir, dataset = tiny_dataset
    track, submission, scores = tmp_path / "track", tmp_path / "submission", tmp_path / "scores"
    # tiny_dataset is the synthetic source at 64 px, seed 0, 120 images.
    tool("make_track.py", "--source", "synthetic", "--size", 64, "--seed", 0, "--num-examples", 120,
         "--data-dir", data_dir, "--split", "test", "--limit", LIMIT, "--out", track)
    assert len(list((track / "X").iterdir())) == LIMIT and (track / "maskdata.json").is_file()
    tool("inpaint_folder.py", "--method", "diffusion", "--input", track / "X", "--masks", track / "maskdata.json",
         "--out", submission)
    tool("score.py", track, submission, "--out", scores)

    lines = dict(line.split(": ") for line in (scores / "scores.txt").read_text().splitlines() if line)
    assert {"DSSIM", "MSE", "PSNR"} <= set(lines)
    # The diffusion fill reads only known pixels, so inpainting X/ (holes black) equals inpainting the split.
    expected = evaluate_method("diffusion", str(tmp_path / "run"), data_dir, dataset, "test", batch_size=LIMIT,
                               limit=1, out=str(tmp_path / "eval"))
    assert expected["num_images"] == LIMIT
    scored = json.loads((scores / "scores.json").read_text())
    for key in ("dssim", "mse", "psnr"):
        assert float(lines[key.upper()]) == pytest.approx(expected["means"][key], abs=2e-6)
        assert scored["means"][key] == pytest.approx(expected["means"][key], rel=1e-6)
