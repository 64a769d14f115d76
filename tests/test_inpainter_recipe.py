"""experiments/inpainter_recipe.py: the candidates' commands and the plot at equal minutes."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from tests.experiment_scripts import load_experiment


@pytest.fixture(scope="module")
def recipe():
    return load_experiment("inpainter_recipe")


def fake_run(workdir: Path, started: float, points: list[tuple[int, float, float]]) -> None:
    """A run folder with writers.jsonl and validation records (step, seconds after the start, DSSIM)."""
    workdir.mkdir(parents=True)
    (workdir / "writers.jsonl").write_text(json.dumps({"run_id": "r", "started": started}) + "\n")
    records = [{"split": "train", "step": 1, "time": started + 1, "metrics": {"loss": 1.0}}]
    records += [{"split": "val", "step": step, "time": started + seconds,
                 "metrics": {"block_dssim": dssim, "block_mse": dssim / 10}} for step, seconds, dssim in points]
    (workdir / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))


def test_every_candidate_trains_unet_lspet_with_its_own_overrides(recipe, tmp_path):
    commands = recipe.train_commands(list(recipe.CANDIDATES), "DATA", tmp_path, 600)
    for name, command in commands.items():
        assert command[:6] == [sys.executable, "-m", "jaxpaint.cli", "train", "--config", "unet:lspet"]
        assert "--config.num_steps=600" in command and "--config.eval_every=150" in command
        assert command[-2:] == ["--workdir", str(tmp_path / name)]
        assert command[-2 - len(recipe.CANDIDATES[name]):-2] == recipe.CANDIDATES[name]
    assert recipe.main(["train", "--data-dir", "D", "--out", str(tmp_path / "o"), "no_such"]) == 2


def test_plot_reads_minutes_from_each_runs_start(recipe, tmp_path, capsys):
    fake_run(tmp_path / "fast", 1000.0, [(100, 60.0, 0.30), (200, 120.0, 0.28)])
    fake_run(tmp_path / "slow", 5000.0, [(100, 180.0, 0.29)])
    out = tmp_path / "plot.png"
    assert recipe.main(["plot", "--out", str(out), str(tmp_path / "fast"), str(tmp_path / "slow")]) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    table = capsys.readouterr().out
    assert "| fast | 200 | 2.0 | 0.2800 | 0.0280 |" in table and "| slow | 100 | 3.0 | 0.2900 | 0.0290 |" in table
    assert recipe.main(["plot", "--out", str(out), str(tmp_path)]) == 2  # not a run folder
