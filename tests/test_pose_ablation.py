"""experiments/pose_ablation.py: the ablation table's paired differences, steps and minutes, from a suite
folder written here by hand."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.experiment_scripts import load_experiment


def load_script():
    return load_experiment("pose_ablation")


def write_row(suite: Path, name: str, dssim, wnjd, pose_weight=0.0, condition=False, steps=10, start=100.0,
              pose_start_step=None):
    out, run = suite / "eval" / name, suite / "runs" / name
    out.mkdir(parents=True)
    run.mkdir(parents=True)
    per_image = {"dssim": dssim, "wnjd": wnjd, "pck": [0.5] * len(dssim)}
    means = {"dssim": sum(dssim) / len(dssim), "wnjd": sum(w for w in wnjd if w is not None) / 3,
             "mse": 0.03, "lpips_vgg": 0.13, "pck": 0.5}
    (out / "results.json").write_text(json.dumps({"num_images": len(dssim), "means": means, "per_image": per_image}))
    loss = {"pose_weight": pose_weight} | ({} if pose_start_step is None else {"pose_start_step": pose_start_step})
    (run / "config.json").write_text(json.dumps({"loss": loss, "model": {"pose_condition": condition},
                                                 "pose": {"workdir": "runs/hourglass_student"}}))
    (run / "writers.jsonl").write_text(json.dumps({"started": start}) + "\n")
    (run / "metrics.jsonl").write_text("\n".join(json.dumps({"step": s, "time": start + 6.0 * s}) for s in (5, steps)))


def test_rows_pair_each_crop_with_the_plain_row(tmp_path):
    script = load_script()
    write_row(tmp_path, "plain", [0.2, 0.3, 0.4, 0.5], [0.1, 0.2, None, 0.3])
    # Per crop: ΔDSSIM = 0.01, 0.03, 0.02, 0.02; ΔWNJD = 0.02, -0.01, (no joints), 0.02.
    write_row(tmp_path, "pose", [0.21, 0.33, 0.42, 0.52], [0.12, 0.19, None, 0.32], pose_weight=4.0, steps=8)
    plain, pose = script.rows(tmp_path, ["plain", "pose"], "plain")
    assert pose["dssim_vs_plain"] == pytest.approx(0.02)
    assert pose["dssim_vs_plain_se"] == pytest.approx((0.0002 / 3) ** 0.5 / 2)  # std(ddof=1)/√4
    assert pose["wnjd_vs_plain"] == pytest.approx(0.01)
    assert pose["wnjd_vs_plain_se"] == pytest.approx((0.0006 / 2) ** 0.5 / 3 ** 0.5)  # the 3 crops with joints
    assert plain["dssim_vs_plain"] == 0.0
    assert (pose["steps"], pose["minutes"], pose["pose_weight"]) == (8, pytest.approx(0.8), 4.0)
    table = script.markdown([plain, pose], "plain").splitlines()
    assert len(table) == 4 and "| hourglass_student | 4 | 0 | – | 8 | 0.8 |" in table[3] and "+0.0200 ± 0.0041" in table[3]


def test_a_row_without_an_evaluation_is_named(tmp_path, capsys):
    script = load_script()
    write_row(tmp_path, "plain", [0.2, 0.3], [0.1, 0.2])
    with pytest.raises(SystemExit) as exit_info:
        script.main([str(tmp_path), "--rows", "plain,pose", "--reference", "plain"])
    assert exit_info.value.code == 2 and "no evaluation of pose" in capsys.readouterr().err


def test_the_plot_is_drawn_beside_the_table(tmp_path, capsys):
    script = load_script()
    write_row(tmp_path, "plain", [0.2, 0.3], [0.1, 0.2])
    write_row(tmp_path, "pose", [0.21, 0.33], [0.12, 0.19], pose_weight=4.0)
    write_row(tmp_path, "late", [0.22, 0.31], [0.11, 0.19], pose_weight=0.5, condition=True, pose_start_step=2400)
    figure = tmp_path / "figures" / "ablation.png"
    script.main([str(tmp_path), "--rows", "plain,pose,late", "--reference", "plain", "--plot", str(figure)])
    printed = capsys.readouterr().out
    assert f"figure: {figure}" in printed and "| hourglass_student | 0.5 | 2400 | yes | 10 |" in printed
    late = script.rows(tmp_path, ["plain", "late"], "plain")[1]
    assert script.row_label(late) == "hourglass_student\nγ=0.5 from step 2400 + heatmaps"
    assert figure.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_released_reference_row_reads_the_release_config_and_steps(tmp_path):
    script = load_script()
    write_row(tmp_path, "pose", [0.21, 0.33], [0.12, 0.19], pose_weight=4.0, steps=8)
    released = tmp_path / "eval" / "unet_released"
    released.mkdir(parents=True)
    (released / "results.json").write_text(json.dumps({
        "num_images": 2, "means": {"dssim": 0.25, "wnjd": 0.15, "mse": 0.03, "lpips_vgg": 0.13, "pck": 0.5},
        "per_image": {"dssim": [0.2, 0.3], "wnjd": [0.1, 0.2], "pck": [0.5, 0.5]}}))
    (tmp_path / "results.json").write_text(json.dumps({"entries": [
        {"name": "unet_released", "method": "unet", "release": "unet-lspet-v1"}]}))
    plain, pose = script.rows(tmp_path, ["unet_released", "pose"], "unet_released")
    assert (plain["steps"], plain["minutes"], plain["pose_weight"], plain["pose_condition"]) == (3600, None, 0.0, False)
    assert pose["dssim_vs_plain"] == pytest.approx(0.02)
    assert "| – | 0 | – | – | 3600 | – | 0.2500 | – |" in script.markdown([plain, pose], "unet_released")
    (tmp_path / "results.json").write_text(json.dumps({"entries": []}))
    with pytest.raises(SystemExit, match="unet_released is neither a run"):
        script.rows(tmp_path, ["unet_released", "pose"], "unet_released")
